//! What the diagnosis looks at: plain owned data, built from the dashboard's views
//! (`App::diagnosis`) or from one `check` run, and easy to write by hand in tests.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Target as UpstreamUrl;
use crate::dns::{DnsResult, DnsRound, DriftTracker};
use crate::firewall::{self, FirewallSummary, Match};
use crate::host::{self, HostSample};
use crate::logs::{Format, WindowCounts};
use crate::status::{Finding, Status};
use crate::upstream::{Outcome, ProbeResult, State};

use super::StaleAddress;

#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `None` before the first host sample.
    pub host: Option<HostInput>,
    pub upstreams: Vec<UpstreamInput>,
    pub dns: DnsInput,
    pub logs: Vec<LogInput>,
    /// `None` before the first read of the firewall. Shared: the dashboard keeps one, matched
    /// against the upstreams when either changes, and hands it to every diagnosis.
    pub firewall: Option<Arc<FirewallInput>>,
    /// `None` without a `[gateway]` section.
    pub gateway: Option<GatewayInput>,
    /// The configured services and what their `status` command last said.
    pub services: Vec<ServiceInput>,
    /// Addresses a proxy in a container still connects to although the container behind the
    /// name has moved ([`super::stale_addresses`]); empty without containers.
    pub stale_addresses: Vec<StaleAddress>,
    /// When these inputs are judged, for the clock times sentences name.
    pub clock: Clock,
}

/// The moment of a judgement and the zone its clock times are written in.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Unix seconds.
    pub now: i64,
    pub tz: jiff::tz::TimeZone,
}

impl Default for Clock {
    /// The epoch in UTC: hand-built inputs that name no time.
    fn default() -> Self {
        Clock {
            now: 0,
            tz: jiff::tz::TimeZone::UTC,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HostInput {
    pub load1: f64,
    pub cores: usize,
    pub cpu_percent: f32,
    pub mem_used_percent: f64,
    /// File handles used and the maximum, when /proc told.
    pub files: Option<(u64, u64)>,
    /// Ephemeral ports in use, the range, and the states and remotes holding them; its
    /// [`host::EphemeralPorts::summary`] is the sentence to show.
    pub ports: Option<host::EphemeralPorts>,
    /// The [`BUSIEST`] processes by CPU, as (name, percent of the whole machine): who loads the
    /// host when it is loaded, often not the proxy.
    pub busiest: Vec<(String, f32)>,
    /// [`host::assess`] of the sample.
    pub findings: Vec<Finding>,
}

/// `in_use` of Linux's default ephemeral range (32768-60999), no breakdown: test fixtures.
#[cfg(test)]
pub fn default_range(in_use: u32) -> host::EphemeralPorts {
    host::EphemeralPorts {
        low: 32768,
        high: 60999,
        in_use,
        ..host::EphemeralPorts::default()
    }
}

/// Processes named in [`HostInput::busiest`].
pub const BUSIEST: usize = 3;

impl HostInput {
    pub fn from_sample(s: &HostSample) -> Self {
        let pct = |used: u64, total: u64| {
            if total == 0 {
                0.0
            } else {
                used as f64 * 100.0 / total as f64
            }
        };
        HostInput {
            load1: s.load[0],
            cores: s.cores,
            cpu_percent: s.cpu_total,
            mem_used_percent: pct(s.mem_used, s.mem_total),
            files: s.files.as_ref().ok().map(|f| (f.used, f.max)),
            ports: s.ports.as_ref().ok().cloned(),
            busiest: s.busiest(BUSIEST),
            findings: host::assess(s),
        }
    }

    /// Runnable tasks queue for a CPU, the CPU is saturated, or memory is nearly gone.
    pub fn overloaded(&self) -> bool {
        let cores = self.cores.max(1) as f64;
        self.load1 > cores * host::LOAD_WARNING_PER_CORE
            || self.cpu_percent >= host::CPU_WARNING_PERCENT
            || self.mem_used_percent > host::MEMORY_WARNING_PERCENT as f64
    }

    /// "load 5.20 on 2 cores", the load figure people compare first.
    pub fn load_text(&self) -> String {
        let noun = if self.cores == 1 { "core" } else { "cores" };
        format!("load {:.2} on {} {noun}", self.load1, self.cores)
    }

    /// "busiest: stress 96.0%, php-fpm 15.0%"; `None` when nothing used CPU.
    pub fn busiest_text(&self) -> Option<String> {
        if self.busiest.is_empty() {
            return None;
        }
        let list: Vec<String> = self
            .busiest
            .iter()
            .map(|(name, share)| format!("{name} {share:.1}%"))
            .collect();
        Some(format!("busiest: {}", list.join(", ")))
    }

    /// The ports sentence ("28,231 of 28,232 ephemeral ports in use, 27,900 TIME_WAIT, mostly to
    /// 127.0.0.1:8080"), when the ports were read.
    pub fn ports_text(&self) -> Option<String> {
        self.ports.as_ref().map(host::EphemeralPorts::summary)
    }

    /// Ephemeral ports in use and the size of the range.
    pub fn ports_used(&self) -> Option<(u32, u32)> {
        self.ports.as_ref().map(|p| (p.in_use, p.total()))
    }

    pub fn worst(&self) -> Status {
        crate::status::overall(&self.findings)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamInput {
    pub name: String,
    /// The URL as configured or discovered: "http://10.0.0.5:8080/health".
    pub url: String,
    /// The host part (a name or an address); `None` for a unix socket.
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The socket path of a unix upstream.
    pub socket: Option<String>,
    /// Every address it is known to have: the one probes connected to, the DNS answers for its
    /// name, or the address it is written as.
    pub addrs: Vec<IpAddr>,
    /// The address the last probe connected to: "10.0.0.5:8080".
    pub addr: Option<String>,
    /// `None` until the first probe.
    pub state: Option<State>,
    pub outcome: Option<Outcome>,
    pub status_code: Option<u16>,
    /// The last probe's detail, sanitised.
    pub detail: String,
    /// How long it has been in its state.
    pub since: Option<Duration>,
    pub flapping: bool,
    pub latency: Option<Duration>,
    pub timeout: Duration,
    /// Where it comes from: "config", or the proxy config's file:line.
    pub source: String,
    /// What the proxy's own API says of it, when one was read and lists it.
    pub proxy: Option<crate::proxy_view::ProxySays>,
}

impl UpstreamInput {
    /// A not yet probed upstream, its address parts taken from its URL.
    pub fn new(name: &str, url: &UpstreamUrl, timeout: Duration) -> Self {
        let host = url.host().map(str::to_owned);
        let socket = match url {
            UpstreamUrl::Unix { path } => Some(path.display().to_string()),
            _ => None,
        };
        UpstreamInput {
            name: name.to_owned(),
            url: url.to_string(),
            addrs: host
                .as_deref()
                .and_then(|h| h.parse::<IpAddr>().ok())
                .into_iter()
                .collect(),
            host,
            port: url.port(),
            socket,
            addr: None,
            state: None,
            outcome: None,
            status_code: None,
            detail: String::new(),
            since: None,
            flapping: false,
            latency: None,
            timeout,
            source: "config".into(),
            proxy: None,
        }
    }

    /// "shop 10.0.0.5:8080": the name and where it is, as the verdict names it.
    pub fn display(&self) -> String {
        let place = self
            .addr
            .clone()
            .or_else(|| self.socket.as_ref().map(|s| format!("unix:{s}")))
            .or_else(|| match (&self.host, self.port) {
                (Some(h), Some(p)) if h.contains(':') => Some(format!("[{h}]:{p}")),
                (Some(h), Some(p)) => Some(format!("{h}:{p}")),
                _ => None,
            });
        // Discovered upstreams are named "group 10.0.0.5:8080" already.
        match place {
            Some(p) if !self.name.contains(&p) => format!("{} {p}", self.name),
            _ => self.name.clone(),
        }
    }

    pub fn is_down(&self) -> bool {
        self.state == Some(State::Down)
    }

    /// Adds an address (from a probe or a DNS answer) once.
    pub fn add_addr(&mut self, ip: IpAddr) {
        if !self.addrs.contains(&ip) {
            self.addrs.push(ip);
        }
    }

    /// Whether a log's upstream field (`http://10.0.0.5:8080`, `10.0.0.5:8080`,
    /// `unix:/run/php/php-fpm.sock`, HAProxy's `backend/server`) is this upstream.
    pub fn is_named_by(&self, logged: &str) -> bool {
        let known = crate::upstream::named_by::Known {
            name: &self.name,
            group: None,
            host: self.host.as_deref(),
            port: self.port,
            socket: self.socket.as_deref(),
            addr: self.addr.as_deref(),
        };
        known.is_named_by(logged, |ip| self.addrs.contains(&ip))
    }
}

/// How a name fares across every nameserver asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolves {
    Everywhere,
    Partly,
    Nowhere,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DnsNameInput {
    pub name: String,
    pub resolves: Resolves,
    /// The first failure, "127.0.0.53:53: timed out after 2s".
    pub error: Option<String>,
    /// The addresses it had at the first lookup, when it has changed since (nginx may still use
    /// them).
    pub moved_from: Option<Vec<IpAddr>>,
    pub addresses: Vec<IpAddr>,
}

/// The DNS checks' view: names watched, and per name how the latest round went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DnsInput {
    /// Names that will be resolved.
    pub watched: Vec<String>,
    /// Per name, after a round has finished; empty before.
    pub names: Vec<DnsNameInput>,
    /// Everything the DNS checks found (failures, disagreement, drift, families), worst first.
    pub findings: Vec<Finding>,
    /// The nameservers the proxy's own config names: what it asks for names in variables.
    pub proxy_resolvers: Vec<std::net::SocketAddr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogInput {
    /// The path or command, as the pane names it.
    pub source: String,
    pub format: Option<Format>,
    /// What the counts cover: the last this much by the lines' own timestamps.
    pub window: Duration,
    /// A scan budget stopped before the window's start: `window` is what it did read.
    pub cut_short: bool,
    /// Why the source cannot be read, when it cannot.
    pub error: Option<String>,
    pub counts: WindowCounts,
    /// What fails now: the last minute, from the start of the minute a minute ago (the tally
    /// keeps whole minutes), so at most [`RECENT_MINUTES`]. The verdict weighs this; the rest of
    /// the window is history.
    pub recent: WindowCounts,
    /// How long since the last minute that held a bad-gateway event ended; `None` when the
    /// window holds none.
    pub quiet_for: Option<Duration>,
}

impl LogInput {
    /// "error.log": short enough for a verdict line.
    pub fn short_name(&self) -> String {
        Path::new(&self.source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty() && !self.source.contains(' '))
            .unwrap_or_else(|| self.source.clone())
    }

    /// Whether its lines carry HTTP statuses (an access or HAProxy traffic log).
    pub fn has_statuses(&self) -> bool {
        self.format.is_some_and(Format::has_statuses)
    }

    pub fn minutes(&self) -> u64 {
        self.window.as_secs().div_ceil(60).max(1)
    }

    /// Bad-gateway events, as [`WindowCounts::events`] defines them.
    pub fn events(&self) -> u64 {
        self.counts.events()
    }

    /// A log whose lines all fall in the last minute: test fixtures.
    #[cfg(test)]
    pub fn fresh(source: &str, format: Option<Format>, counts: WindowCounts) -> Self {
        LogInput {
            source: source.to_owned(),
            format,
            window: Duration::from_secs(600),
            cut_short: false,
            error: None,
            quiet_for: (counts.events() > 0).then_some(Duration::ZERO),
            recent: counts.clone(),
            counts,
        }
    }

    /// The counts of `span`.
    pub fn counts_in(&self, span: Span) -> &WindowCounts {
        match span {
            Span::Now => &self.recent,
            Span::Window => &self.counts,
        }
    }

    /// "last 2 min" or "10 min": what `span` covers, as the evidence says it.
    pub fn span_text(&self, span: Span) -> String {
        match span {
            Span::Now => format!("last {RECENT_MINUTES} min"),
            Span::Window => format!("{} min", self.minutes()),
        }
    }
}

/// The most minutes [`LogInput::recent`] spans: the minute a minute ago and this one.
pub const RECENT_MINUTES: u64 = 2;

/// Which part of a log's window the verdict weighs: what fails now decides; the rest is history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    Now,
    Window,
}

impl DnsInput {
    /// From the latest round (none yet: only `watched`), the drift seen since the first one
    /// (the dashboard tracks it; one `check` round has none) and the DNS findings.
    pub fn from_round(
        watched: Vec<String>,
        round: Option<&DnsRound>,
        drift: Option<&DriftTracker>,
        findings: Vec<Finding>,
    ) -> Self {
        let mut names = Vec::new();
        if let Some(round) = round {
            for name in round.names() {
                let rows: Vec<&DnsResult> = round.for_name(name).collect();
                let failed: Vec<&&DnsResult> = rows.iter().filter(|r| !r.is_ok()).collect();
                // Per family: a row with addresses resolves, even when its other family failed.
                let unresolved = rows
                    .iter()
                    .filter(|r| r.addresses().next().is_none())
                    .count();
                let resolves = if failed.is_empty() {
                    Resolves::Everywhere
                } else if unresolved == rows.len() {
                    Resolves::Nowhere
                } else {
                    Resolves::Partly
                };
                let mut addresses: Vec<IpAddr> = rows
                    .iter()
                    .filter(|r| r.is_ok())
                    .flat_map(|r| r.addresses())
                    .collect();
                addresses.sort();
                addresses.dedup();
                names.push(DnsNameInput {
                    name: name.to_owned(),
                    resolves,
                    error: failed
                        .first()
                        .and_then(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.nameserver))),
                    moved_from: drift.and_then(|d| d.moved_from(name)),
                    addresses,
                });
            }
        }
        let mut findings = findings;
        findings.sort_by_key(|f| std::cmp::Reverse(f.status.severity()));
        DnsInput {
            watched,
            names,
            findings,
            proxy_resolvers: Vec::new(),
        }
    }

    pub fn name(&self, name: &str) -> Option<&DnsNameInput> {
        self.names.iter().find(|n| n.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallInput {
    pub summary: FirewallSummary,
    pub endpoints: Vec<firewall::Endpoint>,
    /// [`firewall::matches`] of `summary` against `endpoints`.
    pub matches: Vec<Match>,
}

impl FirewallInput {
    /// Matches the summary against the upstreams' addresses and ports (unix sockets have
    /// neither); a target's `id` is the upstream's index.
    pub fn new(summary: FirewallSummary, upstreams: &[UpstreamInput]) -> Self {
        let endpoints = endpoints(upstreams);
        let matches = firewall::matches(&summary, &endpoints);
        FirewallInput {
            summary,
            endpoints,
            matches,
        }
    }
}

pub fn endpoints(upstreams: &[UpstreamInput]) -> Vec<firewall::Endpoint> {
    let mut out = Vec::new();
    for (id, u) in upstreams.iter().enumerate() {
        if u.socket.is_some() {
            continue;
        }
        if u.addrs.is_empty() {
            out.push(firewall::Endpoint {
                id,
                addr: None,
                port: u.port,
            });
        }
        for &addr in &u.addrs {
            out.push(firewall::Endpoint {
                id,
                addr: Some(addr),
                port: u.port,
            });
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct GatewayInput {
    pub url: String,
    /// `None` before the first probe.
    pub outcome: Option<Outcome>,
    pub status_code: Option<u16>,
    pub latency: Option<Duration>,
    pub detail: String,
}

impl GatewayInput {
    pub fn new(url: &UpstreamUrl, last: Option<&ProbeResult>) -> Self {
        GatewayInput {
            url: url.to_string(),
            outcome: last.map(|r| r.outcome),
            status_code: last.and_then(|r| r.status_code),
            latency: last.and_then(|r| r.latency),
            detail: last.map(|r| r.detail.clone()).unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceInput {
    pub name: String,
    /// ok when its status command succeeded, critical when it failed, unknown when not run.
    pub status: Status,
    /// What the status command said: "active", "inactive", "failed"...
    pub state: String,
}

impl ServiceInput {
    /// A service as its last status check saw it (`None`: not checked yet).
    pub fn new(name: &str, status: Option<&crate::actions::ServiceStatus>) -> Self {
        use crate::actions::ServiceState;
        let (status, state) = match status {
            Some(s) => (
                match s.state {
                    ServiceState::Running => Status::Ok,
                    ServiceState::Stopped => Status::Critical,
                    ServiceState::Unknown => Status::Unknown,
                },
                s.detail.clone(),
            ),
            None => (Status::Unknown, "not checked yet".into()),
        };
        ServiceInput {
            name: name.to_owned(),
            status,
            state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_input_names_the_busiest_and_words_the_ports() {
        let mut s = crate::app::fixtures::sample(5.0);
        s.ports = Ok(host::EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 28231,
            by_state: [(host::TcpState::TimeWait, 27900)].into(),
            top_remotes: vec![("127.0.0.1:8080".parse().unwrap(), 27900)],
        });
        let h = HostInput::from_sample(&s);
        assert_eq!(h.ports_used(), Some((28231, 28232)));
        assert_eq!(
            h.ports_text().as_deref(),
            Some(
                "28,231 of 28,232 ephemeral ports in use, 27,900 TIME_WAIT, mostly to 127.0.0.1:8080"
            )
        );
        // The fixture's processes on 2 cores: nginx worker 30% of a core is 15% of the host.
        assert_eq!(
            h.busiest_text().as_deref(),
            Some("busiest: nginx 15.0%, php-fpm 2.5%, nginx 0.3%")
        );
        // The full range is critical; load alone is only a warning.
        assert_eq!(h.worst(), Status::Critical);
        s.processes.clear();
        s.ports = Err("denied".into());
        let h = HostInput::from_sample(&s);
        assert_eq!((h.busiest_text(), h.ports_text()), (None, None));
        assert!(h.findings.iter().all(|f| f.status != Status::Critical));
    }

    #[test]
    fn log_fields_name_upstreams_by_address_name_or_socket() {
        let url: UpstreamUrl = "http://shop.internal:8080/health".parse().unwrap();
        let mut u = UpstreamInput::new("shop", &url, Duration::from_secs(2));
        u.add_addr("10.0.0.5".parse().unwrap());
        assert!(u.is_named_by("http://10.0.0.5:8080"));
        assert!(u.is_named_by("10.0.0.5:8080"));
        assert!(u.is_named_by("shop.internal:8080"));
        assert!(u.is_named_by("be_shop/shop"), "HAProxy backend/server");
        assert!(!u.is_named_by("10.0.0.5:9090"));
        assert!(!u.is_named_by("10.0.0.6:8080"));
        assert_eq!(u.display(), "shop shop.internal:8080");
        u.addr = Some("10.0.0.5:8080".into());
        assert_eq!(u.display(), "shop 10.0.0.5:8080");

        let sock: UpstreamUrl = "unix:/run/php/php-fpm.sock".parse().unwrap();
        let php = UpstreamInput::new("php", &sock, Duration::from_secs(2));
        assert!(php.is_named_by("fastcgi://unix:/run/php/php-fpm.sock"));
        assert!(php.is_named_by("unix:/run/php/php-fpm.sock:"));
        assert!(!php.is_named_by("unix:/run/other.sock"));
        assert_eq!(php.display(), "php unix:/run/php/php-fpm.sock");
        assert!(
            endpoints(&[php]).is_empty(),
            "no firewall between a socket and us"
        );

        let hop: UpstreamUrl = "tcp://127.0.0.1:1080".parse().unwrap();
        let behind = UpstreamInput::new(
            "be_remote/r1 via socks4 127.0.0.1:1080",
            &hop,
            Duration::from_secs(2),
        );
        assert!(behind.is_named_by("be_remote/r1"), "HAProxy's name for it");
        assert!(!behind.is_named_by("be_remote/r2"));

        let v6: UpstreamUrl = "http://[::1]:8443/".parse().unwrap();
        let api = UpstreamInput::new("api", &v6, Duration::from_secs(2));
        assert!(api.is_named_by("[::1]:8443"));
        assert_eq!(api.addrs, ["::1".parse::<IpAddr>().unwrap()]);
    }
}
