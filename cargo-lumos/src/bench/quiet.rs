//! Runs a step whose per-image lines go to stdout (image, push) with stdout
//! pointed at stderr, so a bench's stdout carries only its table.

use std::io::Write;

pub fn stdout_to_stderr<T>(f: impl FnOnce() -> T) -> T {
    let _ = std::io::stdout().flush();
    // SAFETY: dup/dup2 on the process's own standard descriptors.
    let saved = unsafe { libc::dup(1) };
    if saved < 0 {
        return f();
    }
    unsafe {
        libc::dup2(2, 1);
    }
    let out = f();
    let _ = std::io::stdout().flush();
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    out
}
