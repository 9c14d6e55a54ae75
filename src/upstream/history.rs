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
/// What the rings of all targets together may hold, in bytes of samples: with many upstreams
/// each ring shrinks (see [`capacity_for`]). 24 MiB is 1.5M samples: ten minutes of 300 for
/// 5,242 upstreams, 157 each for 10,000.
pub const HISTORY_BUDGET_BYTES: usize = 24 << 20;
/// The fewest samples a ring keeps however many upstreams there are: the widest sparkline the
/// table draws on a 250-column terminal. Beyond 13,107 upstreams this floor, not the budget,
/// bounds the rings (a sparkline with holes would hide what it is there to show).
pub const MIN_CAPACITY: usize = 120;
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

/// One result without its strings, as [`History::samples`] hands it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub seq: u64,
    pub at: SystemTime,
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub latency: Option<Duration>,
}

/// A [`Sample`] as the ring keeps it, 16 bytes instead of 56: 10,000 upstreams keep
/// millions of them. Sequence and time count from the ring's [`Base`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed {
    /// `seq - base.seq`.
    seq: u32,
    /// Milliseconds after `base.at` (0 for a time before it: the clock went back).
    at_ms: u32,
    /// Microseconds, [`NO_LATENCY`] for none; a latency over 71 minutes is cut to that.
    latency_us: u32,
    /// 0 for none (no HTTP status is 0).
    status: u16,
    outcome: Outcome,
}

const NO_LATENCY: u32 = u32::MAX;

/// Where the packed sequence numbers and times of one ring count from.
#[derive(Clone, Copy, Debug)]
struct Base {
    seq: u64,
    at: SystemTime,
}

impl Base {
    /// Packs `s`, or `None` when it is too far past the base to fit (the caller rebases).
    fn pack(&self, s: &Sample) -> Option<Packed> {
        let seq = u32::try_from(s.seq.checked_sub(self.seq)?).ok()?;
        let at_ms = match s.at.duration_since(self.at) {
            Ok(d) => u32::try_from(d.as_millis()).ok()?,
            Err(_) => 0,
        };
        let latency_us = s.latency.map_or(NO_LATENCY, |l| {
            u32::try_from(l.as_micros()).map_or(NO_LATENCY - 1, |us| us.min(NO_LATENCY - 1))
        });
        Some(Packed {
            seq,
            at_ms,
            latency_us,
            status: s.status_code.unwrap_or(0),
            outcome: s.outcome,
        })
    }

    fn unpack(&self, p: &Packed) -> Sample {
        Sample {
            seq: self.seq + u64::from(p.seq),
            at: self.at + Duration::from_millis(u64::from(p.at_ms)),
            outcome: p.outcome,
            status_code: (p.status != 0).then_some(p.status),
            latency: (p.latency_us != NO_LATENCY)
                .then(|| Duration::from_micros(u64::from(p.latency_us))),
        }
    }
}

/// Samples each of `targets` rings keeps so that all of them stay within
/// [`HISTORY_BUDGET_BYTES`]: [`DEFAULT_CAPACITY`] up to 5,242 targets, then fewer, never below
/// [`MIN_CAPACITY`].
pub fn capacity_for(targets: usize) -> usize {
    let each = HISTORY_BUDGET_BYTES / (std::mem::size_of::<Packed>() * targets.max(1));
    each.clamp(MIN_CAPACITY, DEFAULT_CAPACITY)
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
    samples: VecDeque<Packed>,
    /// What `samples` count from: the oldest kept sample's, once one does not fit.
    base: Option<Base>,
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
            base: None,
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
        // Grown by doubling up to the capacity exactly: the default doubling would hold 512
        // slots for a ring of 300.
        if self.samples.len() == self.samples.capacity() {
            let more = self
                .samples
                .len()
                .max(4)
                .min(self.capacity - self.samples.len());
            self.samples.reserve_exact(more);
        }
        let packed = self.pack(&sample);
        self.samples.push_back(packed);
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

    /// Packs `s` against the base. When it is too far past it (a ring that lived 49 days, or
    /// sequence numbers 4 billion apart) the base moves to the oldest kept sample, or to `s`
    /// itself if even that is too far; kept samples that then do not fit keep their outcome and
    /// latency but count from the base.
    fn pack(&mut self, s: &Sample) -> Packed {
        if let Some(p) = self.base.and_then(|b| b.pack(s)) {
            return p;
        }
        let oldest = self
            .base
            .zip(self.samples.front())
            .map(|(b, p)| b.unpack(p));
        let base = oldest
            .map(|o| Base {
                seq: o.seq.min(s.seq),
                at: o.at.min(s.at),
            })
            .filter(|b| b.pack(s).is_some())
            .unwrap_or(Base {
                seq: s.seq,
                at: s.at,
            });
        if let Some(old) = self.base {
            for p in &mut self.samples {
                let full = old.unpack(p);
                *p = base.pack(&full).unwrap_or(Packed {
                    seq: 0,
                    at_ms: 0,
                    ..*p
                });
            }
        }
        self.base = Some(base);
        // `s` fits the base chosen above.
        base.pack(s).unwrap_or(Packed {
            seq: 0,
            at_ms: 0,
            latency_us: NO_LATENCY,
            status: 0,
            outcome: s.outcome,
        })
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
    pub fn samples(&self) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + '_ {
        self.recent(self.samples.len())
    }

    /// The last `n` samples (fewer if there are fewer), oldest first.
    pub fn recent(
        &self,
        n: usize,
    ) -> impl DoubleEndedIterator<Item = Sample> + ExactSizeIterator + '_ {
        // Samples exist only after a push, which sets the base.
        let base = self.base.unwrap_or(Base {
            seq: 0,
            at: SystemTime::UNIX_EPOCH,
        });
        self.samples
            .iter()
            .skip(self.samples.len().saturating_sub(n))
            .map(move |p| base.unpack(p))
    }

    /// Latencies of the last `n` samples, oldest first, `None` where the probe failed: a
    /// sparkline shows the gap instead of a misleading time-to-error.
    pub fn latencies(&self, n: usize) -> impl DoubleEndedIterator<Item = Option<Duration>> + '_ {
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
        let slow = last.latency_us != NO_LATENCY
            && Duration::from_micros(u64::from(last.latency_us)) > self.slow;
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
            cert_not_after: None,
            phases: crate::upstream::Phases::default(),
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

    #[test]
    fn a_kept_sample_is_16_bytes_and_reads_back_the_same() {
        assert!(
            std::mem::size_of::<Packed>() <= 16,
            "{}",
            std::mem::size_of::<Packed>()
        );
        let mut h = history();
        let mut answered = result(7, Outcome::BadStatus, 0);
        answered.status_code = Some(502);
        answered.latency = Some(Duration::from_micros(1_234));
        answered.at += Duration::from_millis(250);
        let sent = [
            result(5, Outcome::Ok, 42),
            result(6, Outcome::Timeout, 0),
            answered,
        ];
        for r in &sent {
            assert!(h.push(r.clone()));
        }
        let back: Vec<Sample> = h.samples().collect();
        let want: Vec<Sample> = sent.iter().map(Sample::from).collect();
        assert_eq!(back, want);
    }

    #[test]
    fn samples_far_apart_still_read_back_their_own_time_and_sequence() {
        // Sixty days between two probes (a paused VM, a long interval): past what 32 bits of
        // milliseconds hold from the first one, and sequence numbers further apart than 32 bits.
        let mut h = History::new(3, Duration::from_secs(1));
        let first = result(1, Outcome::Ok, 5);
        let mut later = result(1 << 40, Outcome::Refused, 0);
        later.at = first.at + Duration::from_secs(60 * 86_400);
        let mut next = result((1 << 40) + 1, Outcome::Ok, 7);
        next.at = later.at + Duration::from_secs(2);
        for r in [&first, &later, &next] {
            h.push(r.clone());
        }
        let back: Vec<(u64, SystemTime)> = h.samples().map(|s| (s.seq, s.at)).collect();
        assert_eq!(back[1..], [(later.seq, later.at), (next.seq, next.at)]);
        assert_eq!(
            h.samples().map(|s| s.outcome).collect::<Vec<_>>(),
            [Outcome::Ok, Outcome::Refused, Outcome::Ok],
            "the oldest keeps what it says even when its time no longer fits"
        );
        assert_eq!(h.state(), Some(State::Up));
        // A clock that went back reads as the base's time, never as a panic.
        let mut back_in_time = result((1 << 40) + 2, Outcome::Ok, 5);
        back_in_time.at = first.at - Duration::from_secs(10);
        assert!(h.push(back_in_time));
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn rings_shrink_with_many_targets_to_stay_in_the_budget() {
        assert_eq!(capacity_for(1), DEFAULT_CAPACITY);
        assert_eq!(capacity_for(5_000), DEFAULT_CAPACITY);
        let each = capacity_for(10_000);
        assert!((MIN_CAPACITY..DEFAULT_CAPACITY).contains(&each), "{each}");
        assert!(10_000 * each * std::mem::size_of::<Packed>() <= HISTORY_BUDGET_BYTES);
        assert_eq!(
            capacity_for(1_000_000),
            MIN_CAPACITY,
            "the sparkline's floor"
        );
        // The ring never allocates more than its capacity.
        let mut h = History::new(each, Duration::from_secs(1));
        for seq in 1..=1_000 {
            h.push(result(seq, Outcome::Ok, 5));
            assert!(
                h.samples.capacity() <= each.max(4),
                "{}",
                h.samples.capacity()
            );
        }
        assert_eq!(h.len(), each);
    }
}
