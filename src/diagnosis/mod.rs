//! The troubleshooting checklist for a 502 and the verdict: the six steps an engineer walks
//! through (gateway, host, DNS, logs, firewall and network, upstreams), each with a status and
//! one line of evidence, and the most likely cause with its evidence and the next step.
//!
//! A pure function of plain [`Inputs`]: the dashboard builds them from its views
//! (`App::diagnosis`), `check` and `report` from one run, tests by hand. The verdict rules are an
//! ordered table ([`RULES`]); the first that fires names the cause.
//!
//! The checklist re-reads evidence the findings already hold, so it never adds to the overall
//! status: only what nothing else reports (a firewall rule blocking an upstream, the gateway's
//! own probe) becomes a finding, through [`findings`].

mod evidence;
mod inputs;
mod proxy_view;
mod stale_address;
mod steps;
mod verdict;

#[cfg(test)]
mod stale_verdict_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod weighing_tests;

use serde::Serialize;

pub use evidence::logged_address;
pub use inputs::{
    BUSIEST, Clock, DnsInput, DnsNameInput, FirewallInput, GatewayInput, HostInput, Inputs,
    LogInput, Resolves, ServiceInput, Span, UpstreamInput, endpoints,
};
pub use stale_address::{
    CurrentContainer, LoggedAddress, NamedUpstream, StaleAddress, from_tally, parse_logged,
    stale_addresses,
};
pub use verdict::{RULES, Rule as VerdictRule};

use crate::status::{Finding, Status};

/// The six steps, in the order they are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepId {
    Gateway,
    Host,
    Dns,
    Logs,
    Network,
    Upstreams,
}

impl StepId {
    pub const ALL: [StepId; 6] = [
        StepId::Gateway,
        StepId::Host,
        StepId::Dns,
        StepId::Logs,
        StepId::Network,
        StepId::Upstreams,
    ];

    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            StepId::Gateway => "gateway",
            StepId::Host => "host",
            StepId::Dns => "dns",
            StepId::Logs => "logs",
            StepId::Network => "network",
            StepId::Upstreams => "upstreams",
        }
    }

    /// How the checklist titles it.
    pub fn title(self) -> &'static str {
        match self {
            StepId::Gateway => "gateway",
            StepId::Host => "host load",
            StepId::Dns => "DNS",
            StepId::Logs => "logs",
            StepId::Network => "firewall/network",
            StepId::Upstreams => "upstreams",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub step: StepId,
    pub status: Status,
    /// One line, safe for a terminal (built from sanitised parts).
    pub evidence: String,
}

/// What the verdict blames. The snake_case names are part of `check --json`: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Firewall,
    UpstreamDown,
    ServiceDown,
    Dns,
    HostOverloaded,
    HostLimits,
    Tls,
    ProxyConfig,
    Backlog,
    Permission,
    UpstreamCrash,
    UpstreamSlow,
    // snake_case alone would write "unexplained502".
    #[serde(rename = "unexplained_502")]
    Unexplained502,
    NoCause,
    NoData,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Firewall => "firewall",
            Cause::UpstreamDown => "upstream_down",
            Cause::ServiceDown => "service_down",
            Cause::Dns => "dns",
            Cause::HostOverloaded => "host_overloaded",
            Cause::HostLimits => "host_limits",
            Cause::Tls => "tls",
            Cause::ProxyConfig => "proxy_config",
            Cause::Backlog => "backlog",
            Cause::Permission => "permission",
            Cause::UpstreamCrash => "upstream_crash",
            Cause::UpstreamSlow => "upstream_slow",
            Cause::Unexplained502 => "unexplained_502",
            Cause::NoCause => "no_cause",
            Cause::NoData => "no_data",
        }
    }
}

/// One fact behind a verdict and where it was seen: `error.log:1234` (a log line; the file alone
/// when its line number is not known), `access.log`, `probe`, `dns`, `host`, `firewall`,
/// `service`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub source: String,
    /// Safe for a terminal (built from sanitised parts).
    pub text: String,
}

impl Evidence {
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence {
            source: source.into(),
            text: text.into(),
        }
    }
}

/// What to do next, worded for any reader, and the dashboard key that does it (the dashboard
/// adds "(a)"; `check` and the report do not tell their reader to press keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextStep {
    pub text: String,
    pub key: Option<&'static str>,
}

impl NextStep {
    pub fn new(text: impl Into<String>) -> Self {
        NextStep {
            text: text.into(),
            key: None,
        }
    }

    /// The same step, done in the dashboard by `key`.
    pub fn key(mut self, key: &'static str) -> Self {
        self.key = Some(key);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The whole line: "{what} ({evidence}): {next step}", for any reader.
    pub text: String,
    /// What is wrong, without the evidence and the next step (for narrow screens).
    #[serde(skip)]
    pub headline: String,
    pub cause: Cause,
    pub next_step: String,
    /// The dashboard key that takes the next step.
    #[serde(skip)]
    pub key: Option<&'static str>,
    /// How bad the cause is: critical when requests fail now, warning when they may.
    pub status: Status,
    /// The facts behind it, each with its source, most telling first.
    pub evidence: Vec<Evidence>,
    /// When the failure began and what changed just before, from the incident timeline ("502s
    /// began 14:02:10, 12 s after nginx reloaded"); set by the assessment, which has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The upstream it is about (its configured name), when it blames one: the checklist's
    /// upstreams step and the header name this one first, so the screen tells one story.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl Verdict {
    pub(crate) fn new(
        cause: Cause,
        status: Status,
        headline: String,
        evidence: Vec<Evidence>,
        next: NextStep,
    ) -> Verdict {
        let evidence: Vec<Evidence> = evidence
            .into_iter()
            .filter(|e| !e.text.is_empty())
            .collect();
        let mut v = Verdict {
            text: String::new(),
            headline,
            cause,
            next_step: next.text,
            key: next.key,
            status,
            evidence,
            since: None,
            upstream: None,
        };
        v.text = v.line(false);
        v
    }

    /// The same verdict, about upstream `u` (when the rule knows which one it blames).
    pub(crate) fn about(mut self, u: Option<&UpstreamInput>) -> Verdict {
        self.upstream = u.map(|u| u.name.clone());
        self
    }

    /// "{headline} ({evidence}): {next step}"; with `keys`, the next step ends with its key as
    /// the dashboard says it: "restart web (a)".
    pub fn line(&self, keys: bool) -> String {
        self.line_with(keys, self.evidence.len())
    }

    /// [`Verdict::line`] with only the first `evidence` items, for a screen too narrow for all.
    pub fn line_with(&self, keys: bool, evidence: usize) -> String {
        let summary = self.summary_of(evidence);
        let next = if keys {
            self.next_step_keyed()
        } else {
            self.next_step.clone()
        };
        let h = &self.headline;
        match (summary.is_empty(), next.is_empty()) {
            (true, true) => h.clone(),
            (true, false) => format!("{h}: {next}"),
            (false, true) => format!("{h} ({summary})"),
            (false, false) => format!("{h} ({summary}): {next}"),
        }
    }

    /// The evidence texts in one clause.
    pub fn summary(&self) -> String {
        self.summary_of(self.evidence.len())
    }

    /// The first `n` evidence texts in one clause.
    fn summary_of(&self, n: usize) -> String {
        let texts: Vec<&str> = self
            .evidence
            .iter()
            .take(n)
            .map(|e| e.text.as_str())
            .collect();
        texts.join("; ")
    }

    /// The next step with the dashboard key that takes it.
    pub fn next_step_keyed(&self) -> String {
        match self.key {
            Some(k) if !self.next_step.is_empty() => format!("{} ({k})", self.next_step),
            _ => self.next_step.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    pub steps: Vec<Step>,
    pub verdict: Verdict,
}

impl Diagnosis {
    pub fn step(&self, id: StepId) -> Option<&Step> {
        self.steps.iter().find(|s| s.step == id)
    }
}

/// The checklist and the verdict for `inputs`. The upstream the verdict blames is the one the
/// upstreams step names first: one story, whichever of them a reader looks at.
pub fn diagnose(inputs: &Inputs) -> Diagnosis {
    let mut steps = steps::all(inputs);
    let verdict = verdict::judge(inputs, &steps);
    if let Some(subject) = verdict.upstream.as_deref()
        && let Some(step) = steps.iter_mut().find(|s| s.step == StepId::Upstreams)
    {
        (step.status, step.evidence) = steps::upstreams_about(inputs, Some(subject));
    }
    Diagnosis { steps, verdict }
}

/// What the checklist knows that no other check reports: firewall rules that name an upstream,
/// and the gateway's own probe. The caller adds these to its findings.
pub fn findings(inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(evidence::firewall_findings(inputs));
    out.extend(proxy_view::findings(inputs));
    out.extend(stale_address::findings(inputs));
    if let Some(f) = steps::gateway_probe(inputs).filter(|f| f.status != Status::Ok) {
        out.push(f);
    }
    out
}
