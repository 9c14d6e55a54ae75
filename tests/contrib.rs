//! What `contrib/` ships is checked by the tools that will load it: Prometheus' own `promtool`
//! checks the alert rules and runs their unit tests, systemd's own `systemd-analyze` verifies
//! the unit and scores its sandbox, and every metric the rules and the Grafana dashboard query
//! is one the exposition writes.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::require_tool;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// `systemd-analyze security` scores 0 (locked down) to 10; above this the sandbox has regressed.
const MAX_EXPOSURE: f64 = 3.5;

fn run(program: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?}:\n{text}",
        program.display()
    );
    text
}

/// The `gatewatch_...` names in `text`, without the histogram/summary-free suffixes a query
/// never adds (recording rules' `gatewatch:...` names have a colon and are left out).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("gatewatch_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let promtool = require_tool(&["promtool"], "apt-get install -y prometheus");
    let dir = Path::new(ROOT).join("contrib/prometheus");
    let checked = run(&promtool, &["check", "rules", "gatewatch.rules.yml"], &dir);
    assert!(checked.contains("SUCCESS: 6 rules found"), "{checked}");
    let tested = run(
        &promtool,
        &["test", "rules", "gatewatch.rules.test.yml"],
        &dir,
    );
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn every_metric_the_rules_and_the_dashboard_use_is_one_gatewatch_writes() {
    let mut exposition = String::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("src/exposition")).expect("src/exposition")
    {
        let path = entry.expect("entry").path();
        exposition.push_str(&std::fs::read_to_string(&path).expect("read"));
    }
    let written = metric_names(&exposition);
    let rules =
        std::fs::read_to_string(Path::new(ROOT).join("contrib/prometheus/gatewatch.rules.yml"))
            .expect("rules");
    let dashboard = std::fs::read_to_string(Path::new(ROOT).join("contrib/grafana/gatewatch.json"))
        .expect("json");
    let parsed: serde_json::Value =
        serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(
        parsed["panels"].as_array().is_some_and(|p| p.len() >= 10),
        "{parsed}"
    );
    let used: BTreeSet<String> = metric_names(&rules)
        .into_iter()
        .chain(metric_names(&dashboard))
        .collect();
    let unknown: Vec<&String> = used.difference(&written).collect();
    assert!(unknown.is_empty(), "queried but never written: {unknown:?}");
    assert!(used.len() >= 15, "{used:?}");
}

#[test]
fn the_systemd_unit_verifies_and_keeps_its_sandbox() {
    let analyze = require_tool(&["systemd-analyze"], "apt-get install -y systemd");
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = std::fs::read_to_string(Path::new(ROOT).join("contrib/systemd/gatewatch.service"))
        .expect("unit");
    assert!(
        unit.contains("ExecStart=/usr/local/bin/gatewatch serve\n"),
        "{unit}"
    );
    // verify checks that ExecStart's program exists: this build's binary stands in for it.
    let here = unit.replace("/usr/local/bin/gatewatch", env!("CARGO_BIN_EXE_gatewatch"));
    let path = dir.path().join("gatewatch.service");
    std::fs::write(&path, here).expect("write");
    let path = path.to_str().expect("utf-8");
    let verified = run(&analyze, &["verify", path], dir.path());
    assert!(!verified.contains("Unknown key"), "{verified}");
    let security = run(&analyze, &["security", "--offline=true", path], dir.path());
    let score: f64 = security
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for gatewatch.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{security}"));
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} above {MAX_EXPOSURE}:\n{security}"
    );
}
