//! End to end: `cargo lumos build` of this workspace's eight built-in
//! functions, every artifact checked with outside tools (readelf, qemu, the
//! WasmEdge CLI, wasmtime, wasmparser) and every answer checked against facts
//! computed here, independently of the functions' own code.
//!
//! The functions are built once per test run with `--release` (not the
//! fat-LTO `lumos` profile) into `target/lumos-e2e`, which persists, so later
//! runs are incremental. Three builds cover the variants:
//!
//! 1. native x86_64/aarch64, wasm, wasmtime AoT x86_64/aarch64 of all eight,
//! 2. WasmEdge AoT x86_64 of all eight (its compiler runs natively),
//! 3. WasmEdge AoT aarch64 of prime-numbers only, into `target/lumos-e2e-qemu`,
//!    in the background from the first use of the shared target (any bench of
//!    the built-ins, or these tests): its compiler runs under qemu on one core
//!    for minutes, so only the tests that read its artifact wait for it
//!    ([`qemu_built`]); the others go on, on the other core.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex, Once, OnceLock};

use crate::common::*;
use lumos_payloads::{payload, Payload, FUNCTIONS};
use serde_json::Value;

/// The persistent target dir of these tests (`<target>/lumos-e2e`), shared
/// with the benches of the built-ins.
fn e2e_target() -> PathBuf {
    shared_target()
}

/// The persistent target dir of the qemu build (build 3 of the module comment).
fn qemu_target() -> PathBuf {
    lumos_test_support::fixtures::shared_dir("lumos-e2e-qemu")
}

/// The three builds (see the module comment), as `cargo lumos build`
/// arguments; the last goes to [`qemu_target`], the others to [`e2e_target`].
const BUILDS: [&[&str]; 3] = [
    &["--arch", "x86_64,aarch64", "--aot-engine", "wasmtime"],
    &[
        "--runtime",
        "aot",
        "--aot-engine",
        "wasmedge",
        "--arch",
        "x86_64",
    ],
    &[
        "-p",
        "prime-numbers",
        "--arch",
        "aarch64",
        "--aot-engine",
        "wasmedge",
        "--runtime",
        "aot",
    ],
];

/// Number of artifacts each of [`BUILDS`] makes.
const BUILD_ARTIFACTS: [usize; 3] = [8 * 5, 8, 1];

/// The target dir of build `i` of [`BUILDS`].
fn build_target(i: usize) -> PathBuf {
    if i + 1 == BUILDS.len() {
        qemu_target()
    } else {
        e2e_target()
    }
}

fn lumos_build_command(i: usize) -> Command {
    let mut cmd = cargo_lumos();
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(build_target(i))
        .arg("--release")
        .args(BUILDS[i]);
    cmd
}

/// Build `i`'s outcome from cargo lumos's output: `Err` holds its status and stderr.
fn build_outcome(i: usize, out: &std::process::Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo lumos build {:?} failed ({}):\n{}",
            BUILDS[i],
            out.status,
            stderr(out)
        ))
    }
}

fn lumos_build(i: usize, json: bool) -> std::process::Output {
    let mut cmd = lumos_build_command(i);
    if json {
        cmd.args(["--message-format", "json"]);
    }
    let out = run(&mut cmd);
    if let Err(e) = build_outcome(i, &out) {
        panic!("{e}");
    }
    out
}

/// The qemu build's outcome once it is known, and the condition its waiters sleep on.
static QEMU_BUILD: (Mutex<Option<Result<(), String>>>, Condvar) =
    (Mutex::new(None), Condvar::new());

/// Starts the qemu build (the last of [`BUILDS`]) in the background, once
/// per test process; never waits for it.
pub fn start_qemu_build() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            let last = BUILDS.len() - 1;
            let r = build_outcome(last, &run(&mut lumos_build_command(last)));
            *QEMU_BUILD.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            QEMU_BUILD.1.notify_all();
        });
    });
}

/// Waits for the qemu build (starting it if nobody has); fails the test if it failed.
fn qemu_built() -> PathBuf {
    start_qemu_build();
    let (done, cv) = &QEMU_BUILD;
    let mut r = done.lock().unwrap_or_else(|e| e.into_inner());
    while r.is_none() {
        r = cv.wait(r).unwrap_or_else(|e| e.into_inner());
    }
    match &*r {
        Some(Ok(())) => qemu_target(),
        Some(Err(e)) => panic!("{e}"),
        None => unreachable!("waited above"),
    }
}

/// Runs builds 1 and 2 once per test process (and starts the qemu build);
/// every test starts here.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // The outside tools every test needs, checked up front so a missing
        // one fails with a clear message rather than a confusing one.
        for tool in ["readelf", "qemu-aarch64-static", "wasm-opt"] {
            require(tool);
        }
        drop(wasmedge());
        start_qemu_build();
        for i in 0..BUILDS.len() - 1 {
            lumos_build(i, false);
        }
        e2e_target()
    })
}

/// The artifact of `function`'s `variant`, from the build.json of the
/// builds, then of the qemu build.
fn artifact(function: &str, variant: &str) -> PathBuf {
    built();
    if qemu_variants().contains(&(function.to_string(), variant.to_string())) {
        qemu_built();
    }
    [e2e_target(), qemu_target()]
        .iter()
        .find_map(|t| {
            artifacts(&build_json(t), function)
                .into_iter()
                .find(|a| a.0 == variant)
        })
        .unwrap_or_else(|| panic!("{function} has no {variant} in build.json"))
        .1
}

/// The variants every function must have after the three builds (in either
/// target dir).
fn expected_variants(function: &str) -> BTreeSet<String> {
    let mut v: BTreeSet<String> = [
        "native-x86_64",
        "native-aarch64",
        "wasm",
        "aot-wasmtime-x86_64",
        "aot-wasmtime-aarch64",
        "aot-wasmedge-x86_64",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    v.extend(
        qemu_variants()
            .into_iter()
            .filter(|(f, _)| f == function)
            .map(|(_, v)| v),
    );
    v
}

/// What the qemu build's build.json lists: (function, variant).
fn qemu_variants() -> BTreeSet<(String, String)> {
    [(
        "prime-numbers".to_string(),
        "aot-wasmedge-aarch64".to_string(),
    )]
    .into()
}

// ---------------------------------------------------------------------------
// Independent facts about the answers.

/// Summary of F(n) computed here with schoolbook big integers (u32 limbs):
/// (decimal digits, bits, first 20 digits, last 20 digits, sha256 of the
/// little-endian magnitude bytes).
fn fibonacci_facts(n: u64) -> (u64, u64, String, String, String) {
    let (mut a, mut b): (Vec<u32>, Vec<u32>) = (vec![0], vec![1]);
    for _ in 0..n {
        let mut sum = Vec::with_capacity(b.len() + 1);
        let mut carry = 0u64;
        for (i, limb) in b.iter().enumerate() {
            let s = u64::from(*a.get(i).unwrap_or(&0)) + u64::from(*limb) + carry;
            sum.push(s as u32);
            carry = s >> 32;
        }
        if carry > 0 {
            sum.push(carry as u32);
        }
        a = std::mem::replace(&mut b, sum);
    }
    while a.len() > 1 && *a.last().unwrap() == 0 {
        a.pop();
    }
    let bits = (a.len() as u64 - 1) * 32 + u64::from(32 - a.last().unwrap().leading_zeros());
    let mut le: Vec<u8> = a.iter().flat_map(|l| l.to_le_bytes()).collect();
    while le.last() == Some(&0) {
        le.pop();
    }
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&le))
    };
    // Decimal by repeated division by 10^9.
    let mut limbs = a.clone();
    let mut chunks = Vec::new();
    while !(limbs.len() == 1 && limbs[0] == 0) {
        let mut rem = 0u64;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.len() > 1 && *limbs.last().unwrap() == 0 {
            limbs.pop();
        }
    }
    let mut dec = chunks
        .last()
        .map_or_else(|| "0".to_string(), |c| c.to_string());
    for c in chunks.iter().rev().skip(1) {
        dec.push_str(&format!("{c:09}"));
    }
    let edge = dec.len().min(20);
    (
        dec.len() as u64,
        bits,
        dec[..edge].to_string(),
        dec[dec.len() - edge..].to_string(),
        sha,
    )
}

/// (count, largest, sum) of the primes up to n, by trial division.
fn prime_facts(n: u64) -> (u64, u64, u64) {
    let (mut count, mut largest, mut sum) = (0, 0, 0);
    for k in 2..=n {
        if (2..).take_while(|d| d * d <= k).all(|d| k % d != 0) {
            count += 1;
            largest = k;
            sum += k;
        }
    }
    (count, largest, sum)
}

/// Edit distance of `query` to the best-matching substring of `text`
/// (both Unicode-lowercased), by the full dynamic-programming table.
fn substring_distance(query: &str, text: &str) -> usize {
    let q: Vec<char> = query.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // prev[j] = distance of q[..i] to the best substring ending at t[..j].
    let mut prev = vec![0usize; t.len() + 1];
    for (i, qc) in q.iter().enumerate() {
        let mut cur = vec![i + 1; t.len() + 1];
        for j in 1..=t.len() {
            let sub = prev[j - 1] + usize::from(*qc != t[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev.into_iter().min().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Standard base64 (with padding) decoded.
fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut n) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .unwrap_or_else(|| panic!("{c:?} is not base64")) as u32;
        acc = (acc << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
    }
    out
}

fn objects(p: &Payload) -> Vec<(String, Vec<u8>)> {
    p.objects
        .iter()
        .map(|o| (o.key.clone(), o.bytes.clone()))
        .collect()
}

/// Sends `function`'s payload group 1 (plus, for fibonacci and prime-numbers,
/// a second request with n = 100 on the same instance) and checks every answer
/// against the facts above. Returns the response bodies and what was stored.
fn run_and_check(function: &str, cmd: &mut Command, what: &str) -> (Vec<Vec<u8>>, Vec<Answer>) {
    let p = payload(function, 1).unwrap();
    let mut requests: Vec<&[u8]> = vec![&p.request];
    if matches!(function, "fibonacci" | "prime-numbers") {
        requests.push(br#"{"n":100}"#);
    }
    let mut store: BTreeMap<String, Vec<u8>> = objects(&p).into_iter().collect();
    let session = frame_session(cmd, &requests, &mut store);
    assert!(
        session.status.success(),
        "{function} ({what}) exited with {} after SHUTDOWN; stderr:\n{}",
        session.status,
        session.stderr
    );
    for a in &session.answers {
        assert_eq!(a.hello["function"], function, "{what}: HELLO {}", a.hello);
        assert_eq!(a.hello["protocol"], 1, "{what}: HELLO {}", a.hello);
        let Ok((meta, _)) = &a.result else {
            panic!("{function} ({what}) answered an ERROR: {:?}", a.result)
        };
        let phases = meta["phases_ns"].as_object().expect("meta.phases_ns");
        let keys: BTreeSet<&str> = phases.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["compute", "deserialize", "io", "serialize"]),
            "{what}: {meta}"
        );
        assert!(meta["total_ns"].as_u64().is_some(), "{what}: {meta}");
    }
    check_answer(function, &p, &session.answers[0], what);
    let extra = session.answers.get(1);
    match function {
        "fibonacci" => {
            let v = extra.unwrap().json();
            // F(100) = 354224848179261915075: 21 digits, so the 20-digit edges overlap.
            assert_eq!(v["digits"], 21, "{what}: {v}");
            assert_eq!(v["leading_digits"], "35422484817926191507", "{what}: {v}");
            assert_eq!(v["trailing_digits"], "54224848179261915075", "{what}: {v}");
            assert_eq!(v["bits"], 69, "{what}: {v}");
        }
        "prime-numbers" => {
            let v = extra.unwrap().json();
            assert_eq!(
                (&v["count"], &v["largest"], &v["sum"]),
                (&Value::from(25), &Value::from(97), &Value::from(1060)),
                "{what}: {v}"
            );
        }
        _ => {}
    }
    let bodies = session.answers.iter().map(|a| a.body().to_vec()).collect();
    (bodies, session.answers)
}

fn check_answer(function: &str, p: &Payload, a: &Answer, what: &str) {
    let ctx = format!("{function} ({what})");
    let request: Value = serde_json::from_slice(&p.request).unwrap();
    let object = |i: usize| -> Value { serde_json::from_slice(&p.objects[i].bytes).unwrap() };
    match function {
        "fibonacci" => {
            let n = request["n"].as_u64().unwrap();
            assert_eq!(n, 10_000);
            let (digits, bits, leading, trailing, sha) = fibonacci_facts(n);
            assert_eq!(digits, 2090, "F(10000) has 2090 decimal digits");
            let v = a.json();
            assert_eq!(v["n"], n, "{ctx}: {v}");
            assert_eq!(v["digits"], digits, "{ctx}: {v}");
            assert_eq!(v["bits"], bits, "{ctx}: {v}");
            assert_eq!(v["leading_digits"], leading.as_str(), "{ctx}: {v}");
            assert_eq!(v["trailing_digits"], trailing.as_str(), "{ctx}: {v}");
            assert_eq!(v["sha256"], sha.as_str(), "{ctx}: {v}");
        }
        "prime-numbers" => {
            let n = request["n"].as_u64().unwrap();
            assert_eq!(n, 10_000);
            let (count, largest, sum) = prime_facts(n);
            assert_eq!((count, largest), (1229, 9973), "pi(10000) = 1229");
            let v = a.json();
            assert_eq!(v["n"], n, "{ctx}: {v}");
            assert_eq!(v["count"], count, "{ctx}: {v}");
            assert_eq!(v["largest"], largest, "{ctx}: {v}");
            assert_eq!(v["sum"], sum, "{ctx}: {v}");
        }
        "audio-generation" => {
            let wav = a.body();
            let samples = request["samples"].as_u64().unwrap() as usize;
            let rate = request["sample_rate"].as_u64().unwrap() as u32;
            assert_eq!(wav.len(), 44 + 2 * samples, "{ctx}");
            assert_eq!(wav.len(), 512 * 1024, "{ctx}: group 1 is a 512 KiB WAV");
            assert_eq!(&wav[0..4], b"RIFF", "{ctx}");
            assert_eq!(&wav[8..16], b"WAVEfmt ", "{ctx}");
            let u16_at = |i: usize| u16::from_le_bytes([wav[i], wav[i + 1]]);
            let u32_at = |i: usize| u32::from_le_bytes(wav[i..i + 4].try_into().unwrap());
            assert_eq!(u32_at(4) as usize, wav.len() - 8, "{ctx}: RIFF size");
            assert_eq!((u16_at(20), u16_at(22)), (1, 1), "{ctx}: PCM mono");
            assert_eq!(u32_at(24), rate, "{ctx}: sample rate");
            assert_eq!(u16_at(34), 16, "{ctx}: bits per sample");
            assert_eq!(&wav[36..40], b"data", "{ctx}");
            assert_eq!(u32_at(40) as usize, 2 * samples, "{ctx}: data size");
            // Samples: the sum of the request's sines, quantised to 16 bits
            // (one step of slack for the targets' different libm).
            let tones = request["tones"].as_array().unwrap();
            for k in [0usize, 1, 7, 100, 1234, 44_100, samples / 2, samples - 1] {
                let t = k as f64 / f64::from(rate);
                let s: f64 = tones
                    .iter()
                    .map(|tone| {
                        tone["amplitude"].as_f64().unwrap()
                            * (2.0 * std::f64::consts::PI * tone["frequency"].as_f64().unwrap() * t)
                                .sin()
                    })
                    .sum::<f64>()
                    .clamp(-1.0, 1.0);
                let expected = (s * 32767.0).round() as i32;
                let got = i32::from(i16::from_le_bytes([wav[44 + 2 * k], wav[45 + 2 * k]]));
                assert!(
                    (got - expected).abs() <= 1,
                    "{ctx}: sample {k} is {got}, expected {expected}"
                );
            }
        }
        "mandelbrot-bitmap" => {
            let pbm = a.body();
            let (w, h) = (
                request["width"].as_u64().unwrap() as usize,
                request["height"].as_u64().unwrap() as usize,
            );
            let header = format!("P4\n{w} {h}\n");
            assert!(pbm.starts_with(header.as_bytes()), "{ctx}");
            let row = w.div_ceil(8);
            assert_eq!(pbm.len(), header.len() + row * h, "{ctx}");
            let bits = &pbm[header.len()..];
            let pixel = |x: usize, y: usize| bits[y * row + x / 8] >> (7 - x % 8) & 1;
            // c = (2x/w - 1.5) + (2y/h - 1)i: the centre column/row is c = -0.5,
            // inside the set; the corners (|c| > 2 after one step) are outside.
            assert_eq!(pixel(w / 2, h / 2), 1, "{ctx}: c = -0.5 is in the set");
            assert_eq!(pixel(0, 0), 0, "{ctx}: c = -1.5-i escapes");
            assert_eq!(pixel(w - 1, h - 1), 0, "{ctx}: c ~ 0.5+i escapes");
            // The set is symmetric under conjugation: row y mirrors row h - y.
            for y in 1..h {
                assert_eq!(
                    &bits[y * row..(y + 1) * row],
                    &bits[(h - y) * row..(h - y + 1) * row],
                    "{ctx}: rows {y} and {} differ",
                    h - y
                );
            }
            let inside: u32 = bits.iter().map(|b| b.count_ones()).sum();
            // The set's area is about 1.506 of the 4 square units drawn: ~38%
            // (more with only 50 iterations).
            let share = f64::from(inside) / (w * h) as f64;
            assert!((0.35..0.45).contains(&share), "{ctx}: {share} inside");
        }
        "fuzzy-search" => {
            let corpus = object(0);
            let lines: Vec<&str> = corpus["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            let query = request["query"].as_str().unwrap();
            let max = request["max_distance"].as_u64().unwrap() as usize;
            let limit = request["limit"].as_u64().unwrap() as usize;
            let mut found: Vec<(usize, usize)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| (substring_distance(query, l), i))
                .filter(|&(d, _)| d <= max)
                .collect();
            found.sort();
            let v = a.json();
            assert_eq!(v["lines"], lines.len(), "{ctx}");
            assert_eq!(v["matches"], found.len(), "{ctx}");
            assert!(found.len() > 10, "{ctx}: the corpus has planted matches");
            let best: Vec<(usize, usize, String)> = v["best"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["distance"].as_u64().unwrap() as usize,
                        m["line"].as_u64().unwrap() as usize,
                        m["text"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let expected: Vec<(usize, usize, String)> = found
                .iter()
                .take(limit)
                .map(|&(d, i)| (d, i, lines[i].chars().take(160).collect()))
                .collect();
            assert_eq!(best, expected, "{ctx}");
            assert_eq!(best[0].0, 0, "{ctx}: an exact match exists");
        }
        "language-detection" => {
            let docs = object(0);
            let n = docs["documents"].as_array().unwrap().len();
            let v = a.json();
            assert_eq!(v["documents"], n, "{ctx}");
            let languages = v["languages"].as_object().unwrap();
            let counted: u64 = languages.values().map(|c| c.as_u64().unwrap()).sum();
            assert_eq!(
                counted + v["undetected"].as_u64().unwrap(),
                n as u64,
                "{ctx}: {v}"
            );
            // The payload holds English, German, Spanish and French documents
            // (plus padding), so those four must be the most frequent.
            let mut by_count: Vec<(&String, u64)> = languages
                .iter()
                .map(|(k, c)| (k, c.as_u64().unwrap()))
                .collect();
            by_count.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
            let top: BTreeSet<&str> = by_count.iter().take(4).map(|(k, _)| k.as_str()).collect();
            assert_eq!(
                top,
                BTreeSet::from(["deu", "eng", "fra", "spa"]),
                "{ctx}: {v}"
            );
            assert_eq!(v["dominant"], by_count[0].0.as_str(), "{ctx}: {v}");
            assert!(v["reliable"].as_u64().unwrap() * 2 > n as u64, "{ctx}: {v}");
        }
        "encrypt-message" => {
            let message = object(0)["message"].as_str().unwrap().to_string();
            let out_key = request["output_key"].as_str().unwrap();
            let v = a.json();
            let envelope = a
                .puts
                .get(out_key)
                .unwrap_or_else(|| panic!("{ctx}: nothing stored at {out_key}"));
            assert_eq!(a.puts.len(), 1, "{ctx}");
            assert_eq!(v["plaintext_bytes"], message.len(), "{ctx}: {v}");
            assert_eq!(v["envelope_bytes"], envelope.len(), "{ctx}: {v}");
            assert_eq!(v["sha256"], sha256_hex(envelope), "{ctx}: {v}");
            assert_eq!(v["output_key"], out_key, "{ctx}: {v}");
            let e: Value = serde_json::from_slice(envelope).unwrap();
            assert_eq!(
                (&e["v"], &e["alg"]),
                (&Value::from(1), &Value::from("AES-256-GCM"))
            );
            // The synthetic nonce: SHA-256(domain ‖ key ‖ message)[..12].
            let key = hex::decode(request["secret"].as_str().unwrap()).unwrap();
            let mut nonce_input = b"lumos/encrypt-message/nonce/v1".to_vec();
            nonce_input.extend_from_slice(&key);
            nonce_input.extend_from_slice(message.as_bytes());
            assert_eq!(e["nonce"], sha256_hex(&nonce_input)[..24], "{ctx}");
            // AES-GCM: ciphertext as long as the message, plus a 16-byte tag.
            let sealed = base64_decode(e["ciphertext"].as_str().unwrap());
            assert_eq!(sealed.len(), message.len() + 16, "{ctx}");
            assert!(
                !sealed
                    .windows(32)
                    .any(|w| message.as_bytes().starts_with(w)),
                "{ctx}: the message shows through"
            );
        }
        "decrypt-message" => {
            let e = object(0);
            let sealed = base64_decode(e["ciphertext"].as_str().unwrap());
            let v = a.json();
            assert_eq!(v["message_bytes"], sealed.len() - 16, "{ctx}: {v}");
            let preview = v["preview"].as_str().unwrap();
            assert_eq!(preview.chars().count(), 64, "{ctx}: {v}");
            assert!(
                preview.is_ascii(),
                "{ctx}: the payload's message is ASCII text"
            );
            assert_eq!(v["sha256"].as_str().unwrap().len(), 64, "{ctx}: {v}");
        }
        other => panic!("no facts for function {other}"),
    }
}

/// Decrypts `envelope` with the x86_64 decrypt-message binary and checks that
/// it gives back `message` (so the envelope is real AES-256-GCM output).
fn assert_opens_to(envelope: &[u8], message: &str, secret: &str) {
    let key = "round-trip/sealed.json".to_string();
    let request = serde_json::to_vec(&serde_json::json!({"key": key, "secret": secret})).unwrap();
    let a = frame_request(
        &mut Command::new(artifact("decrypt-message", "native-x86_64")),
        &request,
        &[(key, envelope.to_vec())],
    );
    let v = a.json();
    assert_eq!(v["message_bytes"], message.len(), "{v}");
    assert_eq!(v["sha256"], sha256_hex(message.as_bytes()), "{v}");
    assert_eq!(
        v["preview"],
        message.chars().take(64).collect::<String>(),
        "{v}"
    );
}

fn encrypt_inputs() -> (String, String, String) {
    let p = payload("encrypt-message", 1).unwrap();
    let request: Value = serde_json::from_slice(&p.request).unwrap();
    let message: Value = serde_json::from_slice(&p.objects[0].bytes).unwrap();
    (
        message["message"].as_str().unwrap().to_string(),
        request["secret"].as_str().unwrap().to_string(),
        request["output_key"].as_str().unwrap().to_string(),
    )
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn build_json_lists_every_artifact_as_it_is_on_disk() {
    built();
    qemu_built();
    let mut seen = BTreeSet::new();
    for target in [e2e_target(), qemu_target()] {
        let json = build_json(&target);
        for f in json["functions"].as_array().unwrap() {
            let function = f["name"].as_str().unwrap();
            for (variant, ..) in artifacts(&json, function) {
                seen.insert((function.to_string(), variant));
            }
        }
        manifest_is_as_on_disk(&target, &json);
    }
    for function in FUNCTIONS {
        let variants: BTreeSet<String> = seen
            .iter()
            .filter(|(f, _)| f == function)
            .map(|(_, v)| v.clone())
            .collect();
        assert!(
            variants.is_superset(&expected_variants(function)),
            "{function}: the build.json files list {variants:?}"
        );
    }
    let functions: BTreeSet<&str> = seen.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(functions, FUNCTIONS.into_iter().collect());
}

/// Every artifact `json` (the build.json of `target`) lists is where it
/// says, with its size, digest, protocol and engine.
fn manifest_is_as_on_disk(target: &Path, json: &Value) {
    for f in json["functions"].as_array().unwrap() {
        let function = f["name"].as_str().unwrap();
        let listed = artifacts(json, function);
        for (variant, path, bytes, sha) in &listed {
            assert_eq!(
                path.parent().unwrap(),
                target.join("lumos").join(function).join(variant),
                "{function} {variant}"
            );
            let meta = std::fs::metadata(path)
                .unwrap_or_else(|e| panic!("{function} {variant}: {}: {e}", path.display()));
            assert_eq!(meta.len(), *bytes, "{function} {variant}: size");
            assert_eq!(&sha256(path), sha, "{function} {variant}: sha256");
        }
        assert_eq!(f["protocol"], "lumos", "{f}");
        for a in f["artifacts"].as_array().unwrap() {
            let variant = a["variant"].as_str().unwrap();
            let engine = if variant.starts_with("aot-wasmtime") {
                Value::from("wasmtime-48.0.8")
            } else if variant.starts_with("aot-wasmedge") {
                Value::from("wasmedge-0.14.1")
            } else {
                Value::Null
            };
            assert_eq!(
                a.get("engine").cloned().unwrap_or(Value::Null),
                engine,
                "{a}"
            );
        }
    }
}

#[test]
fn native_x86_64_binaries_are_static_and_answer_over_frames() {
    built();
    for function in FUNCTIONS {
        let bin = artifact(function, "native-x86_64");
        assert_static_elf(&bin, "X86-64");
        run_and_check(function, &mut Command::new(&bin), "native-x86_64");
    }
    // The envelope encrypt-message stored opens with decrypt-message to the
    // original message: real AES-256-GCM, and the two functions agree.
    let (message, secret, out_key) = encrypt_inputs();
    let (_, answers) = run_and_check(
        "encrypt-message",
        &mut Command::new(artifact("encrypt-message", "native-x86_64")),
        "native-x86_64",
    );
    assert_opens_to(&answers[0].puts[&out_key], &message, &secret);
}

#[test]
fn native_aarch64_binaries_are_static_and_answer_under_qemu() {
    built();
    for function in FUNCTIONS {
        assert_static_elf(&artifact(function, "native-aarch64"), "AArch64");
    }
    for function in ["fibonacci", "prime-numbers", "encrypt-message"] {
        let arm = artifact(function, "native-aarch64");
        let (arm_bodies, arm_answers) = run_and_check(
            function,
            &mut qemu_aarch64(&arm),
            "native-aarch64 under qemu",
        );
        // Same answers as on x86_64, byte for byte.
        let (x86_bodies, x86_answers) = run_and_check(
            function,
            &mut Command::new(artifact(function, "native-x86_64")),
            "native-x86_64",
        );
        assert_eq!(
            arm_bodies, x86_bodies,
            "{function}: aarch64 and x86_64 differ"
        );
        if function == "encrypt-message" {
            let (message, secret, out_key) = encrypt_inputs();
            assert_eq!(
                arm_answers[0].puts, x86_answers[0].puts,
                "the aarch64 envelope differs from the x86_64 one"
            );
            assert_opens_to(&arm_answers[0].puts[&out_key], &message, &secret);
        }
    }
}

#[test]
fn wasm_modules_validate_are_small_and_run_in_wasmedge() {
    built();
    for function in FUNCTIONS {
        let path = artifact(function, "wasm");
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.len() < 1 << 20,
            "{function}: wasm module is {} bytes, the limit is 1 MiB",
            bytes.len()
        );
        wasmparser::Validator::new()
            .validate_all(&bytes)
            .unwrap_or_else(|e| panic!("{function}: invalid wasm: {e}"));
        let mut imports = BTreeSet::new();
        let mut exports = BTreeSet::new();
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            match payload.unwrap() {
                wasmparser::Payload::ImportSection(r) => {
                    for i in r {
                        imports.insert(i.unwrap().module.to_string());
                    }
                }
                wasmparser::Payload::ExportSection(r) => {
                    for e in r {
                        exports.insert(e.unwrap().name.to_string());
                    }
                }
                _ => {}
            }
        }
        assert_eq!(
            imports,
            BTreeSet::from(["wasi_snapshot_preview1".to_string()]),
            "{function}: a wasip1 command imports WASI only"
        );
        assert!(
            exports.contains("_start"),
            "{function}: exports {exports:?}"
        );
        assert!(
            wasmedge_aot_header(&bytes).is_none(),
            "{function}: the plain wasm module carries a WasmEdge AoT section"
        );
    }
    // Two compute functions and one with storage calls, in WasmEdge's interpreter.
    for function in ["fibonacci", "prime-numbers", "encrypt-message"] {
        let wasm = artifact(function, "wasm");
        let (bodies, answers) = run_and_check(
            function,
            wasmedge().arg("--force-interpreter").arg(&wasm),
            "wasm in the WasmEdge interpreter",
        );
        let (native, _) = run_and_check(
            function,
            &mut Command::new(artifact(function, "native-x86_64")),
            "native-x86_64",
        );
        assert_eq!(bodies, native, "{function}: wasm and native answers differ");
        if function == "encrypt-message" {
            let (message, secret, out_key) = encrypt_inputs();
            assert_opens_to(&answers[0].puts[&out_key], &message, &secret);
        }
    }
}

#[test]
fn wasmtime_cwasm_is_for_its_cpu_and_refused_on_another() {
    built();
    let engine = wasmtime::Engine::new(&wasmtime::Config::default()).unwrap();
    for function in FUNCTIONS {
        let arm = artifact(function, "aot-wasmtime-aarch64");
        let x86 = artifact(function, "aot-wasmtime-x86_64");
        for (path, machine) in [(&arm, "AArch64"), (&x86, "X86-64")] {
            let text = readelf(path);
            assert!(
                text.contains("Class:                             ELF64"),
                "{text}"
            );
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with("Machine:") && l.contains(machine)),
                "{function}: {} is not for {machine}:\n{text}",
                path.display()
            );
        }
        // SAFETY: the file was written by wasmtime 48.0.8's own precompile (cargo lumos).
        let refused = unsafe { wasmtime::Module::deserialize_file(&engine, &arm) };
        let err = format!(
            "{:#}",
            refused.err().unwrap_or_else(|| panic!(
                "{function}: wasmtime on x86_64 loaded an aarch64 .cwasm"
            ))
        );
        assert!(
            err.contains("aarch64") && (err.contains("architecture") || err.contains("target")),
            "{function}: unclear refusal: {err}"
        );
        // SAFETY: as above.
        let module = unsafe { wasmtime::Module::deserialize_file(&engine, &x86) }
            .unwrap_or_else(|e| panic!("{function}: the x86_64 .cwasm does not load: {e:#}"));
        assert!(
            module.exports().any(|e| e.name() == "_start"),
            "{function}: no _start"
        );
        assert!(
            module
                .imports()
                .all(|i| i.module() == "wasi_snapshot_preview1"),
            "{function}: imports beyond WASI"
        );
    }
}

#[test]
fn wasmedge_aot_modules_carry_native_code_for_their_cpu() {
    built();
    let mut versions = BTreeSet::new();
    for function in FUNCTIONS {
        let path = artifact(function, "aot-wasmedge-x86_64");
        let bytes = std::fs::read(&path).unwrap();
        wasmparser::Validator::new()
            .validate_all(&bytes)
            .unwrap_or_else(|e| panic!("{function}: the universal module is invalid wasm: {e}"));
        let (version, os, arch) = wasmedge_aot_header(&bytes)
            .unwrap_or_else(|| panic!("{function}: no wasmedge section in {}", path.display()));
        assert_eq!(
            (os, arch),
            (1, 1),
            "{function}: section is not linux/x86_64"
        );
        versions.insert(version);
        // The universal module holds the plain module's code and more.
        let plain = std::fs::metadata(artifact(function, "wasm")).unwrap().len();
        assert!(
            bytes.len() as u64 > plain,
            "{function}: no native code added"
        );
    }
    let arm = std::fs::read(artifact("prime-numbers", "aot-wasmedge-aarch64")).unwrap();
    let (version, os, arch) =
        wasmedge_aot_header(&arm).expect("no wasmedge section in prime-numbers aarch64");
    assert_eq!(
        (os, arch),
        (1, 2),
        "prime-numbers aarch64 section is not linux/aarch64"
    );
    versions.insert(version);
    assert_eq!(
        versions.len(),
        1,
        "one WasmEdge release, one format: {versions:?}"
    );

    // The x86_64 modules run in AoT mode, the aarch64 one does not. WasmEdge
    // logs to stdout (not stderr): its fallback note ("AOT arch type
    // unmatched. ... Use interpreter mode instead.") and the statistics of
    // --enable-instruction-count. The count is of instructions the
    // interpreter executed, so it also shows which mode really ran: the plain
    // module in the interpreter is the reference.
    for function in ["prime-numbers", "fibonacci"] {
        let p = payload(function, 1).unwrap();
        let run = |module: &Path, interpreter: bool, what: &str| {
            let mut cmd = wasmedge();
            cmd.arg("--enable-instruction-count");
            if interpreter {
                cmd.arg("--force-interpreter");
            }
            let r = frames_batch(cmd.arg(module), &[&p.request]);
            assert!(
                r.status.success(),
                "{function} {what}: {}\n{}",
                r.status,
                r.stderr
            );
            assert_eq!(r.hello["function"], function);
            check_answer(function, &p, &r.answers[0], what);
            let count = instruction_count(&r.log)
                .unwrap_or_else(|| panic!("{function} {what}: no statistics in:\n{}", r.log));
            (r.log, count)
        };
        let (_, interpreted) = run(&artifact(function, "wasm"), true, "WasmEdge interpreter");
        let (log, aot) = run(
            &artifact(function, "aot-wasmedge-x86_64"),
            false,
            "WasmEdge AoT x86_64",
        );
        assert!(
            !log.contains("Use interpreter mode instead")
                && !log.contains("AOT arch type unmatched"),
            "{function}: WasmEdge fell back to the interpreter:\n{log}"
        );
        assert!(
            aot * 10 < interpreted,
            "{function}: the AoT run counted {aot} interpreted instructions, the interpreter {interpreted}: AoT code did not run"
        );
        if function == "prime-numbers" {
            // Differential: the aarch64 module on this x86_64 machine makes
            // WasmEdge fall back to its interpreter, say so, and interpret
            // exactly what the plain module interprets; the answer is still right.
            let (log, count) = run(
                &artifact(function, "aot-wasmedge-aarch64"),
                false,
                "WasmEdge, aarch64 AoT on x86_64",
            );
            assert!(
                log.contains("AOT arch type unmatched")
                    && log.contains("Use interpreter mode instead"),
                "WasmEdge did not report the CPU mismatch:\n{log}"
            );
            assert_eq!(count, interpreted, "the fallback is the interpreter");
        }
    }
}

/// The figure of WasmEdge's `--enable-instruction-count` statistics.
fn instruction_count(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.split("Executed wasm instructions count:").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn a_no_op_rebuild_reports_every_artifact_fresh() {
    built();
    qemu_built();
    let targets = [e2e_target(), qemu_target()];
    let manifests = || -> Vec<Vec<u8>> {
        targets
            .iter()
            .map(|t| std::fs::read(t.join("lumos/build.json")).unwrap())
            .collect()
    };
    let before = manifests();
    let jsons: Vec<Value> = targets.iter().map(|t| build_json(t)).collect();
    let mtimes = || -> Vec<(PathBuf, std::time::SystemTime)> {
        jsons
            .iter()
            .flat_map(|json| {
                json["functions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(move |f| artifacts(json, f["name"].as_str().unwrap()))
            })
            .map(|a| {
                let t = std::fs::metadata(&a.1).unwrap().modified().unwrap();
                (a.1, t)
            })
            .collect()
    };
    let t0 = mtimes();
    let mut seen = BTreeSet::new();
    for (i, count) in BUILD_ARTIFACTS.into_iter().enumerate() {
        let args = BUILDS[i];
        let out = lumos_build(i, true);
        let lines: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), count, "build {args:?}:\n{}", stdout(&out));
        for v in lines {
            assert_eq!(v["reason"], "lumos-artifact", "{v}");
            assert_eq!(v["fresh"], true, "rebuilt although nothing changed: {v}");
            assert!(
                seen.insert((
                    v["function"].as_str().unwrap().to_string(),
                    v["variant"].as_str().unwrap().to_string()
                )),
                "listed twice: {v}"
            );
        }
        assert!(
            !stderr(&out).contains("Compiled"),
            "a no-op build compiled something:\n{}",
            stderr(&out)
        );
    }
    let expected: BTreeSet<(String, String)> = FUNCTIONS
        .iter()
        .flat_map(|f| expected_variants(f).into_iter().map(|v| (f.to_string(), v)))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(t0, mtimes(), "artifacts were rewritten");
    assert!(
        before == manifests(),
        "build.json changed on a no-op rebuild"
    );
}
