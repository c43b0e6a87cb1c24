//! The prime-numbers function: every prime up to n, by the sieve of Eratosthenes.
//!
//! Request: `{"n": 1000000}`.
//! Response: `{"n":1000000,"count":78498,"largest":999983,"sum":37550402023}`
//! (count = π(n), the largest prime ≤ n, the sum of all primes ≤ n).

use lumos_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};

/// The largest n served (the odd-only sieve then takes 50 MB).
pub const MAX_N: u64 = 100_000_000;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Upper bound (inclusive).
    pub n: u64,
}

/// The response body.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    /// The n asked for.
    pub n: u64,
    /// π(n): how many primes are ≤ n.
    pub count: u64,
    /// The largest prime ≤ n, or null below 2.
    pub largest: Option<u64>,
    /// The sum of the primes ≤ n.
    pub sum: u64,
}

/// Sieves the primes up to `n` (odd numbers only) and summarises them.
pub fn primes_up_to(n: u64) -> Output {
    if n < 2 {
        return Output {
            n,
            count: 0,
            largest: None,
            sum: 0,
        };
    }
    // composite[i] says whether 2i+1 is composite, for 2i+1 <= n.
    let slots = (n as usize - 1) / 2 + 1;
    let mut composite = vec![false; slots];
    let mut i = 1;
    while (2 * i + 1) * (2 * i + 1) <= n as usize {
        if !composite[i] {
            let p = 2 * i + 1;
            let mut j = p * p / 2;
            while j < slots {
                composite[j] = true;
                j += p;
            }
        }
        i += 1;
    }
    let (mut count, mut sum, mut largest) = (1u64, 2u64, 2u64);
    for (i, &c) in composite.iter().enumerate().skip(1) {
        if !c {
            let p = 2 * i as u64 + 1;
            count += 1;
            sum += p;
            largest = p;
        }
    }
    Output {
        n,
        count,
        largest: Some(largest),
        sum,
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
    Ok(primes_up_to(input.n))
}

/// The lumos handler.
pub fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    let output = compute(&input)?;
    req.respond_json(&output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_count(n: u64) -> u64 {
        (2..=n)
            .filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0))
            .count() as u64
    }

    #[test]
    fn known_prime_counts() {
        assert_eq!(primes_up_to(10_000).count, 1229);
        assert_eq!(primes_up_to(100_000).count, 9592);
        let million = primes_up_to(1_000_000);
        assert_eq!(million.count, 78498);
        assert_eq!(million.largest, Some(999_983));
        assert_eq!(million.sum, 37_550_402_023);
    }

    #[test]
    fn small_bounds() {
        assert_eq!(primes_up_to(0).largest, None);
        assert_eq!(primes_up_to(1).count, 0);
        assert_eq!(
            primes_up_to(2),
            Output {
                n: 2,
                count: 1,
                largest: Some(2),
                sum: 2
            }
        );
        assert_eq!(primes_up_to(3).count, 2);
        assert_eq!(primes_up_to(9).largest, Some(7));
        assert_eq!(primes_up_to(25).count, 9);
        for n in 0..600 {
            assert_eq!(primes_up_to(n).count, naive_count(n), "pi({n})");
        }
    }

    #[test]
    fn handler_over_the_sdk() {
        let mut store = lumos_sdk::NoStorage {
            message: "unused".into(),
        };
        let mut req = Request::with_storage(&br#"{"n":10000}"#[..], &mut store);
        let body = handler(&mut req).unwrap().into_body();
        assert_eq!(
            body,
            br#"{"n":10000,"count":1229,"largest":9973,"sum":5736396}"#
        );
        let mut req = Request::with_storage(&br#"{"n":-1}"#[..], &mut store);
        assert_eq!(
            handler(&mut req).unwrap_err().kind(),
            lumos_sdk::ErrorKind::BadRequest
        );
    }
}
