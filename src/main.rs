use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

use gatewatch::cli::{CheckFormat, Cli, Command};
use gatewatch::dashboard::{self, Ended};
use gatewatch::dns::DnsSettings;
use gatewatch::status::{Finding, Status};
use gatewatch::timeline::collect::Sources;
use gatewatch::upstream::catalog::{self, Catalog, NginxBinary, ProxyConfigs};
use gatewatch::{
    actions, check, config, demo, diagnostics, exposition, open_files, private_dir, report, theme,
    tui,
};

/// Exit status for a config error, before the terminal is touched (Nagios "unknown").
const CONFIG_ERROR: u8 = 3;

/// How long quitting waits for collectors' blocking work (a getaddrinfo in flight) to end.
const QUIT_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Generated from the CLI alone: a broken config must not stop them.
    match &cli.command {
        Some(Command::Completions { shell }) => return print(&gatewatch::cli::completions(*shell)),
        Some(Command::Man) => return print(&gatewatch::cli::man_page()),
        Some(Command::ContainerLogs {
            socket,
            follow,
            tail,
            since,
            container,
            ..
        }) => {
            let ask = gatewatch::containers::LogsAsk {
                follow: *follow,
                tail: *tail,
                since: since.clone(),
            };
            return gatewatch::containers::print_logs(socket, container, &ask);
        }
        _ => {}
    }
    // Checked once, before anything is written there: the diagnostics log, the audit trail and
    // reports all refuse a state directory that another user could redirect.
    let state = private_dir::state_dir().err();
    if let Some(why) = &state {
        eprintln!("gatewatch: {why}");
    }
    let log = diagnostics::init(cli.log_file.as_deref());
    // Every followed log and probe holds a descriptor: a thousand vhosts' logs must not leave a
    // probe with "Too many open files" under the usual soft limit of 1024.
    match open_files::raise_to_hard_limit() {
        Ok(soft) => tracing::debug!(soft, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    if matches!(cli.command, Some(Command::Demo)) {
        return demo(&cli);
    }
    let loaded = match config::load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gatewatch: {e}");
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    if let Some(why) = &loaded.untrusted {
        eprintln!("gatewatch: {why}");
    }
    let env = |k: &str| std::env::var(k).ok();
    let depth = theme::detect_depth(cli.color, &env);
    // Only the dashboard asks the terminal for its background: `check` and the rest draw nothing.
    let theme_name = theme::pick(
        theme::chosen(cli.theme.as_deref(), &loaded.config.theme),
        || match cli.command {
            None => theme::query_background(),
            Some(_) => theme::Background::Unknown,
        },
    );
    let user_dir = config::config_dir(&|k| std::env::var_os(k));
    let theme = match theme::load(&theme_name, user_dir.as_deref(), depth) {
        Ok(t) => t,
        Err(e) => {
            // A theme the config file names is reported at its line there.
            let at_line = cli
                .theme
                .is_none()
                .then(|| loaded.error_at_theme(&e.to_string()))
                .flatten();
            match at_line {
                Some(located) => eprintln!("gatewatch: {located}"),
                None => eprintln!("gatewatch: {e}"),
            }
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    if let Ok(path) = &log {
        tracing::info!(log = %path.display(), config = ?loaded.source, "gatewatch starting");
    }
    let proxies = ProxyConfigs {
        nginx: cli.nginx_conf.clone(),
        haproxy: cli.haproxy_conf.clone(),
        apache: cli.apache_conf.clone(),
        caddy: cli.caddy_conf.clone(),
        nginx_binary: NginxBinary::Search,
        containers: gatewatch::containers::Lookup::from_env(),
    };
    let catalog = catalog::build(&loaded.config, &proxies);
    let services = actions::for_this_host(&loaded.config, catalog.nginx_conf.as_deref());
    match cli.command {
        Some(Command::Check {
            format,
            json,
            output,
            deadline,
        }) => {
            let (model, judged) = one_round(&loaded, &catalog, &services, false, deadline.timeout);
            let now = std::time::SystemTime::now();
            let status = judged.status;
            let format = if json { CheckFormat::Json } else { format };
            let out = match format {
                CheckFormat::Json => {
                    format!(
                        "{}\n",
                        report::to_json(&report::Report::new(&model, &judged, now))
                    )
                }
                CheckFormat::Text => report::to_text(&report::Report::new(&model, &judged, now)),
                CheckFormat::Prometheus => exposition::render(
                    &model,
                    &judged,
                    exposition::Mode::Check,
                    now,
                    exposition::Format::Text,
                ),
            };
            // Not written is unknown to a monitor: its result went nowhere.
            let written = match output {
                None => print(out.as_bytes()) == ExitCode::SUCCESS,
                Some(path) => report::replace_whole(&path, &out)
                    .inspect_err(|e| {
                        let _ = writeln!(std::io::stderr(), "gatewatch: {}: {e}", path.display());
                    })
                    .is_ok(),
            };
            match written {
                true => ExitCode::from(status.exit_code() as u8),
                false => ExitCode::from(CONFIG_ERROR),
            }
        }
        Some(Command::Report { output, deadline }) => {
            let (model, judged) = one_round(&loaded, &catalog, &services, true, deadline.timeout);
            let snapshot = report::Snapshot::new(&model, &judged, jiff::Zoned::now(), Vec::new());
            write_report(&report::markdown(&snapshot), output.as_deref())
        }
        Some(Command::Serve { listen }) => {
            let opts = dashboard::Options {
                read_only: Some("serve never runs actions".into()),
                ..watch_options(&loaded, catalog, services, theme)
            };
            run_serve(opts, listen)
        }
        Some(
            Command::Demo
            | Command::Completions { .. }
            | Command::Man
            | Command::ContainerLogs { .. },
        ) => {
            unreachable!("handled before the config is loaded")
        }
        None => {
            let opts = dashboard::Options {
                mouse: cli.mouse,
                read_only: actions_off(cli.read_only, state.as_ref()),
                notice: state
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| loaded.untrusted.clone()),
                ..watch_options(&loaded, catalog, services, theme)
            };
            run_dashboard(opts)
        }
    }
}

/// What the dashboard and `serve` watch, from the config and discovery: every collector's
/// settings, no mouse, actions allowed, no notice (the caller says otherwise).
fn watch_options(
    loaded: &config::Loaded,
    catalog: Catalog,
    services: Vec<actions::ServiceSpec>,
    theme: gatewatch::theme::Theme,
) -> dashboard::Options {
    let c = &loaded.config;
    let logs = catalog.log_sources(c);
    dashboard::Options {
        refresh: c.refresh,
        dns: DnsSettings::for_catalog(c, &catalog),
        timeline: Sources::new(&c.timeline, &catalog, &logs, &services),
        logs,
        services,
        catalog,
        theme,
        mouse: false,
        read_only: None,
        notice: None,
        notices: notices(loaded),
        gateway: c.gateway.clone(),
    }
}

/// To stdout, or to a new owner-only file: 0 when written, 1 when not.
/// `check` and `report`: one round of every collector over what the config and discovery name,
/// judged once. A report also looks past the logs' window for failing lines to show.
fn one_round(
    loaded: &config::Loaded,
    catalog: &Catalog,
    services: &[actions::ServiceSpec],
    for_report: bool,
    timeout: std::time::Duration,
) -> (gatewatch::model::Model, gatewatch::model::Assessment) {
    let config = &loaded.config;
    let logs = catalog.log_sources(config);
    let dns = DnsSettings::for_catalog(config, catalog);
    let timeline = Sources::new(&config.timeline, catalog, &logs, services);
    check::run(
        &check::Round {
            catalog,
            dns: &dns,
            timeline: &timeline,
            logs: &logs,
            gateway: config.gateway.as_ref(),
            services,
            lines_past_window: for_report,
            notices: &notices(loaded),
        },
        timeout,
    )
}

/// Findings about the config itself: commands dropped from a file others can change.
fn notices(loaded: &config::Loaded) -> Vec<Finding> {
    loaded
        .untrusted
        .iter()
        .map(|why| Finding::new(Status::Warning, why.clone()))
        .collect()
}

/// Why actions are refused, if they are: `--read-only`, or a state directory the audit trail
/// cannot be written in safely (an action that is not audited is not run).
fn actions_off(read_only: bool, state: Option<&private_dir::NotPrivate>) -> Option<String> {
    match state {
        _ if read_only => Some("--read-only".into()),
        Some(why) => Some(format!(
            "no safe audit trail: {} is not private",
            why.path.display()
        )),
        None => None,
    }
}

fn write_report(markdown: &str, output: Option<&std::path::Path>) -> ExitCode {
    let Some(path) = output else {
        return print(markdown.as_bytes());
    };
    match report::write_new(path, markdown) {
        Ok(()) => {
            let _ = writeln!(
                std::io::stderr(),
                "gatewatch: report written to {}",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = writeln!(
                std::io::stderr(),
                "gatewatch: {} already exists: a report never overwrites a file",
                path.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "gatewatch: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes generated text to stdout; a closed pipe (`| head`) is not worth a panic.
fn print(text: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "gatewatch: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `gatewatch demo`: the user's config and proxy configs are not read; the scene brings its own.
fn demo(cli: &Cli) -> ExitCode {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        eprintln!("gatewatch: the demo opens the dashboard, which needs a terminal on stdout");
        return ExitCode::FAILURE;
    }
    let env = |k: &str| std::env::var(k).ok();
    let depth = theme::detect_depth(cli.color, &env);
    let user_dir = config::config_dir(&|k| std::env::var_os(k));
    let name = theme::pick(cli.theme.as_deref(), theme::query_background);
    let theme = match theme::load(&name, user_dir.as_deref(), depth) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gatewatch: {e}");
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    let scene = match demo::Demo::start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("gatewatch: cannot start the demo: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(dir = %scene.dir().display(), "demo started");
    let code = run_dashboard(scene.options(theme, cli.mouse, cli.read_only));
    // Signals and panics remove the scene through `tui`'s exit hook; a plain return, here.
    drop(scene);
    code
}

/// `gatewatch serve`: 0 when stopped by SIGTERM or SIGINT, 1 when it could not start.
fn run_serve(opts: dashboard::Options, listen: std::net::SocketAddr) -> ExitCode {
    let Some(runtime) = current_thread_runtime() else {
        return ExitCode::FAILURE;
    };
    let served = runtime.block_on(gatewatch::serve::run(opts, listen));
    // As the dashboard: a lookup in flight on a blocking thread does not hold up the exit.
    runtime.shutdown_timeout(QUIT_GRACE);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            let _ = writeln!(std::io::stderr(), "gatewatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The one-thread runtime the dashboard and `serve` run on; `None` after saying why it failed.
fn current_thread_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("gatewatch: cannot start the async runtime: {e}");
            None
        }
    }
}

fn run_dashboard(opts: dashboard::Options) -> ExitCode {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        eprintln!(
            "gatewatch: the dashboard needs a terminal on stdout; `gatewatch check` prints a report"
        );
        return ExitCode::FAILURE;
    }
    tui::install_panic_hook();
    // One thread is enough: blocking collectors (host sampling, firewall, logs) have threads of
    // their own, and an idle single-threaded runtime wakes only when there is work.
    let Some(runtime) = current_thread_runtime() else {
        return ExitCode::FAILURE;
    };
    let ended = runtime.block_on(dashboard::run(opts));
    tui::restore();
    // A lookup through the system resolver runs on a blocking thread the runtime would wait for
    // (a slow nameserver held quitting for seconds): quitting does not wait for answers.
    runtime.shutdown_timeout(QUIT_GRACE);
    match ended {
        Ok(Ended::Quit) => ExitCode::SUCCESS,
        Ok(Ended::InputClosed(why)) => {
            tracing::info!(%why, "terminal input closed; exiting");
            ExitCode::FAILURE
        }
        Ok(Ended::Signal(sig)) => {
            tracing::info!(sig, "exiting on signal");
            tui::reraise(sig)
        }
        Err(e) => {
            tracing::error!("{e:#}");
            // The terminal may be gone (that can be why we failed): printing must not panic.
            let _ = writeln!(std::io::stderr(), "gatewatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
