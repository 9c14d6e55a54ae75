//! The Prometheus exposition: the model as judged, in the text format (or OpenMetrics when the
//! scraper asks for it), for `gatewatch serve`'s `/metrics` and `check --format prometheus`.
//! The metric names are fixed in the table (see docs/prometheus.md); this module formats, it
//! never judges: states, the status and the verdict come from the [`Assessment`] and the same
//! conversions the report uses.
//!
//! Hand-written rather than through the `prometheus-client` crate: that crate keeps live
//! registered metrics that code increments, while gatewatch renders a snapshot of its model each
//! time (families appear and go with the model's rows, and caps pick the worst upstreams
//! first), so a registry would be rebuilt from scratch per scrape. The format is a few line
//! shapes; [`writer`] holds them and their escaping.
//!
//! Engine code: no terminal crate.

mod writer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use crate::actions::ServiceState;
use crate::logs::{self, LogReport};
use crate::model::{Assessment, Model, unix_seconds};
use crate::report::{FirewallReport, host_report};
use crate::timeline::onset::OnsetState;
use crate::upstream::{ProbeResult, State};
use writer::{Kind, Writer};

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upstreams exported at most, worst first; the rest are counted in
/// `gatewatch_upstreams_not_exported`.
pub const MAX_UPSTREAMS: usize = 2_000;
/// DNS (name, nameserver) pairs exported at most.
pub const MAX_DNS_PAIRS: usize = 500;
/// Logs exported at most.
pub const MAX_LOGS: usize = 50;

/// Who renders: `serve` runs and counts since its start; `check` runs once, so the counters that
/// only mean something over time (log lines read, 502s since start, DNS answer changes) are left
/// out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Check,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// OpenMetrics only when the scraper's `Accept` names it (Prometheus sends
/// `application/openmetrics-text;version=1.0.0,...;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1`
/// when it supports it); anything else, or none, gets the text format.
pub fn format_for_accept(accept: Option<&str>) -> Format {
    let asks = accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut params = part.split(';');
            let media = params.next().unwrap_or("").trim();
            let refused = params.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    });
    if asks {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// The phases of a probe as `(phase, seconds)`, for
/// `gatewatch_upstream_probe_duration_seconds`: the phases the probe went through (a phase
/// never reached has no sample), and `total`, the whole probe with failures included.
pub fn probe_phases(result: &ProbeResult) -> Vec<(&'static str, f64)> {
    let p = &result.phases;
    let mut out: Vec<(&'static str, f64)> = [
        ("resolve", p.resolve),
        ("connect", p.connect),
        ("tls", p.tls),
        ("first_byte", p.first_byte),
    ]
    .into_iter()
    .filter_map(|(phase, d)| Some((phase, d?.as_secs_f64())))
    .collect();
    out.push(("total", p.total.unwrap_or(result.elapsed).as_secs_f64()));
    out
}

/// The whole exposition of `model` as `judged`, with the log windows ending at `now`.
pub fn render(
    model: &Model,
    judged: &Assessment,
    mode: Mode,
    now: SystemTime,
    format: Format,
) -> String {
    let mut w = Writer::new(format);
    overall(&mut w, judged);
    upstreams(&mut w, model);
    dns(&mut w, model, mode);
    log_families(&mut w, model, mode, now);
    host(&mut w, model);
    firewall(&mut w, model);
    services(&mut w, model);
    onset(&mut w, judged);
    w.finish()
}

fn overall(w: &mut Writer, judged: &Assessment) {
    w.family(
        "gatewatch_up",
        Kind::Gauge,
        "1: gatewatch ran and rendered this.",
    );
    w.sample("gatewatch_up", &[], 1u64);
    w.family(
        "gatewatch_status",
        Kind::Gauge,
        "Overall status as check's exit code: 0 ok, 1 warning, 2 critical, 3 unknown.",
    );
    w.sample(
        "gatewatch_status",
        &[],
        u64::try_from(judged.status.exit_code()).unwrap_or(3),
    );
    w.family(
        "gatewatch_verdict_info",
        Kind::Gauge,
        "1, labelled with the most likely cause of 502s (no_cause when none).",
    );
    w.sample(
        "gatewatch_verdict_info",
        &[("cause", judged.diagnosis.verdict.cause.name())],
        1u64,
    );
}

fn upstreams(w: &mut Writer, model: &Model) {
    let view = &model.upstreams;
    // `order` is failing first (down, degraded, unprobed, up): the cap keeps the worst.
    let exported: Vec<usize> = view.order.iter().copied().take(MAX_UPSTREAMS).collect();
    // Names are unique in the config, but a discovered upstream may share one: every row of a
    // shared name is labelled with its target too, so no two series collide and a series keeps
    // its label whatever the order.
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for row in &view.rows {
        *uses.entry(row.entry.upstream.name.as_str()).or_default() += 1;
    }
    let labels: Vec<(usize, String)> = exported
        .iter()
        .map(|&i| {
            let row = &view.rows[i];
            let name = &row.entry.upstream.name;
            let label = match uses.get(name.as_str()) {
                Some(1) => name.clone(),
                _ => row.label(),
            };
            (i, label)
        })
        .collect();

    w.family(
        "gatewatch_upstream_up",
        Kind::Gauge,
        "1 when the last probe found the upstream up or degraded, 0 when down.",
    );
    for (i, name) in &labels {
        let row = &view.rows[*i];
        if let Some(state) = row.history.state() {
            let target = row.entry.upstream.url.to_string();
            let up = u64::from(state != State::Down);
            w.sample(
                "gatewatch_upstream_up",
                &[("upstream", name), ("target", &target)],
                up,
            );
        }
    }
    w.family(
        "gatewatch_upstream_probe_duration_seconds",
        Kind::Gauge,
        "Duration of the last probe, by phase.",
    );
    for (i, name) in &labels {
        if let Some(last) = view.rows[*i].history.last() {
            for (phase, seconds) in probe_phases(last) {
                w.sample(
                    "gatewatch_upstream_probe_duration_seconds",
                    &[("upstream", name), ("phase", phase)],
                    seconds,
                );
            }
        }
    }
    w.family(
        "gatewatch_upstream_probe_failures_total",
        Kind::Counter,
        "Failed probes by outcome since gatewatch started (check: this run's).",
    );
    for (i, name) in &labels {
        for (outcome, n) in &view.rows[*i].failures {
            w.sample(
                "gatewatch_upstream_probe_failures_total",
                &[("upstream", name), ("outcome", outcome.as_str())],
                *n,
            );
        }
    }
    w.family(
        "gatewatch_upstream_status_code",
        Kind::Gauge,
        "HTTP status of the last probe's answer.",
    );
    for (i, name) in &labels {
        if let Some(code) = view.rows[*i].history.last().and_then(|r| r.status_code) {
            w.sample(
                "gatewatch_upstream_status_code",
                &[("upstream", name)],
                u64::from(code),
            );
        }
    }
    w.family(
        "gatewatch_upstreams_not_exported",
        Kind::Gauge,
        "Upstreams left out of this exposition by its cap (the worst are exported first).",
    );
    w.sample(
        "gatewatch_upstreams_not_exported",
        &[],
        (view.rows.len() - exported.len()) as u64,
    );
}

fn dns(w: &mut Writer, model: &Model, mode: Mode) {
    let Some(round) = &model.dns.round else {
        return;
    };
    w.family(
        "gatewatch_dns_lookup_duration_seconds",
        Kind::Gauge,
        "Duration of the last lookup of a name at a nameserver.",
    );
    let mut pairs: HashSet<(&str, String)> = HashSet::new();
    for r in &round.results {
        let nameserver = r.nameserver.to_string();
        if pairs.len() == MAX_DNS_PAIRS && !pairs.contains(&(r.name.as_str(), nameserver.clone())) {
            continue;
        }
        pairs.insert((&r.name, nameserver.clone()));
        w.sample(
            "gatewatch_dns_lookup_duration_seconds",
            &[("name", &r.name), ("nameserver", &nameserver)],
            r.latency.as_secs_f64(),
        );
    }
    let totals = &model.dns.totals;
    w.family(
        "gatewatch_dns_lookup_failures_total",
        Kind::Counter,
        "Failed lookups by name, nameserver and rcode (none: no response) since gatewatch started (check: this run's).",
    );
    for ((name, nameserver, rcode), n) in totals.failures.iter().take(MAX_DNS_PAIRS) {
        w.sample(
            "gatewatch_dns_lookup_failures_total",
            &[("name", name), ("nameserver", nameserver), ("rcode", rcode)],
            *n,
        );
    }
    if mode == Mode::Serve {
        w.family(
            "gatewatch_dns_answer_changes_total",
            Kind::Counter,
            "Changes of a name's addresses seen since gatewatch started.",
        );
        for (name, n) in totals.changes.iter().take(MAX_DNS_PAIRS) {
            w.sample("gatewatch_dns_answer_changes_total", &[("name", name)], *n);
        }
    }
}

fn log_families(w: &mut Writer, model: &Model, mode: Mode, now: SystemTime) {
    let sources: Vec<_> = model.logs.sources.iter().take(MAX_LOGS).collect();
    if sources.is_empty() {
        return;
    }
    let reports: Vec<LogReport> = sources
        .iter()
        .map(|s| LogReport::of(s, logs::DEFAULT_WINDOW, unix_seconds(now)))
        .collect();
    w.family(
        "gatewatch_log_events_window",
        Kind::Gauge,
        "Bad-gateway log lines by cause over the last 10 minutes.",
    );
    for r in &reports {
        for (cause, n) in &r.causes {
            w.sample(
                "gatewatch_log_events_window",
                &[("log", &r.path), ("cause", cause.name())],
                *n,
            );
        }
    }
    w.family(
        "gatewatch_log_responses_window",
        Kind::Gauge,
        "Responses by status class (1xx to 5xx, other) over the last 10 minutes.",
    );
    for r in &reports {
        for (class, n) in r.responses.iter() {
            w.sample(
                "gatewatch_log_responses_window",
                &[("log", &r.path), ("class", class)],
                n,
            );
        }
    }
    w.family(
        "gatewatch_log_502_window",
        Kind::Gauge,
        "502 responses over the last 10 minutes.",
    );
    for r in &reports {
        w.sample(
            "gatewatch_log_502_window",
            &[("log", &r.path)],
            r.status_502,
        );
    }
    if mode == Mode::Serve {
        w.family(
            "gatewatch_log_502_total",
            Kind::Counter,
            "502 responses read since gatewatch started.",
        );
        for s in &sources {
            w.sample(
                "gatewatch_log_502_total",
                &[("log", &s.label)],
                s.tally.status_502,
            );
        }
        w.family(
            "gatewatch_log_lines_total",
            Kind::Counter,
            "Log lines read since gatewatch started.",
        );
        for s in &sources {
            w.sample(
                "gatewatch_log_lines_total",
                &[("log", &s.label)],
                s.tally.lines,
            );
        }
    }
}

fn host(w: &mut Writer, model: &Model) {
    let Some(sample) = &model.host else {
        return;
    };
    let report = host_report(sample);
    let gauges = [
        (
            "gatewatch_host_ephemeral_ports_used",
            "Local ports of the ephemeral range in use.",
            report.ephemeral_ports_in_use.map(u64::from),
        ),
        (
            "gatewatch_host_ephemeral_ports_available",
            "Local ports in the ephemeral range.",
            report.ephemeral_ports_total.map(u64::from),
        ),
        (
            "gatewatch_host_file_handles_used",
            "File handles allocated on the host.",
            report.file_handles_used,
        ),
        (
            "gatewatch_host_file_handles_max",
            "The host's file handle limit.",
            report.file_handles_max,
        ),
    ];
    for (name, help, value) in gauges {
        if let Some(value) = value {
            w.family(name, Kind::Gauge, help);
            w.sample(name, &[], value);
        }
    }
    if let Some(states) = &report.tcp_states {
        w.family(
            "gatewatch_host_sockets",
            Kind::Gauge,
            "TCP sockets by state.",
        );
        for (state, n) in states {
            w.sample("gatewatch_host_sockets", &[("state", state)], *n);
        }
    }
}

fn firewall(w: &mut Writer, model: &Model) {
    if model.firewall.is_none() {
        return;
    }
    let report = FirewallReport::new(model);
    let mut per_upstream: BTreeMap<&str, u64> = BTreeMap::new();
    for m in &report.matches {
        *per_upstream.entry(&m.upstream).or_default() += 1;
    }
    w.family(
        "gatewatch_firewall_blocking_rules",
        Kind::Gauge,
        "Firewall rules in an upstream's way (only upstreams with one are listed).",
    );
    for (upstream, n) in per_upstream.into_iter().take(MAX_UPSTREAMS) {
        w.sample(
            "gatewatch_firewall_blocking_rules",
            &[("upstream", upstream)],
            n,
        );
    }
}

fn services(w: &mut Writer, model: &Model) {
    let known: Vec<_> = model
        .services
        .statuses
        .iter()
        .flatten()
        .filter(|s| s.state != ServiceState::Unknown)
        .collect();
    if known.is_empty() {
        return;
    }
    w.family(
        "gatewatch_service_up",
        Kind::Gauge,
        "1 when the service's status command says it runs, 0 when stopped.",
    );
    for s in known {
        w.sample(
            "gatewatch_service_up",
            &[("service", &s.name)],
            u64::from(s.state == ServiceState::Running),
        );
    }
}

fn onset(w: &mut Writer, judged: &Assessment) {
    let onset = &judged.timeline.onset;
    let current = matches!(onset.state, OnsetState::Ongoing | OnsetState::Intermittent);
    if let (true, Some(at)) = (current, onset.at) {
        w.family(
            "gatewatch_timeline_onset_timestamp_seconds",
            Kind::Gauge,
            "Unix time the current failure began.",
        );
        w.sample("gatewatch_timeline_onset_timestamp_seconds", &[], at as f64);
    }
}

#[cfg(test)]
mod tests;
