//! `--report FILE.html`: one self-contained page (inline CSS and SVG, no
//! scripts, nothing fetched) with the paper's figures drawn from this run:
//! image sizes, execution time per group (warm and cold), I/O and
//! (de)serialization CDFs, CPU and memory, throughput against latency.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::record::{BenchOutput, Phases, RunRow};
use super::svg::{self, esc, Line};
use super::table::{fmt_bytes, fmt_ms};

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin-bottom:.2em}\
table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}\
td:nth-child(-n+4),th{text-align:left}svg{display:block;margin:.5em 0;max-width:100%;height:auto}\
svg .title{font-weight:600;font-size:13px}svg .tick{font-size:11px;fill:#444}svg .axis{font-size:12px;fill:#222}svg .pt{font-size:10px;fill:#555}\
.note{color:#555;font-size:13px}.bad{color:#b00}";

fn ok_rows<'a>(out: &'a BenchOutput, mode: &'a str) -> impl Iterator<Item = &'a RunRow> + 'a {
    out.runs
        .iter()
        .filter(move |r| r.mode == mode && r.latency_ms.is_some_and(|l| l.n > 0))
}

fn functions(out: &BenchOutput) -> Vec<String> {
    let mut seen = vec![];
    for r in &out.runs {
        if !seen.contains(&r.function) {
            seen.push(r.function.clone());
        }
    }
    seen
}

fn runtimes(out: &BenchOutput) -> Vec<String> {
    let mut seen = vec![];
    for r in &out.runs {
        if !seen.contains(&r.runtime) {
            seen.push(r.runtime.clone());
        }
    }
    seen
}

/// The image a runtime runs, as a series name.
fn image_kind(runtime: &str) -> &'static str {
    match runtime {
        "native" => "native",
        "wasmtime-aot" => "aot-wasmtime",
        "wasmedge-aot" => "aot-wasmedge",
        _ => "wasm",
    }
}

/// Median of ratios `a/b` over the functions (and groups) where both exist.
fn median_ratio(
    out: &BenchOutput,
    mode: &str,
    rt: &str,
    base: &str,
    f: impl Fn(&RunRow) -> Option<f64>,
) -> Option<(f64, usize)> {
    let mut ratios = vec![];
    for r in out
        .runs
        .iter()
        .filter(|r| r.mode == mode && r.runtime == rt)
    {
        let Some(b) = out.runs.iter().find(|n| {
            n.mode == mode && n.runtime == base && n.function == r.function && n.group == r.group
        }) else {
            continue;
        };
        if let (Some(x), Some(y)) = (f(r), f(b)) {
            if y > 0.0 && x.is_finite() {
                ratios.push(x / y);
            }
        }
    }
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let n = ratios.len();
    let median = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    Some((median, n))
}

fn findings(out: &BenchOutput, h: &mut String) {
    h.push_str("<h2>This run against the paper's findings</h2><p class=note>Ratios are medians over the functions and groups measured here, each against native on the same function and group. The paper: wasm images up to 30x smaller than containers on debian-slim; AoT warm latency within about 1.1x of native; interpreted wasm 30-55x slower warm; AoT cold start up to 16% below containers; interpreted I/O up to 7x and serialization over 10x native.</p><table><tr><th>measure</th><th>runtime</th><th>median ratio to native</th><th>cells</th></tr>");
    let warm_p50 = |r: &RunRow| r.latency_ms.filter(|l| l.n > 0).map(|l| l.p50);
    let cold = |r: &RunRow| r.cold_start_ms.map(|c| c.total);
    let size =
        |r: &RunRow| (r.image.compressed_bytes > 0).then_some(r.image.compressed_bytes as f64);
    let io = |r: &RunRow| r.phases_ms.map(|p| p.io).filter(|&v| v > 0.0);
    let ser = |r: &RunRow| {
        r.phases_ms
            .map(|p| p.serialize + p.deserialize)
            .filter(|&v| v > 0.0)
    };
    let rts = runtimes(out);
    let mut row = |what: &str, mode: &str, f: &dyn Fn(&RunRow) -> Option<f64>| {
        for rt in rts.iter().filter(|r| *r != "native") {
            if let Some((m, n)) = median_ratio(out, mode, rt, "native", f) {
                let _ = write!(
                    h,
                    "<tr><td>{what}</td><td>{rt}</td><td>{m:.2}x</td><td>{n}</td></tr>"
                );
            }
        }
    };
    row("image size (compressed)", "cold", &size);
    row("warm latency p50", "warm", &warm_p50);
    row("cold start total", "cold", &cold);
    row("I/O phase (warm mean)", "warm", &io);
    row("(de)serialization phases (warm mean)", "warm", &ser);
    h.push_str("</table>");
}

fn image_sizes(out: &BenchOutput, h: &mut String) {
    let fns = functions(out);
    let kinds = ["native", "wasm", "aot-wasmtime", "aot-wasmedge"];
    h.push_str("<h2>Image sizes per function and runtime</h2>");
    let _ = write!(
        h,
        "<p class=note>Sizes as pulled from the registry (compressed layers) and unpacked (files in the root filesystem). Native images are on <code>{}</code>; the paper's containers were on debian-slim.</p>",
        esc(&out.settings.native_base)
    );
    for (title, f) in [
        (
            "Compressed image size (bytes, log scale)",
            (|r: &RunRow| r.image.compressed_bytes) as fn(&RunRow) -> u64,
        ),
        ("Unpacked image size (bytes, log scale)", |r: &RunRow| {
            r.image.unpacked_bytes
        }),
    ] {
        let mut series = vec![];
        for k in kinds {
            let vals: Vec<Option<f64>> = fns
                .iter()
                .map(|func| {
                    out.runs
                        .iter()
                        .find(|r| &r.function == func && image_kind(&r.runtime) == k && f(r) > 0)
                        .map(|r| f(r) as f64)
                })
                .collect();
            if vals.iter().any(Option::is_some) {
                series.push((k.to_string(), vals));
            }
        }
        if series.is_empty() {
            h.push_str("<p class=bad>No image was pulled.</p>");
            break;
        }
        h.push_str(&svg::bars(title, &fns, &series, "bytes", true));
    }
}

fn exec_time(out: &BenchOutput, h: &mut String) {
    h.push_str("<h2>Execution time per payload group</h2><p class=note>Warm: median host round trip of the measured requests on a ready instance. Cold: pull into an empty cache, unpack, start, ready, first response (mean of the repeats). Log scale.</p>");
    let rts = runtimes(out);
    for func in functions(out) {
        let groups: BTreeSet<u8> = out
            .runs
            .iter()
            .filter(|r| r.function == func)
            .map(|r| r.group)
            .collect();
        let cats: Vec<String> = groups.iter().map(|g| format!("group {g}")).collect();
        let _ = write!(h, "<h3>{}</h3>", esc(&func));
        for (mode, label, f) in [
            (
                "warm",
                "warm p50 (ms)",
                (|r: &RunRow| r.latency_ms.filter(|l| l.n > 0).map(|l| l.p50))
                    as fn(&RunRow) -> Option<f64>,
            ),
            ("cold", "cold start total (ms)", |r: &RunRow| {
                r.cold_start_ms.map(|c| c.total)
            }),
        ] {
            let series: Vec<(String, Vec<Option<f64>>)> = rts
                .iter()
                .map(|rt| {
                    (
                        rt.clone(),
                        groups
                            .iter()
                            .map(|g| {
                                out.runs
                                    .iter()
                                    .find(|r| {
                                        r.function == func
                                            && &r.runtime == rt
                                            && r.group == *g
                                            && r.mode == mode
                                    })
                                    .and_then(f)
                            })
                            .collect(),
                    )
                })
                .filter(|(_, v): &(String, Vec<Option<f64>>)| v.iter().any(Option::is_some))
                .collect();
            if !series.is_empty() {
                h.push_str(&svg::bars(
                    &format!("{func}: {label}"),
                    &cats,
                    &series,
                    "ms",
                    true,
                ));
            }
        }
    }
}

fn cdf(samples: &mut [f64]) -> Vec<(f64, f64, Option<String>)> {
    samples.sort_by(|a, b| a.total_cmp(b));
    let n = samples.len() as f64;
    samples
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, (i + 1) as f64 / n, None))
        .collect()
}

fn cdfs(out: &BenchOutput, h: &mut String) {
    h.push_str("<h2>I/O and (de)serialization CDFs</h2><p class=note>Per warm request, as timed inside the function by the SDK: <b>I/O</b> is the storage calls through the host (WASI on wasm), <b>(de)serialization</b> is decoding the request and stored objects plus encoding the response. Only functions that do storage I/O are shown.</p>");
    let mut any = false;
    let keys: BTreeSet<(String, u8)> = ok_rows(out, "warm")
        .map(|r| (r.function.clone(), r.group))
        .collect();
    for (func, g) in keys {
        let rows: Vec<&RunRow> = ok_rows(out, "warm")
            .filter(|r| r.function == func && r.group == g && !r.phase_samples.is_empty())
            .collect();
        if !rows
            .iter()
            .any(|r| r.phase_samples.iter().any(|p| p.io > 0.0))
        {
            continue;
        }
        any = true;
        let _ = write!(h, "<h3>{} group {g}</h3>", esc(&func));
        for (what, f) in [
            (
                "I/O per request (ms)",
                (|p: &Phases| p.io) as fn(&Phases) -> f64,
            ),
            ("(de)serialization per request (ms)", |p: &Phases| {
                p.deserialize + p.serialize
            }),
        ] {
            let lines: Vec<Line> = rows
                .iter()
                .map(|r| Line {
                    name: r.runtime.clone(),
                    points: cdf(&mut r.phase_samples.iter().map(f).collect::<Vec<_>>()),
                })
                .collect();
            h.push_str(&svg::lines(
                &format!("{func} g{g}: CDF of {what}"),
                &lines,
                "ms (log scale)",
                "fraction of requests",
                true,
                false,
                true,
            ));
        }
    }
    if !any {
        h.push_str("<p class=bad>No warm run of a function that does storage I/O.</p>");
    }
}

/// Title, mode, unit and the value of a row.
type Chart<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Box<dyn Fn(&RunRow) -> Option<f64> + 'a>,
);

fn cpu_mem(out: &BenchOutput, h: &mut String) {
    h.push_str("<h2>CPU and memory</h2><p class=note>CPU: user+system time of the instance process(es) of one cold start (start, ready, one request), mean of the repeats; for warm runs, of the instance's whole life (start, warm-up and measured requests) divided by the requests it served. Memory: peak resident set size of the instance (for wasm: the shim process hosting the engine). <b class=bad>Known fault:</b> for wasm shims lumos-runtimes reports the child's <code>ru_maxrss</code>, which Linux carries across exec from the forked copy of the spawning process, so those values are at least the bench process's own RSS at spawn time (measured: a wasmtime-aot shim with VmHWM 12.4 MiB reported as 18.7 MiB). Compare wasm RSS values with care.</p>");
    let fns = functions(out);
    let rts = runtimes(out);
    let warmup = out.settings.warmup as f64;
    let charts: [Chart; 3] = [
        (
            "CPU time of a cold start (ms, log scale)",
            "cold",
            "ms",
            Box::new(|r: &RunRow| r.cpu_ms),
        ),
        (
            "CPU time per warm request (ms, log scale)",
            "warm",
            "ms",
            Box::new(move |r: &RunRow| {
                let per_run = r.requests as f64 / r.repeats.max(1) as f64 + warmup;
                r.cpu_ms.map(|c| c / per_run.max(1.0))
            }),
        ),
        (
            "Peak RSS, warm (MiB)",
            "warm",
            "MiB",
            Box::new(|r: &RunRow| {
                r.peak_rss_bytes
                    .filter(|&b| b > 0)
                    .map(|b| b as f64 / (1 << 20) as f64)
            }),
        ),
    ];
    for (title, mode, unit, f) in charts {
        let groups: BTreeSet<u8> = out.runs.iter().map(|r| r.group).collect();
        let g = *groups.iter().next().unwrap_or(&1);
        let series: Vec<(String, Vec<Option<f64>>)> = rts
            .iter()
            .map(|rt| {
                (
                    rt.clone(),
                    fns.iter()
                        .map(|func| {
                            out.runs
                                .iter()
                                .find(|r| {
                                    &r.function == func
                                        && &r.runtime == rt
                                        && r.mode == mode
                                        && r.group == g
                                        && r.status != "unavailable"
                                })
                                .and_then(&f)
                        })
                        .collect(),
                )
            })
            .filter(|(_, v): &(String, Vec<Option<f64>>)| v.iter().any(Option::is_some))
            .collect();
        if !series.is_empty() {
            h.push_str(&svg::bars(
                &format!("{title}, group {g}"),
                &fns,
                &series,
                unit,
                unit == "ms",
            ));
        }
    }
}

fn throughput(out: &BenchOutput, h: &mut String) {
    h.push_str("<h2>Throughput against latency per concurrency level</h2>");
    let loads: Vec<&RunRow> = out
        .runs
        .iter()
        .filter(|r| r.load.as_ref().is_some_and(|l| !l.is_empty()))
        .collect();
    if loads.is_empty() {
        h.push_str("<p class=note>No load runs (add <code>--mode load</code> or <code>--concurrency 1,10,50,100,200</code>).</p>");
        return;
    }
    h.push_str("<p class=note>Each point is one concurrency level (c instances; closed loop: one client per instance; open loop: latency from the intended start, so queueing counts). x: OK answers per second; y: latency of OK answers.</p>");
    let keys: BTreeSet<(String, u8)> = loads
        .iter()
        .map(|r| (r.function.clone(), r.group))
        .collect();
    for (func, g) in keys {
        for (q, f) in [
            (
                "p50",
                (|l: &lumos_runtimes::LoadLevel| l.latency_ms.p50)
                    as fn(&lumos_runtimes::LoadLevel) -> f64,
            ),
            ("p99", |l| l.latency_ms.p99),
        ] {
            let lines: Vec<Line> = loads
                .iter()
                .filter(|r| r.function == func && r.group == g)
                .map(|r| Line {
                    name: r.runtime.clone(),
                    points: r
                        .load
                        .iter()
                        .flatten()
                        .filter(|l| l.ok > 0)
                        .map(|l| (l.throughput_rps, f(l), Some(format!("c={}", l.concurrency))))
                        .collect(),
                })
                .collect();
            let mode = loads
                .iter()
                .find_map(|r| r.load.as_ref()?.first().map(|l| l.mode.clone()))
                .unwrap_or_default();
            h.push_str(&svg::lines(
                &format!("{func} g{g} ({mode}): {q} latency against throughput"),
                &lines,
                "throughput (req/s)",
                &format!("{q} latency (ms, log)"),
                false,
                true,
                false,
            ));
        }
    }
}

fn table(out: &BenchOutput, h: &mut String) {
    h.push_str("<h2>Every row</h2><table><tr><th>function</th><th>runtime</th><th>group</th><th>mode</th><th>status</th><th>image</th><th>unpacked</th><th>cold total ms</th><th>pull</th><th>unpack</th><th>start</th><th>ready</th><th>first resp.</th><th>n</th><th>p50 ms</th><th>mean</th><th>sd</th><th>p99</th><th>io</th><th>deser</th><th>compute</th><th>ser</th><th>cpu ms</th><th>peak RSS</th><th>errors</th></tr>");
    let d = "–".to_string();
    for r in &out.runs {
        let c = r.cold_start_ms;
        let l = r.latency_ms.filter(|l| l.n > 0);
        let p = r.phases_ms;
        let status = match &r.error {
            Some(e) => format!(
                "<span class=bad title=\"{}\">{}</span>",
                esc(e),
                esc(&r.status)
            ),
            None => esc(&r.status),
        };
        let cells = [
            esc(&r.function),
            esc(&r.runtime),
            r.group.to_string(),
            esc(&r.mode),
            status,
            if r.image.compressed_bytes > 0 {
                fmt_bytes(r.image.compressed_bytes)
            } else {
                d.clone()
            },
            if r.image.unpacked_bytes > 0 {
                fmt_bytes(r.image.unpacked_bytes)
            } else {
                d.clone()
            },
            c.map_or(d.clone(), |c| fmt_ms(c.total)),
            c.map_or(d.clone(), |c| fmt_ms(c.pull)),
            c.map_or(d.clone(), |c| fmt_ms(c.unpack)),
            c.map_or(d.clone(), |c| fmt_ms(c.start)),
            c.map_or(d.clone(), |c| fmt_ms(c.ready)),
            c.map_or(d.clone(), |c| fmt_ms(c.first_response)),
            l.map_or(d.clone(), |l| l.n.to_string()),
            l.map_or(d.clone(), |l| fmt_ms(l.p50)),
            l.map_or(d.clone(), |l| fmt_ms(l.mean)),
            l.map_or(d.clone(), |l| fmt_ms(l.stddev)),
            l.map_or(d.clone(), |l| fmt_ms(l.p99)),
            p.map_or(d.clone(), |p| fmt_ms(p.io)),
            p.map_or(d.clone(), |p| fmt_ms(p.deserialize)),
            p.map_or(d.clone(), |p| fmt_ms(p.compute)),
            p.map_or(d.clone(), |p| fmt_ms(p.serialize)),
            r.cpu_ms.map_or(d.clone(), fmt_ms),
            r.peak_rss_bytes
                .filter(|&b| b > 0)
                .map_or(d.clone(), fmt_bytes),
            r.errors.to_string(),
        ];
        h.push_str("<tr>");
        for c in cells {
            let _ = write!(h, "<td>{c}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn header(out: &BenchOutput, h: &mut String) {
    let m = &out.machine;
    let v = &out.versions;
    let mut kv: BTreeMap<&str, String> = BTreeMap::new();
    kv.insert(
        "CPU",
        format!("{} ({} cores, {})", m.cpu_model, m.cores, m.arch),
    );
    kv.insert("memory", fmt_bytes(m.memory_bytes));
    kv.insert("kernel", m.kernel.clone());
    kv.insert(
        "engines",
        format!(
            "wasmtime {}, wasmi {}, WasmEdge {}",
            v.wasmtime,
            v.wasmi,
            v.wasmedge.as_deref().unwrap_or("not built in")
        ),
    );
    kv.insert(
        "containers",
        format!(
            "runc {}, crun {}",
            v.runc.as_deref().unwrap_or("–"),
            v.crun.as_deref().unwrap_or("–")
        ),
    );
    kv.insert("storage", out.settings.store.clone());
    kv.insert("registry", out.settings.registry.clone());
    kv.insert(
        "repeats",
        format!(
            "{} (warm: {} warm-up + {} measured requests per repeat)",
            out.settings.repeat, out.settings.warmup, out.settings.requests
        ),
    );
    h.push_str("<table>");
    for (k, v) in kv {
        let _ = write!(
            h,
            "<tr><th>{k}</th><td style=text-align:left>{}</td></tr>",
            esc(&v)
        );
    }
    for (rt, why) in &out.settings.runtimes {
        if let Some(w) = why {
            let _ = write!(
                h,
                "<tr><th>{}</th><td style=text-align:left class=bad>unavailable: {}</td></tr>",
                esc(rt),
                esc(w)
            );
        }
    }
    h.push_str("</table>");
}

pub fn render(out: &BenchOutput) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Lumos bench</title><style>{CSS}</style></head><body><h1>Lumos bench</h1><p class=note>WebAssembly and native runtimes for serverless functions, measured as in \"Lumos: Performance Characterization of WebAssembly as a Serverless Runtime in the Edge-Cloud Continuum\" (arXiv 2510.05118). Every figure is drawn from this run's data.</p>"
    );
    header(out, &mut h);
    findings(out, &mut h);
    image_sizes(out, &mut h);
    exec_time(out, &mut h);
    cdfs(out, &mut h);
    cpu_mem(out, &mut h);
    throughput(out, &mut h);
    table(out, &mut h);
    h.push_str("</body></html>\n");
    h
}
