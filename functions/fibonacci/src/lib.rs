//! The fibonacci function: the exact n-th Fibonacci number, with big integers.
//!
//! The original benchmark code computed F(n) in a `u64` and silently overflowed
//! past n = 93. This one is exact for every n up to [`MAX_N`]: it computes
//! F(n) by fast doubling over `num-bigint` integers. F(1,000,000) has 208,988
//! decimal digits, so the response summarises the number instead of carrying
//! it: its digit count, its leading and trailing 20 digits, its bit length and
//! the sha256 of its magnitude (little-endian bytes).
//!
//! Request: `{"n": 100000}`.
//! Response: `{"n":100000,"digits":20899,"bits":69424,"leading_digits":"2597406934722172416615",
//! "trailing_digits":"...","sha256":"..."}`.

use lumos_sdk::{Error, Request, Response, Result};
use num_bigint::BigUint;
use num_traits::{One, Zero};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The largest n served (F(10^7) has about 2.1 million digits).
pub const MAX_N: u64 = 10_000_000;
/// How many leading and trailing digits the response carries.
pub const EDGE_DIGITS: usize = 20;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Which Fibonacci number (F(0) = 0, F(1) = 1).
    pub n: u64,
}

/// The response body.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    /// The n asked for.
    pub n: u64,
    /// Number of decimal digits of F(n).
    pub digits: u64,
    /// Bit length of F(n).
    pub bits: u64,
    /// The first (up to) 20 decimal digits.
    pub leading_digits: String,
    /// The last (up to) 20 decimal digits, zero-padded.
    pub trailing_digits: String,
    /// sha256 of F(n)'s magnitude as little-endian bytes, hex.
    pub sha256: String,
}

/// F(n), exact, by fast doubling:
/// F(2k) = F(k)·(2F(k+1) − F(k)), F(2k+1) = F(k)² + F(k+1)².
pub fn fib(n: u64) -> BigUint {
    let mut a = BigUint::zero(); // F(k)
    let mut b = BigUint::one(); // F(k+1)
    for bit in (0..64 - n.leading_zeros()).rev() {
        let two_b_minus_a = (&b << 1u32) - &a;
        let c = &a * &two_b_minus_a; // F(2k)
        let d = &a * &a + &b * &b; // F(2k+1)
        if (n >> bit) & 1 == 0 {
            a = c;
            b = d;
        } else {
            b = &c + &d;
            a = d;
        }
    }
    a
}

/// The exact number of decimal digits of `x` (1 for zero).
pub fn decimal_digits(x: &BigUint) -> u64 {
    if x.is_zero() {
        return 1;
    }
    // 10^d0 <= 2^(bits-1) <= x, with one digit of slack for float rounding.
    let bits = x.bits();
    let d0 = (((bits - 1) as f64 * std::f64::consts::LOG10_2).floor() as u64).saturating_sub(1);
    let mut digits = d0 + 1;
    let mut power = BigUint::from(10u32).pow(digits as u32);
    while *x >= power {
        power *= 10u32;
        digits += 1;
    }
    digits
}

/// Summarises F(n) as the response does.
pub fn summarize(n: u64, x: &BigUint) -> Output {
    let digits = decimal_digits(x);
    let edge = (EDGE_DIGITS as u64).min(digits);
    let leading = x / BigUint::from(10u32).pow((digits - edge) as u32);
    let trailing = x % BigUint::from(10u32).pow(edge as u32);
    Output {
        n,
        digits,
        bits: x.bits(),
        leading_digits: leading.to_string(),
        trailing_digits: format!("{:0>width$}", trailing.to_string(), width = edge as usize),
        sha256: hex::encode(Sha256::digest(x.to_bytes_le())),
    }
}

/// Computes the response for one input.
pub fn compute(input: &Input) -> Result<Output> {
    if input.n > MAX_N {
        return Err(Error::bad_request(format!(
            "n = {} is past the limit {MAX_N}",
            input.n
        )));
    }
    Ok(summarize(input.n, &fib(input.n)))
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    let output = compute(&input)?;
    req.respond_json(&output)
}

// The same handler as a wasi:http component (wasm32-wasip2, feature `wasi-http`).
#[cfg(feature = "wasi-http")]
lumos_sdk::wasi_http!(handler);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(fib(0), BigUint::zero());
        assert_eq!(fib(1), BigUint::one());
        assert_eq!(fib(2), BigUint::one());
        assert_eq!(fib(10).to_string(), "55");
        assert_eq!(fib(93).to_string(), "12200160415121876738");
        // Past u64: the original code overflowed here.
        assert_eq!(fib(94).to_string(), "19740274219868223167");
        assert_eq!(fib(100).to_string(), "354224848179261915075");
    }

    #[test]
    fn fast_doubling_matches_iteration() {
        let (mut a, mut b) = (BigUint::zero(), BigUint::one());
        for n in 0..400u64 {
            assert_eq!(fib(n), a, "F({n})");
            let next = &a + &b;
            a = std::mem::replace(&mut b, next);
        }
    }

    #[test]
    fn digit_counts() {
        assert_eq!(decimal_digits(&BigUint::zero()), 1);
        assert_eq!(decimal_digits(&BigUint::from(9u32)), 1);
        assert_eq!(decimal_digits(&BigUint::from(10u32)), 2);
        assert_eq!(decimal_digits(&BigUint::from(10u32).pow(50)), 51);
        assert_eq!(decimal_digits(&(BigUint::from(10u32).pow(50) - 1u32)), 50);
        assert_eq!(decimal_digits(&fib(1000)), 209);
        let f = fib(10_000);
        assert_eq!(decimal_digits(&f), f.to_string().len() as u64);
        assert_eq!(decimal_digits(&f), 2090);
    }

    #[test]
    fn summary_of_f100_and_f1000() {
        let s = summarize(100, &fib(100));
        assert_eq!(s.digits, 21);
        assert_eq!(s.leading_digits, "35422484817926191507");
        assert_eq!(s.trailing_digits, "54224848179261915075");
        let s = summarize(1000, &fib(1000));
        let full = fib(1000).to_string();
        assert_eq!(s.leading_digits, full[..20]);
        assert_eq!(s.trailing_digits, full[full.len() - 20..]);
        // F(15) = 610: fewer digits than the edge.
        let s = summarize(15, &fib(15));
        assert_eq!(
            (s.leading_digits.as_str(), s.trailing_digits.as_str()),
            ("610", "610")
        );
        // Leading zeros of the tail survive: F(60) = 1548008755920 ends in ...920.
        assert!(summarize(60, &fib(60)).trailing_digits.ends_with("8755920"));
    }

    #[test]
    fn group_three_size_is_exact() {
        // F(10^6) has 208,988 digits (floor(n·log10 φ − log10 √5) + 1).
        let s = compute(&Input { n: 1_000_000 }).unwrap();
        assert_eq!(s.digits, 208_988);
        assert_eq!(s.bits, 694_241);
    }

    #[test]
    fn handler_over_the_sdk() {
        let mut store = lumos_sdk::NoStorage {
            message: "unused".into(),
        };
        let mut req = Request::with_storage(&br#"{"n":100}"#[..], &mut store);
        let body = handler(&mut req).unwrap().into_body();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["digits"], 21);
        let mut req = Request::with_storage(&br#"{"n":20000000}"#[..], &mut store);
        assert_eq!(
            handler(&mut req).unwrap_err().kind(),
            lumos_sdk::ErrorKind::BadRequest
        );
    }
}
