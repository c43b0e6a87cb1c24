//! Drives the serve loop over in-memory streams, as a host would.

use lumos_sdk::frame::{read_frame, split_meta, write_frame, Frame, Kind};
use lumos_sdk::{serve_frames, Error, Exit, Request, Response, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    op: String,
    #[serde(default)]
    key: String,
}

/// A small function exercising every SDK path.
fn handler(req: &mut Request<'_>) -> Result<Response> {
    let input: Input = req.json()?;
    match input.op.as_str() {
        "echo" => Ok(Response::new(req.body().to_vec())),
        "copy" => {
            let value = req.fetch(&input.key)?;
            req.put(&format!("{}.copy", input.key), &value)?;
            req.respond_json(&serde_json::json!({"copied": value.len()}))
        }
        "missing" => {
            let found = req.get(&input.key)?;
            req.respond_json(&found.is_none())
        }
        "fail" => Err(Error::msg("asked to fail")),
        "panic" => panic!("asked to panic"),
        other => Err(Error::bad_request(format!("unknown op {other}"))),
    }
}

fn frames(list: &[(Kind, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, payload) in list {
        write_frame(&mut out, *kind, &[payload]).unwrap();
    }
    out
}

fn run(input: Vec<u8>) -> (Exit, Vec<Frame>) {
    let mut output = Vec::new();
    let exit = serve_frames("test-fn", &input[..], &mut output, handler);
    let mut reader = &output[..];
    let mut out = Vec::new();
    while !reader.is_empty() {
        out.push(read_frame(&mut reader).expect("the SDK writes well-formed frames"));
    }
    (exit, out)
}

fn meta_and_rest(frame: &Frame) -> (serde_json::Value, String) {
    let (meta, rest) = split_meta(&frame.payload).expect("meta-prefixed payload");
    (
        serde_json::from_slice(meta).unwrap(),
        String::from_utf8(rest.to_vec()).unwrap(),
    )
}

#[test]
fn hello_first_then_clean_eof() {
    let (exit, out) = run(Vec::new());
    assert_eq!(exit, Exit::Eof);
    assert_eq!(exit.code(), 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].kind, Kind::Hello);
    let hello: serde_json::Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(hello["function"], "test-fn");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["sdk"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn request_gets_response_with_meta() {
    let body = br#"{"op":"echo"}"#;
    let (exit, out) = run(frames(&[(Kind::Request, body), (Kind::Shutdown, b"")]));
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].kind, Kind::Response);
    let (meta, rest) = meta_and_rest(&out[1]);
    assert_eq!(rest.as_bytes(), body);
    let phases = &meta["phases_ns"];
    let sum: u64 = ["io", "deserialize", "compute", "serialize"]
        .iter()
        .map(|k| phases[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, meta["total_ns"].as_u64().unwrap());
    assert!(phases["deserialize"].as_u64().unwrap() > 0);
    assert!(meta.get("kind").is_none());
}

#[test]
fn storage_get_put_round_trip() {
    let mut value_frame = vec![1u8];
    value_frame.extend_from_slice(b"hello storage");
    let input = frames(&[
        (Kind::Request, br#"{"op":"copy","key":"in"}"#),
        (Kind::StorageValue, &value_frame),
        (Kind::StorageAck, b""),
        (Kind::Request, br#"{"op":"missing","key":"nope"}"#),
        (Kind::StorageValue, &[0]),
    ]);
    let (exit, out) = run(input);
    assert_eq!(exit, Exit::Eof);
    let kinds: Vec<Kind> = out.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Hello,
            Kind::StorageGet,
            Kind::StoragePut,
            Kind::Response,
            Kind::StorageGet,
            Kind::Response
        ]
    );
    assert_eq!(out[1].payload, b"in");
    let (key, value) = split_meta(&out[2].payload).unwrap();
    assert_eq!(key, b"in.copy");
    assert_eq!(value, b"hello storage");
    let (meta, body) = meta_and_rest(&out[3]);
    assert_eq!(body, r#"{"copied":13}"#);
    assert!(meta["phases_ns"]["io"].as_u64().unwrap() > 0);
    assert_eq!(out[4].payload, b"nope");
    assert_eq!(meta_and_rest(&out[5]).1, "true");
}

#[test]
fn storage_fail_is_a_handler_error_and_serving_goes_on() {
    let input = frames(&[
        (Kind::Request, br#"{"op":"copy","key":"in"}"#),
        (Kind::StorageFail, b"redis is down"),
        (Kind::Request, br#"{"op":"echo"}"#),
    ]);
    let (exit, out) = run(input);
    assert_eq!(exit, Exit::Eof);
    assert_eq!(out[2].kind, Kind::Error);
    let (meta, message) = meta_and_rest(&out[2]);
    assert_eq!(meta["kind"], "handler");
    assert!(message.contains("redis is down"), "{message}");
    assert_eq!(out[3].kind, Kind::Response);
}

#[test]
fn panic_is_caught_and_serving_goes_on() {
    let input = frames(&[
        (Kind::Request, br#"{"op":"panic"}"#),
        (Kind::Request, br#"{"op":"echo"}"#),
    ]);
    let (exit, out) = run(input);
    assert_eq!(exit, Exit::Eof);
    assert_eq!(out[1].kind, Kind::Error);
    let (meta, message) = meta_and_rest(&out[1]);
    assert_eq!(meta["kind"], "panic");
    assert!(message.contains("asked to panic"), "{message}");
    assert_eq!(out[2].kind, Kind::Response);
}

#[test]
fn bad_json_and_handler_errors_are_error_frames() {
    let input = frames(&[
        (Kind::Request, b"{not json"),
        (Kind::Request, br#"{"op":"fail"}"#),
        (Kind::Request, br#"{"op":"echo"}"#),
    ]);
    let (exit, out) = run(input);
    assert_eq!(exit, Exit::Eof);
    let (meta, message) = meta_and_rest(&out[1]);
    assert_eq!(meta["kind"], "bad_request");
    assert!(message.starts_with("bad request"), "{message}");
    let (meta, message) = meta_and_rest(&out[2]);
    assert_eq!(meta["kind"], "handler");
    assert_eq!(message, "asked to fail");
    assert_eq!(out[3].kind, Kind::Response);
}

#[test]
fn garbage_is_a_protocol_error_and_exit_2() {
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"LM\x99\0\0\0\0",
        b"LM\x02\xff\xff\xff\xff",
        b"LM\x02\x10\0\0\0short",
    ] {
        let (exit, out) = run(garbage.to_vec());
        assert_eq!(exit, Exit::Corrupt);
        assert_eq!(exit.code(), 2);
        assert_eq!(out.len(), 2, "hello then one error");
        assert_eq!(out[1].kind, Kind::Error);
        assert_eq!(meta_and_rest(&out[1]).0["kind"], "protocol");
    }
}

#[test]
fn unexpected_frames_are_protocol_errors() {
    // An answer to a storage call that was never made.
    let (exit, out) = run(frames(&[(Kind::StorageAck, b"")]));
    assert_eq!(exit, Exit::Corrupt);
    assert_eq!(meta_and_rest(&out[1]).0["kind"], "protocol");
    // A new request while a storage call waits for its answer.
    let (exit, out) = run(frames(&[
        (Kind::Request, br#"{"op":"copy","key":"k"}"#),
        (Kind::Request, b"{}"),
    ]));
    assert_eq!(exit, Exit::Corrupt);
    assert_eq!(out.last().unwrap().kind, Kind::Error);
    assert_eq!(meta_and_rest(out.last().unwrap()).0["kind"], "protocol");
}

#[test]
fn eof_during_storage_call_ends_cleanly() {
    let (exit, out) = run(frames(&[(Kind::Request, br#"{"op":"copy","key":"k"}"#)]));
    assert_eq!(exit, Exit::Eof);
    assert_eq!(out.last().unwrap().kind, Kind::Error);
}

#[test]
fn panic_frame_for_abort_targets() {
    let bytes = lumos_sdk::panic_error_frame("boom", Some(std::time::Instant::now()));
    let frame = read_frame(&mut &bytes[..]).unwrap();
    assert_eq!(frame.kind, Kind::Error);
    let (meta, message) = meta_and_rest(&frame);
    assert_eq!(meta["kind"], "panic");
    assert_eq!(message, "handler panicked: boom");
}
