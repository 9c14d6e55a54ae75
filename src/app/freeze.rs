//! Freeze (htop's `Z`): the whole screen stops changing so a line can be read or copied while
//! the host floods it. What the collectors send meanwhile is held, in order, with the time it
//! arrived, and applied on thaw as if it had arrived then: nothing is lost and no figure is
//! judged at the wrong time. Held, not applied behind the screen, because drawing reads the
//! model directly; a copy of the model to draw from would cost as much as the model (10,000
//! upstreams, every log ring) at each freeze. Keys, the mouse, a resize and the operator's own
//! commands' output still go through: scrolling the frozen content works, and a command run
//! from a frozen screen shows what it does.

use std::collections::VecDeque;

use super::{App, Effect, Event};
use crate::actions::ActionEvent;

/// The most a freeze holds, counted as one per event plus one per log line: past it the screen
/// thaws by itself rather than grow without bound (a flood of 2,000-line batches fills it in
/// seconds; a quiet host, never).
pub const HELD_MAX: usize = 200_000;
/// The most log text a freeze holds: lines run to 16 KiB each, so a count alone would let a
/// flood of long lines hold gigabytes on a host already short of memory.
pub const HELD_BYTES_MAX: usize = 64 << 20;

#[derive(Debug)]
pub struct Freeze {
    held: Option<Held>,
    max: usize,
    max_bytes: usize,
}

impl Default for Freeze {
    fn default() -> Self {
        Freeze {
            held: None,
            max: HELD_MAX,
            max_bytes: HELD_BYTES_MAX,
        }
    }
}

#[derive(Debug)]
struct Held {
    events: VecDeque<(jiff::Zoned, Event)>,
    weight: usize,
    /// Log text held, in bytes (see [`HELD_BYTES_MAX`]).
    bytes: usize,
    /// The newest time the event loop or a tick told, shown after the thaw.
    clock: jiff::Zoned,
}

impl Freeze {
    pub fn is_frozen(&self) -> bool {
        self.held.is_some()
    }

    /// How many updates wait for the thaw.
    pub fn waiting(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.events.len())
    }
}

/// What goes through a frozen screen: what a person does and what their own command prints.
fn passes(event: &Event) -> bool {
    match event {
        Event::Key(_) | Event::Mouse(_) | Event::Resize(..) => true,
        Event::Action(a) => !matches!(**a, ActionEvent::Status(_)),
        _ => false,
    }
}

fn weight(event: &Event) -> usize {
    match event {
        Event::Log(batch) => 1 + batch.lines.len(),
        _ => 1,
    }
}

fn log_bytes(event: &Event) -> usize {
    match event {
        Event::Log(batch) => batch.lines.iter().map(|l| l.text.len()).sum(),
        _ => 0,
    }
}

impl App {
    /// The event to apply now, or, while frozen, what holding it did to the screen.
    pub(super) fn through_freeze(&mut self, event: Event) -> Result<Event, (bool, Vec<Effect>)> {
        let (max, max_bytes) = (self.freeze.max, self.freeze.max_bytes);
        let Some(held) = &mut self.freeze.held else {
            return Ok(event);
        };
        if passes(&event) {
            return Ok(event);
        }
        if let Event::Tick(now) = event {
            held.clock = now;
            return Err((false, vec![]));
        }
        held.weight = held.weight.saturating_add(weight(&event));
        held.bytes = held.bytes.saturating_add(log_bytes(&event));
        held.events.push_back((held.clock.clone(), event));
        if held.weight <= max && held.bytes <= max_bytes {
            return Err((false, vec![]));
        }
        let waited = held.events.len();
        let effects = self.thaw();
        self.message = Some(format!(
            "thawed: {waited} updates arrived while frozen, the most a freeze holds"
        ));
        Err((true, effects))
    }

    /// `Z`: freezes the screen, or thaws it and applies what arrived meanwhile.
    pub(super) fn toggle_freeze(&mut self) -> Vec<Effect> {
        if self.freeze.is_frozen() {
            return self.thaw();
        }
        self.freeze.held = Some(Held {
            events: VecDeque::new(),
            weight: 0,
            bytes: 0,
            clock: self.clock.clone(),
        });
        vec![]
    }

    /// While frozen the clock the screen shows stays; the newest is kept for the thaw.
    pub(super) fn frozen_clock(&mut self, now: &jiff::Zoned) -> bool {
        match &mut self.freeze.held {
            Some(held) => {
                held.clock = now.clone();
                true
            }
            None => false,
        }
    }

    fn thaw(&mut self) -> Vec<Effect> {
        let Some(held) = self.freeze.held.take() else {
            return vec![];
        };
        let mut effects: Vec<Effect> = Vec::new();
        for (arrived, event) in held.events {
            self.clock = arrived;
            for effect in self.update(event).1 {
                if !effects.contains(&effect) {
                    effects.push(effect);
                }
            }
        }
        self.clock = held.clock;
        // Ages and log windows moved on while frozen.
        self.model_changed();
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures::{app, clock, press, sample};
    use crate::pane::PaneId;
    use crossterm::event::KeyCode;

    fn later(secs: i64) -> jiff::Zoned {
        clock()
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap_or_default()
    }

    #[test]
    fn z_holds_updates_keys_still_work_and_z_again_applies_them_in_order() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.5))));
        press(&mut a, KeyCode::Char('Z'));
        assert!(a.freeze.is_frozen());
        let (redraw, _) = a.update(Event::Host(Box::new(sample(7.0))));
        assert!(!redraw, "a frozen screen is not redrawn for a sample");
        a.update(Event::Host(Box::new(sample(9.0))));
        a.update(Event::Tick(later(120)));
        a.set_clock(later(121));
        assert_eq!(
            a.freeze.waiting(),
            2,
            "the tick and the clock are not updates"
        );
        assert_eq!(a.clock, clock(), "the shown time stays");
        let load = |a: &App| a.model.host.as_ref().map(|h| h.load[0]);
        assert_eq!(load(&a), Some(0.5), "the model is as frozen");
        press(&mut a, KeyCode::Char('2'));
        assert_eq!(a.focus, PaneId::Upstreams, "keys go through");
        press(&mut a, KeyCode::Char('Z'));
        assert!(!a.freeze.is_frozen());
        assert_eq!(
            load(&a),
            Some(9.0),
            "both samples applied, the last one last"
        );
        assert_eq!(a.clock, later(121), "the newest time after the thaw");
        assert!(a.settle(), "judged again on thaw");
    }

    #[test]
    fn held_updates_are_applied_at_the_time_they_arrived() {
        use crate::logs::{Cause, LogBatch, LogBook, LogLine, RingLimits, SourceSpec};
        let mut a = app();
        a.model.logs = LogBook::new(&[SourceSpec::file("/e.log", None)], RingLimits::default());
        press(&mut a, KeyCode::Char('Z'));
        a.set_clock(later(30));
        // A failing line without a timestamp counts when it was read.
        let refused = LogLine {
            text: "connect() failed (111: Connection refused)".into(),
            format: None,
            cause: Some(Cause::Refused),
            status: None,
            upstream: None,
            time: None,
        };
        a.update(Event::Log(Box::new(LogBatch::following(0, vec![refused]))));
        a.set_clock(later(90));
        press(&mut a, KeyCode::Char('Z'));
        let read = a.model.logs.sources[0].lines().back().and_then(|l| l.time);
        assert_eq!(read, Some(later(30).timestamp().as_second()));
    }

    #[test]
    fn a_freeze_that_would_hold_too_much_thaws_by_itself_and_says_so() {
        let mut a = app();
        a.freeze.max = 50;
        press(&mut a, KeyCode::Char('Z'));
        let mut thawed = false;
        for i in 0..=50 {
            let (redraw, _) = a.update(Event::Host(Box::new(sample(i as f64))));
            if redraw {
                thawed = true;
                assert_eq!(i, 50, "thawed only past the bound");
                break;
            }
        }
        assert!(thawed && !a.freeze.is_frozen());
        assert!(
            a.message
                .as_deref()
                .is_some_and(|m| m.starts_with("thawed:")),
            "{:?}",
            a.message
        );
        let load = a.model.host.as_ref().map(|h| h.load[0]);
        assert_eq!(load, Some(50.0), "every held sample applied");
    }

    #[test]
    fn long_log_lines_thaw_a_freeze_by_their_bytes_not_only_their_count() {
        use crate::logs::{LogBatch, LogBook, LogLine, RingLimits, SourceSpec};
        let mut a = app();
        a.model.logs = LogBook::new(
            &[SourceSpec::file("/logs/error.log", None)],
            RingLimits::default(),
        );
        a.freeze.max_bytes = 100 * 1024;
        press(&mut a, KeyCode::Char('Z'));
        let line = LogLine {
            text: "x".repeat(16 * 1024),
            format: None,
            cause: None,
            status: None,
            upstream: None,
            time: None,
        };
        let batch = || Event::Log(Box::new(LogBatch::following(0, vec![line.clone(); 2])));
        // 32 KiB a batch: the fourth passes 100 KiB, far below the count bound.
        for _ in 0..3 {
            a.update(batch());
            assert!(a.freeze.is_frozen());
        }
        a.update(batch());
        assert!(!a.freeze.is_frozen(), "thawed by the bytes held");
        assert_eq!(a.model.logs.sources[0].lines().len(), 8, "nothing lost");
    }
}
