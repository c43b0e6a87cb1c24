//! Workflow rows (mode `workflow`): one line each with the makespan's
//! statistics, each step's latency and the hand-overs between steps, shared
//! by the terminal table and the HTML report's section.

use lumos_model::{RunRow, WorkflowRecord};

use crate::format::{fmt_ms, fmt_ms_ci};
use crate::shown::{Figures, Shown};

/// The columns of a workflow line.
pub const HEADER: [&str; 13] = [
    "workflow",
    "steps",
    "g",
    "start",
    "data",
    "n",
    "makespan p50",
    "p50 95% CI",
    "mean",
    "sd",
    "step p50s",
    "hand-over p50s",
    "status",
];

/// The workflow rows of `rows`.
pub fn rows(rows: &[RunRow]) -> impl Iterator<Item = (&RunRow, &WorkflowRecord)> + '_ {
    rows.iter().filter_map(|r| Some((r, r.workflow.as_ref()?)))
}

/// A workflow row's cells, `-` where no figure stands.
pub fn cells(r: &RunRow, w: &WorkflowRecord) -> Vec<String> {
    let dash = || "-".to_string();
    let shown = Figures::of(r).is_some();
    let lat = Figures::of(r).and_then(Figures::latency);
    let each = |f: &dyn Fn(&lumos_model::WorkflowStep) -> Option<f64>, skip_first: bool| {
        if !shown {
            return dash();
        }
        w.steps
            .iter()
            .skip(usize::from(skip_first))
            .map(|s| f(s).map_or_else(dash, fmt_ms))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    vec![
        r.function.clone(),
        w.placement(),
        r.group.to_string(),
        w.start.to_string(),
        w.chain_data.to_string(),
        lat.map_or_else(dash, |l| l.n.to_string()),
        lat.map_or_else(dash, |l| fmt_ms(l.p50)),
        lat.and_then(|l| l.p50_ci95).map_or_else(dash, fmt_ms_ci),
        lat.map_or_else(dash, |l| fmt_ms(l.mean)),
        lat.map_or_else(dash, |l| fmt_ms(l.stddev)),
        each(&|s| s.latency_ms.map(|l| l.p50), false),
        each(&|s| s.handover_ms.map(|l| l.p50), true),
        Shown::status_word(r).to_string(),
    ]
}

/// What the figures mean, in a sentence.
pub const NOTE: &str = "workflow: makespan = first step's request to last step's response \
     (ms; each step's latency and every hand-over inside it); step p50s in chain order; \
     hand-over = a response passed on as the next request (inline: as it is; storage: \
     put into the store and fetched back)";

#[cfg(test)]
mod tests {
    use super::*;
    use lumos_model::{BenchOutput, ChainData, LatencyStats, Mode, Runtime, Status, WorkflowStep};

    fn stats(p50: f64, n: u64) -> LatencyStats {
        LatencyStats {
            n,
            mean: p50,
            p50,
            ..Default::default()
        }
    }

    #[test]
    fn a_workflow_row_is_its_own_table_with_steps_and_hand_overs() {
        let step = |function: &str, runtime, lat, handover: Option<f64>| WorkflowStep {
            function: function.into(),
            runtime,
            latency_ms: Some(stats(lat, 4)),
            handover_ms: handover.map(|h| stats(h, 4)),
            ..Default::default()
        };
        let row = RunRow {
            function: "seal".into(),
            runtime: Runtime::Native,
            group: 1,
            mode: Mode::Workflow,
            status: Status::Ok,
            requests: 4,
            ok: 4,
            latency_ms: Some(stats(12.5, 4)),
            workflow: Some(WorkflowRecord {
                name: Some("seal".into()),
                start: Mode::Warm,
                chain_data: ChainData::Storage,
                steps: vec![
                    step("enc", Runtime::Native, 7.0, None),
                    step("dec", Runtime::WasmtimeAot, 5.0, Some(0.25)),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = cells(&row, row.workflow.as_ref().unwrap());
        assert_eq!(c[1], "enc@native > dec@wasmtime-aot");
        assert_eq!((c[3].as_str(), c[4].as_str()), ("warm", "storage"));
        assert_eq!(c[6], crate::format::fmt_ms(12.5));
        assert_eq!(
            c[10],
            format!(
                "{} / {}",
                crate::format::fmt_ms(7.0),
                crate::format::fmt_ms(5.0)
            )
        );
        assert_eq!(c[11], crate::format::fmt_ms(0.25));
        let text = crate::table::render(&BenchOutput {
            runs: vec![row.clone()],
            ..Default::default()
        });
        assert!(
            text.contains("makespan p50") && text.contains(NOTE),
            "{text}"
        );
        assert!(
            !text.contains("cold ms"),
            "no single-function table: {text}"
        );
        // A row without figures shows none.
        let failed = RunRow {
            status: Status::Failed,
            latency_ms: None,
            ..row
        };
        let c = cells(&failed, failed.workflow.as_ref().unwrap());
        assert_eq!(
            (c[6].as_str(), c[10].as_str(), c[12].as_str()),
            ("-", "-", "failed")
        );
    }
}
