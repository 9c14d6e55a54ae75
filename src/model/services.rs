//! The configured services and what their `status` command last said.

use crate::actions::{ServiceSpec, ServiceState, ServiceStatus};
use crate::diagnosis::ServiceInput;
use crate::status::{Finding, Status};

#[derive(Debug, Default)]
pub struct Services {
    pub names: Vec<String>,
    /// Per service, in config order; `None` until its first status check.
    pub statuses: Vec<Option<ServiceStatus>>,
}

impl Services {
    pub fn new(specs: &[ServiceSpec]) -> Self {
        Services {
            names: specs.iter().map(|s| s.name.clone()).collect(),
            statuses: vec![None; specs.len()],
        }
    }

    /// Keeps a status; returns whether what it says changed.
    pub fn apply(&mut self, status: ServiceStatus) -> bool {
        let Some(slot) = self.statuses.get_mut(status.service) else {
            return false;
        };
        let changed = slot
            .as_ref()
            .is_none_or(|old| old.state != status.state || old.detail != status.detail);
        *slot = Some(status);
        changed
    }

    pub fn inputs(&self) -> Vec<ServiceInput> {
        self.names
            .iter()
            .zip(&self.statuses)
            .map(|(name, status)| ServiceInput::new(name, status.as_ref()))
            .collect()
    }

    /// A service whose status command says it is not running is a finding of its own.
    pub fn findings(&self) -> Vec<Finding> {
        self.names
            .iter()
            .zip(&self.statuses)
            .filter_map(|(name, s)| Some((name, s.as_ref()?)))
            .filter(|(_, s)| s.state == ServiceState::Stopped)
            .map(|(name, s)| {
                Finding::new(
                    Status::Critical,
                    format!("service {name} is not running: {}", s.detail),
                )
            })
            .collect()
    }
}
