//! The containers the model knows of: the upstream names the proxies in containers connect to,
//! and what each name stands for now. Judged with the logs into stale addresses; listed again
//! every probe interval ([`crate::containers::ContainerLister`]), so a recreated container is
//! seen while its old address still fails.

use std::time::Duration;

use crate::containers::{ContainerInfo, Listing, ProxyContainer, ProxyFacts};
use crate::diagnosis::{self, CurrentContainer, LoggedAddress, NamedUpstream, StaleAddress};
use crate::logs::LogBook;
use crate::status::{Finding, Status};

#[derive(Clone, Debug, Default)]
pub struct Containers {
    /// From the proxies' configs, read inside their containers.
    pub named: Vec<NamedUpstream>,
    /// Every running container, as the engine listed it last.
    pub current: Vec<ContainerInfo>,
    /// Unix seconds of that listing.
    pub listed_at: Option<i64>,
    /// The proxy containers whose configs were read at start, with the main process then.
    pub proxies: Vec<WatchedProxy>,
    /// Proxy containers whose main process changed since their config was read.
    pub moved: Vec<MovedProxy>,
    /// Why the last listing failed ("container engine at …: …"); `current` is the one before.
    pub failure: Option<String>,
    /// The containers the Host pane shows: the proxies' and those their upstream names stand
    /// for. Rebuilt with each listing.
    pub involved: Vec<Involved>,
    /// Per proxy container: its own logs, networks and literal upstreams.
    pub facts: Vec<ProxyFacts>,
}

/// A proxy container as gatewatch read it at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedProxy {
    pub name: String,
    pub pid: u32,
}

/// A proxy container whose main process is another one now: restarted or recreated, its config
/// may have changed, and gatewatch still reads the one it found at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedProxy {
    pub name: String,
    pub was: u32,
    pub now: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Proxy,
    Upstream,
}

/// A container the proxies involve, or a name that no running container answers to.
#[derive(Clone, Debug, PartialEq)]
pub struct Involved {
    /// The container's name; the proxy's or the upstream's name when none runs.
    pub name: String,
    pub role: Role,
    /// `None`: no running container has that name.
    pub container: Option<ContainerInfo>,
}

impl Containers {
    pub fn new(named: Vec<NamedUpstream>, current: Vec<ContainerInfo>, at: i64) -> Self {
        let mut containers = Containers {
            named,
            current,
            listed_at: Some(at),
            ..Containers::default()
        };
        containers.involve();
        containers
    }

    /// Watches the proxies found through the engine's API (those found through /proc alone
    /// have no container to list again).
    pub fn with_proxies(mut self, proxies: &[ProxyContainer]) -> Self {
        self.proxies = proxies
            .iter()
            .filter(|p| p.info.is_some())
            .map(|p| WatchedProxy {
                name: p.name.clone(),
                pid: p.pid,
            })
            .collect();
        self.involve();
        self
    }

    /// A new listing from the engine.
    pub fn relist(&mut self, current: Vec<ContainerInfo>, at: i64) {
        self.current = current;
        self.listed_at = Some(at);
        self.note_moved_proxies();
        self.involve();
    }

    /// Takes a listing: a new list, or a failure that keeps the last one. Returns whether what
    /// the model shows or judges changed.
    pub fn apply(&mut self, listing: Listing) -> bool {
        match listing.outcome {
            Ok(list) => {
                let changed = list.containers != self.current || self.failure.is_some();
                self.failure = None;
                self.relist(list.containers, listing.at);
                changed
            }
            Err(why) => {
                let changed = self.failure.as_deref() != Some(why.as_str());
                self.failure = Some(why);
                changed
            }
        }
    }

    /// What the listing itself says is wrong: an engine that does not answer, a proxy whose
    /// config gatewatch no longer reads.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .failure
            .iter()
            .map(|why| Finding::new(Status::Warning, why.clone()))
            .collect();
        out.extend(self.moved.iter().map(|m| {
            Finding::new(
                Status::Warning,
                format!(
                    "proxy container {name} was restarted or recreated (pid {was}, now {now}): \
                     restart gatewatch to read {name}'s config again",
                    name = m.name,
                    was = m.was,
                    now = m.now
                ),
            )
        }));
        out
    }

    /// A watched proxy whose container runs another main process than the one read at start.
    fn note_moved_proxies(&mut self) {
        for proxy in &self.proxies {
            let Some(now) = self
                .current
                .iter()
                .find(|c| c.name == proxy.name)
                .and_then(|c| c.pid)
            else {
                continue;
            };
            match self.moved.iter_mut().find(|m| m.name == proxy.name) {
                Some(moved) => moved.now = now,
                None if now != proxy.pid => self.moved.push(MovedProxy {
                    name: proxy.name.clone(),
                    was: proxy.pid,
                    now,
                }),
                None => {}
            }
        }
    }

    /// The proxies' containers, then those their upstream names stand for (each replica), each
    /// by name; a name no running container answers to is kept, without a container. Only the
    /// proxies the engine listed: one found through /proc has no list to be looked up in.
    fn involve(&mut self) {
        let mut out: Vec<Involved> = Vec::new();
        let mut proxies: Vec<&str> = self.proxies.iter().map(|p| p.name.as_str()).collect();
        proxies.sort_unstable();
        proxies.dedup();
        for &name in &proxies {
            let found = self.current.iter().find(|c| c.name == name);
            out.push(Involved {
                name: name.to_owned(),
                role: Role::Proxy,
                container: found.cloned(),
            });
        }
        let mut upstreams: Vec<Involved> = Vec::new();
        let mut names: Vec<&str> = self
            .named
            .iter()
            .filter(|n| proxies.contains(&n.proxy.strip_prefix('/').unwrap_or(&n.proxy)))
            .map(|n| n.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let mut behind = self
                .current
                .iter()
                .filter(|c| c.answers_to(name))
                .peekable();
            if behind.peek().is_none() {
                upstreams.push(Involved {
                    name: name.to_owned(),
                    role: Role::Upstream,
                    container: None,
                });
            }
            for c in behind {
                let known = |i: &Involved| i.container.as_ref().is_some_and(|k| k.id == c.id);
                if !out.iter().chain(&upstreams).any(known) {
                    upstreams.push(Involved {
                        name: c.name.clone(),
                        role: Role::Upstream,
                        container: Some(c.clone()),
                    });
                }
            }
        }
        upstreams.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(upstreams);
        self.involved = out;
    }

    /// The addresses the logs show failing over `window` before `now` that the containers
    /// behind their names no longer hold.
    pub fn stale(&self, logs: &LogBook, window: Duration, now: i64) -> Vec<StaleAddress> {
        let since = now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        // Each proxy on its own: its own logs, the containers on its own networks, so another
        // proxy's failures or another project's `app` are never its stale address.
        for facts in &self.facts {
            let named: Vec<NamedUpstream> = self
                .named
                .iter()
                .filter(|n| n.proxy == facts.name)
                .cloned()
                .collect();
            if named.is_empty() {
                continue;
            }
            let logged: Vec<LoggedAddress> = logs
                .sources
                .iter()
                .filter(|s| facts.logs.contains(&s.label))
                .flat_map(|s| diagnosis::from_tally(&s.tally, since, now))
                .filter(|l| !facts.literal.contains(&l.addr))
                .collect();
            let networks = self.networks_of(facts);
            let current: Vec<CurrentContainer> = self
                .current
                .iter()
                .filter(|c| c.networks.iter().any(|n| networks.contains(&n.name)))
                .map(current_of)
                .collect();
            out.extend(diagnosis::stale_addresses(&named, &current, &logged));
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.failures));
        out
    }

    /// The networks the proxy is on: as listed last, else as when its config was read.
    fn networks_of(&self, facts: &ProxyFacts) -> Vec<String> {
        self.current
            .iter()
            .find(|c| c.name == facts.name)
            .map(|c| c.networks.iter().map(|n| n.name.clone()).collect())
            .unwrap_or_else(|| facts.networks.clone())
    }

    /// The proxies' own logs, networks and literal upstreams (see [`Containers::stale`]).
    pub fn with_facts(mut self, facts: Vec<ProxyFacts>) -> Self {
        self.facts = facts;
        self
    }
}

fn current_of(c: &ContainerInfo) -> CurrentContainer {
    let mut aliases: Vec<String> = c.aliases().map(str::to_owned).collect();
    aliases.sort();
    aliases.dedup();
    CurrentContainer {
        name: c.name.clone(),
        aliases,
        addresses: c.addresses().collect(),
        started_at: c.started_at,
    }
}

/// Logs at `labels`, each with `n` refused connections to `addr` (nginx's error line) at `at`:
/// what a proxy writes while it connects to a stale address.
#[cfg(test)]
pub(crate) fn refused_log(labels: &[&str], addr: &str, n: usize, at: i64) -> LogBook {
    use crate::logs::{Cause, Format, LogLine, RingLimits, SourceSpec};
    let specs: Vec<SourceSpec> = labels.iter().map(|l| SourceSpec::file(*l, None)).collect();
    let mut book = LogBook::new(&specs, RingLimits::default());
    for source in &mut book.sources {
        for _ in 0..n {
            source.tally.add_line(&LogLine {
                text: "connect() failed (111: Connection refused)".into(),
                format: Some(Format::NginxError),
                cause: Some(Cause::Refused),
                status: None,
                upstream: Some(format!("http://{addr}/")),
                time: Some(at),
            });
        }
    }
    book
}

/// A proxy container `name` on the tests' network "shop", whose log is `log`.
#[cfg(test)]
pub(crate) fn proxy_facts(name: &str, log: &str) -> ProxyFacts {
    ProxyFacts {
        name: name.into(),
        logs: vec![log.into()],
        networks: vec!["shop".into()],
        literal: vec![],
    }
}

/// A running container with one address on one network, for the tests that build a model.
#[cfg(test)]
pub(crate) fn running(name: &str, ip: &str, started_at: i64) -> ContainerInfo {
    let id: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    ContainerInfo {
        id: format!("{id:0>64}"),
        name: name.into(),
        image: format!("{name}:1"),
        pid: Some(1000 + u32::from(name.bytes().next().unwrap_or(0))),
        state: "running".into(),
        restart_count: 0,
        health: None,
        started_at: Some(started_at),
        command: vec![format!("/{name}")],
        networks: vec![crate::containers::ContainerNetwork {
            name: "shop".into(),
            ip: Some(ip.parse().expect("ip")),
            ipv6: None,
            aliases: vec![name.into()],
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{ContainerList, ContainerProxy};

    #[test]
    fn a_proxy_is_judged_on_its_own_logs_networks_and_names_only() {
        let now = 10_000;
        let window = Duration::from_secs(600);
        // `app` was recreated at .5; the old .2 still fails in web's own log: stale.
        let app = running("app", "172.18.0.5", now - 60);
        let c = Containers::new(vec![named("app", "web")], vec![app.clone()], now)
            .with_facts(vec![proxy_facts("web", "/web/error.log")]);
        let own = refused_log(&["/web/error.log"], "172.18.0.2:8000", 20, now - 5);
        assert_eq!(c.stale(&own, window, now).len(), 1);

        // The same failures in another proxy's log (the host's nginx) are not web's.
        let elsewhere = refused_log(
            &["/var/log/nginx/error.log"],
            "172.18.0.2:8000",
            20,
            now - 5,
        );
        assert!(c.stale(&elsewhere, window, now).is_empty());

        // An address web's config names as it is has no name to go stale.
        let mut facts = proxy_facts("web", "/web/error.log");
        facts.literal = vec!["172.18.0.2:8000".parse().expect("addr")];
        let literal = Containers::new(vec![named("app", "web")], vec![app.clone()], now)
            .with_facts(vec![facts]);
        assert!(literal.stale(&own, window, now).is_empty());

        // Another project's `app`, on a network web is not on, is not what web's `app` means.
        let mut other = app;
        other.networks[0].name = "other-project".into();
        let foreign = Containers::new(vec![named("app", "web")], vec![other], now)
            .with_facts(vec![proxy_facts("web", "/web/error.log")]);
        assert!(foreign.stale(&own, window, now).is_empty());
    }

    fn named(name: &str, proxy: &str) -> NamedUpstream {
        NamedUpstream {
            name: name.into(),
            port: 8000,
            proxy: proxy.into(),
            resolves_at_runtime: false,
        }
    }

    fn listing(at: i64, containers: Vec<ContainerInfo>) -> Listing {
        Listing {
            at,
            outcome: Ok(ContainerList {
                containers,
                ..ContainerList::default()
            }),
        }
    }

    #[test]
    fn involved_are_the_proxies_then_what_their_names_stand_for() {
        let mut api = running("api-1", "172.18.0.7", 10);
        api.networks[0].aliases.push("API".into());
        let current = vec![
            running("web", "172.18.0.3", 10),
            running("unrelated", "172.18.0.9", 10),
            api,
            running("app", "172.18.0.5", 10),
        ];
        let named = vec![
            named("app", "/web"),
            named("api", "web"),
            named("db", "web"),
            named("cache", "pid 77 (nginx)"),
        ];
        let without_engine = Containers::new(named.clone(), vec![], 20);
        assert!(
            without_engine.involved.is_empty(),
            "no proxy the engine listed: nothing to show"
        );
        let web = ProxyContainer {
            name: "web".into(),
            kind: ContainerProxy::Nginx,
            pid: 1,
            info: Some(current[0].clone()),
        };
        let found_in_proc = ProxyContainer {
            name: "pid 77 (nginx)".into(),
            info: None,
            ..web.clone()
        };
        let c = Containers::new(named, current, 20).with_proxies(&[web, found_in_proc]);
        let shown: Vec<(&str, Role, bool)> = c
            .involved
            .iter()
            .map(|i| (i.name.as_str(), i.role, i.container.is_some()))
            .collect();
        assert_eq!(
            shown,
            [
                ("web", Role::Proxy, true),
                ("api-1", Role::Upstream, true),
                ("app", Role::Upstream, true),
                ("db", Role::Upstream, false),
            ]
        );
    }

    #[test]
    fn a_failed_listing_keeps_the_last_list_and_says_why_once() {
        let mut c = Containers::new(vec![named("app", "web")], vec![], 10);
        assert!(c.apply(listing(12, vec![running("app", "172.18.0.5", 10)])));
        assert!(!c.apply(listing(14, vec![running("app", "172.18.0.5", 10)])));
        let why = "container engine at /run/d.sock: list containers did not answer within 3 s";
        let failed = Listing {
            at: 16,
            outcome: Err(why.into()),
        };
        assert!(c.apply(failed.clone()));
        assert!(!c.apply(failed), "the same failure changes nothing");
        assert_eq!(c.current.len(), 1, "the last list is kept");
        assert_eq!(c.listed_at, Some(14));
        assert_eq!(c.findings(), [Finding::new(Status::Warning, why)]);
        assert!(c.apply(listing(18, vec![running("app", "172.18.0.5", 10)])));
        assert!(c.findings().is_empty(), "answered again");
    }

    #[test]
    fn a_proxy_container_with_a_new_main_process_asks_for_a_restart() {
        let web = running("web", "172.18.0.3", 10);
        let proxy = ProxyContainer {
            name: "web".into(),
            kind: ContainerProxy::Nginx,
            pid: web.pid.expect("pid"),
            info: Some(web.clone()),
        };
        let mut c = Containers::new(vec![named("app", "web")], vec![web.clone()], 10)
            .with_proxies(std::slice::from_ref(&proxy));
        assert!(!c.apply(listing(12, vec![web.clone()])));
        assert!(c.findings().is_empty());
        let mut recreated = web;
        recreated.pid = Some(5151);
        assert!(c.apply(listing(14, vec![recreated])));
        assert_eq!(
            c.findings(),
            [Finding::new(
                Status::Warning,
                format!(
                    "proxy container web was restarted or recreated (pid {}, now 5151): \
                     restart gatewatch to read web's config again",
                    proxy.pid
                )
            )]
        );
    }
}
