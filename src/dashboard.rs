//! The event loop: terminal input, the clock, collector results and signals all become `Event`s for
//! the one `App`; the screen is redrawn only when something changed, at most 10 times a second.

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use crate::actions::{
    ActionEvent, ActionRunner, AuditLog, RunnerOptions, ServiceSpec, StatusPoller,
};
use crate::app::{App, Effect, Event};
use crate::config::Upstream;
use crate::dns::{DnsEngine, DnsSettings};
use crate::firewall;
use crate::host::Sampler;
use crate::logs::{FollowOptions, LogFollower, SourceSpec};
use crate::model::{Model, Watch};
use crate::theme::Theme;
use crate::upstream::{self, catalog::Catalog};
use crate::{report, tui, ui};

const FRAME_INTERVAL: Duration = Duration::from_millis(100);
const CLOCK_TICK: Duration = Duration::from_secs(60);

pub struct Options {
    pub refresh: Duration,
    pub catalog: Catalog,
    pub dns: DnsSettings,
    pub logs: Vec<SourceSpec>,
    pub theme: Theme,
    pub mouse: bool,
    pub services: Vec<ServiceSpec>,
    /// Every action refused (and shown greyed).
    pub read_only: bool,
    /// The `[gateway]` url, probed like an upstream.
    pub gateway: Option<Upstream>,
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
    let (tx, mut rx) = mpsc::channel::<Event>(16);
    let host_tx = tx.clone();
    let sampler = Sampler::spawn(opts.refresh, move |s| {
        host_tx.blocking_send(Event::Host(Box::new(s))).is_ok()
    })?;

    let probe_tx = tx.clone();
    let prober = if opts.catalog.entries.is_empty() {
        None
    } else {
        let deliver = move |r| probe_tx.blocking_send(Event::Probe(Box::new(r))).is_ok();
        Some(upstream::spawn(opts.catalog.upstreams(), deliver)?)
    };

    let dns_tx = tx.clone();
    let names: Vec<String> = opts
        .dns
        .names
        .iter()
        .filter(|n| !crate::dns::is_ip_literal(n))
        .cloned()
        .collect();
    let resolver = if names.is_empty() {
        None
    } else {
        // Runs on the runtime thread, so it must not block: a full queue drops this round (the
        // next comes within the interval); only a closed one stops the engine.
        let deliver = move |round| match dns_tx.try_send(Event::Dns(Box::new(round))) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        };
        Some(DnsEngine::spawn(opts.dns.clone(), deliver)?)
    };

    let log_tx = tx.clone();
    let _follower = if opts.logs.is_empty() {
        None
    } else {
        let deliver = move |batch| log_tx.blocking_send(Event::Log(Box::new(batch))).is_ok();
        Some(LogFollower::spawn(
            opts.logs.clone(),
            FollowOptions::default(),
            deliver,
        )?)
    };

    let action_tx = tx.clone();
    let runner = ActionRunner::spawn(
        opts.services.clone(),
        RunnerOptions {
            read_only: opts.read_only,
            audit: AuditLog::default_path().map(AuditLog::new),
            user: crate::actions::current_user(),
        },
        move |ev| action_tx.blocking_send(Event::Action(Box::new(ev))).is_ok(),
    )?;
    let status_tx = tx.clone();
    let poller = if opts.services.iter().any(|s| s.status.is_some()) {
        let deliver = move |status| {
            let ev = ActionEvent::Status(Box::new(status));
            status_tx.blocking_send(Event::Action(Box::new(ev))).is_ok()
        };
        Some(StatusPoller::spawn(opts.services.clone(), deliver)?)
    } else {
        None
    };

    // Firewall rules change rarely and reading them costs processes (ufw is Python): once a
    // minute, and on `r`.
    let firewall_tx = tx.clone();
    let firewall = firewall::Watcher::spawn(
        firewall::Runner::default(),
        firewall::INTERVAL,
        move |summary| {
            firewall_tx
                .blocking_send(Event::Firewall(Box::new(summary)))
                .is_ok()
        },
    )?;

    let gateway_tx = tx.clone();
    let gateway = match &opts.gateway {
        Some(g) => {
            let deliver = move |r| {
                gateway_tx
                    .blocking_send(Event::Gateway(Box::new(r)))
                    .is_ok()
            };
            Some(upstream::spawn(vec![g.clone()], deliver)?)
        }
        None => None,
    };

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    tui::enter(opts.mouse)?;
    tui::spawn_hangup_watchdog()?;
    // ratatui's Drop shows the cursor and eprintln!s on failure, which panics when the terminal is
    // gone; `tui::restore` already shows the cursor, so the Terminal is never dropped.
    let mut term = std::mem::ManuallyDrop::new(tui::terminal()?);
    let size = term.size()?;
    let model = Model::new(&Watch {
        catalog: &opts.catalog,
        names: opts.dns.names.clone(),
        logs: &opts.logs,
        services: &opts.services,
        gateway: opts.gateway.as_ref(),
    });
    let mut app = App::new(jiff::Zoned::now(), (size.width, size.height)).with_model(model);
    app.mouse = opts.mouse;
    app.actions = crate::app::actions::ActionsView::new(&opts.services, opts.read_only);
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
            app.set_clock(jiff::Zoned::now());
            term.draw(|f| ui::draw(f, &app, &opts.theme))?;
            dirty = false;
            next_frame = Instant::now() + FRAME_INTERVAL;
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
        // Ages and log windows in the assessment are measured from now.
        app.set_clock(jiff::Zoned::now());
        let (changed, effects) = app.update(event);
        dirty |= changed;
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(Ended::Quit),
                Effect::Suspend => {
                    tui::suspend(&mut term)?;
                    let size = term.size()?;
                    app.update(Event::Resize(size.width, size.height));
                    dirty = true;
                }
                Effect::RerunAll => {
                    sampler.rerun();
                    if let Some(p) = &poller {
                        p.rerun();
                    }
                    firewall.rerun();
                    if let Some(g) = &gateway {
                        g.rerun_all();
                    }
                    if let Some(r) = &resolver {
                        r.rerun();
                    }
                    if let Some(p) = &prober {
                        p.rerun_all();
                    }
                }
                Effect::RerunDns => {
                    if let Some(r) = &resolver {
                        r.rerun();
                    }
                }
                Effect::WriteReport => {
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
                Effect::RerunUpstream(i) => {
                    if let Some(p) = &prober {
                        p.rerun(i);
                    }
                }
            }
        }
    }
}

fn translate(ev: TermEvent, mouse: bool) -> Option<Event> {
    match ev {
        TermEvent::Key(k) => Some(Event::Key(k)),
        TermEvent::Mouse(m) if mouse => Some(Event::Mouse(m)),
        TermEvent::Resize(w, h) => Some(Event::Resize(w, h)),
        _ => None,
    }
}
