//! `--csv FILE`: one line per row of the JSON, nested fields flattened
//! (`cold_start_ms.total` -> `cold_start_total_ms`); a load row gives one line
//! per concurrency level. The columns, their names and order are those of
//! the [`Line`] struct (docs/results-schema.md lists them with units).
//!
//! A row without figures (failed, unavailable, every request failed) has its
//! identity, status, counts and error only: every figure column is empty.

use lumos_model::{BenchOutput, LoadLevel, LoadMode, Mode, RunRow, Runtime, Sandbox};
use serde::Serialize;

use crate::shown::{reason, Figures, Shown};

/// One CSV line. Times are milliseconds with 6 decimals, sizes bytes; an
/// empty field is a figure that was not measured or is not shown.
#[derive(Debug, Default, Serialize)]
pub struct Line<'a> {
    pub function: &'a str,
    pub runtime: Runtime,
    pub group: u8,
    pub mode: Mode,
    /// The status as drawn: `failed` also for a row whose every request failed.
    pub status: &'static str,
    pub sandbox: Option<Sandbox>,
    pub image_reference: &'a str,
    pub image_compressed_bytes: Option<u64>,
    pub image_unpacked_bytes: Option<u64>,
    #[serde(serialize_with = "ms")]
    pub cold_start_pull_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub cold_start_unpack_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub cold_start_start_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub cold_start_ready_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub cold_start_first_response_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub cold_start_total_ms: Option<f64>,
    pub latency_n: Option<u64>,
    #[serde(serialize_with = "ms")]
    pub latency_mean_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_stddev_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_min_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_p50_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_p90_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_p99_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_max_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub phase_io_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub phase_deserialize_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub phase_compute_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub phase_serialize_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub cpu_ms: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub repeats: usize,
    pub requests: u64,
    pub errors: u64,
    pub concurrency: Option<usize>,
    pub load_mode: Option<LoadMode>,
    #[serde(serialize_with = "ms")]
    pub throughput_rps: Option<f64>,
    pub store: &'a str,
    pub error: Option<&'a str>,
    // Added after the columns above (which keep their places): intervals and
    // the ratio to native.
    #[serde(serialize_with = "ms")]
    pub latency_p50_ci95_lo_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_p50_ci95_hi_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_mean_ci95_lo_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub latency_mean_ci95_hi_ms: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub x_native: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub x_native_ci95_lo: Option<f64>,
    #[serde(serialize_with = "ms")]
    pub x_native_ci95_hi: Option<f64>,
    // Added after the columns above: the `--neighbour` beside the row.
    pub neighbour: Option<String>,
    pub neighbour_requests: Option<u64>,
    #[serde(serialize_with = "ms")]
    pub neighbour_achieved_rps: Option<f64>,
    // Added after the columns above: the deployed service (`--endpoint`).
    pub endpoint_url: Option<&'a str>,
    pub endpoint_host: Option<&'a str>,
    // Added after the columns above: the `--node` the row ran on.
    pub node: Option<&'a str>,
    pub node_address: Option<&'a str>,
    pub node_rate_bits_per_sec: Option<u64>,
}

/// Writes a number with 6 decimals (as the CSV always had), nothing for None.
fn ms<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.collect_str(&format_args!("{x:.6}")),
        None => s.serialize_none(),
    }
}

/// The lines of row `r` of `rows`: one per load level, else one.
pub fn lines<'a>(rows: &'a [RunRow], r: &'a RunRow) -> Vec<Line<'a>> {
    let f = Figures::of(r);
    let levels: Vec<Option<&LoadLevel>> = match f.and_then(|f| f.row().load.as_deref()) {
        Some(l) if !l.is_empty() => l.iter().map(Some).collect(),
        _ => vec![None],
    };
    let c = f.and_then(Figures::cold);
    let ph = f.and_then(Figures::phases);
    // An error message for a row drawn as failed, even when only samples say why.
    let error = match f {
        Some(_) => r.error.as_deref(),
        None => reason(r),
    };
    // The row's ratio to native (its headline), not one per load level.
    let x = crate::compare::x_native(rows, r);
    let x_ci = crate::compare::x_native_ci95(rows, r);
    levels
        .into_iter()
        .map(|lv| {
            let (x, x_ci) = if lv.is_some() {
                (None, None)
            } else {
                (x, x_ci)
            };
            // A level without OK answers has no latency or throughput.
            let lat = match lv {
                Some(l) => (l.ok > 0).then_some(l.latency_ms),
                None => f.and_then(Figures::latency),
            };
            Line {
                function: &r.function,
                runtime: r.runtime,
                group: r.group,
                mode: r.mode,
                status: Shown::status_word(r),
                sandbox: r.sandbox,
                image_reference: &r.image.reference,
                image_compressed_bytes: f.and_then(Figures::compressed),
                image_unpacked_bytes: f.and_then(Figures::unpacked),
                cold_start_pull_ms: c.and_then(|c| c.pull),
                cold_start_unpack_ms: c.and_then(|c| c.unpack),
                cold_start_start_ms: c.map(|c| c.start),
                cold_start_ready_ms: c.map(|c| c.ready),
                cold_start_first_response_ms: c.map(|c| c.first_response),
                cold_start_total_ms: c.map(|c| c.total),
                latency_n: lat.map(|l| l.n),
                latency_mean_ms: lat.map(|l| l.mean),
                latency_stddev_ms: lat.map(|l| l.stddev),
                latency_min_ms: lat.map(|l| l.min),
                latency_p50_ms: lat.map(|l| l.p50),
                latency_p90_ms: lat.map(|l| l.p90),
                latency_p99_ms: lat.map(|l| l.p99),
                latency_max_ms: lat.map(|l| l.max),
                phase_io_ms: ph.map(|p| p.io),
                phase_deserialize_ms: ph.map(|p| p.deserialize),
                phase_compute_ms: ph.map(|p| p.compute),
                phase_serialize_ms: ph.map(|p| p.serialize),
                cpu_ms: f.and_then(Figures::cpu_ms),
                peak_rss_bytes: f.and_then(Figures::peak_rss),
                repeats: r.repeats,
                requests: lv.map_or(r.requests, |l| l.sent),
                errors: lv.map_or(r.errors, |l| l.errors),
                concurrency: lv.map(|l| l.concurrency),
                load_mode: lv.map(|l| l.mode),
                throughput_rps: lv.filter(|l| l.ok > 0).map(|l| l.throughput_rps),
                store: &r.store,
                error,
                latency_p50_ci95_lo_ms: lat.and_then(|l| l.p50_ci95).map(|c| c[0]),
                latency_p50_ci95_hi_ms: lat.and_then(|l| l.p50_ci95).map(|c| c[1]),
                latency_mean_ci95_lo_ms: lat.and_then(|l| l.mean_ci95).map(|c| c[0]),
                latency_mean_ci95_hi_ms: lat.and_then(|l| l.mean_ci95).map(|c| c[1]),
                x_native: x,
                x_native_ci95_lo: x_ci.map(|c| c[0]),
                x_native_ci95_hi: x_ci.map(|c| c[1]),
                neighbour: r.neighbour.as_ref().map(|n| n.label()),
                neighbour_requests: r.neighbour.as_ref().map(|n| n.requests),
                neighbour_achieved_rps: r.neighbour.as_ref().map(|n| n.achieved_rps),
                endpoint_url: r.endpoint.as_ref().map(|e| e.url.as_str()),
                endpoint_host: r.endpoint.as_ref().map(|e| e.host.as_str()),
                node: r.node.as_ref().map(|n| n.name.as_str()),
                node_address: r.node.as_ref().map(|n| n.address.as_str()),
                node_rate_bits_per_sec: r.node.as_ref().and_then(|n| n.rate_bits_per_sec),
            }
        })
        .collect()
}

/// Writes the CSV (header and lines, RFC 4180 quoting) to `w`.
pub fn write<W: std::io::Write>(out: &BenchOutput, w: W) -> Result<(), csv::Error> {
    let mut wr = csv::Writer::from_writer(w);
    for r in &out.runs {
        for l in lines(&out.runs, r) {
            wr.serialize(l)?;
        }
    }
    if out.runs.is_empty() {
        // serde writes the header with the first line; an empty bench still has one.
        wr.write_record(header())?;
    }
    wr.flush()?;
    Ok(())
}

/// The CSV as text.
pub fn render(out: &BenchOutput) -> Result<String, csv::Error> {
    let mut buf = vec![];
    write(out, &mut buf)?;
    // Every field is UTF-8 text or a number.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The column names, in order.
pub fn header() -> Vec<String> {
    let mut wr = csv::WriterBuilder::new().from_writer(vec![]);
    // Serializing a line of scalars into a Vec cannot fail.
    let _ = wr.serialize(Line::default());
    let buf = wr.into_inner().unwrap_or_default();
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect()
}
