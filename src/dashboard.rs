//! The event loop: terminal input, the clock, collector results and signals all become `Event`s for
//! the one `App`; the screen is redrawn only when something changed, at most 10 times a second
//! for what the collectors bring (a key is answered at once).

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use crate::actions::{ActionRunner, AuditLog, RunnerOptions, ServiceSpec, StatusPoller};
use crate::app::{App, Effect, Event};
use crate::config::Upstream;
use crate::containers::ContainerLister;
use crate::dns::{DnsCollector, DnsSettings};
use crate::firewall::{self, FirewallWatcher, ToolReader};
use crate::host::HostSampler;
use crate::logs::{FollowOptions, LogFollower, SourceSpec};
use crate::model::{Model, Watch};
use crate::outbox::Outbox;
use crate::proxy_view::{self, ProxyViewCollector};
use crate::theme::Theme;
use crate::timeline::collect::TimelineCollector;
use crate::upstream::catalog::{Catalog, DISCOVERED_INTERVAL};
use crate::upstream::{ProbeResult, ProbeScheduler, batch_window};
use crate::{report, tui, ui};

const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// The least time between frames the collectors ask for. Each such frame judges the whole model
/// first, which with 10,000 upstreams costs more than drawing; so with many upstreams the frames
/// come as often as their probe results do (a batch a second at 10,000), and no more. A key
/// still draws at once.
fn frame_interval(upstreams: usize) -> Duration {
    FRAME_INTERVAL.max(batch_window(upstreams))
}
const CLOCK_TICK: Duration = Duration::from_secs(60);

pub struct Options {
    pub refresh: Duration,
    pub catalog: Catalog,
    pub dns: DnsSettings,
    pub logs: Vec<SourceSpec>,
    pub theme: Theme,
    pub mouse: bool,
    pub services: Vec<ServiceSpec>,
    /// Every action refused (and shown greyed), and why: `--read-only`, or a state directory
    /// where the audit trail cannot be written safely.
    pub read_only: Option<String>,
    /// Findings known before any collector runs (a config whose commands were dropped).
    pub notices: Vec<crate::status::Finding>,
    /// Shown in the footer at start: why the state directory or the config is not used.
    pub notice: Option<String>,
    /// The `[gateway]` url, probed like an upstream.
    pub gateway: Option<Upstream>,
    /// Where the incident timeline reads.
    pub timeline: crate::timeline::collect::Sources,
}

impl Options {
    /// A model of what these options watch, with the notices known before any collector runs:
    /// the dashboard's and `serve`'s.
    pub fn model(&self) -> Model {
        let mut model = Model::new(&Watch {
            catalog: &self.catalog,
            names: self.dns.names.clone(),
            logs: &self.logs,
            services: &self.services,
            gateway: self.gateway.as_ref(),
            span: self.timeline.span,
        });
        model.unchecked.extend(self.notices.iter().cloned());
        model
    }
}

/// How the dashboard ended, for `main` to turn into an exit status.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Quit,
    /// The terminal went away (input stream ended or failed): the SSH session is gone.
    InputClosed(String),
    Signal(i32),
}

pub async fn run(opts: Options) -> anyhow::Result<Ended> {
    // Before any collector starts: the first look-up of the system time zone walks the whole
    // zoneinfo tree under jiff's lock. Started first by the log thread, it kept the first frame
    // waiting on that lock (15 ms under strace on a busy 2-core host).
    let started = jiff::Zoned::now();
    let (tx, rx) = mpsc::channel::<Event>(16);
    let collectors = spawn_collectors(&opts, &tx)?;
    // The host's services, then the proxies in containers the catalog found.
    let targets = crate::actions::targets(&opts.services, &opts.catalog.containers);
    let runner = ActionRunner::spawn(
        targets.clone(),
        RunnerOptions {
            read_only: opts.read_only.is_some(),
            audit: AuditLog::default_path().map(AuditLog::new),
            user: crate::actions::current_user(),
        },
        Outbox::new(tx.clone()),
    )?;
    // Declared after the collectors so it drops before them: a collector waiting for room in a
    // full channel fails at once instead of holding up the exit for its stop grace.
    let mut rx = rx;

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    tui::enter(opts.mouse)?;
    tui::spawn_hangup_watchdog()?;
    // ratatui's Drop shows the cursor and eprintln!s on failure, which panics when the terminal is
    // gone; `tui::restore` already shows the cursor, so the Terminal is never dropped.
    let mut term = std::mem::ManuallyDrop::new(tui::terminal()?);
    let size = term.size()?;
    let mut app = App::new(started, (size.width, size.height)).with_model(opts.model());
    app.mouse = opts.mouse;
    app.actions = crate::app::actions::ActionsView::for_targets(&targets, opts.read_only.is_some());
    if let Some(why) = &opts.read_only {
        app.actions.read_only_why.clone_from(why);
    }
    app.message.clone_from(&opts.notice);
    app.clipboard = crate::app::clipboard::decide(|name| std::env::var(name).ok());
    // Known before the first sample, so the header names the host from the first frame.
    app.hostname =
        crate::sanitize::sanitize(&sysinfo::System::host_name().unwrap_or_default()).into_owned();
    let mut input = EventStream::new();

    // The header clock shows minutes: a per-second clock would double the frames an idle
    // dashboard draws (and its CPU and SSH bytes); samples and probes show it is alive anyway.
    // Ticks land on the minute boundary so the clock is never a minute behind.
    let now = jiff::Zoned::now();
    let into_minute = Duration::from_secs(u64::try_from(now.second()).unwrap_or(0))
        + Duration::from_nanos(u64::try_from(now.subsec_nanosecond()).unwrap_or(0));
    let first = Instant::now() + CLOCK_TICK.saturating_sub(into_minute);
    let mut clock = tokio::time::interval_at(first, CLOCK_TICK);
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);

    let mut dirty = true;
    let mut next_frame = Instant::now();
    // Lets the tests prove the panic path gives the terminal back; nothing else sets it.
    let test_panic = std::env::var_os("GATEWATCH_TEST_PANIC").is_some();
    loop {
        if dirty && Instant::now() >= next_frame {
            // Judged as of now (ages, log windows), once for every update since the last frame.
            app.set_clock(jiff::Zoned::now());
            app.settle();
            term.draw(|f| ui::draw(f, &app, &opts.theme))?;
            dirty = false;
            next_frame = Instant::now() + frame_interval(app.model.upstreams.rows.len());
            if test_panic && app.model.host.is_some() {
                panic!("GATEWATCH_TEST_PANIC is set: exercising the panic hook");
            }
        }
        let event = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(ev)) => match translate(ev, opts.mouse) {
                    Some(e) => e,
                    None => continue,
                },
                Some(Err(e)) => return Ok(Ended::InputClosed(e.to_string())),
                None => return Ok(Ended::InputClosed("end of input".into())),
            },
            Some(ev) = rx.recv() => ev,
            _ = clock.tick() => Event::Tick(jiff::Zoned::now()),
            _ = sleep_until(next_frame), if dirty => continue,
            _ = sigterm.recv() => return Ok(Ended::Signal(libc::SIGTERM)),
            _ = sighup.recv() => return Ok(Ended::Signal(libc::SIGHUP)),
            _ = sigint.recv() => return Ok(Ended::Signal(libc::SIGINT)),
        };
        if let Event::Resize(w, h) = event {
            tui::resize(&mut term, w, h)?;
        }
        // A person's key is answered with the next frame at once; the frame cap is for the
        // collectors' floods, and waiting out its 100 ms made every key feel late.
        let by_hand = matches!(event, Event::Key(_) | Event::Mouse(_));
        let (changed, effects) = app.update(event);
        dirty |= changed;
        if by_hand && changed {
            next_frame = Instant::now();
        }
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(Ended::Quit),
                Effect::Suspend => {
                    tui::suspend(&mut term)?;
                    let size = term.size()?;
                    app.update(Event::Resize(size.width, size.height));
                    dirty = true;
                }
                Effect::RerunAll => collectors.rerun_all(),
                Effect::RerunDns => collectors.rerun_dns(),
                Effect::AskDnsAlso(names) => collectors.ask_dns_also(names),
                Effect::WriteReport => {
                    app.settle();
                    app.message = Some(match report::write_to_state_dir(&app.snapshot()) {
                        Ok(path) => format!("report written: {}", path.display()),
                        Err(e) => format!("report not written: {e:#}"),
                    });
                    dirty = true;
                }
                Effect::RunAction(request) => {
                    if let Err(why) = runner.submit(request) {
                        app.actions.running = None;
                        app.message = Some(format!("not run: {why}"));
                        dirty = true;
                    }
                }
                Effect::RerunUpstream(i) => collectors.rerun_upstream(i),
                Effect::Copy(bytes) => {
                    if let Err(e) = tui::send(&mut term, &bytes) {
                        app.message = Some(format!("not copied: {e}"));
                        dirty = true;
                    }
                }
            }
        }
    }
}

/// Every collector, each sending into the app's channel; dropping this stops them all.
pub struct Collectors {
    host: HostSampler,
    upstreams: Option<ProbeScheduler>,
    gateway: Option<ProbeScheduler>,
    dns: Option<DnsCollector>,
    firewall: FirewallWatcher,
    services: Option<StatusPoller>,
    proxy_views: Option<ProxyViewCollector>,
    containers: Option<ContainerLister>,
    timeline: TimelineCollector,
    _logs: Option<LogFollower>,
}

/// Starts every collector `opts` asks for (one with nothing to watch is not started).
pub fn spawn_collectors(opts: &Options, tx: &mpsc::Sender<Event>) -> anyhow::Result<Collectors> {
    let upstreams = opts.catalog.upstreams();
    let has_status = opts.services.iter().any(|s| s.status.is_some());
    let follow = FollowOptions::default();
    Ok(Collectors {
        host: HostSampler::spawn(opts.refresh, Outbox::new(tx.clone()))?,
        // On a thread of their own: 10,000 upstreams are thousands of probes a second, which
        // must not take the screen's thread.
        upstreams: (!upstreams.is_empty())
            .then(|| ProbeScheduler::spawn_threaded("probes", upstreams, Outbox::new(tx.clone())))
            .transpose()?,
        // The gateway is probed like an upstream, but its results are their own kind of event.
        gateway: opts
            .gateway
            .clone()
            .map(|g| ProbeScheduler::spawn(vec![g], Outbox::with(tx.clone(), gateway_event)))
            .transpose()?,
        // Also with no name to watch: the logs may name one the proxy could not resolve.
        dns: Some(DnsCollector::spawn(
            opts.dns.clone(),
            Outbox::new(tx.clone()),
        )?),
        // Rules change rarely and reading them costs processes (ufw is Python): once a minute,
        // and on `r`.
        firewall: FirewallWatcher::spawn(
            ToolReader::default(),
            firewall::INTERVAL,
            Outbox::new(tx.clone()),
        )?,
        services: has_status
            .then(|| StatusPoller::spawn(opts.services.clone(), Outbox::new(tx.clone())))
            .transpose()?,
        proxy_views: (!opts.catalog.apis.is_empty())
            .then(|| {
                ProxyViewCollector::spawn(
                    opts.catalog.apis.clone(),
                    proxy_view::INTERVAL,
                    Outbox::new(tx.clone()),
                )
            })
            .transpose()?,
        // Only where the catalog found an engine: every probe interval, so a recreated
        // container's new address is known by the time its old one fails.
        containers: opts
            .catalog
            .containers
            .socket
            .clone()
            .map(|socket| {
                ContainerLister::spawn(socket, DISCOVERED_INTERVAL, Outbox::new(tx.clone()))
            })
            .transpose()?,
        timeline: TimelineCollector::spawn(opts.timeline.clone(), Outbox::new(tx.clone()))?,
        _logs: (!opts.logs.is_empty())
            .then(|| LogFollower::spawn(opts.logs.clone(), follow, Outbox::new(tx.clone())))
            .transpose()?,
    })
}

impl Collectors {
    /// Every check now, each coalesced with one already pending.
    pub fn rerun_all(&self) {
        self.host.rerun();
        self.upstreams.iter().for_each(ProbeScheduler::rerun_all);
        self.gateway.iter().for_each(ProbeScheduler::rerun_all);
        self.rerun_dns();
        self.firewall.rerun();
        self.services.iter().for_each(StatusPoller::rerun);
        self.proxy_views.iter().for_each(ProxyViewCollector::rerun);
        self.containers.iter().for_each(ContainerLister::rerun);
        self.timeline.rerun();
    }

    pub fn rerun_dns(&self) {
        self.dns.iter().for_each(DnsCollector::rerun);
    }

    pub fn ask_dns_also(&self, names: Vec<String>) {
        if let Some(dns) = &self.dns {
            dns.ask_also(names);
        }
    }

    pub fn rerun_upstream(&self, index: usize) {
        if let Some(upstreams) = &self.upstreams {
            upstreams.rerun(index);
        }
    }
}

/// The one result type sent as two events: an upstream's probes go through `From`.
fn gateway_event(results: Vec<ProbeResult>) -> Event {
    Event::Gateway(results)
}

fn translate(ev: TermEvent, mouse: bool) -> Option<Event> {
    match ev {
        TermEvent::Key(k) => Some(Event::Key(k)),
        TermEvent::Mouse(m) if mouse => Some(Event::Mouse(m)),
        TermEvent::Resize(w, h) => Some(Event::Resize(w, h)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_for_collectors_slow_down_only_with_many_upstreams() {
        assert_eq!(frame_interval(0), FRAME_INTERVAL);
        assert_eq!(frame_interval(1_000), FRAME_INTERVAL);
        assert_eq!(frame_interval(10_000), Duration::from_secs(1));
    }
}
