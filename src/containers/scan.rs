//! One look at the host's containers for the catalog: which run a proxy, and every container's
//! names and addresses (what the proxies' upstream names stand for now).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    ContainerInfo, ContainerProxy, Engine, EngineError, ForeignProxy,
    proxies_in_other_mount_namespaces,
};
use crate::sanitize::sanitize;

/// The variable that names the engine's socket; `none` turns the container lookup off (the
/// tests, whose hosts may run other tests' containers).
pub const SOCKET_ENV: &str = "GATEWATCH_DOCKER_SOCKET";

/// Whether and where to look for proxies in containers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Lookup {
    /// Library callers and tests that build a catalog: nothing outside the config is asked.
    #[default]
    Off,
    /// The engine's socket [`super::choose_socket`] finds; without one, /proc.
    Auto,
    /// This socket only.
    Socket(PathBuf),
}

impl Lookup {
    /// From [`SOCKET_ENV`]: `none` is off, a path is that socket, unset is [`Lookup::Auto`].
    pub fn from_env() -> Self {
        match std::env::var_os(SOCKET_ENV) {
            Some(v) if v == "none" => Lookup::Off,
            Some(v) if !v.is_empty() => Lookup::Socket(PathBuf::from(v)),
            _ => Lookup::Auto,
        }
    }
}

/// A proxy found running in a container (or, without the API, in another mount namespace).
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyContainer {
    /// The container's name, or `pid N` for one found through /proc.
    pub name: String,
    pub kind: ContainerProxy,
    /// Its main process, on this host: `/proc/PID/root` and `/proc/PID/ns/net` are its view.
    pub pid: u32,
    /// From the API; `None` for one found through /proc.
    pub info: Option<ContainerInfo>,
}

/// What the stale-address judgement needs of one proxy container beyond its upstream names:
/// whose logs are its own, which networks it is on, and which addresses its config names as
/// they are (no name to go stale).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyFacts {
    pub name: String,
    /// The labels of its log sources, as the log book shows them.
    pub logs: Vec<String>,
    /// The networks it is on when its config was read.
    pub networks: Vec<String>,
    /// Upstreams its config names by address.
    pub literal: Vec<std::net::SocketAddr>,
}

/// What one look found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scan {
    pub proxies: Vec<ProxyContainer>,
    /// Every running container the API listed: the names upstreams stand for.
    pub containers: Vec<ContainerInfo>,
    /// The engine's socket, when one answered.
    pub socket: Option<PathBuf>,
    /// What could not be looked at, as sentences.
    pub problems: Vec<String>,
}

/// Looks once, within `timeout`. With [`Lookup::Auto`] and no socket, proxy masters in another
/// mount namespace are found through `proc_root` instead.
pub fn scan(lookup: &Lookup, proc_root: &Path, timeout: Duration) -> Scan {
    let explicit = match lookup {
        Lookup::Off => return Scan::default(),
        Lookup::Auto => None,
        Lookup::Socket(path) => Some(path.as_path()),
    };
    let listed = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async {
            tokio::time::timeout(timeout, async {
                let engine = Engine::connect(explicit).await?;
                let list = engine.containers().await?;
                Ok::<_, EngineError>((engine.socket().to_path_buf(), list))
            })
            .await
        }),
        Err(e) => {
            let mut out = Scan::default();
            out.problems
                .push(format!("containers not looked at: no async runtime ({e})"));
            return out;
        }
    };
    let mut out = Scan::default();
    match listed {
        Ok(Ok((socket, list))) => {
            if list.left_off > 0 {
                out.problems.push(format!(
                    "{} containers past the first {} were not looked at",
                    list.left_off,
                    super::MAX_CONTAINERS
                ));
            }
            out.proxies = list
                .containers
                .iter()
                .filter_map(|c| {
                    Some(ProxyContainer {
                        name: c.name.clone(),
                        kind: c.proxy_kind_in(proc_root)?,
                        pid: c.pid?,
                        info: Some(c.clone()),
                    })
                })
                .collect();
            out.containers = list.containers;
            out.socket = Some(socket);
        }
        Ok(Err(EngineError::NoSocket { .. })) if explicit.is_none() => {
            out.proxies = proxies_in_other_mount_namespaces(proc_root)
                .into_iter()
                .map(foreign)
                .collect();
        }
        Ok(Err(e)) => out.problems.push(e.to_string()),
        Err(_) => out.problems.push(format!(
            "the container engine did not list its containers within {} s",
            timeout.as_secs()
        )),
    }
    out
}

fn foreign(p: ForeignProxy) -> ProxyContainer {
    ProxyContainer {
        name: sanitize(&format!("pid {} ({})", p.pid, p.comm)).into_owned(),
        kind: p.kind,
        pid: p.pid,
        info: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_looks_at_nothing_and_a_missing_named_socket_is_a_problem_not_a_fallback() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(
            scan(&Lookup::Off, dir.path(), Duration::from_secs(1)),
            Scan::default()
        );
        let missing = dir.path().join("docker.sock");
        let found = scan(&Lookup::Socket(missing), dir.path(), Duration::from_secs(1));
        assert!(found.proxies.is_empty());
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        assert!(
            found.problems[0].contains("docker.sock"),
            "{:?}",
            found.problems
        );
    }
}
