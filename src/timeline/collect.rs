//! The timeline's own collector: each log's past over the span (once, at the first round), and
//! at every round the events each source recorded since the last: the proxy's notices in its
//! error logs, the kernel's OOM kills, package changes, config files that changed, upstream
//! processes and services that restarted, and the container engine's lifecycle events.
//!
//! Every source is read by path from [`Sources`], so a test points each one at its own files.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::history::{History, HistorySpan, scan_history};
use super::kernel::{self, Kmsg};
use super::notice_tail::NoticeTail;
use super::{Event, packages, read_tail};
use crate::actions::ServiceSpec;
use crate::config::{self, LogKind};
use crate::logs::{Origin, SourceSpec, TimeParser};
use crate::upstream::catalog::Catalog;

/// How often the dashboard's collector looks again.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Bytes read from the end of a package log: a years-old dpkg.log is megabytes.
const PACKAGE_BUDGET: u64 = 1024 * 1024;

/// Where the timeline reads, from the config and discovery.
#[derive(Clone, Debug)]
pub struct Sources {
    pub span: Duration,
    /// File logs: their index among the followed sources, path, kind and label.
    pub logs: Vec<(usize, PathBuf, Option<LogKind>, String)>,
    /// Every file of the discovered proxy configs.
    pub config_files: Vec<PathBuf>,
    /// Ports of the upstreams on this host (loopback), whose listeners are watched.
    pub ports: Vec<u16>,
    /// systemd units of the services (from their status commands).
    pub units: Vec<String>,
    pub kernel: PathBuf,
    pub packages: Vec<PathBuf>,
    pub proc_root: PathBuf,
    /// The container engine's API socket, when the catalog's lookup found one answering.
    pub container_socket: Option<PathBuf>,
}

impl Sources {
    pub fn new(
        config: &config::Timeline,
        catalog: &Catalog,
        logs: &[SourceSpec],
        services: &[ServiceSpec],
    ) -> Sources {
        let mut ports: Vec<u16> = catalog
            .entries
            .iter()
            .filter(|e| e.upstream.url.host().is_some_and(is_local))
            .filter_map(|e| e.upstream.url.port())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        Sources {
            span: config.span,
            logs: logs
                .iter()
                .enumerate()
                .filter_map(|(i, spec)| match &spec.origin {
                    Origin::File(path) => Some((i, path.clone(), spec.kind, spec.label())),
                    _ => None,
                })
                .collect(),
            config_files: catalog.config_files.clone(),
            ports,
            units: services
                .iter()
                .filter_map(|s| s.status.as_ref())
                .filter_map(|argv| super::systemd::unit_of(&argv.0))
                .collect(),
            kernel: config.kernel.clone(),
            packages: config.packages.clone(),
            proc_root: PathBuf::from("/proc"),
            container_socket: catalog.containers.socket.clone(),
        }
    }
}

impl Sources {
    /// Nothing to read (no logs, no kernel log, no packages): for a judgement made of given
    /// inputs only, as tests make them.
    pub fn nothing() -> Sources {
        Sources {
            span: config::Timeline::default().span,
            logs: Vec::new(),
            config_files: Vec::new(),
            ports: Vec::new(),
            units: Vec::new(),
            kernel: PathBuf::from("/dev/null"),
            packages: Vec::new(),
            proc_root: PathBuf::from("/proc"),
            container_socket: None,
        }
    }
}

fn span_seconds(sources: &Sources) -> i64 {
    i64::try_from(sources.span.as_secs()).unwrap_or(i64::MAX)
}

/// An upstream on this host: its listener is a local process.
fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// What a round found.
#[derive(Clone, Debug, Default)]
pub struct Round {
    /// Each file log's past over the span, by its index among the sources (first round only).
    pub histories: Vec<(usize, History)>,
    pub events: Vec<Event>,
    /// The container engine's events among `events`, as the engine said them: the findings
    /// judge the proxies' containers from them.
    pub containers: Vec<crate::containers::ContainerEvent>,
    /// Sources that could not be read, once each ("/dev/kmsg: permission denied").
    pub problems: Vec<String>,
}

/// The collector's state between rounds: where each source was left.
pub struct Collector {
    sources: Sources,
    first: bool,
    notices: Vec<NoticeTail>,
    kmsg: Option<Kmsg>,
    /// Without `/dev/kmsg`, the journal's kernel lines are read from here on (unix seconds).
    kernel_journal: Option<i64>,
    boot: i64,
    /// Each package log's length and mtime when last read.
    packages: HashMap<PathBuf, (u64, Option<SystemTime>)>,
    config: super::config_files::ConfigWatch,
    listeners: super::listeners::ListenerWatch,
    containers: Option<super::containers::ContainerFeed>,
    /// The container engine could not be read at the last poll: said once until it can.
    containers_failing: bool,
    rounds: u64,
}

/// systemd is asked every this many rounds: each unit costs a process.
const SYSTEMD_EVERY: u64 = 6;
/// How long one `systemctl show` may take.
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(2);

impl Collector {
    pub fn new(sources: Sources) -> Collector {
        Collector {
            config: super::config_files::ConfigWatch::new(&sources.config_files),
            listeners: super::listeners::ListenerWatch::new(sources.proc_root.clone()),
            containers: sources
                .container_socket
                .as_deref()
                .map(super::containers::ContainerFeed::new),
            containers_failing: false,
            sources,
            first: true,
            notices: Vec::new(),
            kmsg: None,
            kernel_journal: None,
            boot: kernel::boot_time().unwrap_or(0),
            packages: HashMap::new(),
            rounds: 0,
        }
    }

    /// One round as of `now` (unix seconds).
    pub fn round(&mut self, now: i64) -> Round {
        let since = now.saturating_sub(span_seconds(&self.sources));
        let mut round = Round::default();
        if std::mem::take(&mut self.first) {
            self.first_round(now, &mut round);
        } else {
            for tail in &mut self.notices {
                // An unreadable log is the Logs pane's to say; its notices wait for it.
                round.events.extend(tail.read().unwrap_or_default());
            }
            if let Some(kmsg) = &mut self.kmsg {
                round.events.extend(
                    kmsg.read(self.boot, kernel::MAX_KMSG_RECORDS)
                        .unwrap_or_default(),
                );
            }
            if self.rounds.is_multiple_of(SYSTEMD_EVERY) {
                // A failed read is said once, at the first round; later ones wait for the next.
                let _ = self.read_kernel_journal(now, &mut round);
            }
        }
        self.read_packages(&mut round);
        round.events.extend(self.config.events(since, now));
        round
            .events
            .extend(self.listeners.events(&self.sources.ports, since, now));
        if self.rounds.is_multiple_of(SYSTEMD_EVERY) && !self.sources.units.is_empty() {
            round.events.extend(super::systemd::unit_events(
                Path::new("systemctl"),
                &self.sources.units,
                since,
                now,
                SYSTEMCTL_TIMEOUT,
            ));
        }
        self.read_containers(since, now, &mut round);
        self.rounds += 1;
        round.events.retain(|e| e.at >= since);
        round
    }

    /// The container engine's events since the last poll (the span's at the first).
    fn read_containers(&mut self, since: i64, now: i64, round: &mut Round) {
        let Some(feed) = &mut self.containers else {
            return;
        };
        match feed.poll(since, now) {
            Ok(polled) => {
                self.containers_failing = false;
                let source = feed.source().to_owned();
                round.events.extend(
                    polled
                        .iter()
                        .map(|e| super::containers::event_of(e, &source)),
                );
                round.containers.extend(polled);
            }
            Err(e) => {
                if !std::mem::replace(&mut self.containers_failing, true) {
                    round
                        .problems
                        .push(format!("{e}: container events are not on the timeline"));
                }
            }
        }
    }

    /// Each log's past, with the notices in it; the kernel's ring as it is.
    fn first_round(&mut self, now: i64, round: &mut Round) {
        let span = HistorySpan {
            span: self.sources.span,
            ..HistorySpan::recent(now)
        };
        for (index, path, kind, label) in &self.sources.logs {
            // Notices after this length are the tail's; before it, the scan's.
            let len = std::fs::metadata(path).map_or(0, |m| m.len());
            let history = scan_history(label, path, *kind, &span);
            round.histories.push((*index, history));
            if !matches!(kind, Some(LogKind::Access | LogKind::Envoy)) {
                self.notices.push(NoticeTail::new(path, label, len));
            }
        }
        round.problems.extend(self.config.errors());
        let kmsg = Kmsg::open(&self.sources.kernel).and_then(|mut kmsg| {
            let events = kmsg.read(self.boot, kernel::MAX_KMSG_RECORDS)?;
            Ok((kmsg, events))
        });
        match kmsg {
            Ok((kmsg, events)) => {
                round.events.extend(events);
                self.kmsg = Some(kmsg);
            }
            Err(e) => {
                // No kernel ring to read (not root under kernel.dmesg_restrict, a container
                // without it): the journal may have the kernel's lines.
                self.kernel_journal = Some(now.saturating_sub(span_seconds(&self.sources)));
                if let Err(journal) = self.read_kernel_journal(now, round) {
                    let why = format!(
                        "{}: {e}; {journal}: OOM kills are not on the timeline",
                        self.sources.kernel.display()
                    );
                    round
                        .problems
                        .push(crate::sanitize::sanitize(&why).into_owned());
                    self.kernel_journal = None;
                }
            }
        }
    }

    /// The journal's kernel lines since the last read, when the journal stands in for the ring.
    fn read_kernel_journal(&mut self, now: i64, round: &mut Round) -> Result<(), String> {
        let Some(since) = self.kernel_journal else {
            return Ok(());
        };
        let program = crate::logs::program(crate::logs::JOURNALCTL_ENV, "journalctl");
        let events = kernel::journal_events(&program, since, SYSTEMCTL_TIMEOUT)?;
        // Whole seconds: the last second is read again next time, its repeats folded.
        self.kernel_journal = Some(now);
        round.events.extend(events);
        Ok(())
    }

    /// A package log again when it changed (dpkg appends; a rotation replaces it).
    fn read_packages(&mut self, round: &mut Round) {
        for path in &self.sources.packages {
            let Ok(meta) = std::fs::metadata(path) else {
                continue; // no dpkg here (an rpm host), or no apt history: nothing changed
            };
            let seen = (meta.len(), meta.modified().ok());
            if self.packages.get(path) == Some(&seen) {
                continue;
            }
            self.packages.insert(path.clone(), seen);
            let label = crate::sanitize::sanitize(&path.display().to_string()).into_owned();
            match read_tail(path, PACKAGE_BUDGET) {
                Ok(text) => {
                    let mut times = TimeParser::default();
                    let is_history = path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().contains("history"));
                    round.events.extend(if is_history {
                        packages::history_events(&text, &label, &mut times)
                    } else {
                        packages::dpkg_events(&text, &label, &mut times)
                    });
                }
                Err(e) => round.problems.push(format!("{label}: {e}")),
            }
        }
    }
}

/// The dashboard's timeline collector on its own thread (it reads files and runs systemctl):
/// a round now (the logs' past), then every [`INTERVAL`]. Dropping it stops the thread.
pub struct TimelineCollector(crate::periodic::Periodic);

impl TimelineCollector {
    pub fn spawn(
        sources: Sources,
        outbox: crate::outbox::Outbox<Round>,
    ) -> std::io::Result<TimelineCollector> {
        let periodic = crate::periodic::Periodic::spawn(
            "gatewatch-timeline",
            "timeline collector",
            INTERVAL,
            outbox,
            move || {
                let mut collector = Collector::new(sources);
                move |round: &crate::periodic::Round<'_, Round>| {
                    let now = jiff::Timestamp::now().as_second();
                    round.deliver(collector.round(now))
                }
            },
        )?;
        Ok(TimelineCollector(periodic))
    }

    /// A round now instead of at the next tick; coalesced.
    pub fn rerun(&self) {
        self.0.rerun();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_that_cannot_be_read_is_said_once_and_its_events_wait() {
        let dir = tempfile::tempdir().expect("dir");
        let sources = Sources {
            container_socket: Some(dir.path().join("docker.sock")),
            ..Sources::nothing()
        };
        let mut collector = Collector::new(sources);
        let now = 1_800_000_000;
        let mut first = Round::default();
        collector.read_containers(now - 3600, now, &mut first);
        assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
        assert!(
            first.problems[0].contains("docker.sock")
                && first.problems[0].ends_with("container events are not on the timeline"),
            "{:?}",
            first.problems
        );
        let mut second = Round::default();
        collector.read_containers(now - 3600, now + 5, &mut second);
        assert!(second.problems.is_empty(), "{:?}", second.problems);
        assert!(second.events.is_empty() && second.containers.is_empty());
        // Without a socket there is nothing to say.
        let mut quiet = Collector::new(Sources::nothing());
        let mut round = Round::default();
        quiet.read_containers(now - 3600, now, &mut round);
        assert!(round.problems.is_empty());
    }
}
