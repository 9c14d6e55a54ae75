//! Stale container addresses: nginx resolves `proxy_pass http://app:8000` once, at start or
//! reload. When the `app` container is recreated it gets a new address, and nginx keeps
//! connecting to the old one (refused, no route, or a timeout) until it is reloaded. The logs'
//! upstream field shows the address nginx uses; the containers on the proxy's networks show who
//! has which address now.
//!
//! Pure: plain data in (what the proxy config names, the containers, the logged addresses), the
//! stale addresses out. The caller fills the inputs from the Docker API and the log tallies.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use jiff::tz::TimeZone;

use super::Inputs;
use crate::logs::Tally;
use crate::sanitize::sanitize;
use crate::status::{Finding, Status};

/// An upstream the proxy config names by a container's name: `proxy_pass http://app:8000`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedUpstream {
    /// The name as the proxy config writes it: "app".
    pub name: String,
    pub port: u16,
    /// The proxy's container: "web".
    pub proxy: String,
    /// nginx resolves the name at run time (a `resolver` and a variable in `proxy_pass`), so
    /// it follows the container to its new address by itself.
    pub resolves_at_runtime: bool,
}

/// A container on the proxy's networks, as the Docker API lists it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentContainer {
    /// "app" (the API's leading "/" is allowed).
    pub name: String,
    /// Other names it answers to on its networks: Compose service names, network aliases.
    pub aliases: Vec<String>,
    /// Its addresses on the proxy's networks.
    pub addresses: Vec<IpAddr>,
    /// When it started (unix seconds): when it was recreated, for a recreated one.
    pub started_at: Option<i64>,
}

/// An upstream address the logs name, with the failures logged for it over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedAddress {
    pub addr: SocketAddr,
    pub failures: u64,
    /// Unix second of the newest failure (the start of its minute when only minutes are kept).
    pub last_seen: i64,
}

/// The proxy still connects to an address its upstream's container no longer has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleAddress {
    /// The upstream's name, sanitised: "app".
    pub upstream: String,
    /// The proxy's container, sanitised: "web".
    pub proxy: String,
    /// The address nginx still connects to, and its port.
    pub old: IpAddr,
    pub port: u16,
    /// The container's addresses now.
    pub new: Vec<IpAddr>,
    pub recreated_at: Option<i64>,
    /// The container that has the old address now, sanitised.
    pub now_held_by: Option<String>,
    pub failures: u64,
    /// Unix second of the newest failure at the old address.
    pub last_seen: i64,
}

/// Longer than any address an upstream field can hold: a longer key is not one.
const MAX_FIELD: usize = 256;

/// The address of a log's upstream field: `172.18.0.2:8000` (`$upstream_addr`),
/// `http://172.18.0.2:8000/` (the error log's `upstream:`), `[fd00::2]:8000`; for a retried
/// request's list (`a:80, b:80 : c:80`) the last, which gave the answer. `None` for a name, a
/// socket, HAProxy's `backend/server` or anything else.
pub fn parse_logged(field: &str) -> Option<SocketAddr> {
    if field.len() > MAX_FIELD {
        return None;
    }
    let last = field.rsplit([',', ' ']).find(|s| !s.is_empty())?;
    let bare = last.split_once("://").map_or(last, |(_, rest)| rest);
    let bare = bare.split('/').next().unwrap_or(bare);
    bare.parse().ok()
}

/// The failing addresses a log's tally names between `since` and `until` (unix seconds):
/// per address, the most failures either count saw (error-log causes and 5xx lines naming it,
/// or failed requests to it) and the minute of the newest. Both fields' forms of one address
/// are one address.
pub fn from_tally(tally: &Tally, since: i64, until: i64) -> Vec<LoggedAddress> {
    let mut out: BTreeMap<SocketAddr, LoggedAddress> = BTreeMap::new();
    for (&minute, m) in tally.per_minute.range(since.div_euclid(60) * 60..=until) {
        let mut this_minute: BTreeMap<SocketAddr, u64> = BTreeMap::new();
        for counts in [&m.by_upstream, &m.upstream_failed] {
            let mut per_field: BTreeMap<SocketAddr, u64> = BTreeMap::new();
            for (field, &n) in counts {
                if let Some(addr) = parse_logged(field) {
                    *per_field.entry(addr).or_default() += n;
                }
            }
            // The same failures counted twice (a cause and its 5xx): the larger count.
            for (addr, n) in per_field {
                let seen = this_minute.entry(addr).or_default();
                *seen = (*seen).max(n);
            }
        }
        for (addr, n) in this_minute.into_iter().filter(|&(_, n)| n > 0) {
            let entry = out.entry(addr).or_insert(LoggedAddress {
                addr,
                failures: 0,
                last_seen: minute,
            });
            entry.failures += n;
            entry.last_seen = entry.last_seen.max(minute);
        }
    }
    out.into_values().collect()
}

/// The API's "/app" is "app".
fn bare_name(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

impl CurrentContainer {
    /// Whether the proxy config's `name` reaches this container (names are case-insensitive
    /// in DNS).
    fn answers_to(&self, name: &str) -> bool {
        std::iter::once(bare_name(&self.name))
            .chain(self.aliases.iter().map(|a| a.as_str()))
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    fn holds(&self, ip: IpAddr) -> bool {
        self.addresses.contains(&ip)
    }
}

/// Every logged failing address that an upstream's container no longer has: the port matches,
/// the name (or an alias) is a current container whose addresses do not include it, and the
/// address is free or held by a container that is not the current address of another upstream
/// on that port (then the lines are that upstream's). Upstreams resolved at run time are left
/// out: they follow their container. When several names fit one address, the one whose
/// container started last changed; when that cannot be told, none is blamed. One finding per
/// upstream and address, with the most failures any log counted; most failures first.
pub fn stale_addresses(
    upstreams: &[NamedUpstream],
    containers: &[CurrentContainer],
    logged: &[LoggedAddress],
) -> Vec<StaleAddress> {
    let mut found: BTreeMap<(String, String, IpAddr, u16), StaleAddress> = BTreeMap::new();
    for l in logged.iter().filter(|l| l.failures > 0) {
        let (ip, port) = (l.addr.ip(), l.addr.port());
        let on_port: Vec<&NamedUpstream> = upstreams.iter().filter(|u| u.port == port).collect();
        // The address is some upstream's current one: nginx connects where it should.
        let current_for_some = on_port.iter().any(|u| {
            containers
                .iter()
                .any(|c| c.answers_to(&u.name) && c.holds(ip))
        });
        if current_for_some {
            continue;
        }
        // Replicas of a scaled service share the name: the name stands for all their
        // addresses, and was last recreated when the newest of them started.
        let candidates: Vec<Behind> = on_port
            .iter()
            .filter(|u| !u.resolves_at_runtime)
            .filter_map(|u| {
                let replicas = containers
                    .iter()
                    .filter(|c| c.answers_to(&u.name) && !c.addresses.is_empty());
                let mut addresses = Vec::new();
                let mut started_at = None;
                for c in replicas {
                    addresses.extend(&c.addresses);
                    started_at = started_at.max(c.started_at);
                }
                addresses.sort();
                addresses.dedup();
                (!addresses.is_empty()).then_some(Behind {
                    upstream: u,
                    addresses,
                    started_at,
                })
            })
            .collect();
        let Some(behind) = changed(candidates) else {
            continue;
        };
        let u = behind.upstream;
        let stale = StaleAddress {
            upstream: sanitize(&u.name).into_owned(),
            proxy: sanitize(bare_name(&u.proxy)).into_owned(),
            old: ip,
            port,
            new: behind.addresses,
            recreated_at: behind.started_at,
            now_held_by: containers
                .iter()
                .find(|other| other.holds(ip))
                .map(|other| sanitize(bare_name(&other.name)).into_owned()),
            failures: l.failures,
            last_seen: l.last_seen,
        };
        let key = (stale.proxy.clone(), stale.upstream.clone(), ip, port);
        match found.get_mut(&key) {
            Some(seen) => {
                seen.failures = seen.failures.max(stale.failures);
                seen.last_seen = seen.last_seen.max(stale.last_seen);
            }
            None => {
                found.insert(key, stale);
            }
        }
    }
    let mut out: Vec<StaleAddress> = found.into_values().collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.failures));
    out
}

/// An upstream's name and the containers behind it now.
struct Behind<'a> {
    upstream: &'a NamedUpstream,
    addresses: Vec<IpAddr>,
    started_at: Option<i64>,
}

/// The one candidate whose container changed: the only one, or the one that started last.
fn changed(mut candidates: Vec<Behind<'_>>) -> Option<Behind<'_>> {
    if candidates.len() > 1 {
        let latest = candidates.iter().filter_map(|b| b.started_at).max()?;
        candidates.retain(|b| b.started_at == Some(latest));
    }
    match candidates.len() {
        1 => candidates.pop(),
        _ => None,
    }
}

impl StaleAddress {
    /// What is wrong: "nginx still connects to 172.18.0.2 for `app`, which is now 172.18.0.5
    /// (recreated 14:02:11)", the time in `tz` (with its date when not today as of `now`).
    pub fn headline(&self, now: i64, tz: &TimeZone) -> String {
        let held = match &self.now_held_by {
            Some(other) => format!(", which now belongs to `{other}`,"),
            None => String::new(),
        };
        let new: Vec<String> = self.new.iter().map(IpAddr::to_string).collect();
        let recreated = match self.recreated_at {
            Some(at) => format!(
                " (recreated {})",
                crate::timeline::story::clock(at, now, tz)
            ),
            None => String::new(),
        };
        format!(
            "nginx still connects to {}{held} for `{}`, which is now {}{recreated}",
            self.old,
            self.upstream,
            new.join(", ")
        )
    }

    /// The fix: reload, or let nginx resolve the name as it goes.
    pub fn next_step(&self) -> String {
        format!(
            "reload nginx in `{}`, or resolve at run time (`resolver 127.0.0.11 valid=10s` and a \
             variable in `proxy_pass`)",
            self.proxy
        )
    }

    /// The whole sentence: "{headline}: {next step}".
    pub fn sentence(&self, now: i64, tz: &TimeZone) -> String {
        format!("{}: {}", self.headline(now, tz), self.next_step())
    }

    /// "12 failed connections to 172.18.0.2:8000": what the logs say.
    pub fn evidence(&self) -> String {
        let noun = if self.failures == 1 {
            "failed connection"
        } else {
            "failed connections"
        };
        format!(
            "{} {noun} to {}",
            self.failures,
            SocketAddr::new(self.old, self.port)
        )
    }

    /// Whether its newest failure falls in the span the verdict weighs as now: this minute and
    /// the one before, as the logs' recent counts.
    pub fn is_recent(&self, now: i64) -> bool {
        self.last_seen.div_euclid(60) >= now.saturating_sub(60).div_euclid(60)
    }
}

/// The stale addresses failing now, most failures first.
pub(super) fn failing_now(inputs: &Inputs) -> impl Iterator<Item = &StaleAddress> {
    inputs
        .stale_addresses
        .iter()
        .filter(|s| s.is_recent(inputs.clock.now))
}

/// Each stale address failing now is critical: every request through it fails.
pub(super) fn findings(inputs: &Inputs) -> Vec<Finding> {
    failing_now(inputs)
        .map(|s| {
            Finding::new(
                Status::Critical,
                s.sentence(inputs.clock.now, &inputs.clock.tz),
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "stale_address_tests.rs"]
mod tests;
