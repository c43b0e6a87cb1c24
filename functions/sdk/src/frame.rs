//! Frame encoding and decoding (docs/frame-protocol.md, "Frame").

use std::io::{self, Read, Write};

/// The two magic bytes that open every frame.
pub const MAGIC: [u8; 2] = *b"LM";
/// Size of a frame header: magic, kind, little-endian u32 length.
pub const HEADER_LEN: usize = 7;
/// Largest payload a frame may carry (256 MiB).
pub const MAX_FRAME: u32 = 256 * 1024 * 1024;
/// Version of the frame protocol announced in `HELLO`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The kind byte of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// instance → host: the instance is ready.
    Hello = 0x01,
    /// host → instance: one request body.
    Request = 0x02,
    /// instance → host: meta and response body.
    Response = 0x03,
    /// instance → host: meta and error message.
    Error = 0x04,
    /// instance → host: read a key.
    StorageGet = 0x10,
    /// instance → host: write a key.
    StoragePut = 0x11,
    /// host → instance: answer to `STORAGE_GET`.
    StorageValue = 0x12,
    /// host → instance: answer to `STORAGE_PUT`.
    StorageAck = 0x13,
    /// host → instance: a storage call failed.
    StorageFail = 0x14,
    /// host → instance: exit with status 0.
    Shutdown = 0x7F,
}

impl Kind {
    /// The kind for a byte, or `None` for an unknown kind.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            0x01 => Kind::Hello,
            0x02 => Kind::Request,
            0x03 => Kind::Response,
            0x04 => Kind::Error,
            0x10 => Kind::StorageGet,
            0x11 => Kind::StoragePut,
            0x12 => Kind::StorageValue,
            0x13 => Kind::StorageAck,
            0x14 => Kind::StorageFail,
            0x7F => Kind::Shutdown,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the frame is.
    pub kind: Kind,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// What reading a frame can give besides a frame.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The stream ended cleanly at a frame boundary.
    #[error("end of stream")]
    Eof,
    /// The stream is corrupt: wrong magic, unknown kind, oversized or truncated frame.
    #[error("{0}")]
    Corrupt(String),
    /// The underlying reader failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Encodes a frame header: magic, kind, little-endian payload length.
pub fn header(kind: Kind, len: u32) -> [u8; HEADER_LEN] {
    let n = len.to_le_bytes();
    [MAGIC[0], MAGIC[1], kind as u8, n[0], n[1], n[2], n[3]]
}

/// Decodes a frame header into (kind, payload length), or says why it is corrupt:
/// wrong magic, unknown kind, or a length past [`MAX_FRAME`].
pub fn parse_header(header: &[u8; HEADER_LEN]) -> Result<(Kind, u32), String> {
    if header[..2] != MAGIC {
        return Err(format!(
            "wrong magic {:02x} {:02x} (expected 4c 4d)",
            header[0], header[1]
        ));
    }
    let kind = Kind::from_byte(header[2])
        .ok_or_else(|| format!("unknown frame kind 0x{:02x}", header[2]))?;
    let len = u32::from_le_bytes([header[3], header[4], header[5], header[6]]);
    if len > MAX_FRAME {
        return Err(format!(
            "frame length {len} is past MAX_FRAME ({MAX_FRAME})"
        ));
    }
    Ok((kind, len))
}

/// Reads one frame. A payload is only allocated as it actually arrives, so a
/// lying length cannot make the reader allocate 256 MiB up front.
pub fn read_frame<R: Read>(reader: &mut R) -> Result<Frame, ReadError> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Err(ReadError::Eof),
            Ok(0) => {
                return Err(ReadError::Corrupt(format!(
                    "stream ended inside a frame header ({filled} of {HEADER_LEN} bytes)"
                )))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    let (kind, len) = parse_header(&header).map_err(ReadError::Corrupt)?;
    let mut payload = Vec::with_capacity((len as usize).min(1 << 20));
    let got = reader.take(u64::from(len)).read_to_end(&mut payload)?;
    if got != len as usize {
        return Err(ReadError::Corrupt(format!(
            "stream ended inside a frame payload ({got} of {len} bytes)"
        )));
    }
    Ok(Frame { kind, payload })
}

/// Writes one frame whose payload is the concatenation of `parts`, then flushes.
pub fn write_frame<W: Write + ?Sized>(
    writer: &mut W,
    kind: Kind,
    parts: &[&[u8]],
) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(len)
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frame payload of {len} bytes is past MAX_FRAME"),
            )
        })?;
    writer.write_all(&header(kind, len))?;
    for part in parts {
        writer.write_all(part)?;
    }
    writer.flush()
}

/// Encodes a `RESPONSE` or `ERROR` payload: `u32 LE` meta length, meta, rest.
pub fn meta_payload(meta: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + meta.len() + rest.len());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(rest);
    out
}

/// Splits a `RESPONSE` or `ERROR` payload into (meta, rest).
pub fn split_meta(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let h = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    let meta = payload.get(4..4 + h)?;
    Some((meta, &payload[4 + h..]))
}

/// Encodes a `STORAGE_PUT` payload.
pub fn put_payload(key: &str, value: &[u8]) -> Vec<u8> {
    meta_payload(key.as_bytes(), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Request, &[b"{\"a\":", b"1}"]).unwrap();
        assert_eq!(&buf[..7], &[b'L', b'M', 0x02, 7, 0, 0, 0]);
        let frame = read_frame(&mut &buf[..]).unwrap();
        assert_eq!(frame.kind, Kind::Request);
        assert_eq!(frame.payload, b"{\"a\":1}");
    }

    #[test]
    fn eof_and_corruption() {
        assert!(matches!(read_frame(&mut &b""[..]), Err(ReadError::Eof)));
        assert!(matches!(
            read_frame(&mut &b"LM"[..]),
            Err(ReadError::Corrupt(_))
        ));
        assert!(matches!(
            read_frame(&mut &b"XX\x02\0\0\0\0"[..]),
            Err(ReadError::Corrupt(_))
        ));
        assert!(matches!(
            read_frame(&mut &b"LM\x55\0\0\0\0"[..]),
            Err(ReadError::Corrupt(_))
        ));
        let too_long = [b'L', b'M', 2, 1, 0, 0, 0x10 + 1];
        assert!(matches!(
            read_frame(&mut &too_long[..]),
            Err(ReadError::Corrupt(_))
        ));
        assert!(matches!(
            read_frame(&mut &b"LM\x02\x05\0\0\0abc"[..]),
            Err(ReadError::Corrupt(_))
        ));
    }

    #[test]
    fn meta_split() {
        let p = meta_payload(b"{}", b"body");
        assert_eq!(split_meta(&p), Some((&b"{}"[..], &b"body"[..])));
        assert_eq!(split_meta(b"\x09\0\0\0ab"), None);
    }
}
