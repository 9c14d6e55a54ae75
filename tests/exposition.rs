//! `gatewatch check --format prometheus` through the real binary: upstreams on loopback, the
//! exposition judged by Prometheus's own `promtool check metrics`, `-o FILE` replacing a file
//! whole, and 10,000 upstreams kept under a size bound by the cap.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::path::Path;

use common::Sandbox;
use servers::{Behaviour, Server, refusing_port};

/// What the exposition of 10,000 upstreams may weigh: 2,000 exported, a few lines each.
const SIZE_BOUND: usize = 2 << 20;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn upstream(out: &mut String, name: &str, url: &str) {
    out.push_str(&format!(
        "[[upstream]]\nname = {name:?}\nurl = \"{url}\"\ntimeout = \"2s\"\n\n"
    ));
}

/// `check --format prometheus` (plus `extra`): its stdout and exit code.
fn check(sb: &Sandbox, cfg: &Path, extra: &[&str]) -> (String, i32) {
    let cfg = cfg.to_str().expect("utf-8 path");
    let mut args = vec!["--config", cfg, "check", "--format", "prometheus"];
    args.extend_from_slice(extra);
    let out = sb.run(&args);
    let code = out.status.code().expect("exit code");
    assert!(
        (0..=3).contains(&code),
        "a Nagios status, got {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8(out.stdout).expect("utf-8"), code)
}

/// `promtool check metrics` on `text`: panics with what it said when it objects.
fn promtool_accepts(text: &str) {
    let out = common::promtool_check_metrics(text);
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_refusing_upstream_is_down_a_healthy_one_up_and_promtool_agrees() {
    let rt = runtime();
    let ok = rt.block_on(Server::start(Behaviour::status(200)));
    let refusing = refusing_port();
    let sb = Sandbox::new();
    let mut cfg = String::new();
    upstream(
        &mut cfg,
        "dead",
        &format!("tcp://127.0.0.1:{}", refusing.port),
    );
    upstream(&mut cfg, "fine", &ok.url("http", "/health"));
    let cfg = sb.write("config.toml", &cfg);

    let (text, code) = check(&sb, &cfg, &[]);
    let dead = format!(
        "gatewatch_upstream_up{{upstream=\"dead\",target=\"tcp://127.0.0.1:{}\"}} 0\n",
        refusing.port
    );
    assert!(text.contains(&dead), "{text}");
    let fine = format!(
        "gatewatch_upstream_up{{upstream=\"fine\",target=\"{}\"}} 1\n",
        ok.url("http", "/health")
    );
    assert!(text.contains(&fine), "{text}");
    // The probe's phases, as blackbox_exporter splits them: an answered http probe connected
    // and waited for its first byte; a refused one got no further than the connect.
    for phase in ["connect", "first_byte", "total"] {
        let sample = format!(
            "gatewatch_upstream_probe_duration_seconds{{upstream=\"fine\",phase=\"{phase}\"}} "
        );
        assert!(text.contains(&sample), "{phase}: {text}");
    }
    assert!(
        !text.contains("{upstream=\"dead\",phase=\"first_byte\"}"),
        "{text}"
    );
    assert!(
        text.contains(
            "gatewatch_upstream_probe_failures_total{upstream=\"dead\",outcome=\"refused\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("gatewatch_upstream_status_code{upstream=\"fine\"} 200\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "gatewatch_upstream_probe_duration_seconds{upstream=\"fine\",phase=\"total\"} "
        )
    );
    assert_eq!(code, 2, "a down upstream is critical, as check's text says");
    assert!(text.contains("\ngatewatch_status 2\n"), "{text}");
    assert!(
        text.contains("\ngatewatch_upstreams_not_exported 0\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"), "the text format has no EOF");
    promtool_accepts(&text);

    // --json still works, and is --format json.
    let cfg = cfg.to_str().expect("utf-8 path");
    let json = sb.run(&["--config", cfg, "check", "--json"]);
    let formatted = sb.run(&["--config", cfg, "check", "--format", "json"]);
    for out in [json, formatted] {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(v["status"], "critical");
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn hostile_upstream_names_come_out_escaped_and_promtool_agrees() {
    let refusing = refusing_port();
    let sb = Sandbox::new();
    let mut cfg = String::new();
    // TOML escapes: a quote, a backslash, a newline, ESC and BEL in the name.
    cfg.push_str(&format!(
        "[[upstream]]\nname = \"a\\\"b\\\\c\\nd\\u001b[2J\\u0007\"\nurl = \"tcp://127.0.0.1:{}\"\ntimeout = \"2s\"\n",
        refusing.port
    ));
    let cfg = sb.write("config.toml", &cfg);
    let (text, _) = check(&sb, &cfg, &[]);
    // The config loader already made the control bytes visible (`\x0a`, `\x1b`); the
    // exposition escapes the quote and every backslash, its own and theirs.
    assert!(
        text.contains(r#"gatewatch_upstream_up{upstream="a\"b\\c\\x0ad\\x1b[2J\\x07",target="#),
        "{text}"
    );
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
    promtool_accepts(&text);
}

#[test]
fn output_file_is_replaced_whole_and_a_symlink_there_is_replaced_not_followed() {
    use std::os::unix::fs::PermissionsExt as _;
    let refusing = refusing_port();
    let sb = Sandbox::new();
    let mut cfg = String::new();
    upstream(
        &mut cfg,
        "dead",
        &format!("tcp://127.0.0.1:{}", refusing.port),
    );
    let cfg = sb.write("config.toml", &cfg);
    let dir = sb.path().join("textfile");
    std::fs::create_dir(&dir).expect("dir");
    let victim = sb.write("victim", "not to be touched\n");
    let file = dir.join("gatewatch.prom");
    std::os::unix::fs::symlink(&victim, &file).expect("plant a symlink");

    let file_arg = file.to_str().expect("utf-8 path");
    let (stdout, code) = check(&sb, &cfg, &["-o", file_arg]);
    assert_eq!(code, 2, "the Nagios status, not the write's");
    assert!(
        stdout.is_empty(),
        "written to the file, not stdout: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "not to be touched\n",
        "the link was not followed"
    );
    let meta = std::fs::symlink_metadata(&file).expect("written");
    assert!(meta.is_file(), "the link was replaced by a regular file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.starts_with("# HELP gatewatch_up "), "{text}");
    assert!(
        text.ends_with("gatewatch_upstreams_not_exported 0\n")
            || text.contains("\ngatewatch_upstreams_not_exported 0\n")
    );
    promtool_accepts(&text);
    let left: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["gatewatch.prom"], "no temporary file left behind");

    // A second run replaces the first file: a new inode renamed over it, never a rewrite in place
    // (a scrape holding the old file keeps reading it whole).
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&file);
    check(&sb, &cfg, &["-o", file_arg]);
    assert_ne!(inode(&file), before, "renamed over, not rewritten");

    // A directory that does not exist: said, and the unknown status.
    let cfg_arg = cfg.to_str().expect("utf-8 path");
    let missing = sb.path().join("nowhere/gatewatch.prom");
    let out = sb.run(&[
        "--config",
        cfg_arg,
        "check",
        "--format",
        "prometheus",
        "-o",
        missing.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nowhere/gatewatch.prom"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ten_thousand_upstreams_stay_under_the_size_bound() {
    const UPSTREAMS: usize = 10_000;
    let refusing = refusing_port();
    let sb = Sandbox::new();
    let mut cfg = String::new();
    for i in 0..UPSTREAMS {
        upstream(
            &mut cfg,
            &format!("backend-{i:05}"),
            &format!("tcp://127.0.0.1:{}", refusing.port),
        );
    }
    let cfg = sb.write("config.toml", &cfg);
    let (text, _) = check(&sb, &cfg, &["--timeout", "20s"]);
    eprintln!("exposition of {UPSTREAMS} upstreams: {} bytes", text.len());
    assert!(
        text.len() < SIZE_BOUND,
        "{} bytes, bound {SIZE_BOUND}",
        text.len()
    );
    let exported = text.matches("\ngatewatch_upstream_up{").count();
    let not_exported: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("gatewatch_upstreams_not_exported "))
        .and_then(|n| n.parse().ok())
        .expect("gatewatch_upstreams_not_exported");
    assert_eq!(exported, 2_000, "the cap");
    // Every upstream is exported or counted out: those never probed count too.
    assert_eq!(not_exported, UPSTREAMS - 2_000);
    promtool_accepts(&text);
}

#[test]
fn responses_are_exported_by_status_class_as_the_log_counted_them() {
    let sb = Sandbox::new();
    let now = jiff::Timestamp::now().as_second();
    let mut text = String::new();
    // A plain access log: 20 answered, 3 redirected, 5 refused by the client side (one 499,
    // nginx's "client closed"), 2 bad gateways; the alike 200s go through the counters' runs.
    let statuses = [(200, 20), (301, 3), (404, 4), (499, 1), (502, 2)];
    for (i, status) in statuses
        .iter()
        .flat_map(|&(s, n)| std::iter::repeat_n(s, n))
        .enumerate()
    {
        let stamp = common::utc_stamp(now - 90 + i as i64, "%d/%b/%Y:%H:%M:%S +0000");
        text += &format!(
            "127.0.0.1 - - [{stamp}] \"GET /{i} HTTP/1.1\" {status} 5 \"-\" \"curl\" \
             upstream=127.0.0.1:9000\n"
        );
    }
    let log = sb.write("access.log", &text);
    let cfg = sb.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\nkind = \"access\"\n", log.display()),
    );

    let (text, _) = check(&sb, &cfg, &[]);
    let label = log.display().to_string();
    for (class, n) in [
        ("1xx", 0),
        ("2xx", 20),
        ("3xx", 3),
        ("4xx", 5),
        ("5xx", 2),
        ("other", 0),
    ] {
        let sample =
            format!("gatewatch_log_responses_window{{log=\"{label}\",class=\"{class}\"}} {n}\n");
        assert!(text.contains(&sample), "{class}: {text}");
    }
    promtool_accepts(&text);

    let (v, _) = sb.check_json(&["--config", cfg.to_str().unwrap()]);
    let responses = &v["logs"][0]["responses"];
    assert_eq!(responses["2xx"], 20, "{v}");
    assert_eq!(responses["4xx"], 5, "{v}");
    assert_eq!(v["logs"][0]["requests"], 30, "{v}");
}
