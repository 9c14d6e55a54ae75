//! The one model every front end judges: what the collectors found, as plain data, and
//! [`assess`], which turns it into the findings, the status, the checklist and the verdict.
//!
//! The dashboard applies each collector result as it arrives and assesses once after each update
//! that changed the model; `check` and `report` apply one round of the same collectors and call
//! the same [`assess`]. Engine code: no terminal crate, no `app`, no `ui`.

mod assess;
pub mod container_events;
pub mod containers;
pub mod dns;
pub mod gateway;
mod inputs;
pub mod proxy_views;
pub mod services;
pub mod timeline;
pub mod upstream_links;
pub mod upstreams;

use std::sync::Arc;
use std::time::SystemTime;

pub use assess::{Assessment, assess, assess_in};
pub use inputs::{log_input, unix_seconds, upstream_inputs};

use crate::actions::{ServiceSpec, ServiceStatus};
use crate::config::Upstream;
use crate::diagnosis::{self, FirewallInput};
use crate::dns::DnsRound;
use crate::firewall::{self, FirewallSummary};
use crate::host::{self, HostSample};
use crate::logs::{LogBatch, LogBook, RingLimits, SourceLog, SourceSpec};
use crate::status::Finding;
use crate::upstream::catalog::Catalog;
use crate::upstream::{ProbeResult, State};
use container_events::ContainerEvents;
use containers::Containers;
use dns::Dns;
use gateway::Gateway;
use proxy_views::ProxyViews;
use services::Services;
use timeline::Timeline;
use upstreams::Upstreams;

#[derive(Debug, Default)]
pub struct Model {
    /// The latest host sample; `None` until the first.
    pub host: Option<HostSample>,
    /// [`host::assess`] of `host`, judged when the sample arrives.
    pub host_findings: Vec<Finding>,
    pub upstreams: Upstreams,
    pub dns: Dns,
    pub logs: LogBook,
    /// The latest firewall summary, matched against the upstreams; `None` until the first read.
    pub firewall: Option<Arc<FirewallInput>>,
    /// The `[gateway]` probe, when configured.
    pub gateway: Option<Gateway>,
    pub services: Services,
    /// Each proxy's own view of its upstreams (HAProxy's stats, Caddy's and Envoy's admin).
    pub proxy_views: ProxyViews,
    /// Checks that could not run at all (no async runtime for the probes), as findings.
    pub unchecked: Vec<Finding>,
    /// The incident timeline: what changed, and each log's minutes over the span.
    pub timeline: Timeline,
    /// The proxies in containers' upstream names and the containers behind them now: with
    /// the logs, they tell a stale address ([`diagnosis::stale_addresses`]).
    pub containers: Containers,
    /// The container engine's recent events of the proxies' containers and their upstreams'.
    pub container_events: ContainerEvents,
}

/// What the model watches, from the config and discovery.
pub struct Watch<'a> {
    pub catalog: &'a Catalog,
    /// Names to resolve; IP literals are left out.
    pub names: Vec<String>,
    pub logs: &'a [SourceSpec],
    pub services: &'a [ServiceSpec],
    pub gateway: Option<&'a Upstream>,
    /// How far back the timeline looks.
    pub span: std::time::Duration,
}

impl Model {
    pub fn new(watch: &Watch<'_>) -> Self {
        let names = watch
            .names
            .iter()
            .filter(|n| !crate::dns::is_ip_literal(n))
            .cloned()
            .collect();
        Model {
            upstreams: Upstreams::new(watch.catalog),
            dns: Dns::new(names, watch.catalog),
            logs: LogBook::new(watch.logs, RingLimits::default()),
            gateway: watch.gateway.cloned().map(Gateway::new),
            services: Services::new(watch.services),
            timeline: Timeline::new(watch.logs.len(), watch.span),
            containers: Containers::new(
                watch.catalog.named_upstreams.clone(),
                watch.catalog.containers.containers.clone(),
                unix_seconds(SystemTime::now()),
            )
            .with_proxies(&watch.catalog.containers.proxies)
            .with_facts(watch.catalog.container_proxies.clone()),
            container_events: ContainerEvents::new(watch.catalog),
            ..Model::default()
        }
    }

    pub fn apply_host(&mut self, sample: HostSample) {
        self.host_findings = host::assess(&sample);
        self.host = Some(sample);
    }

    /// Records a probe result; returns whether the rows' order changed. A result from a new
    /// address matches the firewall again.
    pub fn apply_probe(&mut self, result: ProbeResult, now: SystemTime) -> bool {
        self.apply_probes(vec![result], now)
    }

    /// Takes a batch of probe results: the rows are sorted, and the firewall matched against
    /// new addresses, once for the whole batch. Returns whether the order of rows changed.
    pub fn apply_probes(&mut self, results: Vec<ProbeResult>, now: SystemTime) -> bool {
        let moved = results
            .iter()
            .any(|r| inputs::new_address(&self.upstreams, r.target_index, r.addr.as_deref()));
        for r in &results {
            if let (Some(not_after), Some(row)) =
                (r.cert_not_after, self.upstreams.rows.get(r.target_index))
            {
                let label = row.label();
                self.timeline
                    .certificate(r.target_index, &label, not_after, unix_seconds(now));
            }
        }
        let before: Vec<(usize, Option<State>)> = results
            .iter()
            .filter_map(|r| {
                let row = self.upstreams.rows.get(r.target_index)?;
                Some((r.target_index, row.history.state()))
            })
            .collect();
        let reordered = self.upstreams.apply_all(results);
        self.note_state_changes(&before, now);
        if moved {
            self.rematch_firewall(now);
        }
        reordered
    }

    /// Takes a finished DNS round; false for a stale one.
    pub fn apply_dns(&mut self, round: DnsRound, now: SystemTime) -> bool {
        let seq = round.seq;
        let changed = self.dns.apply(round);
        if changed {
            if let Some(round) = &self.dns.round
                && round.seq == seq
            {
                self.timeline
                    .dns_round(&self.dns.drift, round, unix_seconds(now));
            }
            self.rematch_firewall(now);
        }
        changed
    }

    /// Takes a round of the timeline's own collector: each log's past, and events. Returns
    /// whether anything changed.
    pub fn apply_timeline(
        &mut self,
        round: crate::timeline::collect::Round,
        now: SystemTime,
    ) -> bool {
        let now = unix_seconds(now);
        let scanned = !round.histories.is_empty();
        for (index, history) in round.histories {
            self.timeline.apply_history(index, history, now);
        }
        self.timeline.note_problems(round.problems);
        let containers = self.container_events.add(round.containers, now);
        // Other containers on the host (CI jobs, cron) come and go: on the timeline they would
        // crowd out and be named as the change before the onset.
        let mut events = round.events;
        events.retain(|e| {
            crate::timeline::containers::Said::of(e)
                .is_none_or(|said| self.container_events.watches(said.container, said.id))
        });
        self.timeline.add(events, now) || scanned || containers
    }

    /// An upstream_change event for each upstream whose state moved between two known states.
    fn note_state_changes(&mut self, before: &[(usize, Option<State>)], now: SystemTime) {
        for &(index, was) in before {
            let Some(row) = self.upstreams.rows.get(index) else {
                continue;
            };
            if let (Some(was), Some(is)) = (was, row.history.state())
                && was != is
            {
                let detail = row.recent.back().map_or("", |r| &*r.detail);
                let label = row.label();
                self.timeline
                    .upstream_state(&label, was, is, detail, unix_seconds(now));
            }
        }
    }

    /// Takes a new firewall summary and matches it against the upstreams.
    pub fn apply_firewall(&mut self, summary: FirewallSummary, now: SystemTime) {
        let upstreams = upstream_inputs(&self.upstreams, self.dns.round.as_ref(), now);
        self.firewall = Some(Arc::new(FirewallInput::new(summary, &upstreams)));
    }

    /// Keeps a newer gateway result; false for a stale one or without a `[gateway]`.
    pub fn apply_gateway(&mut self, result: ProbeResult) -> bool {
        self.gateway.as_mut().is_some_and(|g| g.apply(result))
    }

    /// Files a log batch; false for a source this model does not follow. A failure line without
    /// a timestamp of its own counts at `now`, when it was read (as `check`'s scan counts it).
    pub fn apply_log(&mut self, mut batch: LogBatch, now: SystemTime) -> bool {
        let read_at = unix_seconds(now);
        for line in &mut batch.lines {
            let failed = line.cause.is_some() || line.status.is_some_and(|s| s >= 500);
            if failed && line.time.is_none() {
                line.time = Some(read_at);
            }
        }
        for mark in &mut batch.skipped.marks {
            if mark.time.is_none() {
                mark.time = Some(read_at);
            }
        }
        let index = batch.source;
        let filed = self.logs.apply(batch);
        if let Some(source) = self.logs.sources.get(index) {
            self.timeline.follow(index, &source.tally);
            self.timeline.prune_now_and_then(read_at);
        }
        filed
    }

    /// Replaces a source with what `check`'s scan of it found.
    pub fn set_scanned_log(&mut self, index: usize, source: SourceLog) {
        if let Some(slot) = self.logs.sources.get_mut(index) {
            self.timeline.follow(index, &source.tally);
            *slot = source;
        }
    }

    /// Keeps a round of the proxies' own views; returns whether what they say changed.
    pub fn apply_proxy_views(&mut self, views: Vec<crate::proxy_view::ProxyView>) -> bool {
        let changed = self.proxy_views.apply(views);
        let says = self
            .proxy_views
            .for_entries(self.upstreams.rows.iter().map(|r| &r.entry));
        for (row, says) in self.upstreams.rows.iter_mut().zip(says) {
            row.proxy = says;
        }
        changed
    }

    /// Takes a listing of the engine's containers; returns whether what it says changed.
    pub fn apply_containers(&mut self, listing: crate::containers::Listing) -> bool {
        self.containers.apply(listing)
    }

    /// Keeps a service's status; returns whether what it says changed.
    pub fn apply_service(&mut self, status: ServiceStatus) -> bool {
        self.services.apply(status)
    }

    /// Matches the current summary again when the upstreams' addresses changed (a probe reached
    /// a new address, a DNS round moved a name).
    fn rematch_firewall(&mut self, now: SystemTime) {
        let Some(current) = &self.firewall else {
            return;
        };
        let upstreams = upstream_inputs(&self.upstreams, self.dns.round.as_ref(), now);
        let endpoints = diagnosis::endpoints(&upstreams);
        if endpoints == current.endpoints {
            return;
        }
        let matches = firewall::matches(&current.summary, &endpoints);
        self.firewall = Some(Arc::new(FirewallInput {
            summary: current.summary.clone(),
            endpoints,
            matches,
        }));
    }
}
