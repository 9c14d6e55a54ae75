//! Every watched upstream with its probe history, kept in "failing first" order, plus what
//! discovery could not probe or read.

use crate::upstream::MAX_IN_FLIGHT;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use crate::status::{Finding, Status};
use crate::upstream::catalog::{Catalog, Entry};
use crate::upstream::{History, Outcome, ProbeResult, Sample, State};

/// Results whose text (error, address) each row keeps for the detail view; the history keeps
/// the rest of them (time, outcome, status, latency) as compact samples.
pub const DETAIL_RESULTS: usize = 20;

/// The text of one of the last results, shown beside its sample in the detail view. Equal texts
/// in a row share one allocation: an upstream that keeps refusing says the same thing each
/// time, and 10,000 upstreams kept 20 whole results each (60 MB) before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultText {
    pub detail: Arc<str>,
    pub addr: Option<Arc<str>>,
}

#[derive(Debug)]
pub struct UpstreamRow {
    pub entry: Entry,
    pub history: History,
    /// The full error text and address of the last [`DETAIL_RESULTS`] results, newest last
    /// ([`UpstreamRow::recent_results`] joins them to their samples).
    pub recent: VecDeque<ResultText>,
    /// What the proxy's own API says of it, matched when each round of views arrives.
    pub proxy: Option<crate::proxy_view::ProxySays>,
    /// Why it has no result, when it was never probed on purpose: `check`'s time budget ran out
    /// before its turn ([`NOT_PROBED_BUDGET`]).
    pub not_probed: Option<&'static str>,
    /// Failed results since this row was made, per outcome (the exposition's counter): the
    /// history's ring forgets, a counter must not go down. Only outcomes seen take a slot.
    pub failures: Vec<(Outcome, u64)>,
    /// Where the last result's time went (the detail view shows it).
    pub phases: crate::upstream::Phases,
}

/// Why `check` reports an upstream without a result.
pub const NOT_PROBED_BUDGET: &str = "not probed: check's time budget ran out (see --timeout)";

impl UpstreamRow {
    /// Where the row sorts: down first, then degraded, not yet probed, up.
    fn rank(&self) -> u8 {
        match self.history.state() {
            Some(State::Down) => 0,
            Some(State::Degraded) => 1,
            None => 2,
            Some(State::Up) => 3,
        }
    }

    /// The last results with their text, oldest first.
    pub fn recent_results(
        &self,
    ) -> impl DoubleEndedIterator<Item = (Sample, &ResultText)> + ExactSizeIterator {
        // Both were pushed together, so their newest ends line up; a ring shorter than the
        // texts (never, above MIN_CAPACITY) drops the oldest texts.
        let n = self.history.len().min(self.recent.len());
        self.history
            .recent(n)
            .zip(self.recent.iter().skip(self.recent.len() - n))
    }

    /// "shop (127.0.0.1:8080)": what a finding calls this upstream.
    pub fn label(&self) -> String {
        let target = self.entry.upstream.url.to_string();
        if target.contains(&self.entry.upstream.name) {
            target
        } else {
            format!("{} ({target})", self.entry.upstream.name)
        }
    }
}

/// Where a target connects, without scheme or path: "127.0.0.1:35073", "[::1]:8443",
/// "unix:/run/php.sock".
pub fn address_text(url: &crate::config::Target) -> String {
    match (url.host(), url.port(), url) {
        (Some(h), Some(p), _) if h.contains(':') => format!("[{h}]:{p}"),
        (Some(h), Some(p), _) => format!("{h}:{p}"),
        (_, _, crate::config::Target::Unix { path }) => format!("unix:{}", path.display()),
        _ => url.to_string(),
    }
}

/// For each text, how many leading characters it shares with the most alike other one: a text
/// shortened in the middle keeps what follows them. Sorted neighbours are the most alike, so
/// this is one sort.
pub fn shared_prefixes<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let texts: Vec<&str> = texts.collect();
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i]);
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let mut out = vec![0; texts.len()];
    for pair in order.windows(2) {
        let n = common(texts[pair[0]], texts[pair[1]]);
        out[pair[0]] = out[pair[0]].max(n);
        out[pair[1]] = out[pair[1]].max(n);
    }
    out
}

#[derive(Debug, Default)]
pub struct Upstreams {
    pub rows: Vec<UpstreamRow>,
    /// Indices into `rows`, failing first; rebuilt only when some row's state changes.
    pub order: Vec<usize>,
    pub unprobeable: Vec<String>,
    /// Problems met reading the proxy configs.
    pub discovery: Vec<Finding>,
    /// "nginx /etc/nginx/nginx.conf (3 files)" for each proxy config read.
    pub read_from: Vec<String>,
    /// Where logs that go to no file can be read: "error_log goes to syslog (...) (file:line)".
    pub log_elsewhere: Vec<String>,
    /// Characters of the longest name and target, for the table's columns: measured once, not
    /// over 10,000 rows at every frame.
    pub longest_name: usize,
    pub longest_target: usize,
    /// The longest target as its address alone (what a target too wide shows).
    pub longest_address: usize,
    /// Per row, how many leading characters its name and its target share with the most alike
    /// other row's: a name shortened in the middle keeps what follows (see `shared_prefixes`).
    pub name_shared: Vec<usize>,
    pub target_shared: Vec<usize>,
    /// The same for each target's [`address_text`], what a column too narrow for the URL shows.
    pub address_shared: Vec<usize>,
}

impl Upstreams {
    pub fn new(catalog: &Catalog) -> Self {
        // Many upstreams keep shorter rings, all of them within the history's budget.
        let capacity = crate::upstream::capacity_for(catalog.entries.len());
        let rows: Vec<UpstreamRow> = catalog
            .entries
            .iter()
            .map(|e| UpstreamRow {
                history: History::new(capacity, e.upstream.slow),
                entry: e.clone(),
                recent: VecDeque::new(),
                proxy: None,
                not_probed: None,
                failures: Vec::new(),
                phases: Default::default(),
            })
            .collect();
        let longest = |f: fn(&UpstreamRow) -> usize| rows.iter().map(f).max().unwrap_or(0);
        let longest_name = longest(|r| r.entry.upstream.name.chars().count());
        let longest_target = longest(|r| r.entry.upstream.url.to_string().chars().count());
        let targets: Vec<String> = rows
            .iter()
            .map(|r| r.entry.upstream.url.to_string())
            .collect();
        let name_shared = shared_prefixes(rows.iter().map(|r| r.entry.upstream.name.as_str()));
        let target_shared = shared_prefixes(targets.iter().map(String::as_str));
        let addresses: Vec<String> = rows
            .iter()
            .map(|r| address_text(&r.entry.upstream.url))
            .collect();
        let address_shared = shared_prefixes(addresses.iter().map(String::as_str));
        let longest_address = addresses
            .iter()
            .map(|a| a.chars().count())
            .max()
            .unwrap_or(0);
        let mut view = Upstreams {
            longest_name,
            longest_target,
            longest_address,
            name_shared,
            target_shared,
            address_shared,
            order: (0..rows.len()).collect(),
            rows,
            unprobeable: catalog.unprobeable.clone(),
            discovery: catalog.findings.clone(),
            read_from: catalog.read_from.clone(),
            log_elsewhere: catalog
                .elsewhere
                .iter()
                .map(|e| {
                    crate::sanitize::sanitize(&format!("{} ({})", e.advice(), e.source))
                        .into_owned()
                })
                .collect(),
        };
        view.reorder();
        view
    }

    /// Records a result; returns whether the order of rows changed. Stale and unknown results
    /// are dropped.
    pub fn apply(&mut self, result: ProbeResult) -> bool {
        self.apply_all([result])
    }

    /// Records a batch of results and sorts the rows once for all of them (10,000 upstreams
    /// deliver thousands of results a second, and sorting after each cost seconds). Returns
    /// whether the order of rows changed.
    pub fn apply_all(&mut self, results: impl IntoIterator<Item = ProbeResult>) -> bool {
        let mut changed = false;
        for result in results {
            changed |= self.record(result);
        }
        if changed {
            self.reorder();
        }
        changed
    }

    /// Files one result without sorting; returns whether its row's state changed.
    fn record(&mut self, result: ProbeResult) -> bool {
        let Some(row) = self.rows.get_mut(result.target_index) else {
            return false;
        };
        let before = row.history.state();
        let text = match row.recent.back() {
            Some(prev)
                if *prev.detail == *result.detail
                    && prev.addr.as_deref() == result.addr.as_deref() =>
            {
                prev.clone()
            }
            _ => ResultText {
                detail: result.detail.as_str().into(),
                addr: result.addr.as_deref().map(Arc::from),
            },
        };
        let outcome = result.outcome;
        let phases = result.phases;
        if !row.history.push(result) {
            return false;
        }
        if !outcome.is_ok() {
            match row.failures.iter_mut().find(|(o, _)| *o == outcome) {
                Some((_, n)) => *n += 1,
                None => row.failures.push((outcome, 1)),
            }
        }
        row.not_probed = None;
        row.phases = phases;
        if row.recent.len() == DETAIL_RESULTS {
            row.recent.pop_front();
        } else if row.recent.capacity() == 0 {
            // Exactly: growing by doubling would hold 32.
            row.recent.reserve_exact(DETAIL_RESULTS);
        }
        row.recent.push_back(text);
        row.history.state() != before
    }

    /// Marks row `index` as left unprobed, and why.
    pub fn set_not_probed(&mut self, index: usize, why: &'static str) {
        if let Some(row) = self.rows.get_mut(index) {
            row.not_probed = Some(why);
        }
    }

    /// Rows with a result, and rows left unprobed on purpose.
    pub fn probe_counts(&self) -> (usize, usize) {
        let probed = self
            .rows
            .iter()
            .filter(|r| r.history.last().is_some())
            .count();
        let skipped = self.rows.iter().filter(|r| r.not_probed.is_some()).count();
        (probed, skipped)
    }

    fn reorder(&mut self) {
        let rows = &self.rows;
        self.order.sort_by(|&a, &b| {
            (rows[a].rank(), &rows[a].entry.upstream.name)
                .cmp(&(rows[b].rank(), &rows[b].entry.upstream.name))
        });
    }

    /// One finding per upstream that is not up, with its evidence; discovery problems too.
    pub fn findings(&self, now: SystemTime) -> Vec<Finding> {
        let mut out = self.discovery.clone();
        out.extend(self.behind(now));
        for &i in &self.order {
            let row = &self.rows[i];
            let Some(last) = row.history.last() else {
                continue;
            };
            let since = row
                .history
                .state_age(now)
                .map(|d| format!(" for {}", crate::upstream::format_age(d)))
                .unwrap_or_default();
            match row.history.state() {
                Some(State::Down) => {
                    let what = match last.status_code {
                        Some(code) => format!("answers {code}"),
                        None => last.outcome.as_str().replace('_', " "),
                    };
                    out.push(Finding::new(
                        Status::Critical,
                        format!("upstream {} {what}{since}", row.label()),
                    ));
                }
                Some(State::Degraded) if row.history.is_flapping() => {
                    out.push(Finding::new(
                        Status::Warning,
                        format!("upstream {} is flapping", row.label()),
                    ));
                }
                Some(State::Degraded) => {
                    let latency = last
                        .latency
                        .map(|l| format!("{} ms", l.as_millis()))
                        .unwrap_or_default();
                    out.push(Finding::new(
                        Status::Warning,
                        format!("upstream {} is slow: {latency}", row.label()),
                    ));
                }
                _ => {}
            }
        }
        out
    }
}

impl Upstreams {
    /// When the probes cannot keep up (more upstreams than [`MAX_IN_FLIGHT`] probes at a time
    /// get through in an interval), how many upstreams were last probed more than two intervals
    /// and a timeout ago: their states are that old.
    fn behind(&self, now: SystemTime) -> Option<Finding> {
        let late = self
            .rows
            .iter()
            .filter(|row| {
                let u = &row.entry.upstream;
                row.history.last().is_some_and(|last| {
                    now.duration_since(last.at)
                        .is_ok_and(|age| age > u.interval * 2 + u.timeout)
                })
            })
            .count();
        (late > 0).then(|| {
            Finding::new(
                Status::Warning,
                format!(
                    "probes fall behind: {late} of {} upstreams not probed for over two \
                     intervals (at most {MAX_IN_FLIGHT} probes at once); their states are old",
                    self.rows.len()
                ),
            )
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{HttpMethod, StatusRange, Target, Upstream};
    use std::time::Duration;

    pub(crate) fn entry(name: &str, port: u16) -> Entry {
        Entry {
            upstream: Upstream {
                name: name.into(),
                url: Target::Tcp {
                    host: "127.0.0.1".into(),
                    port,
                },
                timeout: Duration::from_secs(1),
                interval: Duration::from_secs(1),
                expect: StatusRange::DEFAULT,
                method: HttpMethod::Get,
                host: None,
                tls_verify: true,
                slow: Duration::from_millis(500),
                from: None,
            },
            group: None,
            source: "config".into(),
            flags: vec![],
            notes: vec![],
            limits: None,
        }
    }

    pub(crate) fn result(index: usize, seq: u64, outcome: Outcome) -> ProbeResult {
        ProbeResult {
            target_index: index,
            seq,
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 100 + seq),
            outcome,
            status_code: None,
            latency: outcome.is_ok().then(|| Duration::from_millis(3)),
            elapsed: Duration::from_millis(3),
            detail: String::new(),
            addr: None,
            cert_not_after: None,
            phases: crate::upstream::Phases::default(),
        }
    }

    pub(crate) fn view() -> Upstreams {
        let catalog = Catalog {
            entries: vec![entry("alpha", 1), entry("beta", 2), entry("gamma", 3)],
            ..Catalog::default()
        };
        Upstreams::new(&catalog)
    }

    #[test]
    fn upstreams_not_probed_for_two_intervals_and_a_timeout_are_behind() {
        // Interval 1 s, timeout 1 s: behind after 3 s without a result.
        let mut v = view();
        v.apply(result(0, 1, Outcome::Ok));
        v.apply(result(1, 2, Outcome::Ok));
        let at = |seq: u64| result(0, seq, Outcome::Ok).at;
        let behind = |v: &Upstreams, now| {
            v.findings(now)
                .into_iter()
                .find(|f| f.message.starts_with("probes fall behind"))
        };
        assert_eq!(behind(&v, at(2) + Duration::from_secs(2)), None);
        let f = behind(&v, at(1) + Duration::from_secs(4)).expect("alpha is behind");
        assert_eq!(f.status, Status::Warning);
        assert!(
            f.message
                .starts_with("probes fall behind: 1 of 3 upstreams"),
            "{}",
            f.message
        );
    }

    #[test]
    fn failing_rows_come_first_and_stale_results_are_dropped() {
        let mut v = view();
        assert!(!v.apply(result(0, 1, Outcome::Ok)) || v.order == [1, 2, 0]);
        v.apply(result(1, 2, Outcome::Ok));
        v.apply(result(2, 3, Outcome::Refused));
        assert_eq!(v.order, [2, 0, 1], "down first, then up rows by name");
        assert!(
            !v.apply(result(2, 1, Outcome::Ok)),
            "an older result is stale"
        );
        assert_eq!(v.rows[2].history.state(), Some(State::Down));
        assert!(v.apply(result(2, 4, Outcome::Ok)));
        assert_eq!(v.order, [0, 1, 2]);
        assert!(!v.apply(result(7, 5, Outcome::Ok)), "unknown target");
    }

    #[test]
    fn a_down_upstream_is_a_critical_finding_with_its_evidence() {
        let mut v = view();
        v.apply(result(1, 10, Outcome::Refused));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // Its one result is 90 s old: the probes are behind too.
        let f = v.findings(now);
        let critical: Vec<_> = f.iter().filter(|f| f.status == Status::Critical).collect();
        assert_eq!(critical.len(), 1, "{f:?}");
        assert_eq!(
            critical[0].message,
            "upstream beta (tcp://127.0.0.1:2) refused for 1m30s"
        );
    }

    #[test]
    fn the_last_results_keep_their_text_once_per_change_beside_their_samples() {
        let mut v = view();
        let mut seq = 0;
        let mut push = |v: &mut Upstreams, outcome: Outcome, detail: &str| {
            seq += 1;
            let mut r = result(0, seq, outcome);
            r.detail = detail.into();
            r.addr = Some("127.0.0.1:1".into());
            v.apply(r);
        };
        for _ in 0..DETAIL_RESULTS + 5 {
            push(&mut v, Outcome::Refused, "connection refused");
        }
        push(&mut v, Outcome::Ok, "HTTP 200 OK");
        let row = &v.rows[0];
        assert_eq!(row.recent.len(), DETAIL_RESULTS);
        assert_eq!(row.recent.capacity(), DETAIL_RESULTS);
        let shown: Vec<(u64, Outcome, &str)> = row
            .recent_results()
            .map(|(s, t)| (s.seq, s.outcome, &*t.detail))
            .collect();
        assert_eq!(shown.len(), DETAIL_RESULTS);
        assert_eq!(shown[0], (7, Outcome::Refused, "connection refused"));
        assert_eq!(
            shown[DETAIL_RESULTS - 1],
            (26, Outcome::Ok, "HTTP 200 OK"),
            "newest last, its own text"
        );
        assert!(
            Arc::ptr_eq(
                &row.recent[0].detail,
                &row.recent[DETAIL_RESULTS - 2].detail
            ),
            "one allocation for a text repeated"
        );
        v.apply(result(0, 3, Outcome::Ok));
        assert_eq!(
            v.rows[0].recent_results().last().map(|(s, _)| s.seq),
            Some(26),
            "a stale result keeps no text"
        );
    }
}
