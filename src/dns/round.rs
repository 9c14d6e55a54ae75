//! A round: every name through the system configuration and through each nameserver on its own,
//! all at once (bounded), with resolvers built afresh so nothing is cached between rounds.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hickory_resolver::TokioResolver;

use super::lookup::{self, NameToAsk, Via};
use super::name::{is_ip_literal, is_localhost, parse_name};
use super::resolver;
use super::system::SystemFiles;
use super::{DnsRound, DnsSettings, Nameserver};
use crate::sanitize::sanitize;

/// Lookups in flight at once (each is an A and an AAAA query). Enough that dead nameservers,
/// which hold a slot for the whole timeout, do not queue the rest behind them.
pub const MAX_IN_FLIGHT: usize = 64;
/// A round ends this many lookup timeouts after it began, however many nameservers there are
/// (500 dead ones made a round last 16 s): lookups still pending then get an error row.
pub const ROUND_TIMEOUTS: u32 = 3;

/// The lookups of every watched name, a round at a time; owns the system files and the sequence
/// number. The headless `check` runs one round with it, the [`super::DnsCollector`] runs it on a
/// schedule.
pub struct DnsLookups {
    settings: DnsSettings,
    names: Vec<NameToAsk>,
    /// Names asked besides the settings' ones: those the proxy's log could not resolve.
    also: Vec<String>,
    system: SystemFiles,
    seq: u64,
}

impl DnsLookups {
    pub fn new(settings: DnsSettings) -> Self {
        let names = names_to_ask(&settings.names);
        let system = SystemFiles::new(settings.resolv_conf.clone(), settings.hosts_file.clone());
        DnsLookups {
            settings,
            names,
            also: Vec::new(),
            system,
            seq: 0,
        }
    }

    pub fn settings(&self) -> &DnsSettings {
        &self.settings
    }

    /// From the next round on, also asks about `names` (replacing the last ones given): the
    /// names the proxy's log says it could not resolve, which no config lists.
    pub fn ask_also(&mut self, names: &[String]) {
        if self.also != names {
            self.also = names.to_vec();
            let all: Vec<String> = self
                .settings
                .names
                .iter()
                .chain(&self.also)
                .cloned()
                .collect();
            self.names = names_to_ask(&all);
        }
    }

    /// Whether a round would ask about anything.
    pub fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    /// Resolves every name through every nameserver once. Never fails: every problem is in a
    /// result's `error` or the round's `problems`. Takes at most [`ROUND_TIMEOUTS`] lookup
    /// timeouts.
    pub async fn round(&mut self) -> DnsRound {
        self.seq += 1;
        let started = Instant::now();
        // The files matter only to the system configuration; unused, they are not even read.
        if self.settings.uses_system() {
            self.system.refresh();
        }
        let timeout = self.settings.timeout;
        let deadline = tokio::time::Instant::from_std(started) + timeout * ROUND_TIMEOUTS;

        let system_resolver = self.settings.uses_system().then(|| self.system_resolver());
        let servers: Vec<(SocketAddr, Result<TokioResolver, String>)> = self
            .server_addrs()
            .into_iter()
            .map(|addr| (addr, resolver::single(addr, timeout)))
            .collect();
        let hosts = self.system.hosts();

        let mut vias: Vec<Via<'_>> = Vec::with_capacity(servers.len() + 1);
        if let Some(resolver) = &system_resolver {
            vias.push(Via {
                nameserver: Nameserver::System,
                resolver: resolver.as_ref().map_err(String::as_str),
                hosts: Some(hosts.as_ref()),
            });
        }
        for (addr, resolver) in &servers {
            vias.push(Via {
                nameserver: Nameserver::Addr(*addr),
                resolver: resolver.as_ref().map_err(String::as_str),
                hosts: None,
            });
        }

        // Plain loops rather than iterator closures: closures borrowing `vias` make the future
        // fail the `Send` check for `tokio::spawn` (higher-ranked lifetime inference).
        let mut jobs = Vec::with_capacity(self.names.len() * vias.len());
        for name in &self.names {
            let local = system_resolver.is_some() && name.parsed.as_ref().is_ok_and(is_localhost);
            for via in &vias {
                // No nameserver is asked about localhost (RFC 6761), so only the system
                // configuration has something to say: the hosts file, or the built-in answer.
                if local && via.nameserver != Nameserver::System {
                    continue;
                }
                jobs.push(lookup_by(name, via, timeout, deadline));
            }
        }
        let results = run_bounded(jobs, MAX_IN_FLIGHT).await;

        let mut round = DnsRound {
            seq: self.seq,
            finished_at: SystemTime::now(),
            elapsed: started.elapsed(),
            nameservers: vias.iter().map(|v| v.nameserver).collect(),
            results,
            problems: self
                .system
                .hosts_problem()
                .filter(|_| self.settings.uses_system())
                .map(str::to_owned)
                .into_iter()
                .collect(),
            family: Vec::new(),
        };
        if !self.settings.ports.is_empty() {
            round.family = super::family::check(&round, &self.settings.ports, timeout).await;
        }
        round
    }

    fn system_resolver(&self) -> Result<TokioResolver, String> {
        let conf = self.system.resolv().map_err(str::to_owned)?;
        resolver::system(conf, self.settings.resolv_conf_port, self.settings.timeout)
    }

    /// Each resolv.conf nameserver (when the system configuration is used), then the
    /// configured ones, then the extra ones, each once.
    fn server_addrs(&self) -> Vec<SocketAddr> {
        let from_resolv_conf = self
            .settings
            .uses_system()
            .then(|| self.system.resolv().ok())
            .flatten()
            .into_iter()
            .flat_map(|conf| conf.config.name_servers())
            .map(|ns| SocketAddr::new(ns.ip, self.settings.resolv_conf_port));
        let configured = self.settings.nameservers.iter().filter_map(|ns| match ns {
            Nameserver::System => None,
            Nameserver::Addr(addr) => Some(*addr),
        });
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in from_resolv_conf
            .chain(configured)
            .chain(self.settings.extra_nameservers.iter().copied())
        {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        addrs
    }
}

/// [`lookup::lookup`], or an error row when the round's `deadline` comes first (also at once
/// for a lookup that had not started by then).
async fn lookup_by(
    name: &NameToAsk,
    via: &Via<'_>,
    timeout: std::time::Duration,
    deadline: tokio::time::Instant,
) -> super::DnsResult {
    match tokio::time::timeout_at(deadline, lookup::lookup(name, via, timeout)).await {
        Ok(result) => result,
        Err(_) => super::DnsResult {
            name: name.shown.clone(),
            nameserver: via.nameserver,
            answers: Vec::new(),
            cname_chain: Vec::new(),
            rcode: None,
            latency: std::time::Duration::ZERO,
            error: Some(format!(
                "not asked in time: the round ends after {} (too many nameservers answer slowly \
                 or not at all)",
                humantime::format_duration(timeout * ROUND_TIMEOUTS)
            )),
            source: super::Source::Dns,
        },
    }
}

/// Runs at most `limit` futures at once; results in the order of `jobs`. Unordered inside, so
/// one slow lookup does not hold back the start of the others.
async fn run_bounded<F: Future>(jobs: Vec<F>, limit: usize) -> Vec<F::Output> {
    let total = jobs.len();
    let mut pending = jobs.into_iter().enumerate();
    let mut in_flight = FuturesUnordered::new();
    let mut done: Vec<(usize, F::Output)> = Vec::with_capacity(total);
    for (i, job) in pending.by_ref().take(limit.max(1)) {
        in_flight.push(indexed(i, job));
    }
    while let Some(result) = in_flight.next().await {
        done.push(result);
        if let Some((i, job)) = pending.next() {
            in_flight.push(indexed(i, job));
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, output)| output).collect()
}

async fn indexed<F: Future>(i: usize, job: F) -> (usize, F::Output) {
    (i, job.await)
}

/// Each name once, IP literals left out; parsed once rather than every round.
fn names_to_ask(names: &[String]) -> Vec<NameToAsk> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for name in names {
        if is_ip_literal(name) || seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        out.push(NameToAsk {
            shown: sanitize(name).into_owned(),
            parsed: parse_name(name),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn bounded_runs_keep_order_and_the_limit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let jobs: Vec<_> = (0..20u64)
            .map(|i| {
                let (running, peak) = (&running, &peak);
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Later jobs finish first.
                    tokio::time::sleep(Duration::from_millis(20 - i)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            })
            .collect();
        let out = run_bounded(jobs, 4).await;
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn names_are_deduplicated_and_ip_literals_skipped() {
        let names: Vec<String> = [
            "a.test",
            "127.0.0.1",
            "a.test",
            "[::1]",
            "bad name",
            "b.test",
        ]
        .map(String::from)
        .into();
        let asked = names_to_ask(&names);
        let shown: Vec<&str> = asked.iter().map(|n| n.shown.as_str()).collect();
        assert_eq!(shown, ["a.test", "bad name", "b.test"]);
        assert!(asked[1].parsed.is_err());
    }

    #[test]
    fn names_asked_also_join_the_configured_ones_and_replace_the_last_given() {
        let settings = DnsSettings {
            names: vec!["a.test".into()],
            ..DnsSettings::default()
        };
        let mut lookups = DnsLookups::new(settings);
        let shown =
            |l: &DnsLookups| -> Vec<String> { l.names.iter().map(|n| n.shown.clone()).collect() };
        lookups.ask_also(&["b.test".into(), "a.test".into()]);
        assert_eq!(shown(&lookups), ["a.test", "b.test"], "each once");
        lookups.ask_also(&["c.test".into()]);
        assert_eq!(shown(&lookups), ["a.test", "c.test"]);
        lookups.ask_also(&[]);
        assert_eq!(shown(&lookups), ["a.test"]);
        let mut none = DnsLookups::new(DnsSettings::default());
        assert!(!none.has_names());
        none.ask_also(&["c.test".into()]);
        assert!(none.has_names());
    }

    #[test]
    fn servers_come_from_resolv_conf_then_config_then_extra_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let resolv = dir.path().join("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.9\nnameserver ::1\n").unwrap();
        let settings = DnsSettings {
            nameservers: vec![
                Nameserver::System,
                "127.0.0.9:53".parse().unwrap(),
                "127.0.0.2:5353".parse().unwrap(),
            ],
            extra_nameservers: vec![
                "127.0.0.2:5353".parse().unwrap(),
                "127.0.0.3:53".parse().unwrap(),
            ],
            resolv_conf: resolv,
            hosts_file: dir.path().join("hosts"),
            ..DnsSettings::default()
        };
        let mut lookups = DnsLookups::new(settings);
        lookups.system.refresh();
        let addrs: Vec<String> = lookups
            .server_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            addrs,
            ["127.0.0.9:53", "[::1]:53", "127.0.0.2:5353", "127.0.0.3:53"]
        );

        lookups.settings.nameservers = vec!["127.0.0.2:5353".parse().unwrap()];
        let addrs: Vec<String> = lookups
            .server_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            addrs,
            ["127.0.0.2:5353", "127.0.0.3:53"],
            "no system, no resolv.conf"
        );
    }
}
