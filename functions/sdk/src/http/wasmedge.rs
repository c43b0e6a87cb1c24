//! HTTP mode on wasm32-wasip1 under WasmEdge, through its socket extension.
//!
//! Hand-written bindings rather than the `wasmedge_wasi_socket` crate: that
//! crate imports WasmEdge's old two-argument `sock_accept`, which clashes
//! with WASI p1's own `sock_accept` (three arguments), so every module built
//! with it would fail to instantiate on wasmtime and wasmi, HTTP or not.
//! These import only WasmEdge's `_v2` calls (names WASI p1 lacks: Lumos's
//! wasmtime and wasmi shims stub them as traps, see lumos-shim's
//! `WASMEDGE_SOCKET_IMPORTS`) and WASI p1's `sock_recv`, `sock_send` and
//! `sock_shutdown` (WasmEdge's take the same arguments).
//!
//! No threads here: connections are served one after another, each until
//! its client closes it. There is no storage either: a storage call is a
//! handler error saying so (the frame protocol gives wasm storage).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use std::cell::Cell;

use super::conn::{serve_connection, HttpReply, HttpRequest};
use crate::request::{NoStorage, Storage};
use crate::serve::{handler_panic, panic_meta};
use crate::ErrorKind;

thread_local! {
    /// The connection whose request the handler is answering.
    static ANSWERING: Cell<Option<u32>> = const { Cell::new(None) };
}

mod sys {
    /// `__wasi_address_t`: the address bytes (4 for IPv4) and their length.
    #[repr(C)]
    pub struct Address {
        pub buf: *const u8,
        pub buf_len: u32,
    }

    /// `__wasi_iovec_t` / `__wasi_ciovec_t`.
    #[repr(C)]
    pub struct Iovec {
        pub buf: *mut u8,
        pub buf_len: u32,
    }

    pub const AF_INET4: u32 = 1;
    pub const SOCK_STREAM: u32 = 2;
    /// `__WASI_SDFLAGS_RD | __WASI_SDFLAGS_WR`.
    pub const SHUT_RDWR: u32 = 3;

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn sock_open_v2(family: u32, kind: u32, fd: *mut u32) -> u32;
        pub fn sock_bind_v2(fd: u32, address: *const Address, port: u32) -> u32;
        pub fn sock_listen_v2(fd: u32, backlog: i32) -> u32;
        pub fn sock_accept_v2(fd: u32, fdflags: u32, accepted: *mut u32) -> u32;
        pub fn sock_recv(
            fd: u32,
            iovs: *const Iovec,
            iovs_len: u32,
            riflags: u32,
            received: *mut u32,
            roflags: *mut u16,
        ) -> u32;
        pub fn sock_send(
            fd: u32,
            iovs: *const Iovec,
            iovs_len: u32,
            siflags: u32,
            sent: *mut u32,
        ) -> u32;
        pub fn sock_shutdown(fd: u32, how: u32) -> u32;
    }
}

fn check(errno: u32) -> io::Result<()> {
    if errno == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(errno as i32))
    }
}

/// A listening socket.
pub(super) struct Listener(OwnedFd);

/// An accepted connection.
struct Stream(OwnedFd);

/// Opens a TCP socket listening on `0.0.0.0:port`.
pub(super) fn listen(port: u16) -> io::Result<Listener> {
    let mut fd = 0u32;
    // SAFETY: `fd` is a valid place for the new descriptor.
    check(unsafe { sys::sock_open_v2(sys::AF_INET4, sys::SOCK_STREAM, &mut fd) })?;
    // SAFETY: WasmEdge just opened `fd` for us; OwnedFd closes it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let any = [0u8; 4];
    let address = sys::Address {
        buf: any.as_ptr(),
        buf_len: 4,
    };
    // SAFETY: `address` and the bytes it points to outlive the call.
    check(unsafe { sys::sock_bind_v2(fd, &address, u32::from(port)) })?;
    // SAFETY: plain call on our descriptor.
    check(unsafe { sys::sock_listen_v2(fd, 128) })?;
    Ok(Listener(owned))
}

impl Listener {
    fn accept(&self) -> io::Result<Stream> {
        let mut fd = 0u32;
        // SAFETY: `fd` is a valid place for the accepted descriptor.
        check(unsafe { sys::sock_accept_v2(self.0.as_raw_fd() as u32, 0, &mut fd) })?;
        // SAFETY: WasmEdge just gave us `fd`; OwnedFd closes it.
        Ok(Stream(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let iov = sys::Iovec {
            buf: buf.as_mut_ptr(),
            buf_len: buf.len() as u32,
        };
        let (mut received, mut roflags) = (0u32, 0u16);
        // SAFETY: one iovec over `buf`, valid for the call.
        check(unsafe {
            sys::sock_recv(
                self.0.as_raw_fd() as u32,
                &iov,
                1,
                0,
                &mut received,
                &mut roflags,
            )
        })?;
        Ok(received as usize)
    }
}

/// Sends some of `buf` on socket `fd`.
fn send(fd: u32, buf: &[u8]) -> io::Result<usize> {
    let iov = sys::Iovec {
        buf: buf.as_ptr() as *mut u8,
        buf_len: buf.len() as u32,
    };
    let mut sent = 0u32;
    // SAFETY: one iovec over `buf`, only read by the host.
    check(unsafe { sys::sock_send(fd, &iov, 1, 0, &mut sent) })?;
    Ok(sent as usize)
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send(self.0.as_raw_fd() as u32, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: plain call on our descriptor (closed next by OwnedFd).
        unsafe { sys::sock_shutdown(self.0.as_raw_fd() as u32, sys::SHUT_RDWR) };
    }
}

/// No storage over WasmEdge sockets: calls fail with this message.
pub(super) fn storage() -> Box<dyn Storage> {
    Box::new(NoStorage {
        message: "no storage in the SDK's HTTP mode on wasm32-wasip1 (WasmEdge sockets): \
                  serve storage-using functions over HTTP natively (LUMOS_REDIS_URL) or with the frame protocol"
            .into(),
    })
}

/// Accepts and serves connections one at a time, forever.
pub(super) fn serve<A>(listener: Listener, mut answer: A) -> i32
where
    A: FnMut(HttpRequest) -> HttpReply,
{
    install_panic_reply_hook();
    let mut failures = 0u32;
    loop {
        match listener.accept() {
            Ok(stream) => {
                failures = 0;
                let fd = stream.0.as_raw_fd() as u32;
                serve_connection(stream, |request| {
                    ANSWERING.with(|a| a.set(Some(fd)));
                    let reply = answer(request);
                    ANSWERING.with(|a| a.set(None));
                    Some(reply)
                });
            }
            Err(e) => {
                eprintln!("lumos-sdk: accepting a connection failed: {e}");
                failures += 1;
                if failures >= 100 {
                    eprintln!("lumos-sdk: giving up after {failures} failed accepts in a row");
                    return 1;
                }
            }
        }
    }
}

/// Panics abort on wasm32-wasip1: a panic inside a handler answers its
/// request with a 500 carrying the panic's message (kind `panic` in
/// `x-lumos-meta`) before the trap ends the instance, so the client learns
/// why instead of seeing the connection drop.
fn install_panic_reply_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let (Some(fd), Some((message, started))) =
            (ANSWERING.with(|a| a.get()), handler_panic(info))
        {
            let meta = panic_meta(Some(started)).to_json(Some(ErrorKind::Panic.as_str()));
            let reply = HttpReply {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                header: Some(("x-lumos-meta", String::from_utf8_lossy(&meta).into_owned())),
                body: format!("handler panicked: {message}").into_bytes(),
            };
            let bytes = reply.to_bytes(true);
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                match send(fd, rest) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => rest = &rest[n..],
                }
            }
        }
        previous(info);
    }));
}
