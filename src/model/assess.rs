//! The judgement, once: findings, status, checklist and verdict from the [`Model`].

use std::time::SystemTime;

use jiff::tz::TimeZone;

use serde::Serialize;

use super::{Model, unix_seconds};
use crate::diagnosis::{self, Cause, Diagnosis};
use crate::logs;
use crate::status::{self, Finding, Status};
use crate::timeline::story::Judged;

/// What every front end shows: the dashboard draws it, `check` and `report` format it.
#[derive(Clone, Debug, Serialize)]
pub struct Assessment {
    pub status: Status,
    /// Everything found wrong, worst first: the evidence behind `status`.
    pub findings: Vec<Finding>,
    /// The six checklist steps, each with its evidence, and the verdict.
    pub diagnosis: Diagnosis,
    /// The one line beside the status (the dashboard's header, `check`'s first line): the
    /// verdict's headline when it names a cause at least as bad as the worst finding, so it
    /// names the verdict's upstream; else the worst finding. With how many more there are.
    pub headline: String,
    /// When the current failure began and what changed before it.
    #[serde(skip)]
    pub timeline: Judged,
}

impl Default for Assessment {
    /// Before the first assessment: nothing known.
    fn default() -> Self {
        Assessment {
            status: Status::Unknown,
            findings: Vec::new(),
            diagnosis: diagnosis::diagnose(&diagnosis::Inputs::default()),
            headline: SAMPLING.into(),
            timeline: Judged::default(),
        }
    }
}

/// Judges the model as of `now` (ages and log windows are measured from it), with times in
/// the system's zone.
pub fn assess(model: &Model, now: SystemTime) -> Assessment {
    assess_in(model, now, &TimeZone::system())
}

/// [`assess`] with the times its sentences name written in `tz` (the dashboard's clock's).
pub fn assess_in(model: &Model, now: SystemTime, tz: &TimeZone) -> Assessment {
    let inputs = model.inputs(now, tz);
    let mut findings = model.host_findings.clone();
    findings.extend(model.upstreams.findings(now));
    findings.extend(model.dns.findings.iter().cloned());
    for (log, source) in inputs.logs.iter().zip(&model.logs.sources) {
        let error = log.error.as_deref();
        let finding = logs::judge(
            &log.source,
            error,
            &log.counts,
            source.tally.lines,
            log.window,
        );
        if finding.status != Status::Ok {
            findings.push(finding);
        }
    }
    findings.extend(model.services.findings());
    findings.extend(model.containers.findings());
    findings.extend(model.unchecked.iter().cloned());
    findings.extend(diagnosis::findings(&inputs));
    findings.extend(model.container_events.findings(
        &model.containers.current,
        model.containers.listed_at,
        unix_seconds(now),
        tz,
    ));
    findings.sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
    let known = status::overall(&findings);
    let timeline = model.timeline.judge(unix_seconds(now), tz);
    let mut diagnosis = diagnosis::diagnose(&inputs);
    if diagnosis.verdict.status != Status::Ok {
        diagnosis.verdict.since = timeline.story.clone();
    }
    Assessment {
        // Nothing is known of a host not yet sampled.
        status: match &model.host {
            None => known.worst(Status::Unknown),
            Some(_) => known,
        },
        headline: headline(&diagnosis, &findings, model.host.is_some()),
        findings,
        diagnosis,
        timeline,
    }
}

/// Before anything is known.
const SAMPLING: &str = "sampling the host…";

/// See [`Assessment::headline`].
fn headline(diagnosis: &Diagnosis, findings: &[Finding], sampled: bool) -> String {
    let v = &diagnosis.verdict;
    // A verdict milder than the worst finding would understate it beside the status label.
    let worst = status::overall(findings);
    let names_a_cause = v.status != Status::Ok
        && v.status.severity() >= worst.severity()
        && !matches!(v.cause, Cause::NoCause | Cause::NoData);
    let first = match findings.first() {
        _ if names_a_cause => v.headline.clone(),
        Some(f) => f.message.clone(),
        None if sampled => return "no problems found".into(),
        None => return SAMPLING.into(),
    };
    match findings.len() {
        0 | 1 => first,
        n => format!("{first} (+{} more)", n - 1),
    }
}
