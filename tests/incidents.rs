//! Issue 12: real incidents, reproduced for real. A real nginx (the Debian package, in a temp
//! prefix) in front of real upstreams (loopback servers, a real php-fpm), real traffic through it
//! so nginx writes its own log lines, then the real binary, `gatewatch --nginx-conf <its conf>
//! check --json`, discovering the upstreams and the logs from that config.
//!
//! The assertions are the contract of `check --json`'s verdict (see [`verdict`]): what an SRE
//! would want to be told about each incident, and what to do next.
//!
//! Hermetic: everything listens on 127.0.0.0/8; the stale-DNS incident runs nginx and gatewatch
//! each in a private mount namespace with the test's hosts file bound over /etc/hosts (the host's
//! file is never touched); every process started is stopped by a Drop guard. gatewatch gets a
//! config of the test's own (hosts file, resolv.conf, the services it may look at).

mod common;
#[path = "common/php_fpm.rs"]
mod php_fpm;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use common::nginx::{self, Nginx, Options, free_port};
use common::{Sandbox, require_tool};
use php_fpm::{PhpFpm, Pool};
use serde_json::Value;
use servers::Behaviour;
use upstreams::{BusyHost, ChildServer, Upstreams, big_header};

// ---------------------------------------------------------------------------------------------
// Serialising the loaded-host tests against the rest.

/// The loaded-host tests take it for writing, every other test for reading: their busy loops
/// must not starve the others, nor the others' traffic blur their load.
static HOST: RwLock<()> = RwLock::new(());

fn shared_host() -> RwLockReadGuard<'static, ()> {
    HOST.read().unwrap_or_else(|e| e.into_inner())
}

fn whole_host() -> RwLockWriteGuard<'static, ()> {
    HOST.write().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Running gatewatch and reading its verdict.

/// One `check --json` run.
struct Check {
    code: Option<i32>,
    json: Value,
    stdout: String,
    stderr: String,
}

/// The verdict of `check --json`: (cause, text, next_step, evidence as (source, text)).
fn verdict(json: &Value) -> (String, String, String, Vec<(String, String)>) {
    let v = &json["verdict"];
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let evidence = v["evidence"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| {
                    let f = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                    (f("source"), f("text"))
                })
                .collect()
        })
        .unwrap_or_default();
    (s("cause"), s("text"), s("next_step"), evidence)
}

impl Check {
    fn cause(&self) -> String {
        verdict(&self.json).0
    }

    fn text(&self) -> String {
        verdict(&self.json).1
    }

    fn next_step(&self) -> String {
        verdict(&self.json).2
    }

    fn one_line(&self) -> String {
        let (cause, text, next, _) = verdict(&self.json);
        format!(
            "exit {:?}, cause {cause:?}: {text} | next: {next}",
            self.code
        )
    }
}

/// Every expectation about one check run: the failed ones are collected, and when it is dropped
/// the test fails with all of them, the verdict in one line and the whole JSON, pretty.
struct Expect<'a> {
    c: &'a Check,
    failed: Vec<String>,
}

impl<'a> Expect<'a> {
    /// Starts with what every verdict owes whatever the incident: a status and the exit code
    /// that goes with it, the verdict's fields, evidence from the sources the contract names, and
    /// a next step an SRE can follow outside the dashboard.
    fn new(c: &'a Check) -> Self {
        let mut e = Expect {
            c,
            failed: Vec::new(),
        };
        let status = c.json["status"].as_str().unwrap_or_default();
        let code = match status {
            "ok" => Some(0),
            "warning" => Some(1),
            "critical" => Some(2),
            "unknown" => Some(3),
            _ => None,
        };
        e.that(
            code.is_some() && c.code == code,
            &format!("top-level status {status:?} and exit code {:?} must agree (ok 0, warning 1, critical 2, unknown 3)", c.code),
        );
        let v = &c.json["verdict"];
        for key in ["text", "cause", "next_step", "status"] {
            e.that(
                v[key].is_string(),
                &format!("verdict.{key} must be a string"),
            );
        }
        let cause = c.cause();
        e.that(
            !cause.is_empty()
                && cause
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "verdict.cause must be snake_case",
        );
        e.that(
            v["evidence"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .all(|i| i["source"].is_string() && i["text"].is_string())
            }),
            "verdict.evidence must be an array of {source, text}",
        );
        for (source, text) in verdict(&c.json).3 {
            // A log is cited by line when its line number is known, else by name; a checklist
            // step by its name.
            let steps = ["gateway", "logs", "network", "upstreams"];
            let known = ["probe", "dns", "host", "firewall", "service"].contains(&source.as_str())
                || steps.contains(&source.as_str())
                || ["error.log", "access.log"].contains(&source.as_str())
                || ["error.log:", "access.log:"].iter().any(|log| {
                    source
                        .strip_prefix(log)
                        .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))
                });
            e.that(
                known,
                &format!("evidence source {source:?} is not a log (error.log[:N], access.log[:N]), a checklist step, probe, dns, host, firewall or service"),
            );
            e.that(!text.is_empty(), "every evidence item has a text");
        }
        let next = c.next_step();
        for hint in ["(a)", "(r)", "(Enter)"] {
            e.that(
                !next.contains(hint),
                &format!("next_step must not hold the dashboard key hint {hint}"),
            );
        }
        e
    }

    fn that(&mut self, ok: bool, what: &str) {
        if !ok {
            self.failed.push(what.to_string());
        }
    }

    /// The verdict cites nginx's own error.log line (`error.log:N`) that shows `needle`.
    fn cites(&mut self, nginx: &Nginx, needle: &str) {
        let log = nginx.error_log();
        let cited = verdict(&self.c.json).3.iter().any(|(source, _)| {
            source
                .strip_prefix("error.log:")
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| log.lines().nth(n.saturating_sub(1)))
                .is_some_and(|line| line.contains(needle))
        });
        self.that(
            cited,
            &format!("the evidence must cite an error.log:N line of nginx's showing {needle:?}"),
        );
    }
}

impl Drop for Expect<'_> {
    fn drop(&mut self) {
        if self.failed.is_empty() || std::thread::panicking() {
            return;
        }
        let c = self.c;
        let pretty = serde_json::to_string_pretty(&c.json).unwrap_or_else(|_| c.stdout.clone());
        panic!(
            "{} expectation(s) failed:\n  - {}\n  verdict: {}\n  stderr: {}\n  whole JSON:\n{pretty}",
            self.failed.len(),
            self.failed.join("\n  - "),
            c.one_line(),
            c.stderr.trim()
        );
    }
}

/// The files gatewatch reads instead of the host's, and the config that names them. `services`
/// is TOML for extra `[[service]]` tables; nginx's own is always there (its pid file, not
/// systemctl: the host's services play no part).
fn gatewatch_config(sb: &Sandbox, nginx: &Nginx, hosts: &str, services: &str) -> PathBuf {
    let hosts = sb.write("hosts", hosts);
    let resolv = sb.write(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    );
    sb.write(
        "gatewatch.toml",
        &format!(
            "[dns]\nhosts-file = \"{}\"\nresolv-conf = \"{}\"\n\n\
             [[service]]\nname = \"nginx\"\nstatus = [\"test\", \"-s\", \"{}\"]\n\n{services}",
            hosts.display(),
            resolv.display(),
            nginx.pid_file().display()
        ),
    )
}

const HOSTS: &str = "127.0.0.1 localhost\n";

/// `gatewatch --config <cfg> --nginx-conf <nginx's> check --json`, under `wrapper` (a command
/// that execs it) when one is given.
fn check(sb: &Sandbox, nginx: &Nginx, config: &Path, wrapper: &[String]) -> Check {
    let out = sb.run_under(
        wrapper,
        &[
            "--config",
            config.to_str().expect("utf-8 path"),
            "--nginx-conf",
            nginx.conf.to_str().expect("utf-8 path"),
            "check",
            "--json",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("check --json printed no JSON ({e}):\n{stdout}\nstderr: {stderr}")
    });
    Check {
        code: out.status.code(),
        json,
        stdout,
        stderr,
    }
}

/// `requests` through nginx (`concurrency` at a time) all answer 502, and nginx logs `needle`
/// for each.
fn every_request_fails(nginx: &Nginx, requests: usize, concurrency: usize, needle: &str) {
    let codes = nginx.traffic("/", requests, concurrency, QUICK);
    assert!(codes.iter().all(|&c| c == 502), "{codes:?}");
    premise(nginx, needle, requests);
}

/// `check --json` on `nginx` with a config of its own and no services but nginx.
fn check_nginx(nginx: &Nginx) -> Check {
    let sb = Sandbox::new();
    let config = gatewatch_config(&sb, nginx, HOSTS, "");
    check(&sb, nginx, &config, &[])
}

/// Lines of nginx's error.log that contain `needle`.
fn count(nginx: &Nginx, needle: &str) -> usize {
    nginx
        .error_log()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// The incident is really there: nginx logged `needle` at least `min` times.
#[track_caller]
fn premise(nginx: &Nginx, needle: &str, min: usize) {
    let n = count(nginx, needle);
    assert!(
        n >= min,
        "test setup: nginx logged {needle:?} {n} times, wanted at least {min}; error.log:\n{}",
        nginx.error_log()
    );
}

/// `unshare -m` with private propagation, `hosts` bound over /etc/hosts inside, then exec: the
/// bind mount lives and dies with that one process's namespace.
fn private_hosts(hosts: &Path) -> Vec<String> {
    let unshare = require_tool(&["unshare"], "apt-get install -y util-linux");
    require_tool(&["mount"], "apt-get install -y mount");
    vec![
        unshare.display().to_string(),
        "--mount".into(),
        "--propagation".into(),
        "private".into(),
        "sh".into(),
        "-c".into(),
        "mount --bind \"$0\" /etc/hosts && exec \"$@\"".into(),
        hosts.display().to_string(),
    ]
}

const QUICK: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The incidents, one stage each, shared by their own test and the time-to-verdict test.

/// nginx in front of `upstream app { server 127.0.0.1:PORT; }`, nothing listening there yet.
fn proxy_to_app(port: u16, location_extra: &str) -> Nginx {
    Nginx::start(
        &format!("  upstream app {{\n    server 127.0.0.1:{port};\n  }}\n"),
        &format!("    location / {{\n      proxy_pass http://app;\n{location_extra}    }}\n"),
    )
}

/// The app is being restarted: a few requests meet a closed port.
fn restart_gap(nginx: &Nginx, requests: usize) {
    let codes = nginx.traffic("/", requests, 1, QUICK);
    assert!(
        codes.iter().all(|&c| c == 502),
        "refused gives 502: {codes:?}"
    );
    premise(nginx, "(111: Connection refused)", requests);
}

struct StaleDns {
    ups: Upstreams,
    old: Option<servers::Server>,
    _new: servers::Server,
    nginx: Nginx,
    sb: Sandbox,
    config: PathBuf,
    hosts: PathBuf,
    port: u16,
}

/// app.test lived on 127.0.0.2 when nginx started (and resolved it once); the app moved to
/// 127.0.0.3 and DNS (the hosts file) follows, nginx does not. Returns just before the old
/// address goes away; [`StaleDns::move_app`] is the breakage.
fn stale_dns_before_the_move() -> StaleDns {
    let ups = Upstreams::new();
    let old = ups.start_at(
        SocketAddr::from(([127, 0, 0, 2], 0)),
        Behaviour::status(200),
    );
    let port = old.port();
    let new = ups.start_at(
        SocketAddr::from(([127, 0, 0, 3], port)),
        Behaviour::status(200),
    );
    let sb = Sandbox::new();
    let hosts = sb.write("hosts", &format!("{HOSTS}127.0.0.2 app.test\n"));
    let nginx = Nginx::start_with(&Options {
        server_body: &format!(
            "    location / {{\n      proxy_pass http://app.test:{port};\n      proxy_next_upstream off;\n    }}\n"
        ),
        wrapper: private_hosts(&hosts),
        ..Options::default()
    });
    assert_eq!(nginx.get("/").0, 200, "nginx reaches app.test at 127.0.0.2");
    let config = gatewatch_config(&sb, &nginx, &format!("{HOSTS}127.0.0.2 app.test\n"), "");
    StaleDns {
        ups,
        old: Some(old),
        _new: new,
        nginx,
        sb,
        config,
        hosts,
        port,
    }
}

impl StaleDns {
    /// DNS now says 127.0.0.3 (the file written in place, so the bind mounts see it), and the old
    /// instance on 127.0.0.2 stops.
    fn move_app(&mut self) {
        std::fs::write(&self.hosts, format!("{HOSTS}127.0.0.3 app.test\n")).expect("hosts");
        if let Some(old) = self.old.take() {
            self.ups.stop(old);
        }
    }

    fn check(&self) -> Check {
        check(
            &self.sb,
            &self.nginx,
            &self.config,
            &private_hosts(&self.hosts),
        )
    }
}

/// A php-fpm pool (one child, a backlog of one) behind nginx's `fastcgi_pass unix:`.
fn fpm_behind_nginx(script: &str, source: &str) -> (PhpFpm, Nginx) {
    let fpm = PhpFpm::start(
        Pool {
            max_children: 1,
            backlog: 1,
        },
        &[(script, source)],
    );
    let nginx = Nginx::start(
        "",
        &format!(
            "    location / {{\n      fastcgi_pass unix:{};\n      fastcgi_param SCRIPT_FILENAME {}/{script};\n      fastcgi_param REQUEST_METHOD $request_method;\n    }}\n",
            fpm.socket.display(),
            fpm.root().display()
        ),
    );
    (fpm, nginx)
}

fn fpm_service(fpm: &PhpFpm) -> String {
    format!(
        "[[service]]\nname = \"php-fpm\"\nstatus = [\"test\", \"-S\", \"{}\"]\n",
        fpm.socket.display()
    )
}

const NO_SUCH_FILE: &str = "(2: No such file or directory)";

// ---------------------------------------------------------------------------------------------
// 1-9: one incident each.

#[test]
fn a_deploy_restarts_the_app_and_it_comes_back_with_too_big_headers() {
    let _host = shared_host();
    let ups = Upstreams::new();
    let port = free_port();
    let nginx = proxy_to_app(port, "");
    restart_gap(&nginx, 3);
    let _app = ups.start_on(port, big_header(16 * 1024));
    every_request_fails(&nginx, 60, 4, "upstream sent too big header");

    let c = check_nginx(&nginx);
    let mut e = Expect::new(&c);
    e.that(c.cause() == "proxy_config", "cause: proxy_config");
    e.that(
        c.next_step().contains("proxy_buffer_size"),
        "next_step names proxy_buffer_size",
    );
    e.that(c.code == Some(2), "exit 2 (critical)");
    e.cites(&nginx, "upstream sent too big header");
}

#[test]
fn tls_spoken_to_a_plain_http_upstream_after_its_restart() {
    let _host = shared_host();
    let ups = Upstreams::new();
    let port = free_port();
    let nginx = Nginx::start(
        "",
        &format!("    location / {{\n      proxy_pass https://127.0.0.1:{port};\n    }}\n"),
    );
    restart_gap(&nginx, 2);
    let _app = ups.start_on(port, Behaviour::status(200));
    every_request_fails(&nginx, 60, 4, "SSL_do_handshake() failed");

    let c = check_nginx(&nginx);
    let mut e = Expect::new(&c);
    e.that(c.cause() == "tls", "cause: tls");
    e.that(
        c.text().contains(&format!("127.0.0.1:{port}")),
        &format!("the text names the upstream 127.0.0.1:{port}"),
    );
    e.that(c.code == Some(2), "exit 2 (critical)");
    e.cites(&nginx, "SSL_do_handshake() failed");
    e.that(
        c.next_step().contains("proxy_ssl"),
        "next_step: the certificate and proxy_ssl_*",
    );
}

#[test]
fn the_app_hangs_after_its_restart() {
    let _host = shared_host();
    let ups = Upstreams::new();
    let port = free_port();
    let nginx = proxy_to_app(port, "      proxy_read_timeout 1s;\n");
    restart_gap(&nginx, 1);
    let _app = ups.start_on(port, Behaviour::Hang);
    let codes = nginx.traffic("/", 10, 5, QUICK);
    assert!(codes.iter().all(|&c| c == 504), "{codes:?}");
    premise(&nginx, "upstream timed out (110", 10);

    let c = check_nginx(&nginx);
    let mut e = Expect::new(&c);
    let cause = c.cause();
    e.that(
        cause == "upstream_down" || cause == "upstream_slow",
        "cause: upstream_down or upstream_slow",
    );
    let text = c.text().to_lowercase();
    e.that(
        !text.contains("refuse"),
        "the text must not say refused: the app accepts now",
    );
    e.that(
        [
            "not answer",
            "no answer",
            "timed out",
            "times out",
            "time out",
            "timeout",
        ]
        .iter()
        .any(|w| text.contains(w)),
        "the text says the app does not answer / times out",
    );
    e.that(matches!(c.code, Some(1 | 2)), "exit 1 or 2");
    e.that(
        c.next_step().contains("hung") || c.next_step().contains("slow requests"),
        "next_step: is it hung, or find the slow requests",
    );
}

#[test]
fn nginx_still_connects_to_the_address_app_test_had_when_it_started() {
    let _host = shared_host();
    let mut s = stale_dns_before_the_move();
    s.move_app();
    let codes = s.nginx.traffic("/", 10, 2, QUICK);
    assert!(codes.iter().all(|&c| c == 502), "{codes:?}");
    premise(
        &s.nginx,
        &format!("upstream: \"http://127.0.0.2:{}/\"", s.port),
        10,
    );

    let c = s.check();
    let mut e = Expect::new(&c);
    let probe = c.json["upstreams"]
        .as_array()
        .and_then(|ups| {
            ups.iter()
                .find(|u| u["target"].as_str().is_some_and(|t| t.contains("app.test")))
        })
        .cloned()
        .unwrap_or_default();
    e.that(
        probe["outcome"] == "ok",
        "test setup: gatewatch's probe of app.test (now 127.0.0.3) answers",
    );
    e.that(c.cause() == "dns", "cause: dns");
    let text = c.text();
    e.that(
        text.contains("127.0.0.2") && text.contains("app.test"),
        "the text names app.test and the stale 127.0.0.2 nginx still uses",
    );
    e.that(
        c.next_step().to_lowercase().contains("reload"),
        "next_step says to reload nginx",
    );
    e.that(c.code == Some(2), "exit 2 (critical)");
}

#[test]
fn php_fpm_is_saturated_and_its_listen_backlog_overflows() {
    let _host = shared_host();
    let (fpm, nginx) = fpm_behind_nginx("slow.php", "<?php sleep(3); echo \"done\\n\";\n");
    let port = nginx.port;
    // 30 at once: one is served, one or two wait in the backlog, the rest are turned away.
    let traffic = std::thread::spawn(move || {
        nginx::traffic(port, "/slow.php", 30, 30, Duration::from_secs(12))
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(&nginx, "(11: Resource temporarily unavailable)") < 20 && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    premise(&nginx, "(11: Resource temporarily unavailable)", 20);

    let sb = Sandbox::new();
    let config = gatewatch_config(&sb, &nginx, HOSTS, &fpm_service(&fpm));
    let c = check(&sb, &nginx, &config, &[]);
    // Stopping php-fpm turns the waiting requests away at once.
    drop(fpm);
    let _ = traffic.join();
    let mut e = Expect::new(&c);
    e.that(c.cause() == "backlog", "cause: backlog");
    e.that(
        c.next_step().contains("pm.max_children"),
        "next_step names pm.max_children",
    );
    e.that(
        !c.text().to_lowercase().contains("restart"),
        "the text must not say restart: php-fpm runs, it is full",
    );
    e.cites(&nginx, "(11: Resource temporarily unavailable)");
    e.that(c.code == Some(2), "exit 2 (critical)");
}

#[test]
fn php_fpm_was_stopped_and_its_socket_is_gone() {
    let _host = shared_host();
    let (mut fpm, nginx) = fpm_behind_nginx("ok.php", "<?php echo \"ok\\n\";\n");
    assert_eq!(nginx.get("/ok.php").0, 200, "php-fpm answers through nginx");
    fpm.stop();
    assert!(
        !fpm.socket.exists(),
        "test setup: php-fpm removes its socket when it stops"
    );
    let codes = nginx.traffic("/ok.php", 10, 2, QUICK);
    assert!(codes.iter().all(|&c| c == 502), "{codes:?}");
    premise(&nginx, NO_SUCH_FILE, 10);

    let sb = Sandbox::new();
    let config = gatewatch_config(&sb, &nginx, HOSTS, &fpm_service(&fpm));
    let c = check(&sb, &nginx, &config, &[]);
    let mut e = Expect::new(&c);
    let cause = c.cause();
    e.that(
        cause == "upstream_down" || cause == "service_down",
        "cause: upstream_down or service_down",
    );
    let text = c.text();
    e.that(
        text.contains("2: No such file or directory"),
        "the text quotes nginx's 2: No such file or directory",
    );
    e.that(
        !text.contains("111"),
        "the text must not speak of 111 (refused)",
    );
    e.cites(&nginx, NO_SUCH_FILE);
    e.that(
        c.next_step().contains("restart php-fpm"),
        "next_step: restart php-fpm (its configured service)",
    );
    e.that(c.code == Some(2), "exit 2 (critical)");
}

#[test]
fn the_proxy_runs_out_of_file_descriptors() {
    let _host = shared_host();
    let ups = Upstreams::new();
    let app = ups.start(Behaviour::slow(Duration::from_secs(2)));
    let nginx = Nginx::start_with(&Options {
        main_extra: "worker_rlimit_nofile 24;",
        http_extra: &format!(
            "  upstream app {{\n    server 127.0.0.1:{};\n  }}\n",
            app.port()
        ),
        server_body: "    location / {\n      proxy_pass http://app;\n      proxy_read_timeout 5s;\n    }\n",
        ..Options::default()
    });
    let _codes = nginx.traffic("/", 40, 20, QUICK);
    premise(&nginx, "(24: Too many open files)", 1);

    let c = check_nginx(&nginx);
    let mut e = Expect::new(&c);
    e.that(c.cause() == "host_limits", "cause: host_limits");
    let text = c.text();
    e.that(
        text.contains("Too many open files") || text.contains("file descriptors"),
        "the text says Too many open files / file descriptors",
    );
    e.cites(&nginx, "(24: Too many open files)");
    e.that(
        c.next_step().contains("worker_rlimit_nofile"),
        "next_step: raise worker_rlimit_nofile",
    );
    e.that(c.code == Some(2), "exit 2 (critical)");
}

/// A busy host is not an incident by itself: the proxy answers every request.
#[test]
fn a_healthy_proxy_on_a_busy_host() {
    let _host = whole_host();
    let ups = Upstreams::new();
    let app = ups.start(Behaviour::status(200));
    let nginx = proxy_to_app(app.port(), "");
    let busy = BusyHost::load_above_cores(Duration::from_secs(40));
    let codes = nginx.traffic("/", 20, 2, QUICK);
    assert!(codes.iter().all(|&c| c == 200), "{codes:?}");

    let c = check_nginx(&nginx);
    let load = upstreams::load1();
    drop(busy);
    let mut e = Expect::new(&c);
    e.that(
        matches!(c.code, Some(0 | 1)),
        &format!("exit 0 or 1, never 2 (load {load})"),
    );
    e.that(c.cause() == "no_cause", "cause: no_cause");
}

/// A busy host and a frozen app: the app is the cause, not the load.
#[test]
fn the_app_freezes_on_a_busy_host() {
    let _host = whole_host();
    let port = free_port();
    let mut app = ChildServer::start(port);
    let nginx = Nginx::start(
        &format!("  upstream shop {{\n    server 127.0.0.1:{port};\n  }}\n"),
        "    location / {\n      proxy_pass http://shop;\n      proxy_read_timeout 1s;\n    }\n",
    );
    assert_eq!(nginx.get("/").0, 200, "the app answers through nginx");
    let busy = BusyHost::load_above_cores(Duration::from_secs(40));
    app.freeze();
    let codes = nginx.traffic("/", 5, 5, QUICK);
    assert!(codes.iter().all(|&c| c == 504), "{codes:?}");
    premise(&nginx, "upstream timed out (110", 5);

    let c = check_nginx(&nginx);
    drop(busy);
    let mut e = Expect::new(&c);
    let cause = c.cause();
    e.that(
        cause != "host_overloaded",
        "the cause is the frozen app, not the host's load",
    );
    e.that(
        cause == "upstream_down" || cause == "upstream_slow",
        "cause: upstream_down or upstream_slow",
    );
    let text = c.text();
    e.that(
        text.contains(&format!("127.0.0.1:{port}")) || text.contains("shop"),
        &format!("the text names the app (shop, 127.0.0.1:{port})"),
    );
    e.that(
        c.next_step().contains("hung"),
        "next_step: is it hung? check its process",
    );
    e.that(c.code == Some(2), "exit 2 (critical)");
}

// ---------------------------------------------------------------------------------------------
// 10: how long from the breakage to the right verdict.

struct Timing {
    incident: &'static str,
    first_line: Option<Duration>,
    verdict: Option<Duration>,
    /// The last verdict seen, in one line.
    last: Option<String>,
}

/// What a front end showed, in one line for the timing table.
trait Shown {
    fn one_line(&self) -> String;
}

impl Shown for Check {
    fn one_line(&self) -> String {
        Check::one_line(self)
    }
}

/// The dashboard's verdict line, as the screen shows it.
struct Screen(String);

impl Shown for Screen {
    fn one_line(&self) -> String {
        self.0.trim().to_string()
    }
}

const VERDICT_WITHIN: Duration = Duration::from_secs(10);

/// From `t0` (the breakage) on: `traffic` in a loop in one thread, nginx's error.log watched for
/// `needle` in another, and `check` run again and again until `right` says its verdict is right
/// or [`VERDICT_WITHIN`] has passed.
fn time_to_verdict<T: Shown>(
    incident: &'static str,
    t0: Instant,
    error_log: &Path,
    needle: &str,
    traffic: impl Fn() + Sync,
    check: impl Fn() -> T,
    right: impl Fn(&T) -> bool,
) -> Timing {
    let stop = AtomicBool::new(false);
    let first_line = Mutex::new(None);
    let mut timing = Timing {
        incident,
        first_line: None,
        verdict: None,
        last: None,
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                traffic();
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let log = std::fs::read_to_string(error_log).unwrap_or_default();
                if log.contains(needle) {
                    *first_line.lock().expect("first line") = Some(t0.elapsed());
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        while t0.elapsed() < VERDICT_WITHIN {
            let c = check();
            let ok = right(&c);
            timing.last = Some(c.one_line());
            if ok {
                timing.verdict = Some(t0.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::SeqCst);
    });
    timing.first_line = first_line.into_inner().expect("first line");
    timing
}

#[test]
fn time_to_verdict_for_a_bad_deploy_a_stale_dns_and_a_stopped_php_fpm() {
    let _host = shared_host();
    let mut rows = Vec::new();

    // 1: the deploy that brings too-big headers.
    {
        let ups = Upstreams::new();
        let port = free_port();
        let nginx = proxy_to_app(port, "");
        restart_gap(&nginx, 3);
        let sb = Sandbox::new();
        let config = gatewatch_config(&sb, &nginx, HOSTS, "");
        let t0 = Instant::now();
        let _app = ups.start_on(port, big_header(16 * 1024));
        rows.push(time_to_verdict(
            "deploy brings too-big headers",
            t0,
            &nginx.dir.path().join("error.log"),
            "upstream sent too big header",
            || {
                nginx.traffic("/", 4, 2, QUICK);
            },
            || check(&sb, &nginx, &config, &[]),
            |c| c.cause() == "proxy_config",
        ));
    }

    // 4: nginx keeps the address app.test had when it started.
    {
        let mut s = stale_dns_before_the_move();
        let t0 = Instant::now();
        s.move_app();
        let needle = format!("upstream: \"http://127.0.0.2:{}/\"", s.port);
        rows.push(time_to_verdict(
            "stale DNS in nginx",
            t0,
            &s.nginx.dir.path().join("error.log"),
            &needle,
            || {
                s.nginx.traffic("/", 2, 1, QUICK);
            },
            || s.check(),
            |c| c.cause() == "dns",
        ));
    }

    // 6: php-fpm stopped.
    {
        let (mut fpm, nginx) = fpm_behind_nginx("ok.php", "<?php echo \"ok\\n\";\n");
        assert_eq!(nginx.get("/ok.php").0, 200, "php-fpm answers through nginx");
        let sb = Sandbox::new();
        let config = gatewatch_config(&sb, &nginx, HOSTS, &fpm_service(&fpm));
        let t0 = Instant::now();
        fpm.stop();
        rows.push(time_to_verdict(
            "php-fpm stopped",
            t0,
            &nginx.dir.path().join("error.log"),
            NO_SUCH_FILE,
            || {
                nginx.traffic("/ok.php", 2, 1, QUICK);
            },
            || check(&sb, &nginx, &config, &[]),
            |c| ["upstream_down", "service_down"].contains(&c.cause().as_str()),
        ));
    }

    report_timings("check", &rows);
}

/// Prints the table (`cargo test -- --nocapture` shows it) and fails for any verdict that came
/// late or never.
fn report_timings(front_end: &str, rows: &[Timing]) {
    let secs = |d: Option<Duration>| {
        d.map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    eprintln!("{front_end}: incident | first nginx line after | right verdict after");
    for r in rows {
        let last = r.last.clone().unwrap_or_default();
        let tail = if r.verdict.is_some() {
            String::new()
        } else {
            format!(" (last: {last})")
        };
        eprintln!(
            "{} | {} | {}{tail}",
            r.incident,
            secs(r.first_line),
            secs(r.verdict)
        );
    }
    let late: Vec<String> = rows
        .iter()
        .filter(|r| r.verdict.is_none_or(|d| d >= VERDICT_WITHIN))
        .map(|r| {
            let last = r.last.clone().unwrap_or_default();
            format!(
                "{}: no right verdict within {VERDICT_WITHIN:?} of the breakage; last: {last}",
                r.incident
            )
        })
        .collect();
    assert!(late.is_empty(), "{}", late.join("\n"));
}

/// The dashboard, following nginx's logs and probing, from the breakage to the verdict line on
/// screen: the same judgement as `check`, drawn at most a frame later.
#[test]
fn time_to_verdict_in_the_dashboard_for_a_bad_deploy_a_stale_dns_and_a_stopped_php_fpm() {
    let _host = shared_host();
    let mut rows = Vec::new();
    let verdict_line =
        |t: &common::Tmux| Screen(t.screen().lines().nth(1).unwrap_or_default().to_string());

    // 1: the deploy that brings too-big headers (no probe sees it: the logs must).
    {
        let ups = Upstreams::new();
        let port = free_port();
        let _before = ups.start_on(port, servers::Behaviour::status(200));
        let nginx = proxy_to_app(port, "");
        let sb = Sandbox::new();
        let config = gatewatch_config(&sb, &nginx, HOSTS, "");
        let t = dashboard(&nginx, &config);
        drop(_before);
        let t0 = Instant::now();
        let _app = ups.start_on(port, big_header(16 * 1024));
        rows.push(time_to_verdict(
            "deploy brings too-big headers",
            t0,
            &nginx.dir.path().join("error.log"),
            "upstream sent too big header",
            || {
                nginx.traffic("/", 4, 2, QUICK);
            },
            || verdict_line(&t),
            |s| s.0.contains("do not fit the proxy's buffers"),
        ));
    }

    // 4: nginx keeps the address app.test had when it started. The dashboard resolves again as
    // soon as nginx fails at an address it has not seen, not at its next DNS round.
    {
        let mut s = stale_dns_before_the_move();
        // Before the move only the test's unreachable second nameserver is amiss.
        let t = dashboard_under(
            &private_hosts(&s.hosts),
            &s.nginx,
            &s.config,
            "fails through some nameservers",
        );
        let t0 = Instant::now();
        s.move_app();
        let needle = format!("upstream: \"http://127.0.0.2:{}/\"", s.port);
        rows.push(time_to_verdict(
            "stale DNS in nginx",
            t0,
            &s.nginx.dir.path().join("error.log"),
            &needle,
            || {
                s.nginx.traffic("/", 2, 1, QUICK);
            },
            || verdict_line(&t),
            |v| {
                v.0.contains("nginx still connects to 127.0.0.2 for app.test")
            },
        ));
    }

    // 6: php-fpm stopped.
    {
        let (mut fpm, nginx) = fpm_behind_nginx("ok.php", "<?php echo \"ok\\n\";\n");
        assert_eq!(nginx.get("/ok.php").0, 200, "php-fpm answers through nginx");
        let sb = Sandbox::new();
        let config = gatewatch_config(&sb, &nginx, HOSTS, &fpm_service(&fpm));
        let t = dashboard(&nginx, &config);
        let t0 = Instant::now();
        fpm.stop();
        rows.push(time_to_verdict(
            "php-fpm stopped",
            t0,
            &nginx.dir.path().join("error.log"),
            NO_SUCH_FILE,
            || {
                nginx.traffic("/ok.php", 2, 1, QUICK);
            },
            || verdict_line(&t),
            |s| s.0.contains("socket file is missing") || s.0.contains("php-fpm is not running"),
        ));
    }
    report_timings("dashboard", &rows);
}

/// The real binary in a real terminal on nginx's config, once it says nothing is wrong.
fn dashboard(nginx: &Nginx, config: &Path) -> common::Tmux {
    dashboard_under(&[], nginx, config, "no 502 cause")
}

/// [`dashboard`] run by `wrapper`, once its verdict line shows `ready`.
fn dashboard_under(wrapper: &[String], nginx: &Nginx, config: &Path, ready: &str) -> common::Tmux {
    let t = common::Tmux::start_under(
        wrapper,
        &[
            "--config",
            config.to_str().expect("utf-8 path"),
            "--nginx-conf",
            nginx.conf.to_str().expect("utf-8 path"),
        ],
        200,
        50,
        &[],
    );
    t.wait_until(ready, |t| {
        t.screen().lines().nth(1).is_some_and(|l| l.contains(ready))
    });
    t
}
