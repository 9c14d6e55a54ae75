//! Per-target history: a bounded ring of compact samples, and the up / degraded / down state.
//!
//! The state rule:
//! - `down`: the last result is not `ok`.
//! - `degraded`: the last result is `ok` but slower than the upstream's `slow`, or the target is
//!   flapping: at least [`FLAP_CHANGES`] changes between ok and not-ok among the last
//!   [`FLAP_WINDOW`] results (an upstream that fails every other request shows up as 502s in the
//!   proxy even while each single probe looks fine).
//! - `up`: otherwise.
//!
//! A `local_limit` result (this host had no free port or file descriptor for the probe) says
//! nothing about the upstream, so it is kept in the ring (the operator sees it, and the sparkline
//! shows a gap) but every judgement above skips it: the state stays what the last informative
//! result made it (none if there was none), flapping is counted between informative results, and
//! the success percent is over informative results only. Otherwise a host out of ports would
//! paint every healthy upstream down, which is exactly the misdiagnosis this tool exists to avoid.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Outcome, ProbeResult};
use crate::config::Upstream;

/// Samples kept per target: ten minutes at the default 2 s interval.
pub const DEFAULT_CAPACITY: usize = 300;
/// Results looked at to decide whether a target is flapping.
pub const FLAP_WINDOW: usize = 10;
/// Changes between ok and not-ok within [`FLAP_WINDOW`] that make a target flapping.
pub const FLAP_CHANGES: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Up,
    Degraded,
    Down,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One result without its strings: cheap enough to keep hundreds per target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub seq: u64,
    pub at: SystemTime,
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub latency: Option<Duration>,
}

impl From<&ProbeResult> for Sample {
    fn from(r: &ProbeResult) -> Self {
        Sample {
            seq: r.seq,
            at: r.at,
            outcome: r.outcome,
            status_code: r.status_code,
            latency: r.latency,
        }
    }
}

#[derive(Clone, Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    capacity: usize,
    slow: Duration,
    /// Kept whole for its detail and address.
    last: Option<ProbeResult>,
    /// The latest failure, so its reason stays visible after the target recovers.
    last_failure: Option<ProbeResult>,
    ok_count: usize,
    /// Samples in the ring that say nothing about the upstream (see the module doc).
    local_count: usize,
    state: Option<(State, SystemTime)>,
}

/// Whether a result says anything about the upstream.
fn informative(outcome: Outcome) -> bool {
    outcome != Outcome::LocalLimit
}

impl History {
    /// `capacity` is at least 1; `slow` is the latency above which an ok result is degraded.
    pub fn new(capacity: usize, slow: Duration) -> Self {
        let capacity = capacity.max(1);
        History {
            // Grown as results come: reserving ten minutes up front for each of 10,000 upstreams
            // took 140 MB before the first probe (and `check` keeps one result each).
            samples: VecDeque::new(),
            capacity,
            slow,
            last: None,
            last_failure: None,
            ok_count: 0,
            local_count: 0,
            state: None,
        }
    }

    /// [`DEFAULT_CAPACITY`] samples and the upstream's `slow`.
    pub fn for_upstream(upstream: &Upstream) -> Self {
        History::new(DEFAULT_CAPACITY, upstream.slow)
    }

    /// Adds a result; returns false (and keeps nothing) for one older than the last, a stale
    /// result that arrived late.
    pub fn push(&mut self, result: ProbeResult) -> bool {
        if self
            .last
            .as_ref()
            .is_some_and(|last| result.seq <= last.seq)
        {
            return false;
        }
        if self.samples.len() == self.capacity
            && let Some(old) = self.samples.pop_front()
        {
            self.ok_count -= usize::from(old.outcome.is_ok());
            self.local_count -= usize::from(!informative(old.outcome));
        }
        let sample = Sample::from(&result);
        self.ok_count += usize::from(sample.outcome.is_ok());
        self.local_count += usize::from(!informative(sample.outcome));
        self.samples.push_back(sample);
        let state = self.compute_state();
        if self.state.map(|(current, _)| current) != state {
            self.state = state.map(|s| (s, result.at));
        }
        if !result.outcome.is_ok() {
            self.last_failure = Some(result.clone());
        }
        self.last = Some(result);
        true
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn last(&self) -> Option<&ProbeResult> {
        self.last.as_ref()
    }

    pub fn last_failure(&self) -> Option<&ProbeResult> {
        self.last_failure.as_ref()
    }

    /// Every sample, oldest first.
    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }

    /// The last `n` samples (fewer if there are fewer), oldest first.
    pub fn recent(&self, n: usize) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples
            .iter()
            .skip(self.samples.len().saturating_sub(n))
    }

    /// Latencies of the last `n` samples, oldest first, `None` where the probe failed: a
    /// sparkline shows the gap instead of a misleading time-to-error.
    pub fn latencies(&self, n: usize) -> impl DoubleEndedIterator<Item = Option<Duration>> {
        self.recent(n)
            .map(|s| if s.outcome.is_ok() { s.latency } else { None })
    }

    /// Percent of ok results over the informative results of the whole history; `None` before
    /// the first informative result.
    pub fn success_percent(&self) -> Option<f64> {
        let judged = self.samples.len() - self.local_count;
        if judged == 0 {
            return None;
        }
        Some(self.ok_count as f64 * 100.0 / judged as f64)
    }

    /// `None` before the first result.
    pub fn state(&self) -> Option<State> {
        self.state.map(|(state, _)| state)
    }

    /// When the current state began: the time of the probe that entered it.
    pub fn state_since(&self) -> Option<SystemTime> {
        self.state.map(|(_, since)| since)
    }

    /// How long the current state has lasted at `now` (zero if the clock went back).
    pub fn state_age(&self, now: SystemTime) -> Option<Duration> {
        self.state_since()
            .map(|since| now.duration_since(since).unwrap_or_default())
    }

    /// At least [`FLAP_CHANGES`] ok/not-ok changes among the last [`FLAP_WINDOW`] informative
    /// results.
    pub fn is_flapping(&self) -> bool {
        let mut window: Vec<bool> = self
            .samples
            .iter()
            .rev()
            .filter(|s| informative(s.outcome))
            .take(FLAP_WINDOW)
            .map(|s| s.outcome.is_ok())
            .collect();
        window.reverse();
        let changes = window.windows(2).filter(|pair| pair[0] != pair[1]).count();
        changes >= FLAP_CHANGES
    }

    fn compute_state(&self) -> Option<State> {
        let last = self.samples.iter().rev().find(|s| informative(s.outcome))?;
        if !last.outcome.is_ok() {
            return Some(State::Down);
        }
        let slow = last.latency.is_some_and(|latency| latency > self.slow);
        if slow || self.is_flapping() {
            Some(State::Degraded)
        } else {
            Some(State::Up)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seq: u64, outcome: Outcome, latency_ms: u64) -> ProbeResult {
        ProbeResult {
            target_index: 0,
            seq,
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
            outcome,
            status_code: None,
            latency: outcome.is_ok().then(|| Duration::from_millis(latency_ms)),
            elapsed: Duration::from_millis(latency_ms),
            detail: String::new(),
            addr: None,
        }
    }

    fn history() -> History {
        History::new(DEFAULT_CAPACITY, Duration::from_millis(500))
    }

    #[test]
    fn no_state_before_the_first_result() {
        let h = history();
        assert_eq!(h.state(), None);
        assert_eq!(h.success_percent(), None);
        assert_eq!(h.state_age(SystemTime::now()), None);
        assert!(h.is_empty());
    }

    #[test]
    fn ring_is_bounded_and_success_follows_what_is_kept() {
        let mut h = History::new(4, Duration::from_secs(1));
        for seq in 1..=10 {
            let outcome = if seq <= 6 {
                Outcome::Refused
            } else {
                Outcome::Ok
            };
            assert!(h.push(result(seq, outcome, 5)));
        }
        assert_eq!(h.len(), 4);
        assert_eq!(h.capacity(), 4);
        let seqs: Vec<u64> = h.samples().map(|s| s.seq).collect();
        assert_eq!(seqs, vec![7, 8, 9, 10]);
        assert_eq!(h.success_percent(), Some(100.0));
        let seqs: Vec<u64> = h.recent(2).map(|s| s.seq).collect();
        assert_eq!(seqs, vec![9, 10]);
        assert_eq!(h.recent(99).len(), 4);
    }

    #[test]
    fn down_when_the_last_result_failed_and_since_when() {
        let mut h = history();
        h.push(result(1, Outcome::Ok, 5));
        h.push(result(2, Outcome::Timeout, 0));
        h.push(result(3, Outcome::Timeout, 0));
        assert_eq!(h.state(), Some(State::Down));
        assert_eq!(
            h.state_since(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2))
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(h.state_age(now), Some(Duration::from_secs(8)));
        assert_eq!(h.last().map(|r| r.seq), Some(3));
        assert_eq!(h.last_failure().map(|r| r.outcome), Some(Outcome::Timeout));
        assert_eq!(h.success_percent(), Some(100.0 / 3.0));
    }

    #[test]
    fn slow_answers_are_degraded() {
        let mut h = history();
        h.push(result(1, Outcome::Ok, 100));
        assert_eq!(h.state(), Some(State::Up));
        h.push(result(2, Outcome::Ok, 900));
        assert_eq!(h.state(), Some(State::Degraded));
        h.push(result(3, Outcome::Ok, 500));
        assert_eq!(h.state(), Some(State::Up), "exactly `slow` is not slower");
    }

    #[test]
    fn flapping_is_degraded_until_it_settles() {
        let mut h = history();
        let pattern = [true, false, true, false, true];
        for (i, ok) in pattern.into_iter().enumerate() {
            let outcome = if ok { Outcome::Ok } else { Outcome::Reset };
            h.push(result(i as u64 + 1, outcome, 5));
        }
        assert!(h.is_flapping());
        assert_eq!(h.state(), Some(State::Degraded));
        // Two changes are not flapping yet: ok, fail, ok.
        let mut calm = history();
        for (seq, outcome) in [(1, Outcome::Ok), (2, Outcome::Reset), (3, Outcome::Ok)] {
            calm.push(result(seq, outcome, 5));
        }
        assert_eq!(calm.state(), Some(State::Up));
        // Enough steady results push the changes out of the window.
        for seq in 6..6 + FLAP_WINDOW as u64 {
            h.push(result(seq, Outcome::Ok, 5));
        }
        assert!(!h.is_flapping());
        assert_eq!(h.state(), Some(State::Up));
    }

    #[test]
    fn local_limits_keep_the_state_and_busy_is_down() {
        let mut h = history();
        h.push(result(1, Outcome::LocalLimit, 0));
        assert_eq!(h.state(), None, "nothing is known about the upstream yet");
        assert_eq!(h.success_percent(), None);
        assert_eq!(h.last().map(|r| r.outcome), Some(Outcome::LocalLimit));
        h.push(result(2, Outcome::Ok, 5));
        assert_eq!(h.state(), Some(State::Up));
        let up_since = h.state_since();
        // The host runs out of ports: the upstream stays up, since when it was up.
        for seq in 3..=8 {
            h.push(result(seq, Outcome::LocalLimit, 0));
        }
        assert_eq!(h.state(), Some(State::Up));
        assert_eq!(h.state_since(), up_since);
        assert_eq!(h.success_percent(), Some(100.0));
        assert_eq!(
            h.last_failure().map(|r| r.outcome),
            Some(Outcome::LocalLimit)
        );
        // Interleaved with ok results, local limits are not flapping either.
        h.push(result(9, Outcome::Ok, 5));
        h.push(result(10, Outcome::LocalLimit, 0));
        h.push(result(11, Outcome::Ok, 5));
        assert!(!h.is_flapping());
        assert_eq!(h.state(), Some(State::Up));
        // A real failure before the limit stays down through it.
        h.push(result(12, Outcome::Busy, 0));
        assert_eq!(h.state(), Some(State::Down));
        h.push(result(13, Outcome::LocalLimit, 0));
        assert_eq!(h.state(), Some(State::Down));
        assert_eq!(h.success_percent(), Some(300.0 / 4.0));
        // Counters follow what the ring keeps when local limits fall out of it.
        let mut small = History::new(2, Duration::from_secs(1));
        small.push(result(1, Outcome::LocalLimit, 0));
        small.push(result(2, Outcome::LocalLimit, 0));
        small.push(result(3, Outcome::Ok, 5));
        small.push(result(4, Outcome::Refused, 0));
        assert_eq!(small.success_percent(), Some(50.0));
        assert_eq!(small.state(), Some(State::Down));
    }

    #[test]
    fn stale_results_are_ignored() {
        let mut h = history();
        assert!(h.push(result(5, Outcome::Ok, 5)));
        assert!(!h.push(result(4, Outcome::Refused, 0)));
        assert!(!h.push(result(5, Outcome::Refused, 0)));
        assert_eq!(h.len(), 1);
        assert_eq!(h.state(), Some(State::Up));
    }

    #[test]
    fn latency_series_has_gaps_for_failures() {
        let mut h = history();
        h.push(result(1, Outcome::Ok, 10));
        let mut bad = result(2, Outcome::BadStatus, 0);
        bad.latency = Some(Duration::from_millis(3));
        h.push(bad);
        h.push(result(3, Outcome::Ok, 30));
        let series: Vec<Option<Duration>> = h.latencies(3).collect();
        assert_eq!(
            series,
            vec![
                Some(Duration::from_millis(10)),
                None,
                Some(Duration::from_millis(30))
            ]
        );
    }
}
