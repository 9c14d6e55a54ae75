//! The containers the model knows of: the upstream names the proxies in containers connect to,
//! and what each name stands for now. Judged with the logs into stale addresses.

use std::time::Duration;

use crate::containers::ContainerInfo;
use crate::diagnosis::{self, CurrentContainer, LoggedAddress, NamedUpstream, StaleAddress};
use crate::logs::LogBook;

#[derive(Clone, Debug, Default)]
pub struct Containers {
    /// From the proxies' configs, read inside their containers.
    pub named: Vec<NamedUpstream>,
    /// Every running container, as the engine listed it last.
    pub current: Vec<ContainerInfo>,
    /// Unix seconds of that listing.
    pub listed_at: Option<i64>,
}

impl Containers {
    pub fn new(named: Vec<NamedUpstream>, current: Vec<ContainerInfo>, at: i64) -> Self {
        Containers {
            named,
            current,
            listed_at: Some(at),
        }
    }

    /// A new listing from the engine.
    pub fn relist(&mut self, current: Vec<ContainerInfo>, at: i64) {
        self.current = current;
        self.listed_at = Some(at);
    }

    /// The addresses the logs show failing over `window` before `now` that the containers
    /// behind their names no longer hold.
    pub fn stale(&self, logs: &LogBook, window: Duration, now: i64) -> Vec<StaleAddress> {
        if self.named.is_empty() {
            return Vec::new();
        }
        let since = now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
        let logged: Vec<LoggedAddress> = logs
            .sources
            .iter()
            .flat_map(|s| diagnosis::from_tally(&s.tally, since, now))
            .collect();
        let current: Vec<CurrentContainer> = self.current.iter().map(current_of).collect();
        diagnosis::stale_addresses(&self.named, &current, &logged)
    }
}

fn current_of(c: &ContainerInfo) -> CurrentContainer {
    let mut aliases: Vec<String> = c
        .networks
        .iter()
        .flat_map(|n| n.aliases.iter().cloned())
        .collect();
    aliases.sort();
    aliases.dedup();
    CurrentContainer {
        name: c.name.clone(),
        aliases,
        addresses: c
            .networks
            .iter()
            .flat_map(|n| [n.ip, n.ipv6])
            .flatten()
            .collect(),
        started_at: c.started_at,
    }
}
