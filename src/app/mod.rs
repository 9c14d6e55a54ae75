//! The one owner of dashboard state. Everything that happens arrives as an [`Event`]; `update`
//! changes state and returns the [`Effect`]s the event loop must carry out. No I/O here, so every
//! behaviour is testable with plain values.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

pub mod actions;
mod actions_input;
pub mod diagnosis;
pub mod dns;
pub mod logs;
pub mod snapshot;
pub mod upstreams;

use std::sync::Arc;
use std::time::SystemTime;

use crate::actions::{ActionEvent, Request};
use crate::diagnosis::FirewallInput;
use crate::dns::DnsRound;
use crate::firewall::FirewallSummary;
use crate::host::{self, HostSample, ProcessRow};
use crate::keymap::{self, Action};
use crate::logs::LogBatch;
use crate::pane::PaneId;
use crate::status::{self, Finding, Status};
use crate::ui::layout;
use crate::upstream::ProbeResult;
use actions::ActionsView;
use diagnosis::GatewayView;
use dns::DnsView;
use logs::LogView;
use upstreams::UpstreamView;

#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Host(Box<HostSample>),
    Probe(Box<ProbeResult>),
    Dns(Box<DnsRound>),
    Log(Box<LogBatch>),
    Action(Box<ActionEvent>),
    /// A new read of the host firewall.
    Firewall(Box<FirewallSummary>),
    /// A probe of the `[gateway]` url.
    Gateway(Box<ProbeResult>),
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

impl From<ProbeResult> for Event {
    fn from(result: ProbeResult) -> Self {
        Event::Probe(Box::new(result))
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

impl From<FirewallSummary> for Event {
    fn from(summary: FirewallSummary) -> Self {
        Event::Firewall(Box::new(summary))
    }
}

/// How the header shows the time; a tick that would not change it does not redraw.
pub const CLOCK_FORMAT: &str = "%H:%M %Z";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Quit,
    Suspend,
    /// Every check now: a host sample and a probe of every upstream (each coalesced).
    RerunAll,
    /// One upstream now (its row was opened).
    RerunUpstream(usize),
    /// A DNS round now (a name's detail was opened).
    RerunDns,
    /// Hand a confirmed action to the runner.
    RunAction(Request),
    /// Write the incident report (`e`) to the state directory.
    WriteReport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcSort {
    Cpu,
    Mem,
}

#[derive(Debug, Default)]
pub struct HostView {
    pub sample: Option<HostSample>,
    pub findings: Vec<Finding>,
    pub sort: Option<ProcSort>,
    pub filter: String,
    /// Indices into `sample.processes`, sorted and filtered; rebuilt only when those change.
    pub visible: Vec<usize>,
}

impl HostView {
    pub fn sort(&self) -> ProcSort {
        self.sort.unwrap_or(ProcSort::Cpu)
    }

    pub fn visible_processes(&self) -> impl Iterator<Item = &ProcessRow> {
        let procs = self
            .sample
            .as_ref()
            .map(|s| s.processes.as_slice())
            .unwrap_or(&[]);
        self.visible.iter().filter_map(move |&i| procs.get(i))
    }

    fn rebuild(&mut self) {
        let Some(sample) = &self.sample else {
            self.visible.clear();
            return;
        };
        let needle = self.filter.to_lowercase();
        let mut idx: Vec<usize> = sample
            .processes
            .iter()
            .enumerate()
            .filter(|(_, p)| needle.is_empty() || process_matches(p, &needle))
            .map(|(i, _)| i)
            .collect();
        let procs = &sample.processes;
        match self.sort() {
            // By the figure shown (one decimal), so rows with equal-looking CPU keep pid order
            // instead of trading places (and redrawing) at every sample.
            ProcSort::Cpu => idx.sort_by_key(|&i| {
                (
                    std::cmp::Reverse((procs[i].cpu * 10.0).round() as i64),
                    procs[i].pid,
                )
            }),
            ProcSort::Mem => idx.sort_by(|&a, &b| {
                procs[b]
                    .mem
                    .cmp(&procs[a].mem)
                    .then(procs[a].pid.cmp(&procs[b].pid))
            }),
        }
        self.visible = idx;
    }
}

fn process_matches(p: &ProcessRow, needle_lower: &str) -> bool {
    p.command.to_lowercase().contains(needle_lower)
        || p.user.to_lowercase().contains(needle_lower)
        || p.pid.to_string() == needle_lower
}

#[derive(Debug)]
pub struct App {
    pub focus: PaneId,
    pub zoomed: bool,
    pub help: bool,
    pub help_scroll: u16,
    /// Text being typed into the process filter; `None` when not editing.
    pub filter_input: Option<String>,
    pub scroll: [usize; 4],
    pub size: (u16, u16),
    pub clock: jiff::Zoned,
    pub hostname: String,
    pub host: HostView,
    pub upstreams: UpstreamView,
    pub dns: DnsView,
    pub logs: LogView,
    pub actions: ActionsView,
    /// The latest firewall summary, matched against the upstreams; `None` until the first read.
    pub firewall: Option<Arc<FirewallInput>>,
    /// The `[gateway]` probe, when configured.
    pub gateway: Option<GatewayView>,
    /// One line shown in the footer until the next key press (e.g. why a key did nothing).
    pub message: Option<String>,
    pub mouse: bool,
    /// q was pressed while an action runs; a second q quits.
    pub quit_armed: bool,
    /// The checklist view (`v`) is open.
    pub checklist_open: bool,
    pub checklist_scroll: u16,
}

impl App {
    pub fn new(clock: jiff::Zoned, size: (u16, u16)) -> Self {
        App {
            focus: PaneId::Host,
            zoomed: false,
            help: false,
            help_scroll: 0,
            filter_input: None,
            scroll: [0; 4],
            size,
            clock,
            hostname: String::new(),
            host: HostView::default(),
            upstreams: UpstreamView::default(),
            dns: DnsView::default(),
            logs: LogView::default(),
            actions: ActionsView::default(),
            firewall: None,
            gateway: None,
            message: None,
            mouse: false,
            quit_armed: false,
            checklist_open: false,
            checklist_scroll: 0,
        }
    }

    /// Worst status over everything checked; unknown until the first host sample arrives.
    pub fn overall(&self) -> Status {
        let known = status::overall(&self.findings());
        match &self.host.sample {
            None => known.worst(Status::Unknown),
            Some(_) => known,
        }
    }

    /// Everything found wrong, worst first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut all = self.host.findings.clone();
        all.extend(self.upstreams.findings(self.now()));
        all.extend(self.dns.findings.iter().cloned());
        all.extend(self.logs.findings(self.now()));
        all.extend(self.actions.findings());
        all.extend(self.diagnosis_findings());
        all.sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
        all
    }

    pub fn now(&self) -> SystemTime {
        SystemTime::from(self.clock.timestamp())
    }

    /// The event loop keeps the time current before each frame, for ages shown in seconds
    /// between the header clock's minute ticks.
    pub fn set_clock(&mut self, now: jiff::Zoned) {
        self.clock = now;
    }

    /// Returns whether the screen needs redrawing, and what the event loop must do.
    pub fn update(&mut self, event: Event) -> (bool, Vec<Effect>) {
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
                self.host.findings = host::assess(&sample);
                self.host.sample = Some(*sample);
                self.host.rebuild();
                self.clamp(PaneId::Host);
                (true, vec![])
            }
            Event::Probe(result) => {
                let pane = PaneId::Upstreams.index();
                // Rows re-sort as states change. A cursor the operator moved (or whose detail is
                // open) stays on its upstream; one left at the top stays on the worst row.
                let follow = self.scroll[pane] > 0 || self.upstreams.detail.is_some();
                let selected = self.upstreams.at(self.scroll[pane]).filter(|_| follow);
                let known = self
                    .upstreams
                    .rows
                    .get(result.target_index)
                    .and_then(|r| r.history.last())
                    .map(|l| l.addr.clone());
                let new_addr = result.addr.is_some() && known.as_ref() != Some(&result.addr);
                if self.upstreams.apply(*result)
                    && let Some(pos) = selected.and_then(|row| self.upstreams.position_of(row))
                {
                    self.scroll[pane] = pos;
                }
                if new_addr {
                    self.rematch_firewall();
                }
                (true, vec![])
            }
            Event::Dns(round) => {
                let changed = self.dns.apply(*round);
                self.clamp(PaneId::Dns);
                if changed {
                    self.rematch_firewall();
                }
                (changed, vec![])
            }
            Event::Firewall(summary) => {
                self.set_firewall(*summary);
                (true, vec![])
            }
            Event::Gateway(result) => {
                let changed = self.gateway.as_mut().is_some_and(|g| g.apply(*result));
                (changed, vec![])
            }
            Event::Log(batch) => {
                let Some(shown) = self.logs.apply(*batch) else {
                    return (false, vec![]);
                };
                let pane = PaneId::Logs.index();
                // A paused or scrolled-back view stays on the lines it shows.
                if !self.logs.follow || self.scroll[pane] > 0 {
                    self.scroll[pane] = self.scroll[pane].saturating_add(shown);
                }
                self.clamp(PaneId::Logs);
                (true, vec![])
            }
            Event::Action(ev) => self.on_action_event(*ev),
            Event::Tick(now) => {
                let changed = now.strftime(CLOCK_FORMAT).to_string()
                    != self.clock.strftime(CLOCK_FORMAT).to_string();
                self.clock = now;
                (changed, vec![])
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> (bool, Vec<Effect>) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            return (false, vec![Effect::Quit]);
        }
        self.message = None;
        let armed = std::mem::take(&mut self.quit_armed);
        if self.filter_input.is_some() {
            self.on_filter_key(key);
            return (true, vec![]);
        }
        if self.logs.search_input.is_some() {
            self.on_search_key(key);
            return (true, vec![]);
        }
        if self.help {
            self.on_help_key(key);
            return (true, vec![]);
        }
        if self.actions.confirm.is_some() {
            return (true, self.on_confirm_key(key));
        }
        if self.actions.menu.is_some() {
            self.on_menu_key(key);
            return (true, vec![]);
        }
        if self.actions.output_open {
            return (self.on_output_key(key), vec![]);
        }
        if self.checklist_open {
            return (self.on_checklist_key(key), vec![]);
        }
        let Some(binding) = keymap::lookup(&key, self.focus) else {
            return (false, vec![]);
        };
        self.quit_armed = armed && binding.action == Action::Quit;
        let page = self.page_rows();
        let mut effects = vec![];
        match binding.action {
            // Quitting kills a running action, so that takes a second q.
            Action::Quit => match &self.actions.running {
                Some(r) if !self.quit_armed => {
                    self.quit_armed = true;
                    self.message = Some(format!(
                        "{} is still running: q again quits and kills it",
                        r.label
                    ));
                    return (true, vec![]);
                }
                _ => effects.push(Effect::Quit),
            },
            Action::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::FocusDigit => {
                if let KeyCode::Char(c) = key.code
                    && let Some(p) = PaneId::from_digit(c)
                {
                    self.focus = p;
                }
            }
            Action::Zoom => self.zoomed = !self.zoomed,
            Action::ScrollUp => self.scroll_by(-1),
            Action::ScrollDown => self.scroll_by(1),
            Action::PageUp => self.scroll_by(-(page as isize)),
            Action::PageDown => self.scroll_by(page as isize),
            // The Logs pane counts from the newest line: its "top" is the far end.
            Action::Top if self.focus == PaneId::Logs => {
                self.logs.follow = false;
                self.scroll[PaneId::Logs.index()] = usize::MAX;
            }
            Action::Bottom if self.focus == PaneId::Logs => {
                self.logs.follow = true;
                self.scroll[PaneId::Logs.index()] = 0;
            }
            Action::Top => self.scroll[self.focus.index()] = 0,
            Action::Bottom => self.scroll[self.focus.index()] = usize::MAX,
            Action::Rerun => {
                self.message = Some("rerunning checks".into());
                effects.push(Effect::RerunAll);
            }
            Action::Suspend => effects.push(Effect::Suspend),
            Action::SortProcesses => {
                self.host.sort = Some(match self.host.sort() {
                    ProcSort::Cpu => ProcSort::Mem,
                    ProcSort::Mem => ProcSort::Cpu,
                });
                self.host.rebuild();
                self.scroll[PaneId::Host.index()] = 0;
            }
            Action::FilterProcesses => self.filter_input = Some(self.host.filter.clone()),
            Action::OpenDetail if self.focus == PaneId::Dns => {
                self.dns.detail = match self.dns.detail {
                    Some(_) => None,
                    None => {
                        Some(self.scroll[PaneId::Dns.index()]).filter(|&i| i < self.dns.order.len())
                    }
                };
                if self.dns.detail.is_some() {
                    effects.push(Effect::RerunDns);
                }
            }
            Action::OpenDetail => {
                if self.upstreams.detail.is_some() {
                    self.upstreams.detail = None;
                } else if let Some(row) = self.upstreams.at(self.scroll[PaneId::Upstreams.index()])
                {
                    self.upstreams.detail = Some(row);
                    effects.push(Effect::RerunUpstream(row));
                }
            }
            Action::ToggleFollow => {
                self.logs.follow = !self.logs.follow;
                if self.logs.follow {
                    self.scroll[PaneId::Logs.index()] = 0;
                }
            }
            Action::SearchLogs => self.logs.search_input = Some(self.logs.search.clone()),
            Action::NextMatch => self.jump_to_match(true),
            Action::PrevMatch => self.jump_to_match(false),
            Action::CycleLevel => self.logs.cycle_level(),
            Action::CycleCause => self.logs.cycle_cause(),
            Action::ToggleWrap => self.logs.wrap = !self.logs.wrap,
            Action::NextSource | Action::PrevSource => {
                self.logs
                    .switch_source(binding.action == Action::NextSource);
                self.scroll[PaneId::Logs.index()] = 0;
                self.logs.follow = true;
            }
            Action::OpenActions => self.open_actions(),
            Action::WriteReport => effects.push(Effect::WriteReport),
            Action::Checklist => {
                self.checklist_open = true;
                self.checklist_scroll = 0;
            }
            Action::ShowOutput => {
                if self.actions.shown.is_some() {
                    self.actions.output_open = true;
                    self.actions.output_scroll = 0;
                } else {
                    self.message = Some("no action has run yet: a opens the actions".into());
                }
            }
            Action::CloseDetail => {
                self.upstreams.detail = None;
                self.dns.detail = None;
            }
        }
        self.clamp_scroll();
        if self.focus == PaneId::Upstreams && self.upstreams.detail.is_some() {
            self.upstreams.detail = self.upstreams.at(self.scroll[PaneId::Upstreams.index()]);
        }
        if self.focus == PaneId::Dns && self.dns.detail.is_some() {
            self.dns.detail = Some(self.scroll[PaneId::Dns.index()]);
        }
        (true, effects)
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        let Some(text) = self.filter_input.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Enter => self.filter_input = None,
            KeyCode::Esc => {
                self.filter_input = None;
                self.host.filter.clear();
            }
            KeyCode::Backspace => {
                text.pop();
                self.host.filter = text.clone();
            }
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL) && !c.is_control() =>
            {
                // A pasted megabyte must not become a megabyte filter.
                if text.chars().count() < 64 {
                    text.push(c);
                    self.host.filter = text.clone();
                }
            }
            _ => return,
        }
        self.host.rebuild();
        self.scroll[PaneId::Host.index()] = 0;
    }

    fn on_search_key(&mut self, key: KeyEvent) {
        let Some(text) = self.logs.search_input.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Enter => {
                self.logs.search = std::mem::take(text);
                self.logs.search_input = None;
                // Start from below the newest line, so the first jump lands on the latest match.
                self.scroll[PaneId::Logs.index()] = 0;
                self.jump_to_match(false);
                if self.logs.matches().is_empty() && !self.logs.search.is_empty() {
                    self.message = Some(format!("no line matches {:?}", self.logs.search));
                }
            }
            KeyCode::Esc => {
                self.logs.search_input = None;
                self.logs.search.clear();
            }
            KeyCode::Backspace => {
                text.pop();
            }
            // A pasted megabyte must not become a megabyte search.
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL)
                    && !c.is_control()
                    && text.chars().count() < 128 =>
            {
                text.push(c);
            }
            _ => {}
        }
    }

    /// Moves the Logs view so the next match (newer) or the previous one (older) is its bottom line.
    fn jump_to_match(&mut self, newer: bool) {
        let matches = self.logs.matches();
        let len = self.logs.visible().len();
        let pane = PaneId::Logs.index();
        let bottom = len.saturating_sub(1).saturating_sub(self.scroll[pane]);
        // From the newest line, "older" starts with the newest line itself.
        let bottom = if self.scroll[pane] == 0 && !newer {
            len
        } else {
            bottom
        };
        let target = if newer {
            matches.iter().copied().find(|&m| m > bottom)
        } else {
            matches.iter().rev().copied().find(|&m| m < bottom)
        };
        match target {
            Some(m) => {
                self.scroll[pane] = len - 1 - m;
                self.logs.follow = self.scroll[pane] == 0;
            }
            None if !self.logs.search.is_empty() => {
                let which = if newer { "newer" } else { "older" };
                self.message = Some(format!("no {which} line matches {:?}", self.logs.search));
            }
            None => self.message = Some("no search: press / in the Logs pane".into()),
        }
    }

    /// Returns whether anything changed.
    fn on_checklist_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('v') => self.checklist_open = false,
            KeyCode::Char('j') | KeyCode::Down => {
                self.checklist_scroll = self.checklist_scroll.saturating_add(1).min(40)
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.checklist_scroll = self.checklist_scroll.saturating_sub(1)
            }
            KeyCode::Char('a') => {
                self.checklist_open = false;
                self.open_actions();
            }
            _ => return false,
        }
        true
    }

    fn on_help_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') => self.help = false,
            KeyCode::Char('j') | KeyCode::Down => {
                self.help_scroll = self.help_scroll.saturating_add(1)
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.help_scroll = self.help_scroll.saturating_sub(1)
            }
            _ => {}
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> bool {
        let at = Position::new(m.column, m.row);
        let screen = layout::screen(self.area(), self.zoomed, self.focus);
        let under = PaneId::ALL
            .into_iter()
            .find(|p| screen.pane(*p).is_some_and(|r| r.contains(at)));
        let Some(pane) = under else { return false };
        match m.kind {
            MouseEventKind::Down(_) => self.focus = pane,
            MouseEventKind::ScrollDown => {
                self.focus = pane;
                self.scroll_by(3);
            }
            MouseEventKind::ScrollUp => {
                self.focus = pane;
                self.scroll_by(-3);
            }
            _ => return false,
        }
        self.clamp_scroll();
        true
    }

    pub fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    fn scroll_by(&mut self, delta: isize) {
        // The Logs pane keeps its offset from the newest line, so down means towards it.
        let delta = if self.focus == PaneId::Logs {
            -delta
        } else {
            delta
        };
        let s = &mut self.scroll[self.focus.index()];
        *s = s.saturating_add_signed(delta);
        if self.focus == PaneId::Logs {
            self.logs.follow = *s == 0;
        }
    }

    /// Rows of list content the focused pane shows at once: the unit of PgUp/PgDn.
    fn page_rows(&self) -> usize {
        let screen = layout::screen(self.area(), self.zoomed, self.focus);
        let height = screen.pane(self.focus).map_or(1, |r| r.height);
        usize::from(height.saturating_sub(2)).max(1)
    }

    /// Number of scrollable rows in a pane; later panes add their own content here.
    fn content_rows(&self, pane: PaneId) -> usize {
        match pane {
            PaneId::Host => self.host.visible.len(),
            PaneId::Upstreams => self.upstreams.rows.len(),
            PaneId::Dns => self.dns.order.len(),
            PaneId::Logs => self.logs.visible().len(),
        }
    }

    /// Keeps every offset inside its content so `G` and resizes never leave a pane scrolled into nothing.
    fn clamp_scroll(&mut self) {
        for pane in PaneId::ALL {
            self.clamp(pane);
        }
    }

    /// One pane only: collector results touch one pane, and counting another pane's rows (the
    /// Logs pane filters thousands of lines) on every result would be wasted work.
    fn clamp(&mut self, pane: PaneId) {
        let max = self.content_rows(pane).saturating_sub(1);
        let s = &mut self.scroll[pane.index()];
        *s = (*s).min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{EphemeralPorts, FileHandles, TcpStates};
    use std::time::Duration;

    fn clock() -> jiff::Zoned {
        jiff::Timestamp::from_second(1_800_000_000)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
            .unwrap_or_default()
    }

    fn app() -> App {
        App::new(clock(), (120, 40))
    }

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .1
    }

    fn proc(pid: u32, cmd: &str, cpu: f32, mem: u64) -> ProcessRow {
        ProcessRow {
            pid,
            user: "www-data".into(),
            cpu,
            mem,
            command: cmd.into(),
        }
    }

    fn sample(load1: f64) -> HostSample {
        HostSample {
            hostname: "proxy-1".into(),
            uptime: Duration::from_secs(3600),
            cores: 2,
            cpu_total: 10.0,
            cpu_per_core: vec![10.0, 10.0],
            load: [load1, 0.5, 0.5],
            mem_used: 1 << 30,
            mem_total: 4 << 30,
            swap_used: 0,
            swap_total: 0,
            processes: vec![
                proc(10, "nginx: master", 0.5, 10 << 20),
                proc(11, "nginx: worker", 30.0, 20 << 20),
                proc(12, "php-fpm: pool www", 5.0, 300 << 20),
            ],
            sockets: Ok(TcpStates::default()),
            ports: Ok(EphemeralPorts {
                low: 32768,
                high: 60999,
                in_use: 10,
            }),
            sockets_age: std::time::Duration::ZERO,
            files: Ok(FileHandles {
                used: 1000,
                max: 100_000,
            }),
        }
    }

    #[test]
    fn tab_and_digits_move_focus_and_wrap() {
        let mut a = app();
        press(&mut a, KeyCode::Tab);
        assert_eq!(a.focus, PaneId::Upstreams);
        press(&mut a, KeyCode::BackTab);
        press(&mut a, KeyCode::BackTab);
        assert_eq!(a.focus, PaneId::Logs);
        press(&mut a, KeyCode::Char('3'));
        assert_eq!(a.focus, PaneId::Dns);
        press(&mut a, KeyCode::Char('9'));
        assert_eq!(a.focus, PaneId::Dns);
    }

    #[test]
    fn q_and_ctrl_c_quit_even_from_help_or_filter() {
        let mut a = app();
        assert_eq!(press(&mut a, KeyCode::Char('q')), vec![Effect::Quit]);
        press(&mut a, KeyCode::Char('/'));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(a.update(Event::Key(ctrl_c)).1, vec![Effect::Quit]);
    }

    #[test]
    fn help_opens_and_closes_and_swallows_keys() {
        let mut a = app();
        press(&mut a, KeyCode::Char('?'));
        assert!(a.help);
        assert!(
            press(&mut a, KeyCode::Char('q')).is_empty(),
            "q closes help, does not quit"
        );
        assert!(!a.help);
    }

    #[test]
    fn enter_and_z_toggle_zoom() {
        let mut a = app();
        press(&mut a, KeyCode::Enter);
        assert!(a.zoomed);
        press(&mut a, KeyCode::Char('z'));
        assert!(!a.zoomed);
    }

    #[test]
    fn processes_sort_by_cpu_then_mem() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        let pids: Vec<u32> = a.host.visible_processes().map(|p| p.pid).collect();
        assert_eq!(pids, [11, 12, 10]);
        press(&mut a, KeyCode::Char('s'));
        let pids: Vec<u32> = a.host.visible_processes().map(|p| p.pid).collect();
        assert_eq!(pids, [12, 11, 10]);
    }

    #[test]
    fn filter_narrows_processes_and_esc_clears_it() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        press(&mut a, KeyCode::Char('/'));
        for c in "NGINX".chars() {
            press(&mut a, KeyCode::Char(c));
        }
        assert_eq!(
            a.host.visible.len(),
            2,
            "case-insensitive match on the command"
        );
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.filter_input, None);
        assert_eq!(a.host.filter, "NGINX");
        press(&mut a, KeyCode::Char('/'));
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.host.visible.len(), 3);
    }

    #[test]
    fn scrolling_is_clamped_to_content() {
        let mut a = app();
        a.update(Event::Host(Box::new(sample(0.1))));
        press(&mut a, KeyCode::Char('G'));
        assert_eq!(a.scroll[0], 2);
        press(&mut a, KeyCode::PageDown);
        assert_eq!(a.scroll[0], 2);
        press(&mut a, KeyCode::Char('g'));
        press(&mut a, KeyCode::Up);
        assert_eq!(a.scroll[0], 0);
    }

    #[test]
    fn overall_status_follows_host_findings() {
        let mut a = app();
        assert_eq!(a.overall(), Status::Unknown);
        a.update(Event::Host(Box::new(sample(0.1))));
        assert_eq!(a.overall(), Status::Ok);
        a.update(Event::Host(Box::new(sample(5.0))));
        assert_eq!(a.overall(), Status::Critical);
    }

    #[test]
    fn rerun_and_suspend_become_effects() {
        let mut a = app();
        assert_eq!(press(&mut a, KeyCode::Char('r')), vec![Effect::RerunAll]);
        let ctrl_z = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
        assert_eq!(a.update(Event::Key(ctrl_z)).1, vec![Effect::Suspend]);
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
        use crate::upstream::Outcome;
        use upstreams::tests::{result, view};
        let mut a = app();
        a.upstreams = view();
        a.focus = PaneId::Upstreams;
        a.update(Event::Probe(Box::new(result(0, 1, Outcome::Ok))));
        a.update(Event::Probe(Box::new(result(1, 2, Outcome::Ok))));
        a.update(Event::Probe(Box::new(result(2, 3, Outcome::Ok))));
        press(&mut a, KeyCode::Down);
        assert_eq!(a.upstreams.at(a.scroll[1]), Some(1), "cursor on beta");
        a.update(Event::Probe(Box::new(result(1, 4, Outcome::Refused))));
        assert_eq!(a.upstreams.order[0], 1, "beta is down, so first");
        assert_eq!(
            a.upstreams.at(a.scroll[1]),
            Some(1),
            "the cursor followed beta"
        );
        assert_eq!(a.overall(), Status::Critical);
        press(&mut a, KeyCode::Char('g'));
        a.update(Event::Probe(Box::new(result(0, 5, Outcome::Timeout))));
        assert_eq!(
            a.scroll[1], 0,
            "a cursor left at the top stays on the worst row"
        );
    }

    #[test]
    fn enter_opens_a_rows_detail_and_reruns_it_esc_closes() {
        use upstreams::tests::view;
        let mut a = app();
        a.upstreams = view();
        press(&mut a, KeyCode::Char('2'));
        assert_eq!(
            press(&mut a, KeyCode::Enter),
            vec![Effect::RerunUpstream(0)]
        );
        assert_eq!(a.upstreams.detail, Some(0));
        assert!(
            !a.zoomed,
            "Enter in the Upstreams pane opens a row, it does not zoom"
        );
        press(&mut a, KeyCode::Down);
        assert_eq!(a.upstreams.detail, Some(1), "the detail follows the cursor");
        press(&mut a, KeyCode::Esc);
        assert_eq!(a.upstreams.detail, None);
        press(&mut a, KeyCode::Char('z'));
        assert!(a.zoomed);
    }

    #[test]
    fn logs_keys_pause_search_and_switch_sources() {
        use crate::logs::{LogBatch, LogLine, SourceSpec, SourceStatus};
        let mut a = app();
        a.logs = LogView::new(&[
            SourceSpec::file("/a.log", None),
            SourceSpec::file("/b.log", None),
        ]);
        let lines = |n: usize| LogBatch {
            source: 0,
            skipped: Default::default(),
            lines: (0..n)
                .map(|i| LogLine {
                    text: format!("line {i} {}", if i % 10 == 0 { "needle" } else { "hay" }),
                    format: None,
                    cause: None,
                    status: None,
                    upstream: None,
                    time: None,
                })
                .collect(),
            status: SourceStatus::Following,
            events: vec![],
        };
        a.update(Event::Log(Box::new(lines(100))));
        press(&mut a, KeyCode::Char('4'));
        assert!(a.logs.follow);
        press(&mut a, KeyCode::Char('f'));
        assert!(!a.logs.follow);
        a.update(Event::Log(Box::new(lines(5))));
        assert_eq!(a.scroll[3], 5, "a paused view stays on the lines it showed");
        press(&mut a, KeyCode::Char('G'));
        assert!(a.logs.follow && a.scroll[3] == 0);
        press(&mut a, KeyCode::Char('/'));
        for c in "needle".chars() {
            press(&mut a, KeyCode::Char(c));
        }
        press(&mut a, KeyCode::Enter);
        // 105 lines; the newest match is line index 100: 4 lines above the newest.
        assert_eq!(a.scroll[3], 4);
        press(&mut a, KeyCode::Char('N'));
        assert_eq!(a.scroll[3], 14, "the previous (older) match");
        press(&mut a, KeyCode::Char('n'));
        assert_eq!(a.scroll[3], 4);
        press(&mut a, KeyCode::Char(']'));
        assert_eq!(a.logs.current, 1);
        press(&mut a, KeyCode::Char('['));
        assert_eq!(a.logs.current, 0);
    }
}
