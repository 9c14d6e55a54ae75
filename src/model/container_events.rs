//! The proxies' containers judged from the container engine's events: a proxy's own container,
//! or one behind its upstreams, that died, was OOM-killed or turned unhealthy lately is a
//! finding, with the time and the exit code.

use std::collections::{HashMap, VecDeque};

use jiff::tz::TimeZone;

use crate::containers::{ContainerAction, ContainerEvent, ContainerInfo};
use crate::status::{Finding, Status};
use crate::timeline::story::clock;
use crate::upstream::catalog::Catalog;

/// How long a container's death or bad health stays a finding (seconds).
pub const RECENT: i64 = 10 * 60;
/// Events kept at most (the newest): a container in a restart loop must not grow the model.
pub const KEPT: usize = 2_000;
/// A die this close after an OOM kill (or before a stop) is the same end.
const SAME_END: i64 = 5;

/// What a watched container is to the proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A proxy runs in it.
    Proxy,
    /// A proxy's upstream name or address stands for it.
    Upstream,
}

impl Role {
    fn word(self) -> &'static str {
        match self {
            Role::Proxy => "proxy container",
            Role::Upstream => "upstream container",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ContainerEvents {
    /// Names and ids of the containers that matter, and what each is to the proxies.
    watched: HashMap<String, Role>,
    /// The watched containers' events of the last [`RECENT`], oldest first.
    recent: VecDeque<ContainerEvent>,
}

impl ContainerEvents {
    /// Watches the containers the catalog's proxies run in, and those their upstreams name:
    /// by the container's name, a network alias or an address, or a name alone (a container
    /// that is down is in no listing, and comes back under the same name).
    pub fn new(catalog: &Catalog) -> ContainerEvents {
        let mut watched = HashMap::new();
        let mut hosts: Vec<String> = catalog
            .entries
            .iter()
            .filter_map(|e| e.upstream.url.host())
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .collect();
        hosts.extend(catalog.named_upstreams.iter().map(|n| n.name.clone()));
        for host in &hosts {
            watched.insert(host.clone(), Role::Upstream);
        }
        for c in &catalog.containers.containers {
            if stands_for(c, &hosts) {
                watched.insert(c.name.clone(), Role::Upstream);
                watched.insert(c.id.clone(), Role::Upstream);
            }
        }
        // A proxy's own container outranks an upstream of the same name.
        for proxy in &catalog.containers.proxies {
            watched.insert(proxy.name.clone(), Role::Proxy);
            if let Some(info) = &proxy.info {
                watched.insert(info.id.clone(), Role::Proxy);
            }
        }
        ContainerEvents {
            watched,
            recent: VecDeque::new(),
        }
    }

    /// Whether the container named `container` (or with this `id`) is a proxy's or stands for
    /// one of its upstreams: only those events tell this proxy's story.
    pub fn watches(&self, container: &str, id: &str) -> bool {
        self.watched.contains_key(container) || self.watched.contains_key(id)
    }

    fn role(&self, e: &ContainerEvent) -> Option<Role> {
        let by_name = self.watched.get(&e.container);
        by_name.or_else(|| self.watched.get(&e.id)).copied()
    }

    /// Keeps the watched containers' events (in time order), dropping what is older than
    /// [`RECENT`] before `now` and the oldest past [`KEPT`]. Returns whether any was kept.
    pub fn add(&mut self, events: impl IntoIterator<Item = ContainerEvent>, now: i64) -> bool {
        let mut kept = false;
        for e in events {
            if self.role(&e).is_none() || e.at < now - RECENT {
                continue;
            }
            let at = self.recent.partition_point(|k| k.at <= e.at);
            self.recent.insert(at, e);
            kept = true;
        }
        while self.recent.front().is_some_and(|e| e.at < now - RECENT) {
            self.recent.pop_front();
        }
        while self.recent.len() > KEPT {
            self.recent.pop_front();
        }
        kept
    }

    /// One finding per watched container that went down in the last [`RECENT`] (critical for
    /// an OOM kill of one still down), and one per container whose health check says
    /// unhealthy: its last health event, or without one since `listed_at`, the listing's.
    pub fn findings(
        &self,
        listing: &[ContainerInfo],
        listed_at: Option<i64>,
        now: i64,
        tz: &TimeZone,
    ) -> Vec<Finding> {
        let recent: Vec<&ContainerEvent> = self
            .recent
            .iter()
            .filter(|e| e.at >= now - RECENT && e.at <= now + RECENT)
            .collect();
        let mut names: Vec<&str> = recent.iter().map(|e| e.container.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut findings = Vec::new();
        for name in names {
            let of: Vec<&ContainerEvent> = recent
                .iter()
                .copied()
                .filter(|e| e.container == name)
                .collect();
            let Some(role) = of.iter().find_map(|e| self.role(e)) else {
                continue;
            };
            if let Some(f) = went_down(&of, role, now, tz) {
                findings.push(f);
            }
            let health = of.iter().rev().find_map(|e| match &e.action {
                ContainerAction::Health(status) => Some((e.at, status.as_str())),
                _ => None,
            });
            if let Some((at, "unhealthy")) = health {
                let who = role.word();
                let message = format!("{who} {name} turned unhealthy at {}", clock(at, now, tz));
                findings.push(Finding::new(Status::Warning, message));
            }
        }
        for c in listing {
            let Some(role) = self
                .watched
                .get(&c.name)
                .or_else(|| self.watched.get(&c.id))
            else {
                continue;
            };
            let told_since = recent.iter().any(|e| {
                e.container == c.name
                    && matches!(e.action, ContainerAction::Health(_))
                    && listed_at.is_none_or(|t| e.at >= t)
            });
            if c.health.as_deref() == Some("unhealthy") && !told_since {
                let message = format!(
                    "{} {} is unhealthy (its health check, as the engine listed it)",
                    role.word(),
                    c.name
                );
                findings.push(Finding::new(Status::Warning, message));
            }
        }
        findings
    }
}

/// Whether a listed container is what one of `hosts` stands for.
fn stands_for(c: &ContainerInfo, hosts: &[String]) -> bool {
    hosts
        .iter()
        .any(|h| c.answers_to(h) || c.addresses().any(|ip| ip.to_string() == *h))
}

/// The latest time one container (`of`, oldest first) went down, as a finding: OOM-killed,
/// stopped, or exited, with its exit code, and whether it runs again.
fn went_down(of: &[&ContainerEvent], role: Role, now: i64, tz: &TimeZone) -> Option<Finding> {
    let down = |e: &&&ContainerEvent| {
        matches!(
            e.action,
            ContainerAction::Die { .. } | ContainerAction::Oom | ContainerAction::Stop
        )
    };
    let last_down = of.iter().rposition(|e| down(&e))?;
    // The end's first event: an OOM kill, a die and a stop come within seconds.
    let mut first = last_down;
    while first > 0 && down(&&of[first - 1]) && of[last_down].at - of[first - 1].at <= SAME_END {
        first -= 1;
    }
    let end = &of[first..=last_down];
    let at = end[0].at;
    let oom = end.iter().any(|e| e.action == ContainerAction::Oom);
    let stopped = end.iter().any(|e| e.action == ContainerAction::Stop);
    let code = end.iter().find_map(|e| match e.action {
        ContainerAction::Die { exit_code } => exit_code,
        _ => None,
    });
    let started_again = of[last_down + 1..]
        .iter()
        .find(|e| matches!(e.action, ContainerAction::Start | ContainerAction::Restart));
    let name = &end[0].container;
    let who = role.word();
    let when = clock(at, now, tz);
    let how = match (oom, stopped, code) {
        (true, _, Some(code)) => format!("was OOM-killed at {when} (exit code {code})"),
        (true, _, None) => format!("was OOM-killed at {when}"),
        (false, true, Some(code)) => format!("was stopped at {when} (exit code {code})"),
        (false, true, None) => format!("was stopped at {when}"),
        (false, false, Some(code)) => format!("exited with code {code} at {when}"),
        (false, false, None) => format!("exited at {when}"),
    };
    let (status, state) = match started_again {
        Some(e) => (
            Status::Warning,
            format!("running again since {}", clock(e.at, now, tz)),
        ),
        None if oom => (Status::Critical, "still down".to_owned()),
        None => (Status::Warning, "still down".to_owned()),
    };
    Some(Finding::new(status, format!("{who} {name} {how}; {state}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::diagnosis::NamedUpstream;

    const NOW: i64 = 1_796_134_000; // 2026-12-01 14:06:40 UTC

    fn ce(at: i64, name: &str, action: ContainerAction) -> ContainerEvent {
        ContainerEvent {
            at,
            container: name.into(),
            id: format!("{name}0123456789abcdef"),
            action,
        }
    }

    fn watching(names: &[&str]) -> ContainerEvents {
        let catalog = Catalog {
            named_upstreams: names
                .iter()
                .map(|n| NamedUpstream {
                    name: (*n).into(),
                    port: 8000,
                    proxy: "web".into(),
                    resolves_at_runtime: false,
                })
                .collect(),
            ..Catalog::default()
        };
        ContainerEvents::new(&catalog)
    }

    fn messages(e: &ContainerEvents) -> Vec<(Status, String)> {
        e.findings(&[], None, NOW, &TimeZone::UTC)
            .into_iter()
            .map(|f| (f.status, f.message))
            .collect()
    }

    #[test]
    fn only_the_watched_containers_reach_the_timeline() {
        let mut model = crate::model::Model {
            container_events: watching(&["app"]),
            ..crate::model::Model::default()
        };
        let die = |name: &str| ce(NOW - 30, name, ContainerAction::Die { exit_code: Some(1) });
        let polled = vec![die("app"), die("ci-job-4711")];
        let round = crate::timeline::collect::Round {
            events: polled
                .iter()
                .map(|e| crate::timeline::containers::event_of(e, "/run/docker.sock"))
                .collect(),
            containers: polled,
            ..Default::default()
        };
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW.unsigned_abs());
        model.apply_timeline(round, now);
        let texts: Vec<&str> = model
            .timeline
            .events()
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(texts[0].contains("container app"), "{texts:?}");
    }

    #[test]
    fn a_watched_container_that_went_down_is_a_finding_with_its_time_and_code() {
        let mut e = watching(&["app", "db", "cache"]);
        e.add(
            [
                ce(NOW - 100, "app", ContainerAction::Oom),
                ce(
                    NOW - 100,
                    "app",
                    ContainerAction::Die {
                        exit_code: Some(137),
                    },
                ),
                ce(NOW - 90, "db", ContainerAction::Die { exit_code: Some(3) }),
                ce(NOW - 88, "db", ContainerAction::Start),
                ce(
                    NOW - 60,
                    "cache",
                    ContainerAction::Die { exit_code: Some(0) },
                ),
                ce(NOW - 59, "cache", ContainerAction::Stop),
                ce(NOW - 50, "other", ContainerAction::Oom),
            ],
            NOW,
        );
        assert_eq!(
            messages(&e),
            [
                (
                    Status::Critical,
                    "upstream container app was OOM-killed at 14:05:00 (exit code 137); still down"
                        .to_owned()
                ),
                (
                    Status::Warning,
                    "upstream container cache was stopped at 14:05:40 (exit code 0); still down"
                        .to_owned()
                ),
                (
                    Status::Warning,
                    "upstream container db exited with code 3 at 14:05:10; running again since 14:05:12"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn the_listing_says_unhealthy_until_a_later_health_event_says_otherwise() {
        let mut catalog = Catalog::default();
        let info = ContainerInfo {
            id: "ab12".repeat(16),
            name: "proj-app-1".into(),
            image: "app".into(),
            pid: Some(42),
            state: "running".into(),
            restart_count: 0,
            health: Some("unhealthy".into()),
            started_at: Some(NOW - 3600),
            command: vec![],
            networks: vec![crate::containers::ContainerNetwork {
                name: "shop".into(),
                ip: Some("172.18.0.5".parse().unwrap()),
                ipv6: None,
                aliases: vec!["app".into()],
            }],
        };
        catalog.containers.containers = vec![info.clone()];
        catalog.named_upstreams = vec![NamedUpstream {
            name: "app".into(),
            port: 8000,
            proxy: "web".into(),
            resolves_at_runtime: false,
        }];
        let mut e = ContainerEvents::new(&catalog);
        // Watched through its alias: by its own name and id too.
        assert_eq!(e.watched.get("proj-app-1"), Some(&Role::Upstream));
        let listing = [info];
        let said = |e: &ContainerEvents| -> Vec<String> {
            e.findings(&listing, Some(NOW - 60), NOW, &TimeZone::UTC)
                .into_iter()
                .map(|f| f.message)
                .collect()
        };
        assert_eq!(
            said(&e),
            [
                "upstream container proj-app-1 is unhealthy (its health check, as the engine listed it)"
            ]
        );
        let mut healthy = ce(
            NOW - 10,
            "proj-app-1",
            ContainerAction::Health("healthy".into()),
        );
        healthy.id = "ab12".repeat(16);
        e.add([healthy], NOW);
        assert_eq!(said(&e), Vec::<String>::new());
    }

    #[test]
    fn old_events_go_and_health_is_the_latest_said() {
        let mut e = watching(&["app"]);
        e.add(
            [
                ce(
                    NOW - RECENT - 1,
                    "app",
                    ContainerAction::Die { exit_code: Some(1) },
                ),
                ce(NOW - 30, "app", ContainerAction::Health("unhealthy".into())),
            ],
            NOW,
        );
        assert_eq!(
            messages(&e),
            [(
                Status::Warning,
                "upstream container app turned unhealthy at 14:06:10".to_owned()
            )]
        );
        e.add(
            [ce(
                NOW - 5,
                "app",
                ContainerAction::Health("healthy".into()),
            )],
            NOW,
        );
        assert_eq!(messages(&e), []);
        // A restart loop keeps the newest only.
        let starts =
            (0..KEPT as i64 + 50).map(|i| ce(NOW - 300 + i / 10, "app", ContainerAction::Start));
        e.add(starts, NOW);
        assert_eq!(e.recent.len(), KEPT);
        assert!(e.recent.iter().all(|k| k.at >= NOW - RECENT));
    }
}
