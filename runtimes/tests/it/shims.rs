//! Each engine family runs in its own executable, which carries its engine
//! and no other: a live instance of every wasm runtime is started by the
//! runner, answers a request, and its executable and `/proc/PID/maps` are
//! read. The executable must be the family's shim (lumos-shim-wasmtime,
//! lumos-shim-wasmi, lumos-shim-wasmedge); only WasmEdge instances may map
//! libwasmedge or libLLVM (and must: the test sees a library when it is
//! there); the statically linked engines are told by their crates' source
//! paths, which every build keeps in its panic locations: the wasmi shim
//! holds no wasmtime, the wasmtime shim no wasmi, neither links WasmEdge.

use crate::common::*;
use lumos_runtimes::launch::Slot;
use lumos_runtimes::{Job, Runner, Runtime};

/// A live instance of `image` in `rt` after one answered request: its
/// executable's file name, its memory map, its resident set in KiB.
fn live_instance(runner: &Runner, image: &str, rt: Runtime) -> (String, String, u64) {
    let p = runner
        .prepare(&Job::from_opts(&runner.opts, image, rt, b""))
        .unwrap_or_else(|e| panic!("{rt}: {e}"));
    let l = runner.launcher(&p, rt, &[]).unwrap();
    let mut slot = Slot::new(l);
    let o = slot.call(br#"{"op":"echo"}"#);
    assert!(o.is_ok(), "{rt}: {:?}", o.error_class());
    let pid = slot.workload_pid().expect("a live instance");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    slot.close(std::time::Duration::from_secs(2));
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    (name, maps, rss_kib)
}

fn maps_engine_libraries(maps: &str) -> Vec<&str> {
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.contains("libwasmedge") || p.contains("libLLVM"))
        .collect()
}

#[test]
fn each_wasm_instance_maps_only_the_engine_it_runs() {
    let runner = Runner::new(opts()).unwrap();
    let f = fixtures();
    let aot = crate::wasmedge::aot_fixture();
    let cases = [
        (&f.cwasm, Runtime::WasmtimeAot),
        (&f.wasm, Runtime::WasmtimeJit),
        (&f.wasm, Runtime::WasmiInterp),
        (&f.wasm, Runtime::WasmedgeInterp),
        (&aot, Runtime::WasmedgeAot),
    ];
    for (image, rt) in cases {
        let (exe, maps, rss) = live_instance(&runner, &file_ref(image), rt);
        let engine_libs = maps_engine_libraries(&maps);
        eprintln!(
            "{rt}: {exe}, VmRSS {rss} KiB, {} engine library mappings",
            engine_libs.len()
        );
        let family = lumos_runtimes::runtime::shim_program_name(rt).unwrap();
        assert_eq!(exe, family, "{rt}");
        let wasmedge = matches!(rt, Runtime::WasmedgeInterp | Runtime::WasmedgeAot);
        if wasmedge {
            assert!(
                engine_libs.iter().any(|p| p.contains("libwasmedge")),
                "{rt} maps no libwasmedge:\n{maps}"
            );
        } else {
            assert!(
                engine_libs.is_empty(),
                "{rt} maps another engine's libraries: {engine_libs:?}"
            );
        }
        let bytes = std::fs::read(lumos_test_support::workspace_bin(family)).unwrap();
        let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        let wasmtime = has("/wasmtime-48.");
        let wasmi = has("/wasmi-2.");
        eprintln!("{rt}: {family} carries wasmtime: {wasmtime}, wasmi: {wasmi}");
        assert_eq!(wasmtime, family == "lumos-shim-wasmtime", "{rt}: {family}");
        assert_eq!(wasmi, family == "lumos-shim-wasmi", "{rt}: {family}");
    }
}
