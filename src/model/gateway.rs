//! The `[gateway]` probe: the proxy's own front door, probed like an upstream.

use crate::config::Upstream;
use crate::diagnosis::GatewayInput;
use crate::upstream::ProbeResult;

/// The upstream the gateway is probed as, and its last result.
#[derive(Debug)]
pub struct Gateway {
    pub upstream: Upstream,
    pub last: Option<ProbeResult>,
}

impl Gateway {
    pub fn new(upstream: Upstream) -> Self {
        Gateway {
            upstream,
            last: None,
        }
    }

    /// Keeps a newer result; false for a stale one.
    pub fn apply(&mut self, result: ProbeResult) -> bool {
        if self.last.as_ref().is_some_and(|l| l.seq >= result.seq) {
            return false;
        }
        self.last = Some(result);
        true
    }

    pub fn input(&self) -> GatewayInput {
        GatewayInput::new(&self.upstream.url, self.last.as_ref())
    }
}
