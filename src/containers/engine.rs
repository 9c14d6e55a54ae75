//! The connection to the container engine's API socket: which socket, and a deadline on every call.

use std::ffi::OsString;
use std::fs;
use std::future::Future;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, RestartContainerOptions};
use futures_util::StreamExt;

use super::info::{ContainerInfo, ContainerList, is_engine_id};
use crate::sanitize::sanitize;

/// The deadline of one API call (a whole answer, not only its headers).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Running containers inspected per listing; the rest are counted in `left_off`.
pub const MAX_CONTAINERS: usize = 500;

/// Inspects in flight at once.
const PARALLEL_INSPECTS: usize = 8;

/// Docker's socket, then Podman's docker-compatible one (rootful).
const DEFAULT_SOCKETS: [&str; 2] = ["/var/run/docker.sock", "/run/podman/podman.sock"];

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no container engine socket (looked for {tried})")]
    NoSocket { tried: String },
    #[error("{path}: {reason}")]
    BadSocket { path: String, reason: String },
    #[error("container engine at {socket}: {call} did not answer within {secs} s")]
    Timeout {
        socket: String,
        call: &'static str,
        secs: u64,
    },
    #[error("container engine at {socket}: {call}: {message}")]
    Api {
        socket: String,
        call: &'static str,
        message: String,
    },
    #[error("{0:?} is not a container id or name")]
    BadId(String),
    #[error("no command to run")]
    EmptyCommand,
}

/// A connection to one engine socket. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) docker: Docker,
    socket: PathBuf,
}

/// The socket to use: `explicit`, else `GATEWATCH_DOCKER_SOCKET`, else `DOCKER_HOST` when it is
/// `unix://PATH`, else Docker's default socket, else Podman's. A named socket must exist.
pub fn choose_socket(explicit: Option<&Path>) -> Result<PathBuf, EngineError> {
    choose_socket_from(
        explicit,
        std::env::var_os("GATEWATCH_DOCKER_SOCKET"),
        std::env::var_os("DOCKER_HOST"),
        &DEFAULT_SOCKETS.map(Path::new),
    )
}

fn choose_socket_from(
    explicit: Option<&Path>,
    gatewatch_socket: Option<OsString>,
    docker_host: Option<OsString>,
    defaults: &[&Path],
) -> Result<PathBuf, EngineError> {
    let from_docker_host = docker_host.and_then(|host| {
        let host = host.to_str()?;
        // tcp:// and ssh:// hosts are not for a local troubleshooter: fall through to the sockets.
        host.strip_prefix("unix://").map(PathBuf::from)
    });
    let named = explicit
        .map(Path::to_path_buf)
        .or_else(|| {
            gatewatch_socket
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .or(from_docker_host);
    if let Some(path) = named {
        check_socket(&path)?;
        return Ok(path);
    }
    for path in defaults {
        if fs::symlink_metadata(path).is_ok() {
            check_socket(path)?;
            return Ok(path.to_path_buf());
        }
    }
    let tried: Vec<String> = defaults.iter().map(|p| p.display().to_string()).collect();
    Err(EngineError::NoSocket {
        tried: tried.join(", "),
    })
}

/// A socket path must lead to a unix socket (symlinks followed: /var/run is one).
fn check_socket(path: &Path) -> Result<(), EngineError> {
    let bad = |reason: String| EngineError::BadSocket {
        path: sanitize(&path.display().to_string()).into_owned(),
        reason,
    };
    let meta = fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    let kind = meta.file_type();
    if kind.is_socket() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_fifo() {
        "a fifo"
    } else {
        "a device or other special file"
    };
    Err(bad(format!("not a unix socket but {what}")))
}

impl Engine {
    /// Connects to the socket [`choose_socket`] picks; the engine must answer within [`CALL_TIMEOUT`].
    pub async fn connect(socket: Option<&Path>) -> Result<Engine, EngineError> {
        let socket = choose_socket(socket)?;
        let path = socket.to_str().ok_or_else(|| EngineError::BadSocket {
            path: sanitize(&socket.display().to_string()).into_owned(),
            reason: "not UTF-8".into(),
        })?;
        let docker =
            Docker::connect_with_unix(path, CALL_TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION)
                .map_err(|e| EngineError::BadSocket {
                path: sanitize(path).into_owned(),
                reason: sanitize(&e.to_string()).into_owned(),
            })?;
        let engine = Engine { docker, socket };
        // Speak the engine's API version when it is older than bollard's (Debian's dockerd 20.10
        // answers 1.41); the clones share the version, so the engine's handle learns it too.
        engine
            .call("version", engine.docker.clone().negotiate_version())
            .await?;
        Ok(engine)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs one API call under [`CALL_TIMEOUT`], turning its error into sanitised text.
    pub(crate) async fn call<T>(
        &self,
        call: &'static str,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, EngineError> {
        self.call_within(call, CALL_TIMEOUT, request).await
    }

    pub(crate) async fn call_within<T>(
        &self,
        call: &'static str,
        deadline: Duration,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, EngineError> {
        match tokio::time::timeout(deadline, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.api_error(call, &e)),
            Err(_) => Err(EngineError::Timeout {
                socket: self.socket_text(),
                call,
                secs: deadline.as_secs(),
            }),
        }
    }

    pub(crate) fn api_error(&self, call: &'static str, e: &bollard::errors::Error) -> EngineError {
        let message = match e {
            bollard::errors::Error::RequestTimeoutError => {
                return EngineError::Timeout {
                    socket: self.socket_text(),
                    call,
                    secs: CALL_TIMEOUT.as_secs(),
                };
            }
            other => other.to_string(),
        };
        EngineError::Api {
            socket: self.socket_text(),
            call,
            message: super::info::clean(&message),
        }
    }

    pub(crate) fn socket_text(&self) -> String {
        sanitize(&self.socket.display().to_string()).into_owned()
    }

    /// Every running container, inspected, sorted by name; at most [`MAX_CONTAINERS`].
    pub async fn containers(&self) -> Result<ContainerList, EngineError> {
        let listed = self
            .call(
                "list containers",
                self.docker
                    .list_containers(Some(ListContainersOptions::default())),
            )
            .await?;
        let ids: Vec<String> = listed
            .into_iter()
            .filter_map(|c| c.id)
            .filter(|id| is_engine_id(id))
            .collect();
        let left_off = ids.len().saturating_sub(MAX_CONTAINERS);
        let asked = ids.len() - left_off;
        let mut containers: Vec<ContainerInfo> =
            futures_util::stream::iter(ids.into_iter().take(MAX_CONTAINERS))
                .map(|id| async move {
                    let raw = self
                        .call(
                            "inspect container",
                            self.docker.inspect_container(&id, None),
                        )
                        .await
                        .ok()?;
                    ContainerInfo::from_inspect(raw)
                })
                .buffer_unordered(PARALLEL_INSPECTS)
                .filter_map(std::future::ready)
                .collect()
                .await;
        containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(ContainerList {
            unanswered: asked - containers.len(),
            containers,
            left_off,
        })
    }

    /// One container, inspected (running or not).
    pub async fn container(&self, id: &str) -> Result<ContainerInfo, EngineError> {
        let id = checked_id(id)?;
        let raw = self
            .call("inspect container", self.docker.inspect_container(id, None))
            .await?;
        ContainerInfo::from_inspect(raw).ok_or_else(|| EngineError::Api {
            socket: self.socket_text(),
            call: "inspect container",
            message: "the answer carries no usable id".into(),
        })
    }

    /// Restarts a container, giving its main process `grace` to stop before it is killed.
    pub async fn restart(&self, id: &str, grace: Duration) -> Result<(), EngineError> {
        let id = checked_id(id)?;
        let seconds = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = RestartContainerOptions {
            t: Some(seconds),
            signal: None,
        };
        self.call_within(
            "restart container",
            grace + CALL_TIMEOUT * 2,
            self.docker.restart_container(id, Some(options)),
        )
        .await
    }
}

pub(crate) fn checked_id(id: &str) -> Result<&str, EngineError> {
    if is_engine_id(id) {
        Ok(id)
    } else {
        Err(EngineError::BadId(sanitize(id).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn the_first_named_socket_wins_and_must_be_a_socket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sock = dir.path().join("d.sock");
        let _listener = UnixListener::bind(&sock).expect("bind");
        let file = dir.path().join("plain");
        fs::write(&file, "x").expect("file");
        let missing = dir.path().join("missing.sock");
        let defaults: [&Path; 0] = [];

        let chosen = choose_socket_from(
            None,
            None,
            Some(format!("unix://{}", sock.display()).into()),
            &defaults,
        );
        assert_eq!(chosen.expect("docker host"), sock);
        let chosen = choose_socket_from(
            None,
            Some(sock.clone().into()),
            Some("unix:///nope".into()),
            &defaults,
        );
        assert_eq!(chosen.expect("gatewatch env first"), sock);

        let err = choose_socket_from(Some(&file), None, None, &defaults).expect_err("a file");
        assert!(
            err.to_string()
                .contains("not a unix socket but a regular file"),
            "{err}"
        );
        let err = choose_socket_from(Some(dir.path()), None, None, &defaults).expect_err("a dir");
        assert!(err.to_string().contains("a directory"), "{err}");
        let err = choose_socket_from(Some(&missing), None, None, &defaults).expect_err("missing");
        assert!(err.to_string().contains("missing.sock"), "{err}");
    }

    #[test]
    fn podmans_socket_is_tried_when_dockers_is_absent() {
        let dir = tempfile::tempdir().expect("temp dir");
        let docker = dir.path().join("docker.sock");
        let podman = dir.path().join("podman.sock");
        let _listener = UnixListener::bind(&podman).expect("bind");
        let defaults = [docker.as_path(), podman.as_path()];
        let chosen = choose_socket_from(None, None, Some("tcp://10.0.0.1:2375".into()), &defaults);
        assert_eq!(chosen.expect("podman"), podman);
        let err = choose_socket_from(None, None, None, &defaults[..1]).expect_err("none");
        assert!(matches!(err, EngineError::NoSocket { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_socket_that_never_answers_times_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sock = dir.path().join("mute.sock");
        // Accepts connections (the kernel's backlog does) but never answers.
        let _listener = UnixListener::bind(&sock).expect("bind");
        let started = std::time::Instant::now();
        let err = Engine::connect(Some(&sock)).await.expect_err("no answer");
        assert!(matches!(err, EngineError::Timeout { .. }), "{err}");
        assert!(
            started.elapsed() < CALL_TIMEOUT * 2,
            "{:?}",
            started.elapsed()
        );
    }
}
