//! What an action is done to: a service on this host, or a proxy in a container. The menu, the
//! runner and the audit trail treat both alike; only where a command runs differs.

use std::time::Duration;

use super::{ContainerSpec, ServiceSpec, Verb};
use crate::containers::Scan;
use crate::sanitize::sanitize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Service(ServiceSpec),
    Container(ContainerSpec),
}

impl From<ServiceSpec> for Target {
    fn from(spec: ServiceSpec) -> Self {
        Target::Service(spec)
    }
}

impl From<ContainerSpec> for Target {
    fn from(spec: ContainerSpec) -> Self {
        Target::Container(spec)
    }
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Service(s) => &s.name,
            Target::Container(c) => &c.name,
        }
    }

    pub fn timeout(&self) -> Duration {
        match self {
            Target::Service(s) => s.timeout,
            Target::Container(c) => c.timeout,
        }
    }

    /// The verbs it has a command for, in menu order, each with its command as shown (sanitised).
    pub fn verbs(&self) -> Vec<(Verb, String)> {
        Verb::ALL
            .into_iter()
            .filter_map(|verb| Some((verb, self.describe(verb)?)))
            .collect()
    }

    /// The command `verb` runs, as the menu and the confirm dialog show it.
    pub fn describe(&self, verb: Verb) -> Option<String> {
        match self {
            Target::Service(s) => s
                .command(verb)
                .map(|argv| sanitize(&argv.to_string()).into_owned()),
            Target::Container(c) => c.command(verb).map(|cmd| cmd.describe(&c.container)),
        }
    }

    /// The test run before `verb`, as shown.
    pub fn describe_guard(&self, verb: Verb) -> Option<String> {
        match self {
            Target::Service(s) => s
                .guard(verb)
                .map(|argv| sanitize(&argv.to_string()).into_owned()),
            Target::Container(c) => c.guard(verb).map(|cmd| cmd.describe(&c.container)),
        }
    }

    /// What the menu shows beside a container's name (a service shows its polled status instead).
    pub fn note(&self) -> Option<String> {
        match self {
            Target::Service(_) => None,
            Target::Container(c) => Some(format!(
                "container {} via {}",
                sanitize(&c.container),
                sanitize(&c.socket.display().to_string())
            )),
        }
    }
}

/// Every action target: the host's services first (their indexes are the status poller's), then
/// the proxies the container scan found through the engine's API.
pub fn targets(services: &[ServiceSpec], containers: &Scan) -> Vec<Target> {
    services
        .iter()
        .cloned()
        .map(Target::Service)
        .chain(
            super::containers::for_containers(containers)
                .into_iter()
                .map(Target::Container),
        )
        .collect()
}
