//! Actions on proxies that run in containers: test the config and reload where the proxy lives
//! (through the engine's exec), or restart the container (through the engine's API).
//!
//! Every command is fixed here, per proxy kind, for the official images' layout: nothing is read
//! from the container or a config file to build it. The engine is reached on the socket the
//! container scan found, with the same time limit as a service's command.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Exit, Verb};
use crate::config::Argv;
use crate::containers::{ContainerProxy, Engine, Scan};
use crate::sanitize::sanitize;

/// How long a container command may run: the same as a discovered nginx service's.
pub const CONTAINER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the main process gets to stop on a restart before the engine kills it (Docker's own
/// default), well inside [`CONTAINER_TIMEOUT`].
pub const RESTART_GRACE: Duration = Duration::from_secs(10);
/// How often a running engine call looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

/// One thing done to a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerCommand {
    /// An argv run inside the container through the engine's exec.
    Exec(Argv),
    /// A signal to the container's main process through the engine's kill call.
    Signal(&'static str),
    /// The engine restarts the container, giving it `grace` to stop.
    Restart { grace: Duration },
}

impl ContainerCommand {
    /// The argv, for an exec (what the audit trail records as `argv`).
    pub fn argv(&self) -> Option<&Argv> {
        match self {
            ContainerCommand::Exec(argv) => Some(argv),
            _ => None,
        }
    }

    /// The engine call, for what is not an exec (the audit trail's `engine_call`).
    pub fn engine_call(&self) -> Option<String> {
        match self {
            ContainerCommand::Exec(_) => None,
            ContainerCommand::Signal(signal) => Some(format!("kill --signal {signal}")),
            ContainerCommand::Restart { grace } => {
                Some(format!("restart --time {}", grace.as_secs()))
            }
        }
    }

    /// How the menu and confirm dialog show it, naming the container.
    pub fn describe(&self, container: &str) -> String {
        let container = sanitize(container);
        match self {
            ContainerCommand::Exec(argv) => {
                format!("in {container}: {}", sanitize(&argv.to_string()))
            }
            ContainerCommand::Signal(signal) => {
                format!("send {signal} to {container}'s main process (engine API)")
            }
            ContainerCommand::Restart { grace } => format!(
                "restart container {container} (engine API, {} s to stop)",
                grace.as_secs()
            ),
        }
    }
}

/// A proxy in a container with what can be done to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// `nginx in web`: what the menu, the history and the audit trail call it.
    pub name: String,
    /// The container's name, as the engine lists it.
    pub container: String,
    /// The container's full id: every call names it, so a container recreated under the same
    /// name is never acted on by mistake.
    pub id: String,
    /// The engine's API socket.
    pub socket: PathBuf,
    pub kind: ContainerProxy,
    pub test: Option<ContainerCommand>,
    pub reload: Option<ContainerCommand>,
    pub restart: ContainerCommand,
    pub timeout: Duration,
}

impl ContainerSpec {
    /// The actions for a `kind` proxy in container `container` (`id`) behind `socket`.
    pub fn new(container: &str, id: &str, socket: PathBuf, kind: ContainerProxy) -> Self {
        let (test, reload) = commands(kind);
        ContainerSpec {
            name: format!("{} in {container}", kind.name()),
            container: container.to_owned(),
            id: id.to_owned(),
            socket,
            kind,
            test,
            reload,
            restart: ContainerCommand::Restart {
                grace: RESTART_GRACE,
            },
            timeout: CONTAINER_TIMEOUT,
        }
    }

    pub fn command(&self, verb: Verb) -> Option<&ContainerCommand> {
        match verb {
            Verb::Status => None,
            Verb::Test => self.test.as_ref(),
            Verb::Reload => self.reload.as_ref(),
            Verb::Restart => Some(&self.restart),
        }
    }

    /// The config test that must pass first: a reload's. A restart is not guarded: the test
    /// runs inside the container, and the container that most needs a restart (crash-looping,
    /// exited) is the one nothing can be run in.
    pub fn guard(&self, verb: Verb) -> Option<&ContainerCommand> {
        self.test.as_ref().filter(|_| verb == Verb::Reload)
    }

    /// `web (id 0123456789ab)`: the container as the audit trail names it.
    pub fn audit_name(&self) -> String {
        let short = self.id.get(..12).unwrap_or(&self.id);
        format!("{} (id {short})", self.container)
    }
}

/// The test and reload commands for the official images of each proxy.
fn commands(kind: ContainerProxy) -> (Option<ContainerCommand>, Option<ContainerCommand>) {
    let exec = |words: &[&str]| {
        Some(ContainerCommand::Exec(Argv(
            words.iter().map(|w| (*w).to_owned()).collect(),
        )))
    };
    const HAPROXY_CFG: &str = "/usr/local/etc/haproxy/haproxy.cfg";
    const CADDYFILE: &str = "/etc/caddy/Caddyfile";
    match kind {
        // `-s reload` reads the master's pid from the pid file the config names.
        ContainerProxy::Nginx => (exec(&["nginx", "-t"]), exec(&["nginx", "-s", "reload"])),
        // The official image runs haproxy as pid 1 in master-worker mode (`-W`), which reloads on
        // SIGUSR2. The engine's kill call signals pid 1 whatever the image holds; an exec of
        // `kill` would need a kill binary, which the slim images do not promise.
        ContainerProxy::Haproxy => (
            exec(&["haproxy", "-c", "-f", HAPROXY_CFG]),
            Some(ContainerCommand::Signal("SIGUSR2")),
        ),
        // The official httpd image has httpd on its PATH; `-k graceful` signals the pid file's
        // process, as apachectl would.
        ContainerProxy::Apache => (exec(&["httpd", "-t"]), exec(&["httpd", "-k", "graceful"])),
        // `caddy reload` posts the config to the admin endpoint on the container's localhost.
        ContainerProxy::Caddy => (
            exec(&[
                "caddy",
                "validate",
                "--config",
                CADDYFILE,
                "--adapter",
                "caddyfile",
            ]),
            exec(&[
                "caddy",
                "reload",
                "--config",
                CADDYFILE,
                "--adapter",
                "caddyfile",
            ]),
        ),
        // Traefik reloads its dynamic config by itself; Envoy's hot restart needs its own wrapper.
        ContainerProxy::Traefik | ContainerProxy::Envoy => (None, None),
    }
}

/// The actions for every proxy the engine's API found (those found through /proc alone have no
/// engine to act through).
pub fn for_containers(scan: &Scan) -> Vec<ContainerSpec> {
    let Some(socket) = &scan.socket else {
        return Vec::new();
    };
    scan.proxies
        .iter()
        .filter_map(|p| {
            let info = p.info.as_ref()?;
            Some(ContainerSpec::new(
                &p.name,
                &info.id,
                socket.clone(),
                p.kind,
            ))
        })
        .collect()
}

/// Runs `command` on the container within `spec.timeout`, its output handed over as lines.
/// Raising `stop` abandons the engine call (an exec may still finish inside the container).
pub fn run(
    spec: &ContainerSpec,
    command: &ContainerCommand,
    stop: &AtomicBool,
    on_lines: &mut dyn FnMut(Vec<String>),
) -> Exit {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Exit::NotStarted(format!("no async runtime: {e}")),
    };
    let mut lines = Vec::new();
    let exit = runtime.block_on(async {
        let work = tokio::time::timeout(spec.timeout, perform(spec, command, &mut lines));
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => {
                    return done.unwrap_or(Exit::TimedOut(spec.timeout));
                }
                _ = tokio::time::sleep(STOP_POLL) => {
                    if stop.load(Ordering::Acquire) {
                        return Exit::Cancelled;
                    }
                }
            }
        }
    });
    if matches!(
        (&exit, command),
        (
            Exit::TimedOut(_) | Exit::Cancelled,
            ContainerCommand::Exec(_)
        )
    ) {
        lines.push("(the engine cannot stop an exec: it may still run in the container)".into());
    }
    if !lines.is_empty() {
        on_lines(lines);
    }
    exit
}

async fn perform(
    spec: &ContainerSpec,
    command: &ContainerCommand,
    lines: &mut Vec<String>,
) -> Exit {
    let engine = match Engine::connect(Some(&spec.socket)).await {
        Ok(engine) => engine,
        Err(e) => return Exit::NotStarted(e.to_string()),
    };
    match command {
        ContainerCommand::Exec(argv) => {
            let words: Vec<&str> = argv.0.iter().map(String::as_str).collect();
            match engine.exec(&spec.id, &words, spec.timeout).await {
                Err(e) => Exit::NotStarted(e.to_string()),
                Ok(done) => {
                    if !done.output.is_empty() {
                        lines.extend(done.output.split('\n').map(cut_line));
                    }
                    match (done.timed_out, done.exit_code) {
                        (true, _) => Exit::TimedOut(spec.timeout),
                        (false, Some(code)) => Exit::Code(i32::try_from(code).unwrap_or(i32::MIN)),
                        (false, None) => {
                            Exit::Engine("the engine did not report the exit status".into())
                        }
                    }
                }
            }
        }
        ContainerCommand::Signal(signal) => match engine.kill(&spec.id, signal).await {
            Ok(()) => {
                lines.push(format!(
                    "{signal} sent to {}'s main process",
                    sanitize(&spec.container)
                ));
                Exit::Done
            }
            Err(e) => Exit::Engine(e.to_string()),
        },
        ContainerCommand::Restart { grace } => {
            let before = main_pid(&engine, &spec.id).await;
            if let Err(e) = engine.restart(&spec.id, *grace).await {
                return Exit::Engine(e.to_string());
            }
            let after = engine.container(&spec.id).await;
            lines.push(match after {
                Ok(info) => format!(
                    "{} restarted: {}, main pid {} (was {})",
                    sanitize(&spec.container),
                    info.state,
                    pid_text(info.pid),
                    pid_text(before),
                ),
                Err(e) => format!(
                    "{} restarted; its state is unknown: {e}",
                    sanitize(&spec.container)
                ),
            });
            Exit::Done
        }
    }
}

async fn main_pid(engine: &Engine, id: &str) -> Option<u32> {
    engine.container(id).await.ok().and_then(|info| info.pid)
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "none".into(), |p| p.to_string())
}

/// An output line at most [`super::MAX_LINE`] bytes, like a host command's.
fn cut_line(line: &str) -> String {
    if line.len() <= super::MAX_LINE {
        return line.to_owned();
    }
    let mut end = super::MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [… line cut at 16 KiB]", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{ContainerInfo, ProxyContainer};

    fn words(c: Option<&ContainerCommand>) -> String {
        c.and_then(ContainerCommand::argv)
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    #[test]
    fn each_kind_gets_its_fixed_commands_and_every_reload_is_guarded() {
        let id = "a".repeat(64);
        let nginx = ContainerSpec::new("web", &id, "/run/d.sock".into(), ContainerProxy::Nginx);
        assert_eq!(nginx.name, "nginx in web");
        assert_eq!(words(nginx.command(Verb::Test)), "nginx -t");
        assert_eq!(words(nginx.command(Verb::Reload)), "nginx -s reload");
        assert_eq!(words(nginx.guard(Verb::Reload)), "nginx -t");
        assert_eq!(nginx.guard(Verb::Restart), None);
        assert_eq!(nginx.guard(Verb::Test), None);
        assert_eq!(nginx.command(Verb::Status), None);
        assert_eq!(nginx.audit_name(), "web (id aaaaaaaaaaaa)");
        assert_eq!(
            nginx.restart.describe("web"),
            "restart container web (engine API, 10 s to stop)"
        );

        let haproxy = ContainerSpec::new("lb", &id, "/s".into(), ContainerProxy::Haproxy);
        assert_eq!(
            haproxy.reload,
            Some(ContainerCommand::Signal("SIGUSR2")),
            "pid 1 signalled by the engine"
        );
        assert_eq!(
            words(haproxy.command(Verb::Test)),
            "haproxy -c -f /usr/local/etc/haproxy/haproxy.cfg"
        );
        let traefik = ContainerSpec::new("t", &id, "/s".into(), ContainerProxy::Traefik);
        assert_eq!(
            (traefik.test.as_ref(), traefik.reload.as_ref()),
            (None, None)
        );
        assert_eq!(traefik.guard(Verb::Restart), None);
    }

    #[test]
    fn only_proxies_the_api_found_are_offered() {
        let info = ContainerInfo {
            id: "b".repeat(64),
            name: "web".into(),
            image: "nginx".into(),
            pid: Some(42),
            state: "running".into(),
            restart_count: 0,
            health: None,
            started_at: None,
            command: vec!["nginx".into()],
            networks: Vec::new(),
        };
        let mut scan = Scan {
            proxies: vec![
                ProxyContainer {
                    name: "web".into(),
                    kind: ContainerProxy::Nginx,
                    pid: 42,
                    info: Some(info),
                },
                ProxyContainer {
                    name: "pid 7 (nginx)".into(),
                    kind: ContainerProxy::Nginx,
                    pid: 7,
                    info: None,
                },
            ],
            ..Scan::default()
        };
        assert!(for_containers(&scan).is_empty(), "no socket, no engine");
        scan.socket = Some("/run/d.sock".into());
        let specs = for_containers(&scan);
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].id, "b".repeat(64));
        assert_eq!(specs[0].socket, PathBuf::from("/run/d.sock"));
    }

    #[test]
    fn a_dead_socket_is_reported_not_panicked_on() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ContainerSpec::new(
            "web",
            &"c".repeat(64),
            dir.path().join("gone.sock"),
            ContainerProxy::Nginx,
        );
        let stop = AtomicBool::new(false);
        let exit = run(&spec, &spec.restart, &stop, &mut |_| {});
        assert!(
            matches!(&exit, Exit::NotStarted(why) if why.contains("gone.sock")),
            "{exit:?}"
        );
        assert!(!exit.success());
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let line = "é".repeat(super::super::MAX_LINE);
        let cut = cut_line(&line);
        assert!(cut.ends_with("[… line cut at 16 KiB]"));
        assert!(cut.len() < super::super::MAX_LINE + 40);
    }
}
