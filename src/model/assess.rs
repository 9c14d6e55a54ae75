//! The judgement, once: findings, status, checklist and verdict from the [`Model`].

use std::time::SystemTime;

use jiff::tz::TimeZone;

use serde::Serialize;

use super::{Model, unix_seconds};
use crate::diagnosis::{self, Diagnosis};
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
        findings,
        diagnosis,
        timeline,
    }
}
