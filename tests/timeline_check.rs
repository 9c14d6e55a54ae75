//! `check --json` and `report` put the host's own records on the timeline, every source pointed
//! at the test's own files: package changes from a dpkg.log and an apt history.log written in
//! their formats, an upstream process started on its port (read through the real /proc), and
//! log lines that claim a time hours ahead of the clock.

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use common::nginx::free_port;
use common::{Sandbox, require_tool};
use serde_json::Value;
use upstreams::ChildServer;

fn local(t: i64, format: &str) -> String {
    jiff::Timestamp::from_second(t)
        .expect("time")
        .to_zoned(jiff::tz::TimeZone::system())
        .strftime(format)
        .to_string()
}

fn kinds<'a>(json: &'a Value, kind: &str) -> Vec<&'a Value> {
    json["timeline"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[test]
fn packages_and_a_started_upstream_process_are_events_and_the_report_lists_them() {
    let now = jiff::Timestamp::now().as_second();
    let sb = Sandbox::new();
    // dpkg's own words: the action lines are the changes; status/configure lines repeat them.
    let an_hour_ago = now - 3600;
    let day_old = now - 2 * 86_400;
    let dpkg = sb.write(
        "dpkg.log",
        &format!(
            "{old} upgrade openssl:amd64 3.0.15-1 3.0.16-1\n\
             {t} startup packages configure\n\
             {t} upgrade libssl3:amd64 3.0.15-1~deb12u1 3.0.17-1~deb12u2\n\
             {t} status half-configured libssl3:amd64 3.0.17-1~deb12u2\n\
             {t} configure libssl3:amd64 3.0.17-1~deb12u2 <none>\n\
             {t} status installed libssl3:amd64 3.0.17-1~deb12u2\n",
            old = local(day_old, "%Y-%m-%d %H:%M:%S"),
            t = local(an_hour_ago, "%Y-%m-%d %H:%M:%S"),
        ),
    );
    let history = sb.write(
        "history.log",
        &format!(
            "\nStart-Date: {t}\nCommandline: apt-get install -y php8.2-fpm\n\
             Install: php8.2-fpm:amd64 (8.2.28-1~deb12u1)\nEnd-Date: {t}\n",
            t = local(now - 1800, "%Y-%m-%d  %H:%M:%S"),
        ),
    );
    // An upstream on this host, its process started just now.
    let port = free_port();
    let app = ChildServer::start(port);
    let config = sb.write(
        "gatewatch.toml",
        &format!(
            "[[upstream]]\nname = \"app\"\nurl = \"http://127.0.0.1:{port}/\"\n\n\
             [timeline]\nkernel = \"/dev/null\"\npackages = [\"{}\", \"{}\"]\n",
            dpkg.display(),
            history.display()
        ),
    );
    let config = config.display().to_string();
    let (json, stdout) = sb.check_json(&["--config", &config]);

    let packages = kinds(&json, "package_change");
    let texts: Vec<&str> = packages
        .iter()
        .map(|e| e["text"].as_str().expect("text"))
        .collect();
    // The two-day-old upgrade is outside the 6-hour span; the repeats are not events.
    assert_eq!(
        texts,
        [
            "upgrade libssl3:amd64 3.0.15-1~deb12u1 -> 3.0.17-1~deb12u2",
            "apt-get install -y php8.2-fpm: install php8.2-fpm:amd64 8.2.28-1~deb12u1"
        ],
        "{stdout}"
    );
    let restarts = kinds(&json, "service_restart");
    let mine: Vec<&&Value> = restarts
        .iter()
        .filter(|e| {
            e["text"]
                .as_str()
                .is_some_and(|t| t.contains(&format!("(pid {})", app.pid())))
        })
        .collect();
    assert_eq!(mine.len(), 1, "{stdout}");
    let text = mine[0]["text"].as_str().expect("text");
    assert!(
        text.contains(&format!("listening on 127.0.0.1:{port} started")),
        "{text}"
    );

    // The report: a Timeline section listing them, newest first.
    let out = sb.run(&["--config", &config, "report"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Timeline\n"), "{md}");
    let at_restart = md.find(&format!("listening on 127.0.0.1:{port} started"));
    let at_package = md.find("install php8.2-fpm:amd64");
    let (Some(at_restart), Some(at_package)) = (at_restart, at_package) else {
        panic!("both listed:\n{md}");
    };
    assert!(at_restart < at_package, "newest first:\n{md}");
}

/// Without a kernel ring to read (here a path that does not exist; on a host, a non-root user
/// under `kernel.dmesg_restrict`), the kernel's OOM kills come from the journal: `journalctl -k`
/// (a stand-in printing what journald prints) since the span's start.
#[test]
fn without_the_kernel_ring_oom_kills_come_from_the_journal() {
    let now = jiff::Timestamp::now().as_second();
    let sb = Sandbox::new();
    let stamp = local(now - 600, "%Y-%m-%dT%H:%M:%S%z");
    let journalctl = common::fake_program(
        sb.path(),
        "journalctl",
        &format!(
            "echo '{stamp} web1 kernel: oom-kill:constraint=CONSTRAINT_NONE,task=php-fpm8.2,pid=4242,uid=33'\n\
             echo '{stamp} web1 kernel: Out of memory: Killed process 4242 (php-fpm8.2) total-vm:812345kB, anon-rss:512000kB'\n\
             echo '{stamp} web1 kernel: usb 1-1: new high-speed USB device'"
        ),
    );
    let config = sb.write(
        "gatewatch.toml",
        "[timeline]\nkernel = \"/nonexistent/kmsg\"\npackages = []\n",
    );
    let wrapper = [
        "env".to_string(),
        format!("GATEWATCH_JOURNALCTL={}", journalctl.display()),
    ];
    let out = sb.run_under(
        &wrapper,
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "check",
            "--json",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&stdout).expect("JSON");
    let ooms = kinds(&json, "oom_kill");
    assert_eq!(
        ooms.len(),
        1,
        "one kill on two lines is one event: {stdout}"
    );
    let text = ooms[0]["text"].as_str().expect("text");
    assert!(
        text.contains("php-fpm8.2") && text.contains("4242"),
        "{text}"
    );
    assert_eq!(ooms[0]["source"], "kernel");
    let argv = std::fs::read_to_string(sb.path().join("journalctl.argv")).expect("argv");
    let words: Vec<&str> = argv.lines().collect();
    assert_eq!(&words[..5], ["-k", "-o", "short-iso", "--no-pager", "-q"]);
    let since: i64 = words[6].trim_start_matches('@').parse().expect("since");
    assert!((now - 6 * 3600 - since).abs() <= 5, "{argv}");
}
