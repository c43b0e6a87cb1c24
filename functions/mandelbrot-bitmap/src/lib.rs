//! The mandelbrot-bitmap function: renders the Mandelbrot set as a PBM bitmap.
//!
//! Request: `{"width":1024,"height":1024,"max_iterations":50}` (`max_iterations` defaults to 50).
//!
//! Pixel (x, y) is the point c = (2x/width − 1.5) + (2y/height − 1)i, as in the
//! Computer Language Benchmarks Game; it is black (bit 1) when |z| stays ≤ 2
//! for `max_iterations` steps of z ← z² + c. The work is single-threaded on
//! every target, so native and wasm do exactly the same computation (the
//! original benchmark compared a parallel native version with a
//! single-threaded wasm one).
//!
//! Response: a binary PBM (`P4`) file: the header `P4\n<width> <height>\n`,
//! then `height` rows of `ceil(width/8)` bytes, most significant bit first.
//! Iterating is `compute`; packing the bits into the PBM is `serialize`.

use lumos_sdk::{Error, Request, Response, Result};
use serde::Deserialize;

/// Largest width or height served.
pub const MAX_SIDE: u32 = 16_384;
/// Largest iteration limit served.
pub const MAX_ITERATIONS: u32 = 100_000;

fn default_iterations() -> u32 {
    50
}

/// The request body.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Iterations before a point counts as inside the set.
    #[serde(default = "default_iterations")]
    pub max_iterations: u32,
}

/// Membership of every pixel, row-major, one byte (0 or 1) per pixel.
pub fn render(input: &Input) -> Vec<u8> {
    let (w, h) = (input.width as usize, input.height as usize);
    let mut pixels = vec![0u8; w * h];
    for y in 0..h {
        let ci = 2.0 * y as f64 / h as f64 - 1.0;
        for x in 0..w {
            let cr = 2.0 * x as f64 / w as f64 - 1.5;
            let (mut zr, mut zi) = (0.0f64, 0.0f64);
            let mut inside = 1u8;
            for _ in 0..input.max_iterations {
                let (zr2, zi2) = (zr * zr, zi * zi);
                if zr2 + zi2 > 4.0 {
                    inside = 0;
                    break;
                }
                zi = 2.0 * zr * zi + ci;
                zr = zr2 - zi2 + cr;
            }
            pixels[y * w + x] = inside;
        }
    }
    pixels
}

/// The PBM header for a bitmap of this size.
pub fn pbm_header(width: u32, height: u32) -> String {
    format!("P4\n{width} {height}\n")
}

/// Packs one-byte-per-pixel membership into a binary PBM file.
pub fn encode_pbm(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let header = pbm_header(width, height);
    let row_bytes = (width as usize).div_ceil(8);
    let mut out = Vec::with_capacity(header.len() + row_bytes * height as usize);
    out.extend_from_slice(header.as_bytes());
    for row in pixels.chunks(width as usize) {
        for chunk in row.chunks(8) {
            let byte = chunk
                .iter()
                .enumerate()
                .fold(0u8, |acc, (i, &p)| acc | (p << (7 - i)));
            out.push(byte);
        }
    }
    out
}

/// The exact size of the response for this request.
pub fn pbm_len(width: u32, height: u32) -> usize {
    pbm_header(width, height).len() + (width as usize).div_ceil(8) * height as usize
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    if input.width == 0 || input.height == 0 || input.width > MAX_SIDE || input.height > MAX_SIDE {
        return Err(Error::bad_request(format!(
            "width and height must be within 1..={MAX_SIDE}"
        )));
    }
    if input.max_iterations > MAX_ITERATIONS {
        return Err(Error::bad_request(format!(
            "max_iterations must be at most {MAX_ITERATIONS}"
        )));
    }
    let pixels = render(&input);
    let pbm = req.serialize_with(|| encode_pbm(input.width, input.height, &pixels));
    Ok(Response::new(pbm))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &[u8]) -> Result<Vec<u8>> {
        let mut store = lumos_sdk::NoStorage {
            message: "unused".into(),
        };
        let mut req = Request::with_storage(body, &mut store);
        handler(&mut req).map(Response::into_body)
    }

    fn pixel(pbm: &[u8], header: usize, width: usize, x: usize, y: usize) -> bool {
        let row = width.div_ceil(8);
        pbm[header + y * row + x / 8] & (0x80 >> (x % 8)) != 0
    }

    #[test]
    fn valid_header_and_exact_size() {
        let pbm = run(br#"{"width":1024,"height":1024}"#).unwrap();
        assert!(pbm.starts_with(b"P4\n1024 1024\n"));
        assert_eq!(pbm.len(), 13 + 128 * 1024);
        assert_eq!(pbm.len(), pbm_len(1024, 1024));
        // Width not a multiple of 8: rows are padded to whole bytes.
        let pbm = run(br#"{"width":100,"height":30,"max_iterations":20}"#).unwrap();
        assert!(pbm.starts_with(b"P4\n100 30\n"));
        assert_eq!(pbm.len(), 10 + 13 * 30);
    }

    #[test]
    fn known_points() {
        let pbm = run(br#"{"width":400,"height":400}"#).unwrap();
        let header = pbm_header(400, 400).len();
        // c = -0.5 + 0i (x = 200, y = 200) is inside the main cardioid.
        assert!(pixel(&pbm, header, 400, 200, 200));
        // c = -1 + 0i (x = 100) is in the period-2 bulb.
        assert!(pixel(&pbm, header, 400, 100, 200));
        // c = -1.5 - 1i (the corner) and c = 0.49 + 0i escape.
        assert!(!pixel(&pbm, header, 400, 0, 0));
        assert!(!pixel(&pbm, header, 400, 398, 200));
        // Mirror symmetry about the real axis: row y and row 400 - y.
        for y in 1..200 {
            for x in 0..400 {
                assert_eq!(
                    pixel(&pbm, header, 400, x, y),
                    pixel(&pbm, header, 400, x, 400 - y),
                    "({x},{y})"
                );
            }
        }
    }

    #[test]
    fn bit_packing() {
        assert_eq!(
            encode_pbm(10, 1, &[1, 0, 0, 0, 0, 0, 0, 1, 1, 0]),
            b"P4\n10 1\n\x81\x80"
        );
    }

    #[test]
    fn bad_requests() {
        assert!(run(br#"{"width":0,"height":10}"#).is_err());
        assert!(run(br#"{"width":10,"height":100000}"#).is_err());
        assert!(run(br#"{"width":10,"height":10,"max_iterations":1000000}"#).is_err());
    }
}
