//! `gatewatch check` and `gatewatch report`: one round of every collector, filed into the same
//! [`Model`] the dashboard keeps and judged by the same [`assess`]. Formatting is `report`'s.

use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::actions::{self, ServiceSpec, ServiceStatus};
use crate::config::Upstream;
use crate::dns::{self, DnsLookups, DnsRound, DnsSettings};
use crate::firewall::{self, FirewallSummary};
use crate::host::{HostCollector, HostSample};
use crate::logs::{self, Origin, ScanSpan, SourceLog, SourceSpec, Tally, TimeParser};
use crate::model::upstreams::NOT_PROBED_BUDGET;
use crate::model::{Assessment, Model, Watch, assess, unix_seconds};
use crate::proxy_view::{self, ProxyView};
use crate::status::{Finding, Status};
use crate::timeline::collect::Sources as TimelineSources;
use crate::timeline::proxy_notices::NoticeReader;
use crate::timeline::{History, HistorySpan, scan_history_before};
use crate::upstream::catalog::Catalog;
use crate::upstream::{self, ProbeResult};

/// Most of `check`'s time budget kept back from the probes for judging and printing (a tenth of
/// the budget, up to this).
const PRINT_RESERVE: Duration = Duration::from_secs(1);

/// What one round looks at.
pub struct Round<'a> {
    pub catalog: &'a Catalog,
    pub dns: &'a DnsSettings,
    /// Where the incident timeline reads.
    pub timeline: &'a TimelineSources,
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
    /// `None` when the sample did not finish in time.
    pub sample: Option<HostSample>,
    /// One result per upstream probed; fewer than the catalog's upstreams when some could not
    /// be probed at all.
    pub probes: Vec<ProbeResult>,
    /// Upstreams (by index) whose probe had not finished when the time budget ran out.
    pub not_probed: Vec<usize>,
    pub dns: Option<DnsRound>,
    pub firewall: Option<FirewallSummary>,
    pub gateway: Option<ProbeResult>,
    pub services: Vec<ServiceStatus>,
    /// Each scanned log file, by its index in the round's sources.
    pub logs: Vec<(usize, SourceLog)>,
    /// Each log file's past over the timeline's span, read on from where its scan stopped.
    pub histories: Vec<(usize, History)>,
    /// Each proxy API's own view of its upstreams, in the catalog's order.
    pub proxy_views: Vec<ProxyView>,
    /// The timeline's round: each log's past over the span, and the events recorded.
    pub timeline: Option<crate::timeline::collect::Round>,
    /// What did not finish before the deadline, e.g. "the DNS lookups": each becomes an unknown
    /// finding.
    pub unfinished: Vec<&'static str>,
}

/// One round of every collector, judged: [`collect`], then [`judge`].
pub fn run(round: &Round<'_>, timeout: Duration) -> (Model, Assessment) {
    let collected = collect(round, timeout);
    judge(round, collected, SystemTime::now())
}

/// Samples the host, reads the firewall, probes every upstream (and the gateway), resolves every
/// name, checks every service and scans the logs, all at the same time. What has not
/// finished `timeout` after the start is left out and named in [`Collected::unfinished`].
pub fn collect(round: &Round<'_>, timeout: Duration) -> Collected {
    let deadline = Instant::now() + timeout;
    // Probes stop a little before the deadline, so judging and printing 10,000 rows fit in it.
    let probes_by = deadline - (timeout / 10).min(PRINT_RESERVE);
    let sampler = on_thread(|| HostCollector::new().sample());
    let specs = round.services.to_vec();
    let statuses = on_thread(move || actions::check_all(&specs));
    let reader = on_thread(firewall::collect);
    let log_scan = start_log_scan(round.logs, round.lines_past_window, round.timeline.span);
    // The logs' past is read by the log scan, which goes on from where the window stopped.
    let sources = TimelineSources {
        logs: Vec::new(),
        ..round.timeline.clone()
    };
    let timeline = on_thread(move || {
        let now = unix_seconds(SystemTime::now());
        crate::timeline::collect::Collector::new(sources).round(now)
    });
    let apis = round.catalog.apis.clone();
    let views = (!apis.is_empty()).then(|| on_thread(move || proxy_view::read_all(&apis)));
    let upstreams = round.catalog.upstreams();
    let wants_dns = round.dns.names.iter().any(|n| !dns::is_ip_literal(n));
    let mut unfinished = Vec::new();
    let (probes, dns_round, gateway) = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let found = rt.block_on(async {
                let by = tokio::time::Instant::from_std(deadline);
                let dns_round = async {
                    if wants_dns {
                        let mut lookups = DnsLookups::new(round.dns.clone());
                        Some(tokio::time::timeout_at(by, lookups.round()).await.ok())
                    } else {
                        None
                    }
                };
                let gateway_probe = async {
                    match round.gateway {
                        Some(g) => Some(
                            tokio::time::timeout_at(by, upstream::probe_once(g))
                                .await
                                .ok(),
                        ),
                        None => None,
                    }
                };
                tokio::join!(
                    upstream::probe_all_by(&upstreams, tokio::time::Instant::from_std(probes_by)),
                    dns_round,
                    gateway_probe
                )
            });
            // Whatever is still running (a blocking lookup, say) must not hold the exit up.
            rt.shutdown_background();
            let (probes, dns_round, gateway) = found;
            if dns_round == Some(None) {
                unfinished.push("the DNS lookups");
            }
            if gateway == Some(None) {
                unfinished.push("the gateway probe");
            }
            (probes, dns_round.flatten(), gateway.flatten())
        }
        Err(e) => {
            tracing::error!("no async runtime for the probes: {e}");
            (Vec::new(), None, None)
        }
    };
    let mut not_probed = Vec::new();
    let probes = probes
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            if r.is_none() {
                not_probed.push(i);
            }
            r
        })
        .collect();
    let sample = sampler.by(deadline, "the host sample", &mut unfinished);
    let firewall = reader.by(deadline, "the firewall rules", &mut unfinished);
    let services = statuses
        .by(deadline, "the service checks", &mut unfinished)
        .unwrap_or_default();
    let (logs, histories) = log_scan.by(deadline);
    let logged = dns::unresolved_in(
        logs.iter().map(|(_, s)| &s.tally),
        logs::DEFAULT_WINDOW,
        unix_seconds(SystemTime::now()),
        &round.dns.names,
    );
    let dns_round = ask_logged(round.dns, dns_round, logged, deadline, &mut unfinished);
    let timeline = timeline.by(deadline, "the incident timeline", &mut unfinished);
    let proxy_views = views
        .and_then(|v| v.by(deadline, "the proxies' own views", &mut unfinished))
        .unwrap_or_default();
    Collected {
        sample,
        probes,
        not_probed,
        dns: dns_round,
        firewall,
        gateway,
        services,
        logs,
        histories,
        proxy_views,
        timeline,
        unfinished,
    }
}

/// Names the proxy's log could not resolve and no one watches (a variable in `proxy_pass`):
/// asked through every nameserver too, the proxy's own `resolver` among them, their rows added
/// to the round's. After the log scan, within the same deadline.
fn ask_logged(
    settings: &DnsSettings,
    dns: Option<DnsRound>,
    names: Vec<String>,
    deadline: Instant,
    unfinished: &mut Vec<&'static str>,
) -> Option<DnsRound> {
    if names.is_empty() {
        return dns;
    }
    let settings = DnsSettings {
        names,
        ports: Vec::new(),
        ..settings.clone()
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("no async runtime for the names from the logs: {e}");
            return dns;
        }
    };
    let by = tokio::time::Instant::from_std(deadline);
    let extra = rt.block_on(async {
        tokio::time::timeout_at(by, DnsLookups::new(settings).round())
            .await
            .ok()
    });
    rt.shutdown_background();
    let Some(extra) = extra else {
        unfinished.push("the DNS lookups of the names in the logs");
        return dns;
    };
    Some(match dns {
        Some(mut round) => {
            round.results.extend(extra.results);
            round
        }
        None => extra,
    })
}

/// A collector running on a thread of its own, so waiting for it can be given up on.
struct Pending<T>(mpsc::Receiver<T>);

fn on_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        // The receiver is gone only when the deadline passed: nobody wants the result then.
        let _ = tx.send(job());
    });
    Pending(rx)
}

impl<T> Pending<T> {
    /// Its result if it arrives by `deadline`; else `what` is added to `unfinished`. The thread
    /// is left behind: `check` exits once it has printed, which ends it.
    fn by(
        self,
        deadline: Instant,
        what: &'static str,
        unfinished: &mut Vec<&'static str>,
    ) -> Option<T> {
        match self
            .0
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(result) => Some(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                unfinished.push(what);
                None
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                tracing::error!("{what}: the collector thread panicked");
                unfinished.push(what);
                None
            }
        }
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
        span: round.timeline.span,
    });
    if let Some(sample) = collected.sample {
        model.apply_host(sample);
    }
    model.unchecked.extend(round.notices.iter().cloned());
    for what in collected.unfinished {
        model.unchecked.push(Finding::new(
            Status::Unknown,
            format!("{what} did not finish before the deadline (see --timeout)"),
        ));
    }
    let upstreams = round.catalog.entries.len();
    if collected.probes.len() + collected.not_probed.len() < upstreams {
        model.unchecked.push(Finding::new(
            Status::Unknown,
            "some upstreams could not be probed",
        ));
    }
    if !collected.not_probed.is_empty() {
        model.unchecked.push(Finding::new(
            Status::Unknown,
            format!(
                "{} of {upstreams} upstreams not probed: check's time budget ran out (see \
                 --timeout)",
                collected.not_probed.len()
            ),
        ));
    }
    for &i in &collected.not_probed {
        model.upstreams.set_not_probed(i, NOT_PROBED_BUDGET);
    }
    model.apply_probes(collected.probes, now);
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
    model.apply_proxy_views(collected.proxy_views);
    for (i, source) in collected.logs {
        model.set_scanned_log(i, source);
    }
    let mut timeline = collected.timeline.unwrap_or_default();
    timeline.histories.extend(collected.histories);
    model.apply_timeline(timeline, now);
    let judged = assess(&model, now);
    (model, judged)
}

/// Scans the recent end of every log file, in one backward pass each (the window's counts and
/// the newest failing lines), and the window of every journal and container source (their
/// program run once, time-limited), on a thread of its own; each result is sent as soon as it
/// is ready. A streaming command cannot be scanned after the fact.
fn start_log_scan(sources: &[SourceSpec], lines_past_window: bool, span: Duration) -> LogScan {
    let scanned: Vec<(usize, String, SourceSpec)> = sources
        .iter()
        .enumerate()
        .filter(|(_, spec)| match &spec.origin {
            Origin::File(_) | Origin::Journal { .. } | Origin::Container { .. } => true,
            Origin::Glob(_) | Origin::Command(_) => false,
        })
        .map(|(i, spec)| (i, spec.label(), spec.clone()))
        .collect();
    let history_span = span;
    let (tx, rx) = mpsc::channel();
    let labels = scanned
        .iter()
        .map(|(i, label, ..)| (*i, label.clone()))
        .collect();
    std::thread::spawn(move || {
        let now = unix_seconds(SystemTime::now());
        let span = ScanSpan {
            lines_past_window,
            ..ScanSpan::recent(now)
        };
        let history_span = HistorySpan {
            span: history_span,
            ..HistorySpan::recent(now)
        };
        for (i, label, spec) in scanned {
            let scanned = match &spec.origin {
                Origin::File(path) => {
                    let (source, history) =
                        scan_file(&label, path, spec.kind, &span, &history_span);
                    (i, source, Some(history))
                }
                origin => (i, logs::scan_stream(label, origin, spec.kind, &span), None),
            };
            if tx.send(scanned).is_err() {
                return; // past the deadline: nobody is waiting
            }
        }
    });
    LogScan { labels, rx }
}

/// A log file's window and, read on from where the window stopped, its past over the span with
/// the proxy's notices of both: each byte read once.
fn scan_file(
    label: &str,
    path: &std::path::Path,
    kind: Option<crate::config::LogKind>,
    span: &ScanSpan,
    history_span: &HistorySpan,
) -> (SourceLog, History) {
    let mut reader = NoticeReader::new(TimeParser::at(span.tz.clone(), span.now));
    let mut notices = Vec::new();
    let scanned = logs::scan_source_with(label.to_owned(), path, kind, span, &mut |line| {
        notices.extend(reader.notice(line, label));
    });
    let mut history = scan_history_before(label, path, kind, history_span, scanned.floor);
    // Read newest first: the window's notices are the newest, and the list is oldest first.
    notices.reverse();
    history.notices.extend(notices);
    (scanned.log, history)
}

/// Each log scanned, and each file's past, by the log's index among the sources.
type Scans = (Vec<(usize, SourceLog)>, Vec<(usize, History)>);

struct LogScan {
    /// Index and label of each file to scan, in order.
    labels: Vec<(usize, String)>,
    rx: mpsc::Receiver<(usize, SourceLog, Option<History>)>,
}

impl LogScan {
    /// What was scanned by `deadline`, and each file's past; a log not reached has an error
    /// saying so.
    fn by(self, deadline: Instant) -> Scans {
        let mut done = Vec::with_capacity(self.labels.len());
        let mut histories = Vec::new();
        while done.len() < self.labels.len() {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok((i, source, history)) => {
                    done.push((i, source));
                    histories.extend(history.map(|h| (i, h)));
                }
                Err(_) => break,
            }
        }
        for (i, label) in self.labels.into_iter().skip(done.len()) {
            let why = "not scanned: the deadline passed first (see --timeout)".to_string();
            done.push((
                i,
                SourceLog::scanned(label, None, Some(why), Tally::default(), vec![]),
            ));
        }
        (done, histories)
    }
}
