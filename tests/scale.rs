//! Thousands of upstreams through the real binary: `check` stays within its time budget and
//! accounts for every upstream, probed or not.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::time::{Duration, Instant};

use common::Sandbox;
use servers::{Behaviour, Server, refusing_port};

const UPSTREAMS: usize = 2_000;

/// Servers on a runtime of their own, so they keep serving while the test thread waits.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// `count` upstreams named `{prefix}NNNNN`, each with its own path on `port`.
fn entries(out: &mut String, prefix: &str, count: usize, port: u16, timeout: &str) {
    for i in 0..count {
        out.push_str(&format!(
            "[[upstream]]\nname = \"{prefix}{i:05}\"\nurl = \"http://127.0.0.1:{port}/{prefix}/{i}\"\n\
             timeout = \"{timeout}\"\n\n"
        ));
    }
}

/// `check --json --timeout BUDGET`: the JSON object it prints.
fn check_json(sb: &Sandbox, cfg: &std::path::Path, budget: &str) -> serde_json::Value {
    let cfg = cfg.to_str().expect("utf-8 path");
    let out = sb.run(&["--config", cfg, "check", "--json", "--timeout", budget]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON object on stdout ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn outcomes(v: &serde_json::Value) -> (usize, Vec<&serde_json::Value>) {
    let ups = v["upstreams"].as_array().expect("upstreams");
    let not_probed: Vec<_> = ups
        .iter()
        .filter(|u| u["outcome"] == "not_probed")
        .collect();
    (ups.len(), not_probed)
}

#[test]
fn two_thousand_quick_upstreams_are_all_probed_well_within_the_budget() {
    let rt = runtime();
    let ok = rt.block_on(Server::start(Behaviour::status(200)));
    let refusing = refusing_port();
    let sb = Sandbox::new();
    let mut cfg = String::new();
    entries(&mut cfg, "dead", UPSTREAMS - 100, refusing.port, "2s");
    entries(&mut cfg, "fine", 100, ok.port(), "2s");
    let cfg = sb.write("config.toml", &cfg);

    let started = Instant::now();
    let v = check_json(&sb, &cfg, "20s");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let (listed, not_probed) = outcomes(&v);
    assert_eq!(listed, UPSTREAMS, "every upstream is listed");
    assert!(
        not_probed.is_empty(),
        "all probed: {:?}",
        not_probed.first()
    );
    assert_eq!(v["probes"]["probed"], UPSTREAMS);
    assert_eq!(v["probes"]["not_probed"], 0);
    let ups = v["upstreams"].as_array().expect("upstreams");
    let refused = ups.iter().filter(|u| u["outcome"] == "refused").count();
    assert_eq!(refused, UPSTREAMS - 100);
    assert_eq!(ok.accepts(), 100, "each answering upstream probed once");
}

#[test]
fn upstreams_the_budget_did_not_reach_are_reported_as_not_probed_with_counts() {
    let rt = runtime();
    let hang = rt.block_on(Server::start(Behaviour::Hang));
    let refusing = refusing_port();
    let sb = Sandbox::new();
    // 600 upstreams that never answer hold the 256 probe slots for their 2 s timeout each: a 3 s
    // budget cannot get through them and the 1,400 behind them.
    let mut cfg = String::new();
    entries(&mut cfg, "hang", 600, hang.port(), "2s");
    entries(&mut cfg, "dead", UPSTREAMS - 600, refusing.port, "2s");
    let cfg = sb.write("config.toml", &cfg);

    let started = Instant::now();
    let v = check_json(&sb, &cfg, "3s");
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(4_500),
        "3 s budget, took {took:?}"
    );
    let (listed, not_probed) = outcomes(&v);
    assert_eq!(listed, UPSTREAMS, "every upstream is listed, probed or not");
    assert!(!not_probed.is_empty(), "the budget cannot cover them all");
    for u in &not_probed {
        assert_eq!(u["state"], "unknown", "{u}");
        let detail = u["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("time budget ran out"), "{detail}");
    }
    let probed = v["probes"]["probed"].as_u64().expect("probed count");
    let skipped = v["probes"]["not_probed"]
        .as_u64()
        .expect("not_probed count");
    assert_eq!(skipped as usize, not_probed.len());
    assert_eq!(probed + skipped, UPSTREAMS as u64);
    let timeouts = v["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .filter(|u| u["outcome"] == "timeout")
        .count();
    assert!(
        timeouts >= 256,
        "the first round of hangs timed out: {timeouts}"
    );
    let finding = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .find(|m| m.contains("not probed"))
        .unwrap_or_else(|| panic!("a finding names the unprobed: {}", v["findings"]));
    assert!(
        finding.contains(&format!("{skipped} of {UPSTREAMS} upstreams not probed")),
        "{finding}"
    );

    // The text report says the same.
    let cfg = cfg.to_str().expect("utf-8 path");
    let out = sb.run(&["--config", cfg, "check", "--timeout", "3s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("upstreams not probed: check's time budget ran out"),
        "{text}"
    );
}
