//! The serve loop: HELLO, then requests answered one at a time over frames.

use std::any::Any;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::{self, read_frame, write_frame, Kind, ReadError, PROTOCOL_VERSION};
use crate::request::{meta_from, Meta, Request, Response, Storage};

/// Why a serve loop ended; [`Exit::code`] is the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The host sent `SHUTDOWN`.
    Shutdown,
    /// The host closed the stream at a frame boundary.
    Eof,
    /// The stream was corrupt; an `ERROR` frame of kind `protocol` was sent.
    Corrupt,
    /// Writing to (or reading from) the host failed.
    Io,
}

impl Exit {
    /// The process exit status for this end: 0, 0, 2 and 1.
    pub fn code(self) -> i32 {
        match self {
            Exit::Shutdown | Exit::Eof => 0,
            Exit::Corrupt => 2,
            Exit::Io => 1,
        }
    }
}

/// The `HELLO` payload: `{"sdk":..,"function":..,"protocol":1}`.
pub fn hello_json(function: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "sdk": env!("CARGO_PKG_VERSION"),
        "function": function,
        "protocol": PROTOCOL_VERSION,
    }))
    .expect("hello JSON always serializes")
}

/// What one handler call came to.
pub(crate) struct Outcome {
    pub meta: Meta,
    pub result: std::result::Result<Vec<u8>, (ErrorKind, String)>,
}

/// Calls the handler once, catching a panic where panics unwind.
pub(crate) fn run_handler<F>(
    handler: &mut F,
    body: Vec<u8>,
    storage: &mut dyn Storage,
    started: Instant,
) -> Outcome
where
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    let mut request = Request::started_at(body, storage, started);
    panic_context::enter(started);
    let caught = catch_unwind(AssertUnwindSafe(|| handler(&mut request)));
    panic_context::leave();
    let meta = request.meta();
    let result = match caught {
        Ok(Ok(response)) => Ok(response.into_body()),
        Ok(Err(error)) => Err((error.kind(), error.to_string())),
        Err(payload) => Err((ErrorKind::Panic, panic_message(payload.as_ref()))),
    };
    Outcome { meta, result }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    };
    format!("handler panicked: {text}")
}

/// Storage calls over the same frame channel, one at a time.
struct FrameStorage<'a, R, W> {
    reader: &'a mut R,
    writer: &'a mut W,
    /// Set when the channel broke during a call; the loop ends after answering.
    broken: Option<Exit>,
}

impl<R: Read, W: Write> FrameStorage<'_, R, W> {
    fn call(&mut self, kind: Kind, payload: &[u8], expect: Kind) -> Result<Vec<u8>> {
        if let Some(exit) = self.broken {
            return Err(Error::Storage(format!(
                "the channel to the host is gone ({exit:?})"
            )));
        }
        if let Err(e) = write_frame(self.writer, kind, &[payload]) {
            self.broken = Some(Exit::Io);
            return Err(Error::Io(e));
        }
        match read_frame(self.reader) {
            Ok(frame) if frame.kind == expect => Ok(frame.payload),
            Ok(frame) if frame.kind == Kind::StorageFail => Err(Error::Storage(
                String::from_utf8_lossy(&frame.payload).into_owned(),
            )),
            Ok(frame) => {
                self.broken = Some(Exit::Corrupt);
                Err(Error::Protocol(format!(
                    "got a {:?} frame while waiting for {expect:?}",
                    frame.kind
                )))
            }
            Err(ReadError::Eof) => {
                self.broken = Some(Exit::Eof);
                Err(Error::Storage(
                    "the host closed the stream during a storage call".into(),
                ))
            }
            Err(ReadError::Corrupt(message)) => {
                self.broken = Some(Exit::Corrupt);
                Err(Error::Protocol(message))
            }
            Err(ReadError::Io(e)) => {
                self.broken = Some(Exit::Io);
                Err(Error::Io(e))
            }
        }
    }
}

impl<R: Read, W: Write> Storage for FrameStorage<'_, R, W> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        let answer = self.call(Kind::StorageGet, key.as_bytes(), Kind::StorageValue)?;
        match answer.split_first() {
            Some((1, value)) => Ok(Some(value.to_vec())),
            Some((0, [])) => Ok(None),
            _ => {
                self.broken = Some(Exit::Corrupt);
                Err(Error::Protocol(
                    "a STORAGE_VALUE must start with byte 1, or be the single byte 0".into(),
                ))
            }
        }
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        let answer = self.call(
            Kind::StoragePut,
            &frame::put_payload(key, value),
            Kind::StorageAck,
        )?;
        if answer.is_empty() {
            Ok(())
        } else {
            self.broken = Some(Exit::Corrupt);
            Err(Error::Protocol("a STORAGE_ACK must be empty".into()))
        }
    }
}

/// Serves the frame protocol on any reader and writer until the host says
/// stop: sends `HELLO`, then answers each `REQUEST` with `RESPONSE` or `ERROR`.
///
/// It never panics and never loops on a broken stream: a corrupt frame is
/// answered with an `ERROR` of kind `protocol` and ends the loop.
pub fn serve_frames<R, W, F>(function: &str, mut reader: R, mut writer: W, mut handler: F) -> Exit
where
    R: Read,
    W: Write,
    F: FnMut(&mut Request<'_>) -> Result<Response>,
{
    if let Err(e) = write_frame(&mut writer, Kind::Hello, &[&hello_json(function)]) {
        eprintln!("lumos-sdk: cannot send HELLO: {e}");
        return Exit::Io;
    }
    loop {
        let frame = match read_frame(&mut reader) {
            Ok(frame) => frame,
            Err(ReadError::Eof) => return Exit::Eof,
            Err(ReadError::Corrupt(message)) => return protocol_error(&mut writer, &message),
            Err(ReadError::Io(e)) => {
                eprintln!("lumos-sdk: reading from the host failed: {e}");
                return Exit::Io;
            }
        };
        match frame.kind {
            Kind::Shutdown => return Exit::Shutdown,
            Kind::Request => {}
            other => {
                return protocol_error(
                    &mut writer,
                    &format!("unexpected {other:?} frame from the host while idle"),
                )
            }
        }
        let started = Instant::now();
        let mut storage = FrameStorage {
            reader: &mut reader,
            writer: &mut writer,
            broken: None,
        };
        let outcome = run_handler(&mut handler, frame.payload, &mut storage, started);
        let broken = storage.broken;
        if let Err(e) = write_outcome(&mut writer, &outcome) {
            eprintln!("lumos-sdk: writing the answer failed: {e}");
            return Exit::Io;
        }
        if let Some(exit) = broken {
            return exit;
        }
    }
}

fn write_outcome<W: Write>(writer: &mut W, outcome: &Outcome) -> std::io::Result<()> {
    match &outcome.result {
        Ok(body) => {
            let meta = outcome.meta.to_json(None);
            write_frame(
                writer,
                Kind::Response,
                &[&(meta.len() as u32).to_le_bytes(), &meta, body],
            )
        }
        Err((kind, message)) => write_error(writer, &outcome.meta, *kind, message),
    }
}

fn write_error<W: Write + ?Sized>(
    writer: &mut W,
    meta: &Meta,
    kind: ErrorKind,
    message: &str,
) -> std::io::Result<()> {
    let meta = meta.to_json(Some(kind.as_str()));
    write_frame(
        writer,
        Kind::Error,
        &[
            &(meta.len() as u32).to_le_bytes(),
            &meta,
            message.as_bytes(),
        ],
    )
}

fn protocol_error<W: Write>(writer: &mut W, message: &str) -> Exit {
    eprintln!("lumos-sdk: corrupt stream: {message}");
    let zero = meta_from(
        Default::default(),
        Default::default(),
        Default::default(),
        Default::default(),
    );
    let _ = write_error(
        writer,
        &zero,
        ErrorKind::Protocol,
        &format!("protocol: {message}"),
    );
    Exit::Corrupt
}

/// The complete `ERROR` frame (kind `panic`) that the panic hook writes where
/// panics abort (wasm32-wasip1). Only `total_ns` is known there; the whole of
/// it is reported as `compute`.
pub fn panic_error_frame(message: &str, started: Option<Instant>) -> Vec<u8> {
    let mut out = Vec::new();
    write_error(
        &mut out,
        &panic_meta(started),
        ErrorKind::Panic,
        &format!("handler panicked: {message}"),
    )
    .expect("writing to a Vec cannot fail");
    out
}

/// The meta of a handler that panicked where panics abort: only its total
/// time is known, all of it reported as `compute`.
pub(crate) fn panic_meta(started: Option<Instant>) -> Meta {
    let total = started.map(|t| t.elapsed()).unwrap_or_default();
    meta_from(
        total,
        Default::default(),
        Default::default(),
        Default::default(),
    )
}

/// The start of the request under way, for the panic hook.
mod panic_context {
    use std::cell::Cell;
    use std::time::Instant;

    thread_local! {
        static STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
    }

    pub fn enter(started: Instant) {
        STARTED.with(|s| s.set(Some(started)));
    }

    pub fn leave() {
        STARTED.with(|s| s.set(None));
    }

    /// `Some(start)` while a handler runs.
    pub fn current() -> Option<Instant> {
        STARTED.with(|s| s.get())
    }
}

/// For a panic inside a handler: its message with where it happened, and
/// when that handler started; None for a panic anywhere else.
#[cfg_attr(panic = "unwind", allow(dead_code))]
pub(crate) fn handler_panic(info: &std::panic::PanicHookInfo<'_>) -> Option<(String, Instant)> {
    let started = panic_context::current()?;
    let message = match (
        info.payload().downcast_ref::<&str>(),
        info.payload().downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a non-string panic payload".to_owned(),
    };
    let message = match info.location() {
        Some(at) => format!("{message} (at {}:{})", at.file(), at.line()),
        None => message,
    };
    Some((message, started))
}

/// Where panics abort, a panic inside a handler writes its `ERROR` frame to
/// stdout from the panic hook, before the trap ends the instance.
#[cfg_attr(panic = "unwind", allow(dead_code))]
pub(crate) fn install_panic_frame_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some((message, started)) = handler_panic(info) {
            let frame = panic_error_frame(&message, Some(started));
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&frame);
            let _ = out.flush();
        }
        previous(info);
    }));
}
