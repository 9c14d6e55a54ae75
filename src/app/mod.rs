//! The one owner of dashboard state. Everything that happens arrives as an [`Event`]; `update`
//! changes state and returns the [`Effect`]s the event loop must carry out. No I/O here, so every
//! behaviour is testable with plain values.

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};

#[cfg(test)]
mod action_status_tests;
pub mod actions;
mod actions_input;
pub mod clipboard;
#[cfg(test)]
mod containers_tests;
mod cross_links;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod freeze;
pub mod host;
mod input;
#[cfg(test)]
mod judged_tests;
pub mod log_detail;
mod log_merge;
pub mod log_search;
pub mod log_search_input;
pub mod logs;
pub mod modal;
mod modal_input;
mod scroll;
pub mod snapshot;
pub mod upstreams;

use std::time::SystemTime;

use crate::actions::{ActionEvent, Request};
use crate::dns::DnsRound;
use crate::firewall::FirewallSummary;
use crate::host::HostSample;
use crate::logs::LogBatch;
use crate::model::{Assessment, Model, assess_in};
use crate::pane::PaneId;
use crate::upstream::ProbeResult;
use actions::ActionsView;
pub use host::{HostView, ProcSort};
use logs::LogView;
use modal::Modal;
pub use upstreams::{UpstreamSort, UpstreamView};

#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Host(Box<HostSample>),
    /// Upstream probe results, batched by the prober (see `upstream::batch_window`).
    Probes(Vec<ProbeResult>),
    Dns(Box<DnsRound>),
    Log(Box<LogBatch>),
    Action(Box<ActionEvent>),
    /// A new read of the host firewall.
    Firewall(Box<FirewallSummary>),
    /// Probes of the `[gateway]` url (a batch: almost always one).
    Gateway(Vec<ProbeResult>),
    /// A new read of the proxies' own APIs.
    ProxyViews(Vec<crate::proxy_view::ProxyView>),
    /// A new listing of the container engine's containers.
    Containers(Box<crate::containers::Listing>),
    /// A round of the timeline's collector: the logs' past, events since the last round.
    Timeline(Box<crate::timeline::collect::Round>),
    /// The wall clock moved on (the header shows it).
    Tick(jiff::Zoned),
}

// How each collector's result enters the one channel (see `outbox::Outbox`). A gateway probe is
// also a `ProbeResult`, so it is wrapped where its collector is started.
impl From<HostSample> for Event {
    fn from(sample: HostSample) -> Self {
        Event::Host(Box::new(sample))
    }
}

impl From<Vec<ProbeResult>> for Event {
    fn from(results: Vec<ProbeResult>) -> Self {
        Event::Probes(results)
    }
}

impl From<DnsRound> for Event {
    fn from(round: DnsRound) -> Self {
        Event::Dns(Box::new(round))
    }
}

impl From<LogBatch> for Event {
    fn from(batch: LogBatch) -> Self {
        Event::Log(Box::new(batch))
    }
}

impl From<ActionEvent> for Event {
    fn from(event: ActionEvent) -> Self {
        Event::Action(Box::new(event))
    }
}

impl From<crate::actions::ServiceStatus> for Event {
    fn from(status: crate::actions::ServiceStatus) -> Self {
        Event::Action(Box::new(ActionEvent::Status(Box::new(status))))
    }
}

impl From<Vec<crate::proxy_view::ProxyView>> for Event {
    fn from(views: Vec<crate::proxy_view::ProxyView>) -> Self {
        Event::ProxyViews(views)
    }
}

impl From<crate::timeline::collect::Round> for Event {
    fn from(round: crate::timeline::collect::Round) -> Self {
        Event::Timeline(Box::new(round))
    }
}

impl From<crate::containers::Listing> for Event {
    fn from(listing: crate::containers::Listing) -> Self {
        Event::Containers(Box::new(listing))
    }
}

impl From<FirewallSummary> for Event {
    fn from(summary: FirewallSummary) -> Self {
        Event::Firewall(Box::new(summary))
    }
}

/// How the header shows the time; a tick that would not change it does not redraw.
pub const CLOCK_FORMAT: &str = "%H:%M %Z";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Quit,
    Suspend,
    /// Every check now: a host sample and a probe of every upstream (each coalesced).
    RerunAll,
    /// One upstream now (its row was opened).
    RerunUpstream(usize),
    /// A DNS round now (a name's detail was opened).
    RerunDns,
    /// Ask DNS about these names too (the proxy's log could not resolve them), from a round now.
    AskDnsAlso(Vec<String>),
    /// Hand a confirmed action to the runner.
    RunAction(Request),
    /// Write the incident report (`e`) to the state directory.
    WriteReport,
    /// Send these bytes to the terminal: an OSC 52 copy (`y`, see `clipboard`).
    Copy(Vec<u8>),
}

#[derive(Debug)]
pub struct App {
    pub focus: PaneId,
    pub zoomed: bool,
    /// The popup on top, which takes every key.
    pub modal: Option<Modal>,
    pub scroll: [usize; 4],
    pub size: (u16, u16),
    pub clock: jiff::Zoned,
    pub hostname: String,
    /// What the collectors found; the app only files results into it.
    pub model: Model,
    /// The model judged, once after the updates that changed it ([`App::settle`]); drawing
    /// only reads it.
    pub judged: Assessment,
    /// The model changed since `judged` was made.
    stale: bool,
    pub host: HostView,
    /// The Upstreams pane's filter and sort.
    pub upstreams: UpstreamView,
    /// The upstream row whose detail view is open.
    pub upstream_detail: Option<usize>,
    /// The DNS row whose detail view is open.
    pub dns_detail: Option<usize>,
    pub logs: LogView,
    pub actions: ActionsView,
    /// One line shown in the footer until the next key press (e.g. why a key did nothing).
    pub message: Option<String>,
    pub mouse: bool,
    /// q was pressed while an action runs; a second q quits.
    pub quit_armed: bool,
    /// Whether `y` copies through the terminal (decided once, from the environment).
    pub clipboard: clipboard::Clipboard,
    /// `Z`: the screen stops changing; collectors' updates wait (see `freeze`).
    pub freeze: freeze::Freeze,
}

impl App {
    pub fn new(clock: jiff::Zoned, size: (u16, u16)) -> Self {
        App {
            focus: PaneId::Host,
            zoomed: false,
            modal: None,
            scroll: [0; 4],
            size,
            clock,
            hostname: String::new(),
            model: Model::default(),
            judged: Assessment::default(),
            stale: false,
            host: HostView::default(),
            upstreams: UpstreamView::default(),
            upstream_detail: None,
            dns_detail: None,
            logs: LogView::default(),
            actions: ActionsView::default(),
            message: None,
            mouse: false,
            quit_armed: false,
            clipboard: clipboard::Clipboard::default(),
            freeze: freeze::Freeze::default(),
        }
    }

    /// Starts from `model` (what the config and discovery say to watch), judged as it is.
    pub fn with_model(mut self, model: Model) -> Self {
        self.model = model;
        self.upstreams.refilter(&self.model.upstreams);
        self.reassess();
        self
    }

    /// Replaces the upstreams watched (tests build them by hand).
    #[cfg(test)]
    pub(crate) fn set_upstreams(&mut self, upstreams: crate::model::upstreams::Upstreams) {
        self.model.upstreams = upstreams;
        self.upstreams.refilter(&self.model.upstreams);
        self.clamp(PaneId::Upstreams);
        self.model_changed();
    }

    /// Judges the model again if an update changed it since the last time; returns whether it
    /// did. The event loop calls it once before each frame, never while drawing: a log flood
    /// delivers hundreds of batches a second and 10,000 upstreams thousands of results, and
    /// judging after each of them would cost more than the frames it feeds.
    pub fn settle(&mut self) -> bool {
        if !std::mem::take(&mut self.stale) {
            return false;
        }
        self.reassess();
        true
    }

    fn reassess(&mut self) {
        self.judged = assess_in(&self.model, self.now(), self.clock.time_zone());
    }

    /// The model changed: [`App::settle`] judges it again.
    pub(crate) fn model_changed(&mut self) {
        self.stale = true;
    }

    pub fn now(&self) -> SystemTime {
        SystemTime::from(self.clock.timestamp())
    }

    /// The event loop keeps the time current before each frame, for ages shown in seconds
    /// between the header clock's minute ticks.
    pub fn set_clock(&mut self, now: jiff::Zoned) {
        if self.frozen_clock(&now) {
            return;
        }
        self.clock = now;
    }

    /// Returns whether the screen needs redrawing, and what the event loop must do.
    pub fn update(&mut self, event: Event) -> (bool, Vec<Effect>) {
        // Following again since the last event: the "new lines" count starts over at the next pause.
        if self.logs.follow {
            self.logs.unseen = 0;
        }
        let event = match self.through_freeze(event) {
            Ok(event) => event,
            Err(held) => return held,
        };
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Key(_) => (false, vec![]),
            Event::Mouse(m) => (self.on_mouse(m), vec![]),
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.clamp_scroll();
                (true, vec![])
            }
            Event::Host(sample) => {
                self.hostname.clone_from(&sample.hostname);
                self.model.apply_host(*sample);
                self.host.rebuild(self.model.host.as_ref());
                self.clamp(PaneId::Host);
                self.model_changed();
                (true, vec![])
            }
            Event::Probes(results) => {
                let pane = PaneId::Upstreams.index();
                // Rows re-sort as states change. A cursor the operator moved (or whose detail is
                // open) stays on its upstream; one left at the top stays on the worst row.
                let follow = self.scroll[pane] > 0 || self.upstream_detail.is_some();
                let selected = self.upstreams.at(self.scroll[pane]).filter(|_| follow);
                self.model.apply_probes(results, self.now());
                // Any sort but the state one moves with every result (latency, success), so the
                // list is rebuilt for each batch; a batch, not a result.
                self.upstreams.rebuild(&self.model.upstreams);
                if let Some(pos) = selected.and_then(|row| self.upstreams.position_of(row)) {
                    self.scroll[pane] = pos;
                }
                self.clamp(PaneId::Upstreams);
                self.model_changed();
                (true, vec![])
            }
            Event::Dns(round) => {
                let changed = self.model.apply_dns(*round, self.now());
                self.clamp(PaneId::Dns);
                if changed {
                    self.model_changed();
                }
                (changed, vec![])
            }
            Event::Firewall(summary) => {
                self.model.apply_firewall(*summary, self.now());
                self.model_changed();
                (true, vec![])
            }
            Event::Timeline(round) => {
                let changed = self.model.apply_timeline(*round, self.now());
                if changed {
                    self.model_changed();
                }
                (changed, vec![])
            }
            Event::Containers(listing) => {
                let changed = self.model.apply_containers(*listing);
                if changed {
                    self.model_changed();
                }
                (changed, vec![])
            }
            Event::ProxyViews(views) => {
                let changed = self.model.apply_proxy_views(views);
                if changed {
                    self.upstreams.rebuild(&self.model.upstreams);
                    self.model_changed();
                }
                (changed, vec![])
            }
            Event::Gateway(results) => {
                let mut changed = false;
                for result in results {
                    changed |= self.model.apply_gateway(result);
                }
                if changed {
                    self.model_changed();
                }
                (changed, vec![])
            }
            Event::Log(batch) => {
                let shown = self.logs.shown_of(&batch);
                // A failure at an address not seen before may be a stale one: ask DNS now.
                let suspect = self.model.dns.new_suspect(&batch);
                let unresolved = crate::model::dns::has_resolution_failure(&batch);
                if !self.model.apply_log(*batch, self.now()) {
                    return (false, vec![]);
                }
                // Names the proxy could not resolve, once the batch is counted: asked too.
                let logged = unresolved
                    .then(|| {
                        let now = crate::model::unix_seconds(self.now());
                        self.model.dns.newly_logged(&self.model.logs, now)
                    })
                    .flatten();
                let ask = match logged {
                    Some(names) => vec![Effect::AskDnsAlso(names)],
                    None if suspect => vec![Effect::RerunDns],
                    None => vec![],
                };
                let pane = PaneId::Logs.index();
                self.logs.pick_busiest(&self.model.logs, self.scroll[pane]);
                // A paused or scrolled-back view stays on the lines it shows.
                if !self.logs.follow || self.scroll[pane] > 0 {
                    self.scroll[pane] = self.scroll[pane].saturating_add(shown);
                }
                if !self.logs.follow {
                    self.logs.unseen = self.logs.unseen.saturating_add(shown);
                }
                self.clamp(PaneId::Logs);
                self.model_changed();
                (true, ask)
            }
            Event::Action(ev) => self.on_action_event(*ev),
            Event::Tick(now) => {
                let changed = now.strftime(CLOCK_FORMAT).to_string()
                    != self.clock.strftime(CLOCK_FORMAT).to_string();
                self.clock = now;
                // Ages and log windows moved on.
                self.model_changed();
                (changed, vec![])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{app, clock, press, sample};
    use super::*;
    use crate::status::Status;
    use crossterm::event::KeyCode;

    #[test]
    fn overall_status_follows_host_findings() {
        let mut a = app();
        a.settle();
        assert_eq!(a.judged.status, Status::Unknown);
        a.update(Event::Host(Box::new(sample(0.1))));
        a.settle();
        assert_eq!(a.judged.status, Status::Ok);
        // Load alone is never critical: a busy neighbour is no outage.
        a.update(Event::Host(Box::new(sample(5.0))));
        a.settle();
        assert_eq!(a.judged.status, Status::Warning);
    }

    #[test]
    fn many_updates_are_judged_once_before_the_next_frame() {
        let mut a = app();
        assert!(!a.settle(), "nothing changed since the start");
        for load in [0.1, 5.0, 0.2, 6.0] {
            a.update(Event::Host(Box::new(sample(load))));
        }
        assert_eq!(
            a.judged.status,
            Status::Unknown,
            "not judged while updating"
        );
        assert!(a.settle(), "judged once for all four samples");
        assert_eq!(a.judged.status, Status::Warning, "as of the last sample");
        assert!(!a.settle(), "and not again until something changes");
        press(&mut a, KeyCode::Char('?'));
        assert!(!a.settle(), "a key changes the view, not the model");
    }

    #[test]
    fn a_tick_redraws_only_when_the_shown_minute_changes() {
        let mut a = app();
        assert!(!a.update(Event::Tick(clock())).0);
        let same_minute = clock()
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap_or_default();
        assert!(!a.update(Event::Tick(same_minute)).0);
        let later = clock()
            .checked_add(jiff::SignedDuration::from_secs(60))
            .unwrap_or_default();
        assert!(a.update(Event::Tick(later)).0);
    }

    #[test]
    fn probe_results_keep_the_worst_on_top_and_a_moved_cursor_on_its_upstream() {
        use crate::model::upstreams::tests::{result, view};
        use crate::upstream::Outcome;
        let mut a = app();
        a.set_upstreams(view());
        a.focus = PaneId::Upstreams;
        a.update(Event::Probes(vec![result(0, 1, Outcome::Ok)]));
        a.update(Event::Probes(vec![result(1, 2, Outcome::Ok)]));
        a.update(Event::Probes(vec![result(2, 3, Outcome::Ok)]));
        press(&mut a, KeyCode::Down);
        assert_eq!(a.upstreams.at(a.scroll[1]), Some(1), "cursor on beta");
        a.update(Event::Probes(vec![result(1, 4, Outcome::Refused)]));
        assert_eq!(a.model.upstreams.order[0], 1, "beta is down, so first");
        assert_eq!(
            a.upstreams.at(a.scroll[1]),
            Some(1),
            "the cursor followed beta"
        );
        a.settle();
        assert_eq!(a.judged.status, Status::Critical);
        press(&mut a, KeyCode::Char('g'));
        a.update(Event::Probes(vec![result(0, 5, Outcome::Timeout)]));
        assert_eq!(
            a.scroll[1], 0,
            "a cursor left at the top stays on the worst row"
        );
    }
}
