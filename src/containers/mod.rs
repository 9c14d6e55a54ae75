//! Proxies that run in containers: the Docker Engine API (or Podman's compatible one) lists them,
//! streams their events and logs, and runs commands in them; without the API socket, /proc still
//! finds proxy masters that live in another mount namespace.
//!
//! Everything the engine answers is hostile input: every call has a deadline, every list a bound,
//! every string is sanitised before it leaves this module.

mod engine;
mod events;
mod exec;
mod info;
mod lister;
mod logs;
mod print_logs;
mod procfs;
mod proxy_kind;
mod scan;

pub use engine::{CALL_TIMEOUT, Engine, EngineError, MAX_CONTAINERS, choose_socket};
pub use events::{ContainerAction, ContainerEvent, MAX_EVENTS};
pub use exec::{ExecOutcome, MAX_EXEC_OUTPUT};
pub use info::{ContainerInfo, ContainerList, ContainerNetwork};
pub use lister::{ContainerLister, LIST_DEADLINE, Listing};
pub use logs::{ContainerLogLine, MAX_LOG_LINE, StreamKind};
pub use print_logs::{LogsAsk, print_logs};
pub use procfs::{ForeignProxy, MAX_FOREIGN_PROXIES, proxies_in_other_mount_namespaces};
pub use proxy_kind::ContainerProxy;
pub use scan::{Lookup, ProxyContainer, ProxyFacts, SOCKET_ENV, Scan, scan};
