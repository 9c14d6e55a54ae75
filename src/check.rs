//! `gatewatch check` and `gatewatch report`: one round of every collector, filed into the same
//! [`Model`] the dashboard keeps and judged by the same [`assess`]. Formatting is `report`'s.

use std::time::SystemTime;

use crate::actions::{self, ServiceSpec, ServiceStatus};
use crate::config::Upstream;
use crate::dns::{self, DnsLookups, DnsRound, DnsSettings};
use crate::firewall::{self, FirewallSummary};
use crate::host::{HostCollector, HostSample};
use crate::logs::{self, Origin, ScanSpan, SourceLog, SourceSpec};
use crate::model::{Assessment, Model, Watch, assess, unix_seconds};
use crate::status::{Finding, Status};
use crate::upstream::catalog::Catalog;
use crate::upstream::{self, ProbeResult};

/// What one round looks at.
pub struct Round<'a> {
    pub catalog: &'a Catalog,
    pub dns: &'a DnsSettings,
    pub logs: &'a [SourceSpec],
    pub gateway: Option<&'a Upstream>,
    pub services: &'a [ServiceSpec],
    /// For a report: look past the logs' window for the newest failing lines to show.
    pub lines_past_window: bool,
    /// Known before any collector runs: a config whose commands were dropped, say.
    pub notices: &'a [Finding],
}

/// What one round of the collectors found, before it is filed into a model.
#[derive(Clone, Debug)]
pub struct Collected {
    pub sample: HostSample,
    /// One result per upstream probed; fewer than the catalog's upstreams when some could not
    /// be probed at all.
    pub probes: Vec<ProbeResult>,
    pub dns: Option<DnsRound>,
    pub firewall: Option<FirewallSummary>,
    pub gateway: Option<ProbeResult>,
    pub services: Vec<ServiceStatus>,
    /// Each scanned log file, by its index in the round's sources.
    pub logs: Vec<(usize, SourceLog)>,
}

/// One round of every collector, judged: [`collect`], then [`judge`].
pub fn run(round: &Round<'_>) -> (Model, Assessment) {
    let collected = collect(round);
    judge(round, collected, SystemTime::now())
}

/// Samples the host, reads the firewall, probes every upstream (and the gateway), resolves every
/// name and checks every service, all at the same time; then scans the logs.
pub fn collect(round: &Round<'_>) -> Collected {
    let sampler = std::thread::spawn(|| HostCollector::new().sample());
    let specs = round.services.to_vec();
    let statuses = std::thread::spawn(move || actions::check_all(&specs));
    let reader = std::thread::spawn(firewall::collect);
    let upstreams = round.catalog.upstreams();
    let wants_dns = round.dns.names.iter().any(|n| !dns::is_ip_literal(n));
    let (probes, dns_round, gateway) = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async {
            let dns_round = async {
                if wants_dns {
                    Some(DnsLookups::new(round.dns.clone()).round().await)
                } else {
                    None
                }
            };
            let gateway_probe = async {
                match round.gateway {
                    Some(g) => Some(upstream::probe_once(g).await),
                    None => None,
                }
            };
            tokio::join!(upstream::probe_all(&upstreams), dns_round, gateway_probe)
        }),
        Err(e) => {
            tracing::error!("no async runtime for the probes: {e}");
            (Vec::new(), None, None)
        }
    };
    let sample = sampler
        .join()
        .unwrap_or_else(|_| HostCollector::new().sample());
    Collected {
        sample,
        probes,
        dns: dns_round,
        firewall: reader.join().ok(),
        gateway,
        services: statuses.join().unwrap_or_default(),
        logs: scan_logs(round.logs, round.lines_past_window),
    }
}

/// Files one round into a new model of what `round` watches and judges it once, as of `now`:
/// the same model and the same [`assess`] the dashboard uses.
pub fn judge(round: &Round<'_>, collected: Collected, now: SystemTime) -> (Model, Assessment) {
    let mut model = Model::new(&Watch {
        catalog: round.catalog,
        names: round.dns.names.clone(),
        logs: round.logs,
        services: round.services,
        gateway: round.gateway,
    });
    model.apply_host(collected.sample);
    model.unchecked.extend(round.notices.iter().cloned());
    if collected.probes.len() < round.catalog.entries.len() {
        model.unchecked.push(Finding::new(
            Status::Unknown,
            "some upstreams could not be probed (no async runtime)",
        ));
    }
    for r in collected.probes {
        model.apply_probe(r, now);
    }
    if let Some(dns_round) = collected.dns {
        model.apply_dns(dns_round, now);
    }
    if let Some(summary) = collected.firewall {
        model.apply_firewall(summary, now);
    }
    if let Some(r) = collected.gateway {
        model.apply_gateway(r);
    }
    for status in collected.services {
        model.apply_service(status);
    }
    for (i, source) in collected.logs {
        model.set_scanned_log(i, source);
    }
    let judged = assess(&model, now);
    (model, judged)
}

/// The recent end of every log file, in one backward pass each: the window's counts and the
/// newest failing lines. A streaming command cannot be scanned after the fact.
fn scan_logs(sources: &[SourceSpec], lines_past_window: bool) -> Vec<(usize, SourceLog)> {
    let span = ScanSpan {
        lines_past_window,
        ..ScanSpan::recent(unix_seconds(SystemTime::now()))
    };
    sources
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| match &spec.origin {
            Origin::File(path) => {
                Some((i, logs::scan_source(spec.label(), path, spec.kind, &span)))
            }
            Origin::Glob(_) | Origin::Command(_) => None,
        })
        .collect()
}
