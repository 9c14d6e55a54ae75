//! Service commands the operator runs from the dashboard: status, config test, reload, restart.
//!
//! Every command is an argv (never a shell line), runs with stdin closed in its own process group,
//! is killed when it outlives its timeout, has its output sanitised like log lines, and is
//! appended to an audit trail. A reload or restart of a service with a `test` command runs the
//! test first and is refused when it fails: the `nginx -t` guard. A proxy in a container is acted
//! on the same way, its commands run inside the container through the engine's API.

mod audit;
mod containers;
mod exec;
mod runner;
mod services;
mod settle;
mod status;
mod target;

use serde::Serialize;

pub use audit::{AUDIT_FILE, AuditLog, AuditRecord, current_user};
pub use containers::{
    CONTAINER_TIMEOUT, ContainerCommand, ContainerSpec, RESTART_GRACE, for_containers,
};
pub use exec::{Exit, MAX_LINE, run};
pub use runner::{
    ActionEvent, ActionResult, ActionRunner, Outcome, Request, RunnerOptions, perform,
};
pub use services::{ServiceSpec, for_this_host, has_systemd, resolve};
pub use status::{STATUS_INTERVAL, ServiceState, ServiceStatus, StatusPoller, check_all};
pub use target::{Target, targets};

/// What can be done to a service, in menu order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Status,
    Test,
    Reload,
    Restart,
}

impl Verb {
    pub const ALL: [Verb; 4] = [Verb::Status, Verb::Test, Verb::Reload, Verb::Restart];

    pub fn name(self) -> &'static str {
        match self {
            Verb::Status => "status",
            Verb::Test => "test",
            Verb::Reload => "reload",
            Verb::Restart => "restart",
        }
    }

    /// Reload and restart change what is running; they are guarded by the service's test.
    pub fn changes_service(self) -> bool {
        matches!(self, Verb::Reload | Verb::Restart)
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
