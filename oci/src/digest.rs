//! `sha256:<hex>` content digests, and readers/writers that compute or verify them.

use std::fmt;
use std::io::{self, Read, Write};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A validated `sha256:` digest (the only algorithm OCI registries require).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Self {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(h: Sha256) -> Self {
        Digest(format!("sha256:{}", hex::encode(h.finalize())))
    }

    /// Parses `sha256:<64 lower-case hex digits>`.
    pub fn parse(s: &str) -> Result<Self> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| Error::InvalidDigest(s.to_string()))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::InvalidDigest(s.to_string()));
        }
        Ok(Digest(s.to_string()))
    }

    /// The hex part, e.g. for the blob's file name.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The algorithm, always `sha256`.
    pub fn algorithm(&self) -> &str {
        "sha256"
    }

    /// The full `sha256:<hex>` string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sha256 of everything `reader` yields, and its length.
    pub fn of_reader(mut reader: impl Read) -> io::Result<(Digest, u64)> {
        let mut w = DigestWriter::new(io::sink());
        io::copy(&mut reader, &mut w)?;
        let (_, d, n) = w.finish();
        Ok((d, n))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A writer that hashes and counts what passes through it.
pub struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> DigestWriter<W> {
    pub fn new(inner: W) -> Self {
        DigestWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the digest and the byte count of everything written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.bytes)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that checks, when its inner reader reaches the end, that what it
/// read has the expected digest (and size, when given). A mismatch is an
/// `InvalidData` I/O error carrying [`Error::DigestMismatch`] text, so a
/// corrupt stream never ends cleanly.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    expected: Digest,
    expected_size: Option<u64>,
    what: String,
    done: bool,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(
        inner: R,
        expected: Digest,
        expected_size: Option<u64>,
        what: impl Into<String>,
    ) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            expected,
            expected_size,
            what: what.into(),
            done: false,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    fn check(&mut self) -> io::Result<()> {
        self.done = true;
        let actual = Digest::from_hasher(std::mem::take(&mut self.hasher));
        self.check_size(|size, bytes| size != bytes)?;
        if actual != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Error::DigestMismatch {
                    what: self.what.clone(),
                    expected: self.expected.clone(),
                    actual,
                },
            ));
        }
        Ok(())
    }

    /// A [`Error::SizeMismatch`] (and the end of reading) when `wrong(expected
    /// size, bytes read)` says so.
    fn check_size(&mut self, wrong: impl Fn(u64, u64) -> bool) -> io::Result<()> {
        match self.expected_size {
            Some(size) if wrong(size, self.bytes) => {
                self.done = true;
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    Error::SizeMismatch {
                        what: self.what.clone(),
                        expected: size,
                        actual: self.bytes,
                    },
                ))
            }
            _ => Ok(()),
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.check()?;
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.check_size(|size, bytes| bytes > size)?;
        Ok(n)
    }
}

/// Turns an I/O error that carries one of this crate's errors back into it.
pub(crate) fn unwrap_io(path: &std::path::Path, e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        match e.into_inner().map(|b| b.downcast::<Error>()) {
            Some(Ok(err)) => *err,
            Some(Err(other)) => Error::io(path, io::Error::other(other)),
            None => unreachable!("checked get_ref above"),
        }
    } else {
        Error::io(path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            Digest::sha256(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_digests() {
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(
            "md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        .is_err());
        assert!(Digest::parse(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        )
        .is_err());
    }

    #[test]
    fn verifying_reader_detects_corruption() {
        let good = Digest::sha256(b"hello");
        let mut out = Vec::new();
        let err = io::copy(
            &mut VerifyingReader::new(&b"hellO"[..], good.clone(), None, "blob"),
            &mut out,
        )
        .unwrap_err();
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        let mut out = Vec::new();
        io::copy(
            &mut VerifyingReader::new(&b"hello"[..], good, Some(5), "blob"),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"hello");
    }
}
