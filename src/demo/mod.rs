//! `gatewatch demo`: a scene on 127.0.0.1 where a 502 goes wrong in every way at once, for a
//! newcomer to see every pane alive within seconds and for the screenshots.
//!
//! Everything is real: HTTP servers that answer, answer 502, refuse, hang, flap and crawl; clients
//! that make requests through them a few times a second and write what happened in nginx's own
//! error and access log formats; two small authoritative nameservers, one lagging the other. The
//! dashboard watches it all through an ordinary config (written next to the logs, so
//! `gatewatch --config <dir>/gatewatch.toml check` works on the scene too). Nothing leaves
//! loopback, nothing needs root, and the scratch directory goes away on quit, on a signal and on a
//! panic.

mod dns;
mod logfile;
mod nginx_log;
mod servers;
mod traffic;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::actions::ServiceSpec;
use crate::config::{self, Config};
use crate::dashboard;
use crate::dns::DnsSettings;
use crate::theme::Theme;
use crate::upstream::catalog::{Catalog, Entry};

pub use dns::NAMES as DNS_NAMES;
use servers::{Behaviour, DownPort, ServiceFiles};
use traffic::Route;

/// The upstream that refuses until restarted, then stays up this long before crashing again.
pub const UP_AFTER_RESTART: Duration = Duration::from_secs(90);
/// The flapping upstream's half period.
pub const FLAP_EVERY: Duration = Duration::from_secs(20);
/// The slow upstream's answer time, above its `slow` threshold and below its timeout.
pub const SLOW_ANSWER: Duration = Duration::from_millis(1200);

/// The demo's scratch directory. Removed once, by whoever comes first: the owner's drop, or the
/// exit hook on a signal or a panic. Files are created only through [`Scratch::with_dir`], so none
/// can appear while it is being removed.
pub struct Scratch {
    path: PathBuf,
    dir: Mutex<Option<tempfile::TempDir>>,
}

impl Scratch {
    pub fn new() -> std::io::Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix("gatewatch-demo-")
            .tempdir()?;
        Ok(Scratch {
            path: dir.path().to_path_buf(),
            dir: Mutex::new(Some(dir)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` while the directory exists and cannot be removed; `None` once it is gone.
    pub fn with_dir<R>(&self, f: impl FnOnce(&Path) -> R) -> Option<R> {
        let dir = self.dir.lock().unwrap_or_else(PoisonError::into_inner);
        dir.as_ref().map(|d| f(d.path()))
    }

    pub fn remove(&self) {
        let dir = self
            .dir
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(dir) = dir
            && let Err(e) = dir.close()
        {
            tracing::warn!("demo: cannot remove {}: {e}", self.path.display());
        }
    }
}

/// The running scene. Dropping it stops the servers and clients and removes the directory.
pub struct Demo {
    runtime: Option<tokio::runtime::Runtime>,
    scratch: Arc<Scratch>,
    config: Config,
    catalog: Catalog,
}

/// One upstream of the scene: its name, how it behaves, and what the clients ask it for.
struct Part {
    name: &'static str,
    path: &'static str,
    requests: &'static [(&'static str, &'static str)],
}

const SHOP: Part = Part {
    name: "shop-web",
    path: "/health",
    requests: &[("GET", "/"), ("GET", "/products/1042"), ("GET", "/cart")],
};
const PAYMENTS: Part = Part {
    name: "payments",
    path: "/health",
    requests: &[
        ("POST", "/api/payments/charge"),
        ("GET", "/api/payments/status"),
    ],
};
const INVENTORY: Part = Part {
    name: "inventory",
    path: "/health",
    requests: &[("GET", "/api/stock?sku=1042"), ("GET", "/api/stock?sku=77")],
};
const SEARCH: Part = Part {
    name: "search",
    path: "/health",
    requests: &[("GET", "/search?q=lamp"), ("GET", "/search?q=desk")],
};
const RECOMMENDATIONS: Part = Part {
    name: "recommendations",
    path: "/health",
    requests: &[
        ("GET", "/api/recommend?user=81"),
        ("GET", "/api/recommend?user=7"),
    ],
};
const IMAGES: Part = Part {
    name: "images",
    path: "/health",
    requests: &[("GET", "/img/1042.webp"), ("GET", "/img/77.webp")],
};

impl Demo {
    /// Starts the scene: servers, nameservers and clients on a runtime of their own (two threads:
    /// the dashboard's own runtime stays single-threaded and untouched), and the config to watch it.
    pub fn start() -> anyhow::Result<Demo> {
        let scratch = Arc::new(Scratch::new().context("cannot create the demo's directory")?);
        // From here on, every way out removes the directory: a failed start, the owner's drop, and
        // (through the hook) a re-raised signal or a panic.
        let hook = Arc::clone(&scratch);
        crate::tui::on_exit(move || hook.remove());
        Self::start_in(Arc::clone(&scratch)).inspect_err(|_| scratch.remove())
    }

    fn start_in(scratch: Arc<Scratch>) -> anyhow::Result<Demo> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .thread_name("gatewatch-demo")
            .enable_all()
            .build()
            .context("cannot start the demo's runtime")?;
        let dir = scratch.path().to_path_buf();
        let error_log = dir.join("error.log");
        let access_log = dir.join("access.log");
        let service = ServiceFiles {
            restart_flag: dir.join("inventory.restart"),
            status: dir.join("inventory.status"),
        };
        let started = Instant::now();

        let _enter = runtime.enter();
        let mut addrs = Vec::new();
        for behaviour in [
            Behaviour::Healthy,
            Behaviour::BadGateway,
            Behaviour::Hang,
            Behaviour::Flapping {
                since: started,
                period: FLAP_EVERY,
            },
            Behaviour::Slow(SLOW_ANSWER),
        ] {
            let listener = tokio::net::TcpListener::from_std(servers::listen()?)?;
            addrs.push(listener.local_addr()?);
            runtime.spawn(servers::serve(listener, behaviour));
        }
        let [shop, payments, search, recommendations, images] = addrs[..] else {
            anyhow::bail!("the demo needs five servers");
        };
        // The scene's past: nginx served the shop fine, then was reloaded just before.
        let logs = Arc::new(
            logfile::NginxLogs::create(Arc::clone(&scratch), &error_log, &access_log, shop)
                .context("cannot create the demo's logs")?,
        );
        let down = DownPort::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let inventory = down.addr;
        runtime.spawn(servers::crashing_app(
            down,
            service.clone(),
            UP_AFTER_RESTART,
            Arc::clone(&scratch),
        ));

        let mut nameservers = Vec::new();
        for lag in [Duration::ZERO, dns::LAG] {
            let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            socket.set_nonblocking(true)?;
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            nameservers.push(socket.local_addr()?);
            runtime.spawn(dns::serve(
                socket,
                dns::Zone {
                    since: started,
                    lag,
                },
            ));
        }

        let parts = [
            (&SHOP, shop, Duration::from_millis(300)),
            (&PAYMENTS, payments, Duration::from_millis(500)),
            (&INVENTORY, inventory, Duration::from_millis(400)),
            (&SEARCH, search, Duration::from_millis(600)),
            (
                &RECOMMENDATIONS,
                recommendations,
                Duration::from_millis(500),
            ),
            (&IMAGES, images, Duration::from_millis(700)),
        ];
        for (i, (part, addr, every)) in parts.iter().enumerate() {
            let route = Route {
                upstream: *addr,
                host: dns::STABLE,
                requests: part.requests,
                every: *every,
            };
            let seed = u64::from(std::process::id()) << 8 | i as u64;
            runtime.spawn(traffic::drive(route, seed, Arc::clone(&logs)));
        }

        let upstreams: Vec<(&Part, SocketAddr)> = parts.iter().map(|(p, a, _)| (*p, *a)).collect();
        let text = config_text(&upstreams, &nameservers, &error_log, &access_log, &service);
        let config_path = dir.join("gatewatch.toml");
        let config = config::parse(&text, &config_path)
            .map_err(|e| anyhow::anyhow!("the demo's own config is invalid: {e}"))?;
        std::fs::write(&config_path, &text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let catalog = catalog(&config);
        drop(_enter);
        Ok(Demo {
            runtime: Some(runtime),
            scratch,
            config,
            catalog,
        })
    }

    /// Where the logs, the config and the service's files are.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The config the dashboard watches the scene with, `[[service]]` included.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn options(&self, theme: Theme, mouse: bool, read_only: bool) -> dashboard::Options {
        let logs = self.catalog.log_sources(&self.config);
        let services: Vec<ServiceSpec> = self
            .config
            .services
            .iter()
            .map(ServiceSpec::from_config)
            .collect();
        dashboard::Options {
            refresh: self.config.refresh,
            dns: DnsSettings::for_catalog(&self.config, &self.catalog),
            timeline: crate::timeline::collect::Sources::new(
                &self.config.timeline,
                &self.catalog,
                &logs,
                &services,
            ),
            logs,
            catalog: self.catalog.clone(),
            theme,
            mouse,
            services,
            read_only: read_only.then(|| "--read-only".into()),
            notice: None,
            notices: Vec::new(),
            gateway: self.config.gateway.clone(),
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Tasks are only futures: shutting down drops them and closes every socket.
            rt.shutdown_timeout(Duration::from_millis(500));
        }
        self.scratch.remove();
    }
}

/// The configured upstreams, as the dashboard's catalogue: no proxy config is read, so the
/// machine's own nginx never mixes in.
fn catalog(config: &Config) -> Catalog {
    Catalog {
        entries: config
            .upstreams
            .iter()
            .map(|u| Entry {
                upstream: u.clone(),
                group: Some("demo".into()),
                source: "gatewatch demo".into(),
                flags: vec![],
                notes: vec![],
                limits: None,
            })
            .collect(),
        read_from: vec!["gatewatch demo".into()],
        ..Catalog::default()
    }
}

/// A TOML string, quoted and escaped.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn path_quote(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// The scene's config as a file a user could have written; parsed like any other.
fn config_text(
    upstreams: &[(&Part, SocketAddr)],
    nameservers: &[SocketAddr],
    error_log: &Path,
    access_log: &Path,
    service: &ServiceFiles,
) -> String {
    let mut t = String::from(
        "# Written by `gatewatch demo` for the scene it runs; removed when the demo ends.\n\
         refresh = \"2s\"\n\
         # The scene only: `check` with this file reads no proxy config of the host's.\n\
         discover = false\n",
    );
    for (part, addr) in upstreams {
        t.push_str(&format!(
            "\n[[upstream]]\nname = {}\nurl = {}\ntimeout = \"2s\"\ninterval = \"2s\"\n\
             slow = \"800ms\"\nhost = {}\n",
            quote(part.name),
            quote(&format!("http://{addr}{}", part.path)),
            quote(dns::STABLE),
        ));
    }
    let names: Vec<String> = dns::NAMES.iter().map(|n| quote(n)).collect();
    let servers: Vec<String> = nameservers.iter().map(|a| quote(&a.to_string())).collect();
    t.push_str(&format!(
        "\n[dns]\nnames = [{}]\nnameservers = [{}]\ntimeout = \"1s\"\ninterval = \"5s\"\n",
        names.join(", "),
        servers.join(", ")
    ));
    // The scene's timeline is its own: the host's kernel log and packages are not part of it.
    t.push_str("\n[timeline]\nkernel = \"/dev/null\"\npackages = []\n");
    // Log paths are globs to the config: escape whatever the temp dir's path holds.
    for (log, kind) in [(error_log, "error"), (access_log, "access")] {
        let escaped = glob::Pattern::escape(&log.to_string_lossy());
        t.push_str(&format!(
            "\n[[log]]\npath = {}\nkind = \"{kind}\"\n",
            quote(&escaped)
        ));
    }
    t.push_str(&format!(
        // The status prints the app's state file and exits non-zero unless it runs (the file is
        // $0 of a fixed script: nothing is interpolated into shell text).
        "\n[[service]]\nname = \"inventory\"\nstatus = [\"sh\", \"-c\", \"cat \\\"$0\\\"; grep -q '^inventory: running' \\\"$0\\\"\", {}]\nrestart = [\"touch\", {}]\n",
        path_quote(&service.status),
        path_quote(&service.restart_flag),
    ));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scene_config_parses_with_every_upstream_nameserver_log_and_the_service() {
        let addr: SocketAddr = "127.0.0.1:40001".parse().expect("addr");
        let dir = Path::new("/tmp/gatewatch-demo-[x] \"q\"");
        let service = ServiceFiles {
            restart_flag: dir.join("inventory.restart"),
            status: dir.join("inventory.status"),
        };
        let text = config_text(
            &[(&SHOP, addr), (&INVENTORY, addr)],
            &[addr, "127.0.0.1:40002".parse().expect("addr")],
            &dir.join("error.log"),
            &dir.join("access.log"),
            &service,
        );
        let c = config::parse(&text, Path::new("demo.toml")).expect("parses");
        assert_eq!(c.upstreams.len(), 2);
        assert_eq!(c.upstreams[1].name, "inventory");
        assert_eq!(c.dns.names, dns::NAMES);
        assert!(
            !c.dns
                .nameservers
                .contains(&crate::config::Nameserver::System),
            "the demo never asks the machine's resolvers"
        );
        assert!(
            !c.discover,
            "`check` on the scene's config must not read the host's proxy configs"
        );
        assert_eq!(c.logs.len(), 2);
        let matched: Vec<PathBuf> = glob::glob(c.logs[0].path.as_deref().expect("path"))
            .expect("glob")
            .filter_map(Result::ok)
            .collect();
        assert!(matched.is_empty(), "no such dir here; the pattern is valid");
        assert!(
            glob::Pattern::new(c.logs[0].path.as_deref().expect("path"))
                .expect("pattern")
                .matches_path(&dir.join("error.log"))
        );
        let svc = &c.services[0];
        assert_eq!(
            svc.restart.as_ref().expect("restart").0,
            ["touch", &service.restart_flag.to_string_lossy()]
        );
    }

    #[test]
    fn scratch_is_removed_once_and_creates_nothing_after() {
        let s = Scratch::new().expect("scratch");
        let p = s.path().to_path_buf();
        assert_eq!(s.with_dir(|d| d == p), Some(true));
        s.remove();
        s.remove();
        assert!(!p.exists());
        assert_eq!(s.with_dir(|_| ()), None);
    }
}
