//! A real iptables rule for a test's lifetime: the firewall summary and the verdict are tested
//! against what the kernel holds, not against text.
#![allow(dead_code)]

use std::process::Command;

/// The loopback address and port the blocking rule names; nothing listens there.
pub const BLOCKED: (&str, u16) = ("127.0.0.66", 9);

/// `-A OUTPUT <spec>`, removed when dropped (even on a failed assert).
pub struct RuleGuard {
    spec: Vec<String>,
}

fn iptables() -> std::path::PathBuf {
    gatewatch::firewall::locate("iptables").expect(
        "iptables is required for this test: run ./scripts/test.sh or apt-get install -y iptables",
    )
}

impl RuleGuard {
    /// Adds the rule; the error is iptables' own message (a container without CAP_NET_ADMIN).
    pub fn add(spec: &[&str]) -> Result<RuleGuard, String> {
        let spec: Vec<String> = spec.iter().map(|s| s.to_string()).collect();
        let out = Command::new(iptables())
            .args(["-A", "OUTPUT"])
            .args(&spec)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(RuleGuard { spec })
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// DROP of TCP to [`BLOCKED`], tagged with `comment` so a leftover is recognisable.
    pub fn drop_blocked(comment: &str) -> Result<RuleGuard, String> {
        let (addr, port) = BLOCKED;
        let (cidr, port) = (format!("{addr}/32"), port.to_string());
        RuleGuard::add(&[
            "-d",
            &cidr,
            "-p",
            "tcp",
            "--dport",
            &port,
            "-m",
            "comment",
            "--comment",
            comment,
            "-j",
            "DROP",
        ])
    }
}

impl Drop for RuleGuard {
    fn drop(&mut self) {
        let _ = Command::new(iptables())
            .args(["-D", "OUTPUT"])
            .args(&self.spec)
            .status();
    }
}
