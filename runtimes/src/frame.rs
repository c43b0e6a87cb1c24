//! The `lumos` frame codec (docs/frame-protocol.md), host side: frames read
//! from and written to an instance's pipes with a deadline.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

pub use lumos_sdk::frame::{Frame, Kind, HEADER_LEN, MAGIC, MAX_FRAME};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the instance closed its stdout")]
    Eof,
    #[error("deadline passed")]
    Timeout,
    #[error("corrupt frame stream: {0}")]
    Corrupt(String),
    #[error("pipe i/o: {0}")]
    Io(#[from] io::Error),
}

/// Encodes a frame header for `kind` and a payload of `len` bytes.
pub fn header(kind: Kind, len: usize) -> [u8; HEADER_LEN] {
    lumos_sdk::frame::header(kind, len as u32)
}

/// Encodes a whole frame.
pub fn encode(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
    v.extend_from_slice(&header(kind, payload.len()));
    v.extend_from_slice(payload);
    v
}

/// Splits a `RESPONSE`/`ERROR` payload into (meta JSON, rest).
pub fn split_meta(payload: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    lumos_sdk::frame::split_meta(payload).ok_or_else(|| {
        FrameError::Corrupt(format!(
            "the meta length of a {}-byte answer payload points past its end",
            payload.len()
        ))
    })
}

/// Waits until `fd` is readable (or writable) or the deadline passes.
fn wait_fd(fd: RawFd, events: libc::c_short, deadline: Option<Instant>) -> Result<(), FrameError> {
    loop {
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(FrameError::Timeout);
                }
                // Round up so we never spin on a sub-millisecond remainder.
                let rem = d - now;
                (rem.as_micros().div_ceil(1000)).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd on the stack.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if r > 0 {
            return Ok(()); // readable, writable, HUP or ERR: the read/write tells which
        }
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How long a reader spins on an empty pipe before it blocks.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

fn spin_until_readable(fd: RawFd, spin: std::time::Duration) -> bool {
    let until = Instant::now() + spin;
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; timeout 0 never sleeps.
        if unsafe { libc::poll(&mut pfd, 1, 0) } > 0 {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::hint::spin_loop();
    }
}

/// Reads frames from a pipe with a deadline per call. Keeps its own buffer,
/// so a deadline is honoured even when part of a frame is already buffered.
pub struct FrameReader<R: AsRawFd> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: AsRawFd> FrameReader<R> {
    pub fn new(src: R) -> io::Result<Self> {
        set_nonblocking(src.as_raw_fd())?;
        Ok(FrameReader {
            src,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        })
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Ensures at least `n` bytes are buffered.
    fn fill(&mut self, n: usize, deadline: Option<Instant>) -> Result<(), FrameError> {
        if self.buffered() >= n {
            return Ok(());
        }
        if self.buf.len() - self.start < n {
            // Move what we have to the front and grow if needed.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() < n {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.buffered() < n {
            let fd = self.src.as_raw_fd();
            let spare = &mut self.buf[self.end..];
            // SAFETY: reading into our own spare capacity.
            let r = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
            if r > 0 {
                self.end += r as usize;
                continue;
            }
            if r == 0 {
                return Err(FrameError::Eof);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => {
                    // Spin briefly before sleeping in poll: a short answer then costs no
                    // wake-up (tens of microseconds on an idle machine).
                    if spin_until_readable(fd, SPIN) {
                        continue;
                    }
                    wait_fd(fd, libc::POLLIN, deadline)?
                }
                io::ErrorKind::Interrupted => {}
                _ => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Reads one frame; fails with `Timeout` when `deadline` passes first.
    pub fn read_frame(&mut self, deadline: Option<Instant>) -> Result<Frame, FrameError> {
        self.fill(HEADER_LEN, deadline)?;
        let h: &[u8; HEADER_LEN] = self.buf[self.start..self.start + HEADER_LEN]
            .try_into()
            .expect("HEADER_LEN bytes");
        let (kind, len) = lumos_sdk::frame::parse_header(h).map_err(FrameError::Corrupt)?;
        let total = HEADER_LEN + len as usize;
        self.fill(total, deadline)?;
        let payload = self.buf[self.start + HEADER_LEN..self.start + total].to_vec();
        self.start += total;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(Frame { kind, payload })
    }

    /// Reads everything up to EOF (the `stdio` protocol).
    pub fn read_to_end(
        &mut self,
        deadline: Option<Instant>,
        limit: usize,
    ) -> Result<Vec<u8>, FrameError> {
        loop {
            let want = self.buffered() + 1;
            if want > limit {
                return Err(FrameError::Corrupt(format!(
                    "output larger than {limit} bytes"
                )));
            }
            match self.fill(want, deadline) {
                Ok(()) => {}
                Err(FrameError::Eof) => break,
                Err(e) => return Err(e),
            }
        }
        let out = self.buf[self.start..self.end].to_vec();
        self.start = 0;
        self.end = 0;
        Ok(out)
    }

    pub fn get_ref(&self) -> &R {
        &self.src
    }
}

/// Writes frames to a pipe with a deadline per call.
pub struct FrameWriter<W: AsRawFd> {
    dst: W,
}

impl<W: AsRawFd> FrameWriter<W> {
    pub fn new(dst: W) -> io::Result<Self> {
        set_nonblocking(dst.as_raw_fd())?;
        Ok(FrameWriter { dst })
    }

    /// Writes all of `bytes`; fails with `Timeout` if the reader does not take them in time.
    pub fn write_all(
        &mut self,
        mut bytes: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), FrameError> {
        let fd = self.dst.as_raw_fd();
        while !bytes.is_empty() {
            // SAFETY: writing from a valid slice.
            let r = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if r >= 0 {
                bytes = &bytes[r as usize..];
                continue;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => wait_fd(fd, libc::POLLOUT, deadline)?,
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::BrokenPipe => return Err(FrameError::Eof),
                _ => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Writes one frame (header and payload, without copying the payload).
    pub fn write_frame(
        &mut self,
        kind: Kind,
        payload: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), FrameError> {
        if payload.len() > MAX_FRAME as usize {
            return Err(FrameError::Corrupt(format!(
                "payload of {} bytes past MAX_FRAME",
                payload.len()
            )));
        }
        if payload.len() <= 4096 {
            self.write_all(&encode(kind, payload), deadline)
        } else {
            self.write_all(&header(kind, payload.len()), deadline)?;
            self.write_all(payload, deadline)
        }
    }

    pub fn into_inner(self) -> W {
        self.dst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    #[test]
    fn round_trip_and_corruption() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut w = FrameWriter::new(a).unwrap();
        let mut r = FrameReader::new(b).unwrap();
        w.write_frame(Kind::Request, b"{\"x\":1}", None).unwrap();
        let big = vec![7u8; 300_000];
        let t = std::thread::spawn(move || {
            w.write_frame(Kind::StoragePut, &big, None).unwrap();
            w
        });
        let f = r.read_frame(None).unwrap();
        assert_eq!(
            f,
            Frame {
                kind: Kind::Request,
                payload: b"{\"x\":1}".to_vec()
            }
        );
        let f = r.read_frame(None).unwrap();
        assert_eq!(f.kind, Kind::StoragePut);
        assert_eq!(f.payload.len(), 300_000);
        let w = t.join().unwrap();
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(matches!(
            r.read_frame(Some(deadline)),
            Err(FrameError::Timeout)
        ));
        let mut raw = w.into_inner();
        raw.write_all(b"hello world\n").unwrap();
        assert!(matches!(r.read_frame(None), Err(FrameError::Corrupt(_))));
    }

    #[test]
    fn meta_split() {
        let mut p = 5u32.to_le_bytes().to_vec();
        p.extend_from_slice(b"{\"a\"}body");
        let (m, b) = split_meta(&p).unwrap();
        assert_eq!(m, b"{\"a\"}");
        assert_eq!(b, b"body");
        assert!(split_meta(&[9, 0, 0, 0, 1]).is_err());
    }
}
