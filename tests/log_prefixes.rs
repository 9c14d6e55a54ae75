//! `gatewatch check --json` on a log whose lines arrive behind collector prefixes (`docker logs
//! -t`, Docker Compose): each line is counted under its cause by its own timestamp, the
//! prefix's only standing in for a line that has none.

// Helpers outside #[test] fns panic to report a failure, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use common::Sandbox;
use jiff::Timestamp;

/// nginx's own stamp (local time; the binary runs with TZ=UTC).
fn nginx_time(t: i64) -> String {
    common::utc_stamp(t, "%Y/%m/%d %H:%M:%S")
}

/// `docker logs -t`'s stamp.
fn docker_time(t: i64) -> String {
    common::utc_stamp(t, "%Y-%m-%dT%H:%M:%S.123456789Z")
}

fn refused(t: i64) -> String {
    format!(
        "{} [error] 31#31: *9 connect() failed (111: Connection refused) while connecting to upstream, client: 172.18.0.1, server: _, request: \"GET /api HTTP/1.1\", upstream: \"http://172.18.0.3:8080/api\", host: \"localhost\"",
        nginx_time(t)
    )
}

fn timed_out(t: i64) -> String {
    format!(
        "{} [error] 31#31: *10 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 172.18.0.1, server: _, request: \"GET /slow HTTP/1.1\", upstream: \"http://172.18.0.3:8080/slow\", host: \"localhost\"",
        nginx_time(t)
    )
}

const EMERG: &str =
    "nginx: [emerg] host not found in upstream \"backend:8080\" in /etc/nginx/conf.d/app.conf:12";

#[test]
fn prefixed_lines_are_counted_by_cause_with_their_own_stamps() {
    let sb = Sandbox::new();
    let now = Timestamp::now().as_second();
    let old = now - 2 * 3600;
    let mut lines = Vec::new();
    // Two hours ago, by every stamp: outside the 10-minute window.
    lines.push(format!("{} {}", docker_time(old), refused(old)));
    lines.push(format!("web-1  | {}", timed_out(old)));
    lines.push(format!("{} {EMERG}", docker_time(old)));
    // In the window.
    for i in 0..3 {
        lines.push(format!(
            "{} {}",
            docker_time(now - 60 + i),
            refused(now - 60 + i)
        ));
    }
    for i in 0..2 {
        lines.push(format!("web-1  | {}", timed_out(now - 50 + i)));
        lines.push(format!("web_1  | {}", timed_out(now - 40 + i)));
    }
    lines.push(format!(
        "web-1  | {} {}",
        docker_time(now - 30),
        refused(now - 30)
    ));
    // Read late (a recent prefix) but written two hours ago: its own stamp rules.
    lines.push(format!("{} {}", docker_time(now - 20), refused(old)));
    // No stamp of its own: the prefix's is its time.
    lines.push(format!("{} {EMERG}", docker_time(now - 10)));
    // Quiet lines around them.
    lines.push(format!(
        "web-1  | {} [notice] 1#1: start worker processes",
        nginx_time(now - 5)
    ));
    let log = sb.write("proxy.log", &(lines.join("\n") + "\n"));
    let cfg = sb.write(
        "config.toml",
        &format!("[[log]]\npath = \"{}\"\n", log.display()),
    );
    let wrapper = ["env".to_owned(), "TZ=UTC".to_owned()];
    let out = sb.run_under(
        &wrapper,
        &["--config", cfg.to_str().unwrap(), "check", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON on stdout ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let logs = v["logs"].as_array().expect("logs");
    let causes = &logs[0]["causes"];
    assert_eq!(causes["refused"], 4, "{v}");
    assert_eq!(causes["timeout"], 4, "{v}");
    assert_eq!(causes["dns"], 1, "{v}");
    assert_eq!(causes.as_object().unwrap().len(), 3, "{v}");
}

/// [`common::fake_program`] in the sandbox, as the value of an environment variable.
fn fake(sb: &Sandbox, name: &str, body: &str) -> String {
    common::fake_program(sb.path(), name, body)
        .display()
        .to_string()
}

/// `check` runs a journal or container source's program once, for the window, and counts
/// what it printed like a log file's lines: `[[log]] journal` and `container` with fake
/// `journalctl` and `docker` (named by GATEWATCH_JOURNALCTL and GATEWATCH_DOCKER).
#[test]
fn check_counts_the_window_of_a_journal_and_a_container() {
    let sb = Sandbox::new();
    let now = Timestamp::now().as_second();
    let micros = |t: i64| (t * 1_000_000).to_string();
    let entries = [
        // Two hours old by its own stamp, though journalctl printed it: not counted.
        format!(
            r#"{{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"{}","MESSAGE":"{}"}}"#,
            micros(now - 30),
            refused(now - 7200).replace('"', "\\\"")
        ),
        format!(
            r#"{{"__CURSOR":"s=2","__REALTIME_TIMESTAMP":"{}","MESSAGE":"{}"}}"#,
            micros(now - 20),
            refused(now - 20).replace('"', "\\\"")
        ),
        format!(
            r#"{{"__CURSOR":"s=3","__REALTIME_TIMESTAMP":"{}","MESSAGE":"{}"}}"#,
            micros(now - 10),
            EMERG.replace('"', "\\\"")
        ),
    ];
    let journal = sb.write("entries.json", &(entries.join("\n") + "\n"));
    let journalctl = fake(&sb, "journalctl", &format!("cat '{}'", journal.display()));
    let docker_lines = sb.write(
        "docker.out",
        &format!(
            "{} {}\n{} {}\n",
            docker_time(now - 15),
            timed_out(now - 15),
            docker_time(now - 5),
            timed_out(now - 5)
        ),
    );
    let docker = fake(
        &sb,
        "docker",
        &format!(
            "head -n 1 '{0}'\ntail -n 1 '{0}' >&2",
            docker_lines.display()
        ),
    );
    let cfg = sb.write(
        "config.toml",
        "[[log]]\njournal = \"nginx.service\"\n\n[[log]]\ncontainer = \"web-1\"\n",
    );
    let wrapper = [
        "env".to_owned(),
        "TZ=UTC".to_owned(),
        format!("GATEWATCH_JOURNALCTL={journalctl}"),
        format!("GATEWATCH_DOCKER={docker}"),
    ];
    let out = sb.run_under(
        &wrapper,
        &["--config", cfg.to_str().unwrap(), "check", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let logs = v["logs"].as_array().expect("logs");
    assert_eq!(logs[0]["path"], "journal of nginx.service", "{v}");
    assert_eq!(
        logs[0]["causes"],
        serde_json::json!({"refused": 1, "dns": 1}),
        "{v}"
    );
    assert_eq!(logs[0]["error"], serde_json::Value::Null, "{v}");
    assert_eq!(logs[1]["path"], "container web-1", "{v}");
    assert_eq!(logs[1]["causes"], serde_json::json!({"timeout": 2}), "{v}");
    let argv = std::fs::read_to_string(sb.path().join("journalctl.argv")).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    assert_eq!(argv[..3], ["-o", "json", "--since"]);
    let since: i64 = argv[3].strip_prefix('@').unwrap().parse().unwrap();
    assert!(
        (now - 600 - since).abs() < 60,
        "the window's start: {since}"
    );
    assert_eq!(
        argv[4..],
        [
            "-n",
            &gatewatch::logs::DEFAULT_MAX_LINES.to_string(),
            "-u",
            "nginx.service",
            "--no-pager"
        ]
    );
    let argv = std::fs::read_to_string(sb.path().join("docker.argv")).unwrap();
    assert_eq!(argv.lines().next_back(), Some("web-1"));
    assert!(argv.starts_with("logs\n-t\n--since\n"), "{argv}");
}

/// `journal` and `container` sources run programs: a config others can write gets none of them
/// run, like its commands.
#[test]
fn a_config_others_can_write_runs_no_journalctl_or_docker() {
    let sb = Sandbox::new();
    let journalctl = fake(&sb, "journalctl", "true");
    let docker = fake(&sb, "docker", "true");
    let cfg = sb.write(
        "config.toml",
        "[[log]]\njournal = \"nginx.service\"\n\n[[log]]\ncontainer = \"web-1\"\n",
    );
    std::fs::set_permissions(&cfg, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let wrapper = [
        "env".to_owned(),
        format!("GATEWATCH_JOURNALCTL={journalctl}"),
        format!("GATEWATCH_DOCKER={docker}"),
    ];
    let out = sb.run_under(
        &wrapper,
        &["--config", cfg.to_str().unwrap(), "check", "--json"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("its commands are not run"), "{stdout}");
    assert!(
        !sb.path().join("journalctl.argv").exists(),
        "journalctl ran"
    );
    assert!(!sb.path().join("docker.argv").exists(), "docker ran");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["logs"].to_string().contains("journal of"), "{v}");
}

/// nginx logging to stderr (or to syslog's local socket) under systemd writes to its unit's
/// journal: discovery follows that journal, and `check` counts it. A syslog server elsewhere is
/// only named, not followed.
#[test]
fn an_nginx_that_logs_to_stderr_is_read_from_its_units_journal() {
    let sb = Sandbox::new();
    let now = Timestamp::now().as_second();
    let entry = format!(
        r#"{{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"{}","MESSAGE":"{}"}}"#,
        now * 1_000_000,
        refused(now - 5).replace('"', "\\\"")
    );
    let journal = sb.write("entries.json", &(entry + "\n"));
    let journalctl = fake(&sb, "journalctl", &format!("cat '{}'", journal.display()));
    let wrapper = [
        "env".to_owned(),
        "TZ=UTC".to_owned(),
        format!("GATEWATCH_JOURNALCTL={journalctl}"),
    ];
    let access = sb.path().join("access.log");
    let run = |error_log: &str| {
        let conf = sb.write(
            "nginx.conf",
            &format!(
                "error_log {error_log};\nevents {{}}\nhttp {{\n  access_log {};\n}}\n",
                access.display()
            ),
        );
        let out = sb.run_under(
            &wrapper,
            &["--nginx-conf", conf.to_str().unwrap(), "check", "--json"],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        v
    };
    for error_log in ["stderr", "syslog:server=unix:/dev/log"] {
        let v = run(error_log);
        let journal = v["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .find(|l| l["path"] == "journal of nginx.service")
            .unwrap_or_else(|| panic!("{error_log}: no journal source in {v}"));
        assert_eq!(journal["causes"], serde_json::json!({"refused": 1}), "{v}");
        let argv = std::fs::read_to_string(sb.path().join("journalctl.argv")).unwrap();
        assert!(argv.contains("-u\nnginx.service\n"), "{argv}");
    }
    let v = run("syslog:server=127.0.0.1:5514");
    assert!(
        !v["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .any(|l| l["path"] == "journal of nginx.service"),
        "a remote syslog server is not the journal: {v}"
    );
    assert!(
        v.to_string()
            .contains("goes to syslog (server=127.0.0.1:5514)"),
        "{v}"
    );
}
