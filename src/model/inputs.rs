//! The model as the diagnosis reads it: [`Inputs`], built once per assessment.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;

use super::Model;
use super::upstreams::Upstreams;
use crate::diagnosis::{Clock, DnsInput, HostInput, Inputs, LogInput, UpstreamInput};
use crate::dns::DnsRound;
use crate::logs::{self, SourceLog};

impl Model {
    /// What the checklist and the verdict judge, as of `now`, clock times written in `tz`.
    pub fn inputs(&self, now: SystemTime, tz: &TimeZone) -> Inputs {
        let upstreams = upstream_inputs(&self.upstreams, self.dns.round.as_ref(), now);
        Inputs {
            host: self.host.as_ref().map(HostInput::from_sample),
            upstreams,
            dns: DnsInput {
                proxy_resolvers: self.dns.proxy_resolvers.clone(),
                ..DnsInput::from_round(
                    self.dns.names.clone(),
                    self.dns.round.as_ref(),
                    Some(&self.dns.drift),
                    self.dns.findings.clone(),
                )
            },
            logs: self
                .logs
                .sources
                .iter()
                .map(|s| log_input(s, logs::DEFAULT_WINDOW, now))
                .collect(),
            firewall: self.firewall.clone(),
            gateway: self.gateway.as_ref().map(|g| g.input()),
            services: self.services.inputs(),
            stale_addresses: self.containers.stale(
                &self.logs,
                logs::DEFAULT_WINDOW,
                unix_seconds(now),
            ),
            clock: Clock {
                now: unix_seconds(now),
                tz: tz.clone(),
            },
        }
    }
}

/// What counts as "now" in a log: the last minute of lines, by their own timestamps.
pub const RECENT: Duration = Duration::from_secs(60);

/// One source over the last `window` by the lines' own timestamps (the window `check` scans),
/// and over the last minute, which the verdict weighs.
pub fn log_input(source: &SourceLog, window: Duration, now: SystemTime) -> LogInput {
    let now = unix_seconds(now);
    // Counts are labelled with the span they cover, never a window they did not read.
    let window = source.covered(window, now);
    let counts = source.tally.last(window, now);
    let window_start = now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
    let last_event = source
        .tally
        .per_minute
        .range(window_start.div_euclid(60) * 60..=now)
        .rev()
        .find(|(_, m)| m.causes() > 0 || m.status_502 > 0)
        .map(|(minute, _)| *minute);
    LogInput {
        source: source.label.clone(),
        format: source.format,
        window,
        cut_short: source.covered_from.is_some(),
        error: source.error().map(str::to_owned),
        counts,
        recent: source.tally.last(RECENT, now),
        quiet_for: last_event
            .map(|m| Duration::from_secs(u64::try_from(now - (m + 60)).unwrap_or(0))),
    }
}

pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Every upstream as the diagnosis sees it: its last probe, how long in its state, and every
/// address known for it (the one probes connected to, the DNS answers for its name, or the
/// address it is written as).
pub fn upstream_inputs(
    view: &Upstreams,
    round: Option<&DnsRound>,
    now: SystemTime,
) -> Vec<UpstreamInput> {
    view.rows
        .iter()
        .map(|row| {
            let up = &row.entry.upstream;
            let mut u = UpstreamInput::new(&up.name, &up.url, up.timeout);
            // A config file's name is the config author's text: no control byte reaches a line.
            u.source = crate::sanitize::sanitize(&row.entry.source).into_owned();
            u.proxy = row.proxy.clone();
            let h = &row.history;
            u.state = h.state();
            u.since = h.state_age(now);
            u.flapping = h.is_flapping();
            if let Some(last) = h.last() {
                u.outcome = Some(last.outcome);
                u.status_code = last.status_code;
                u.detail = last.detail.clone();
                u.latency = last.latency;
                u.addr = last.addr.clone();
                if let Some(ip) = last.addr.as_deref().and_then(ip_of) {
                    u.add_addr(ip);
                }
            }
            if let (Some(round), Some(host)) = (round, up.url.host()) {
                for ip in round
                    .for_name(host)
                    .filter(|r| r.is_ok())
                    .flat_map(|r| r.addresses())
                {
                    u.add_addr(ip);
                }
            }
            u
        })
        .collect()
}

/// The IP of "10.0.0.5:8080" or "[::1]:443".
fn ip_of(addr: &str) -> Option<IpAddr> {
    addr.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// What a probe result said of an upstream's address: whether it is one the firewall match has
/// not seen yet.
pub(super) fn new_address(view: &Upstreams, index: usize, addr: Option<&str>) -> bool {
    let known = view
        .rows
        .get(index)
        .and_then(|r| r.history.last())
        .map(|l| l.addr.as_deref());
    addr.is_some() && known != Some(addr)
}
