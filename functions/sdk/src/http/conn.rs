//! One HTTP/1.1 connection served request by request, over any stream:
//! `std::net::TcpStream` on native, a WasmEdge socket on wasm32-wasip1.
//!
//! Hand-written over `httparse` (which parses the head): the servers on
//! crates.io (tiny_http, hyper) need `std::net` or an async runtime, and
//! neither exists on wasm32-wasip1. What a function's host sends is small:
//! `POST /` with a `Content-Length` or chunked body, keep-alive, maybe
//! `Expect: 100-continue` (curl sends it for bodies past 1 KiB).

use std::io::{self, Read, Write};

use crate::frame::MAX_FRAME;

/// Most bytes of a request head (request line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Most headers a request may carry.
const MAX_HEADERS: usize = 64;

/// A request, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpRequest {
    pub method: String,
    /// The path without its query.
    pub path: String,
    pub body: Vec<u8>,
}

/// A response: status, body and at most one extra header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpReply {
    pub status: u16,
    pub content_type: &'static str,
    /// An extra header (`x-lumos-meta`), name and value.
    pub header: Option<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    /// A plain-text reply.
    pub fn text(status: u16, message: &str) -> HttpReply {
        HttpReply {
            status,
            content_type: "text/plain; charset=utf-8",
            header: None,
            body: message.as_bytes().to_vec(),
        }
    }

    /// The whole response, head and body in one buffer (one write, so one
    /// segment for a small answer: no client waits on a delayed ACK).
    pub fn to_bytes(&self, close: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if let Some((name, value)) = &self.header {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// The head of a request, as far as serving it needs.
struct Head {
    method: String,
    path: String,
    length: Option<u64>,
    chunked: bool,
    expect_continue: bool,
    close: bool,
}

/// What reading the next request came to.
enum Next {
    Request(Head),
    /// The client closed the connection between requests.
    Closed,
    /// A request that cannot be served: answer this, then close.
    Refuse(HttpReply),
}

/// Serves requests on `stream` until the client closes it (or asks to, or
/// sends something unservable, or `answer` gives up: `None`). Read and write
/// errors end the connection.
pub(crate) fn serve_connection<S, A>(mut stream: S, mut answer: A)
where
    S: Read + Write,
    A: FnMut(HttpRequest) -> Option<HttpReply>,
{
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        let head = match read_head(&mut stream, &mut buf) {
            Ok(Next::Request(head)) => head,
            Ok(Next::Closed) | Err(_) => return,
            Ok(Next::Refuse(reply)) => {
                let _ = stream.write_all(&reply.to_bytes(true));
                return;
            }
        };
        if head.expect_continue && stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
            return;
        }
        let body = match read_body(&mut stream, &mut buf, &head) {
            Ok(Ok(body)) => body,
            Ok(Err(reply)) => {
                let _ = stream.write_all(&reply.to_bytes(true));
                return;
            }
            Err(_) => return,
        };
        let request = HttpRequest {
            method: head.method,
            path: head.path,
            body,
        };
        let Some(reply) = answer(request) else {
            return;
        };
        if stream.write_all(&reply.to_bytes(head.close)).is_err() || head.close {
            return;
        }
    }
}

/// Reads more of the stream into `buf`; false at end of stream.
fn fill<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

fn read_head<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<Next> {
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[..]) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = head_of(&req);
                    buf.drain(..len);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                    return Ok(Next::Refuse(HttpReply::text(
                        431,
                        "the request head is past 64 KiB",
                    )));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => {
                    return Ok(Next::Refuse(HttpReply::text(
                        400,
                        &format!("bad HTTP request: {e}"),
                    )))
                }
            }
        }
        if !fill(stream, buf)? {
            return Ok(Next::Closed);
        }
    }
}

fn head_of(req: &httparse::Request<'_, '_>) -> Next {
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_string();
    // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes it
    // unless told otherwise.
    let mut close = req.version != Some(1);
    let mut length = None;
    let mut chunked = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            match value.parse::<u64>() {
                Ok(n) if length.is_none_or(|l| l == n) => length = Some(n),
                _ => {
                    return Next::Refuse(HttpReply::text(
                        400,
                        &format!("bad content-length {value:?}"),
                    ))
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if !value.eq_ignore_ascii_case("identity") {
                return Next::Refuse(HttpReply::text(
                    501,
                    &format!("transfer-encoding {value:?} is not served (chunked is)"),
                ));
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        } else if h.name.eq_ignore_ascii_case("expect") {
            expect_continue = value.eq_ignore_ascii_case("100-continue");
        }
    }
    Next::Request(Head {
        method,
        path,
        length,
        chunked,
        expect_continue,
        close,
    })
}

fn too_large() -> HttpReply {
    HttpReply::text(413, "request body is past 256 MiB")
}

/// The body of the request `head` starts, read from `buf` and then the stream.
fn read_body<S: Read>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: &Head,
) -> io::Result<Result<Vec<u8>, HttpReply>> {
    let eof = || io::Error::from(io::ErrorKind::UnexpectedEof);
    if head.chunked {
        let mut body = Vec::new();
        loop {
            let (skip, size) = loop {
                match httparse::parse_chunk_size(&buf[..]) {
                    Ok(httparse::Status::Complete(c)) => break c,
                    Ok(httparse::Status::Partial) => {
                        if !fill(stream, buf)? {
                            return Err(eof());
                        }
                    }
                    Err(_) => return Ok(Err(HttpReply::text(400, "bad chunk size"))),
                }
            };
            buf.drain(..skip);
            if size == 0 {
                // Trailers, if any, up to the empty line.
                loop {
                    if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                        let empty = end == 0;
                        buf.drain(..end + 2);
                        if empty {
                            return Ok(Ok(body));
                        }
                    } else if buf.len() > MAX_HEAD {
                        return Ok(Err(HttpReply::text(431, "trailers past 64 KiB")));
                    } else if !fill(stream, buf)? {
                        return Err(eof());
                    }
                }
            }
            if body.len() as u64 + size > u64::from(MAX_FRAME) {
                return Ok(Err(too_large()));
            }
            let size = size as usize;
            while buf.len() < size + 2 {
                if !fill(stream, buf)? {
                    return Err(eof());
                }
            }
            if &buf[size..size + 2] != b"\r\n" {
                return Ok(Err(HttpReply::text(400, "a chunk does not end in CRLF")));
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    }
    let len = head.length.unwrap_or(0);
    if len > u64::from(MAX_FRAME) {
        return Ok(Err(too_large()));
    }
    let len = len as usize;
    while buf.len() < len {
        if !fill(stream, buf)? {
            return Err(eof());
        }
    }
    Ok(Ok(buf.drain(..len).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's bytes in, the server's bytes out.
    struct Pipe {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            // A byte at a time: every parse path sees a partial buffer.
            let one = buf.len().min(1);
            self.input.read(&mut buf[..one])
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Serves `input`; returns the requests seen and the bytes written.
    fn serve(input: &[u8]) -> (Vec<HttpRequest>, String) {
        let mut pipe = Pipe {
            input: io::Cursor::new(input.to_vec()),
            output: Vec::new(),
        };
        let mut seen = Vec::new();
        serve_connection(&mut pipe, |req| {
            let body = format!("{} {} {}", req.method, req.path, req.body.len()).into_bytes();
            seen.push(req);
            Some(HttpReply {
                status: 200,
                content_type: "text/plain",
                header: Some(("x-lumos-meta", "{}".into())),
                body,
            })
        });
        (seen, String::from_utf8(pipe.output).unwrap())
    }

    #[test]
    fn kept_alive_requests_length_chunked_and_continue() {
        let (seen, out) = serve(
            b"POST /?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
              POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n\
              POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi\
              GET /never HTTP/1.1\r\n\r\n",
        );
        let bodies: Vec<&[u8]> = seen.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(bodies, [&b"hello"[..], b"abcde", b"hi"]);
        assert_eq!(seen[0].path, "/");
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nx-lumos-meta: {}\r\n\r\nPOST / 5\
             HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nx-lumos-meta: {}\r\n\r\nPOST / 5\
             HTTP/1.1 100 Continue\r\n\r\n\
             HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nx-lumos-meta: {}\r\nconnection: close\r\n\r\nPOST / 2"
        );
    }

    #[test]
    fn http_1_0_closes_and_bad_requests_are_refused() {
        let (seen, out) =
            serve(b"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\nPOST / HTTP/1.1\r\n\r\n");
        assert_eq!(seen.len(), 1);
        assert!(out.contains("connection: close"), "{out}");
        let (seen, out) = serve(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
        assert!(seen.is_empty());
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert!(out.contains("connection: close"), "{out}");
        let (_, out) = serve(b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        let (_, out) = serve(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 501 "), "{out}");
        let (_, out) = serve(b"\x00\x01 nonsense\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        // A client gone mid-body: no answer, no request.
        let (seen, out) = serve(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
        assert!(seen.is_empty() && out.is_empty(), "{out}");
    }
}
