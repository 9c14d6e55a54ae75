//! The firewall summary against the real tools: what they say as root, what they say to an
//! unprivileged user, and a real DROP rule (loopback only, removed by a guard) flagged for the
//! upstream it blocks.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::firewall::RuleGuard;

use gatewatch::firewall::{
    self, Endpoint, FirewallSummary, PathKind, Strength, Tool, ToolReader, ToolState,
};

/// `scripts/test.sh` installs them; without them these tests would prove nothing.
fn require(tool: &str) {
    assert!(
        firewall::locate(tool).is_some(),
        "{tool} is required for the firewall tests: run ./scripts/test.sh or apt-get install -y iptables nftables"
    );
}

fn state(summary: &FirewallSummary, tool: Tool) -> &ToolState {
    &summary.tool(tool).expect("every tool is reported").state
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn every_tool_is_read_or_says_why_not() {
    require("iptables");
    require("nft");
    let summary = firewall::collect();
    assert_eq!(summary.tools.len(), 4);
    for report in &summary.tools {
        let note = report.note();
        assert!(note.starts_with(report.tool.name()), "{note}");
        match firewall::locate(report.tool.name()) {
            None => assert_eq!(report.state, ToolState::Absent, "{note}"),
            Some(_) if is_root() => assert!(
                matches!(report.state, ToolState::Read | ToolState::Inactive),
                "as root, {note}"
            ),
            Some(_) => assert!(
                matches!(report.state, ToolState::NotPermitted(_)),
                "not root: {note}"
            ),
        }
    }
}

#[test]
fn as_an_unprivileged_user_the_tools_say_not_permitted_and_nothing_breaks() {
    require("iptables");
    require("nft");
    require("setpriv");
    // Drops to nobody with no capabilities, as gatewatch run by an ordinary user would be.
    let runner = ToolReader {
        prefix: [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        tools: vec![Tool::Iptables, Tool::Ip6tables, Tool::Nft],
        ..ToolReader::default()
    };
    let summary = firewall::collect_with(&runner);
    for tool in [Tool::Iptables, Tool::Ip6tables, Tool::Nft] {
        let report = summary.tool(tool).expect("reported");
        assert!(
            matches!(report.state, ToolState::NotPermitted(_)),
            "{}",
            report.note()
        );
        assert!(
            report
                .note()
                .starts_with(&format!("{tool}: not permitted (run gatewatch as root")),
            "{}",
            report.note()
        );
    }
    assert!(summary.rules.is_empty());
    assert!(!summary.any_read());
}

#[test]
fn a_tool_that_hangs_is_killed_at_its_time_limit() {
    // `iptables -S` 30 s late: stands in for a tool stuck on a wedged netlink socket.
    let runner = ToolReader {
        prefix: ["sh", "-c", "sleep 30; exec \"$@\"", "sh"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        timeout: Duration::from_millis(300),
        tools: vec![Tool::Iptables],
    };
    require("iptables");
    let started = std::time::Instant::now();
    let summary = firewall::collect_with(&runner);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        state(&summary, Tool::Iptables),
        &ToolState::TimedOut(Duration::from_millis(300))
    );
    assert_eq!(
        summary.tool(Tool::Iptables).unwrap().note(),
        "iptables: `iptables -S` did not finish within 300 ms; killed"
    );
}

#[test]
fn a_real_drop_rule_for_a_loopback_upstream_is_flagged() {
    require("iptables");
    let comment = format!("gatewatch-test-{}", std::process::id());
    let added = RuleGuard::drop_blocked(&comment);
    let summary = firewall::collect();
    let _guard = match added {
        Ok(guard) => guard,
        Err(why) => {
            // A container without CAP_NET_ADMIN: the summary must say so, not break or hide it.
            assert!(
                matches!(state(&summary, Tool::Iptables), ToolState::NotPermitted(_)),
                "iptables refused the test rule ({why}) but the summary says {}",
                summary.tool(Tool::Iptables).unwrap().note()
            );
            return;
        }
    };
    assert_eq!(state(&summary, Tool::Iptables), &ToolState::Read);
    let target = Endpoint {
        id: 7,
        addr: Some("127.0.0.66".parse().unwrap()),
        port: Some(9),
    };
    let found = firewall::matches(&summary, std::slice::from_ref(&target));
    let ours: Vec<_> = found
        .iter()
        .filter(|m| summary.rules[m.rule].text.contains(&comment))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "flagged once, not again through nft: {found:?}"
    );
    let m = ours[0];
    assert_eq!(
        (m.path, m.strength, m.conditional),
        (PathKind::Outbound, Strength::Names, false)
    );
    let rule = &summary.rules[m.rule];
    assert_eq!(rule.tool, Tool::Iptables);
    assert_eq!(rule.chain, "OUTPUT");
    if matches!(state(&summary, Tool::Nft), ToolState::Read) {
        assert!(
            summary.tool(Tool::Nft).unwrap().duplicates >= 1,
            "iptables-nft's copy is counted as shown through iptables"
        );
    }
    let other = Endpoint {
        id: 8,
        addr: Some("127.0.0.66".parse().unwrap()),
        port: Some(10),
    };
    assert!(
        !firewall::matches(&summary, &[other])
            .iter()
            .any(|m| summary.rules[m.rule].text.contains(&comment))
    );
    // And the kernel really drops it: the connect times out instead of being refused.
    let addr: SocketAddr = "127.0.0.66:9".parse().unwrap();
    let err = TcpStream::connect_timeout(&addr, Duration::from_millis(300))
        .expect_err("nothing may get through");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
}
