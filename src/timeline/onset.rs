//! When the current failure began, from 502-class events per minute.
//!
//! The rules, in order:
//!
//! 1. **Clean the series.** Minutes more than [`FUTURE_SLACK`] ahead of `now` are dropped (a
//!    clock that jumped), as are minutes older than [`MAX_SPAN`] before it; times are floored to
//!    their minute, sorted, and counts of the same minute added up (out-of-order lines, two
//!    logs). Missing minutes count zero, up to the last complete minute before `now`, so a
//!    failure that stopped shows as quiet minutes rather than as nothing.
//! 2. **The current episode** under a threshold `t`: the last minute above `t`, and before it
//!    every minute above `t` not separated from it by [`QUIET_GAP`] or more minutes at or below
//!    `t`. The episode's first minute is the onset.
//! 3. **The baseline** is the median of the minutes before the onset (the upper middle of an
//!    even count), and `t = max(FLOOR, FACTOR × baseline)`: a minute is a rise when its count is
//!    above both 3 and three times the usual. Rules 2 and 3 depend on each other, so `t` starts
//!    at [`FLOOR`] and both are repeated (at most [`ROUNDS`] times) until `t` stops changing.
//!    When the episode starts at the series' first minute there is no baseline before it: `t`
//!    is then tried at three times the median of the whole series, which finds a spike over a
//!    steady background of 502s; if that finds none, the failure began before the series did
//!    and the onset is unknown (`at: None`) though the state is not `None`.
//! 4. **The state**: `None` without any minute above `t`; `Over` when the last minute above is
//!    [`QUIET_GAP`] or more minutes before the series' end; `Ongoing` when the last two minutes
//!    are both above, or the episode began in the last minute (a failure seconds old has no
//!    quiet minute to be intermittent with); `Intermittent` otherwise (rise minutes with quiet
//!    ones between or after them, a lone spike followed by quiet, a pause of less than
//!    [`QUIET_GAP`] minutes).

use serde::Serialize;

/// A minute must have more than this many 502s to be a rise, whatever the baseline.
pub const FLOOR: u64 = 3;
/// ... and more than this many times the baseline.
pub const FACTOR: u64 = 3;
/// Quiet minutes that end an episode.
pub const QUIET_GAP: usize = 5;
/// Minutes older than this before `now` are not looked at (seconds).
pub const MAX_SPAN: i64 = 24 * 3600;
/// Minutes this far ahead of `now` are still counted (clocks a little apart), in seconds.
pub const FUTURE_SLACK: i64 = 60;
/// Rounds of threshold refinement at most.
pub const ROUNDS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnsetState {
    Ongoing,
    Intermittent,
    Over,
    None,
}

impl OnsetState {
    /// The name `check --json` uses (the serde name).
    pub fn name(self) -> &'static str {
        match self {
            OnsetState::Ongoing => "ongoing",
            OnsetState::Intermittent => "intermittent",
            OnsetState::Over => "over",
            OnsetState::None => "none",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Onset {
    /// Unix time of the first minute of the current episode; `None` when there is none or it
    /// began before the series.
    pub at: Option<i64>,
    pub state: OnsetState,
    /// Unix time of the episode's last minute above the threshold.
    pub last: Option<i64>,
    /// Unix time of the episode's first minute, known or not: when `at` is `None` it is the
    /// series' first minute (the caller may know more of it, see `story::judge`).
    #[serde(skip)]
    pub first: Option<i64>,
    /// The threshold the episode was judged against (502s per minute).
    pub threshold: u64,
}

/// The onset of the current failure; `minutes` are `(unix time of the minute, 502-class
/// events in it)`, oldest first (or in any order: they are sorted), and `now` is unix seconds.
pub fn onset(minutes: &[(i64, u64)], now: i64) -> Onset {
    let (first, counts) = dense(minutes, now);
    let none = Onset {
        at: None,
        state: OnsetState::None,
        last: None,
        first: None,
        threshold: FLOOR,
    };
    let Some(found) = judge(&counts) else {
        return none;
    };
    let (start, last, threshold, known) = found;
    let end = counts.len() - 1;
    let state = if end - last >= QUIET_GAP {
        OnsetState::Over
    } else if last == end && (start == end || counts[end - 1] > threshold) {
        OnsetState::Ongoing
    } else {
        OnsetState::Intermittent
    };
    let minute = |i: usize| first + 60 * i as i64;
    Onset {
        at: known.then(|| minute(start)),
        first: Some(minute(start)),
        state,
        last: Some(minute(last)),
        threshold,
    }
}

/// `(start, last, threshold, whether the start is known)` of the current episode.
fn judge(counts: &[u64]) -> Option<(usize, usize, u64, bool)> {
    let mut threshold = FLOOR;
    let mut found = None;
    let mut tried_whole = false;
    for _ in 0..ROUNDS {
        let Some((start, last)) = episode(counts, threshold) else {
            break;
        };
        found = Some((start, last, threshold, start > 0));
        let next = if start > 0 {
            rise_threshold(median(&counts[..start]))
        } else if !tried_whole {
            tried_whole = true;
            rise_threshold(median(counts))
        } else {
            threshold
        };
        if next == threshold {
            break;
        }
        threshold = next;
    }
    found
}

fn rise_threshold(baseline: u64) -> u64 {
    FLOOR.max(FACTOR.saturating_mul(baseline))
}

/// The last minute above `threshold`, and the first of its episode.
fn episode(counts: &[u64], threshold: u64) -> Option<(usize, usize)> {
    let last = counts.iter().rposition(|&c| c > threshold)?;
    let mut start = last;
    let mut quiet = 0;
    for i in (0..last).rev() {
        if counts[i] > threshold {
            start = i;
            quiet = 0;
        } else {
            quiet += 1;
            if quiet >= QUIET_GAP {
                break;
            }
        }
    }
    Some((start, last))
}

fn median(counts: &[u64]) -> u64 {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// The series cleaned as rule 1 says: the first minute's time and one count per minute.
fn dense(minutes: &[(i64, u64)], now: i64) -> (i64, Vec<u64>) {
    let oldest = now.saturating_sub(MAX_SPAN);
    let mut kept: Vec<(i64, u64)> = minutes
        .iter()
        .filter(|(t, _)| *t <= now.saturating_add(FUTURE_SLACK) && *t >= oldest)
        .map(|&(t, c)| (t - t.rem_euclid(60), c))
        .collect();
    kept.sort_unstable_by_key(|&(t, _)| t);
    let Some(&(first, _)) = kept.first() else {
        return (0, Vec::new());
    };
    let last_complete = now - now.rem_euclid(60) - 60;
    let end = kept.last().map_or(first, |&(t, _)| t).max(last_complete);
    // Both ends lie within MAX_SPAN + FUTURE_SLACK of now, so this is at most ~1,442 minutes.
    let len = usize::try_from((end - first) / 60 + 1).unwrap_or(0);
    let mut counts = vec![0u64; len];
    for (t, c) in kept {
        if let Ok(i) = usize::try_from((t - first) / 60)
            && let Some(slot) = counts.get_mut(i)
        {
            *slot = slot.saturating_add(c);
        }
    }
    (first, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minute boundary: 2026-12-01 14:00:00 UTC.
    const M0: i64 = 1_796_133_600;

    /// Minutes from M0, one per count; `now` is just after the last one.
    fn series(counts: &[u64]) -> (Vec<(i64, u64)>, i64) {
        let minutes = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (M0 + 60 * i as i64, c))
            .collect::<Vec<_>>();
        (minutes, M0 + 60 * counts.len() as i64 + 5)
    }

    fn judge_counts(counts: &[u64]) -> Onset {
        let (minutes, now) = series(counts);
        onset(&minutes, now)
    }

    #[test]
    fn a_sustained_rise_over_a_quiet_baseline_is_ongoing_from_its_first_minute() {
        let mut counts = vec![0, 1, 0, 2, 1, 0, 0, 1, 0, 0];
        counts.extend([40, 55, 60, 58]);
        let o = judge_counts(&counts);
        assert_eq!(o.state, OnsetState::Ongoing);
        assert_eq!(o.at, Some(M0 + 600));
        assert_eq!(o.last, Some(M0 + 13 * 60));
        assert_eq!(o.threshold, 3);
    }

    #[test]
    fn a_noisy_baseline_raises_the_bar() {
        // 6-9 502s a minute is the usual; 12 is not a rise (under 3 × 7), 30 is.
        let mut counts = vec![7, 6, 8, 7, 9, 7, 6, 12, 7, 8, 7, 6];
        counts.extend([30, 35, 40]);
        let o = judge_counts(&counts);
        assert_eq!(o.state, OnsetState::Ongoing);
        assert_eq!(o.at, Some(M0 + 12 * 60));
        assert_eq!(o.threshold, 21);
    }

    #[test]
    fn rise_minutes_between_quiet_ones_are_intermittent() {
        let counts = [0, 0, 0, 0, 0, 0, 20, 0, 25, 1, 0, 30, 0];
        let o = judge_counts(&counts);
        assert_eq!(o.state, OnsetState::Intermittent);
        assert_eq!(o.at, Some(M0 + 6 * 60));
        assert_eq!(o.last, Some(M0 + 11 * 60));
    }

    #[test]
    fn a_rise_that_ended_five_minutes_ago_is_over() {
        let counts = [0, 0, 0, 0, 0, 50, 60, 55, 0, 0, 0, 0, 0];
        let o = judge_counts(&counts);
        assert_eq!(o.state, OnsetState::Over);
        assert_eq!((o.at, o.last), (Some(M0 + 300), Some(M0 + 420)));
        // Four quiet minutes are a pause, not the end.
        let o = judge_counts(&counts[..12]);
        assert_eq!(o.state, OnsetState::Intermittent);
    }

    #[test]
    fn quiet_minutes_after_the_data_count_up_to_now() {
        let (minutes, now) = series(&[0, 0, 0, 0, 50, 60]);
        assert_eq!(onset(&minutes, now).state, OnsetState::Ongoing);
        assert_eq!(onset(&minutes, now + 10 * 60).state, OnsetState::Over);
    }

    #[test]
    fn flat_and_empty_series_have_no_onset() {
        for counts in [&[][..], &[0; 30][..], &[2; 30][..], &[3; 30][..]] {
            let o = judge_counts(counts);
            assert_eq!((o.at, o.state), (None, OnsetState::None), "{counts:?}");
        }
    }

    #[test]
    fn a_failure_older_than_the_series_is_ongoing_with_no_known_onset() {
        let o = judge_counts(&[40; 30]);
        assert_eq!((o.at, o.state), (None, OnsetState::Ongoing));
    }

    #[test]
    fn a_long_failure_keeps_its_onset_when_it_outlasts_the_baseline() {
        // 20 quiet minutes, then 100 failing ones: the median of the whole series is the
        // failure's level, but the baseline is only what came before it.
        let mut counts = vec![0; 20];
        counts.extend(vec![50; 100]);
        let o = judge_counts(&counts);
        assert_eq!((o.at, o.state), (Some(M0 + 20 * 60), OnsetState::Ongoing));
    }

    #[test]
    fn a_failure_that_began_in_the_last_minute_is_ongoing() {
        let mut counts = vec![0; 20];
        counts.push(30);
        let found = judge_counts(&counts);
        assert_eq!(found.state, OnsetState::Ongoing);
        assert_eq!(found.at, Some(M0 + 20 * 60));
        // One quiet minute after it: a spike, not yet over.
        counts.push(0);
        assert_eq!(judge_counts(&counts).state, OnsetState::Intermittent);
    }

    #[test]
    fn a_spike_over_a_steady_background_from_the_first_minute() {
        let mut counts = vec![5; 30];
        counts.extend([60, 70]);
        let o = judge_counts(&counts);
        assert_eq!((o.at, o.state), (Some(M0 + 30 * 60), OnsetState::Ongoing));
    }

    #[test]
    fn out_of_order_duplicate_and_future_minutes() {
        let mut counts = vec![0u64; 10];
        counts.extend([30, 30, 30]);
        let (mut minutes, now) = series(&counts);
        minutes.reverse();
        // The same minute from a second log, mid-minute times, and minutes from a clock far
        // ahead and far behind.
        minutes.push((M0 + 10 * 60 + 17, 5));
        minutes.push((now + 3600, 10_000));
        minutes.push((now + 1_000_000_000, u64::MAX));
        minutes.push((now - 3 * 86_400, 10_000));
        minutes.push((i64::MIN, u64::MAX));
        minutes.push((i64::MAX, u64::MAX));
        let o = onset(&minutes, now);
        assert_eq!((o.at, o.state), (Some(M0 + 600), OnsetState::Ongoing));
    }

    #[test]
    fn six_hours_of_minutes_is_quick_and_right() {
        let mut counts = vec![1u64; 6 * 60 - 30];
        counts.extend(vec![900u64; 30]);
        let start = std::time::Instant::now();
        let o = judge_counts(&counts);
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(o.at, Some(M0 + (6 * 60 - 30) * 60));
    }
}
