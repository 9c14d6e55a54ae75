//! `gatewatch serve`: the real binary on a loopback port, asked over plain TCP, and scraped by a
//! real Prometheus (the Debian package) whose HTTP API is then queried.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::nginx::{Nginx, free_port};
use common::{BIN, Sandbox, require_tool};
use servers::refusing_port;

/// The timeline reads no host file: no kernel log, no package logs.
const QUIET_TIMELINE: &str = "[timeline]\nkernel = \"/dev/null\"\npackages = []\n";

/// A running `gatewatch serve`, killed when dropped.
struct Serve {
    child: Child,
    port: u16,
    stderr: PathBuf,
}

impl Serve {
    /// `gatewatch ARGS serve --listen 127.0.0.1:PORT` in `sb`, once /healthz answers.
    fn start(sb: &Sandbox, config: &str, args: &[&str]) -> Serve {
        Self::start_on(sb, config, args, "127.0.0.1")
    }

    fn start_on(sb: &Sandbox, config: &str, args: &[&str], host: &str) -> Serve {
        let port = free_port();
        let config = sb.write("config.toml", config);
        let listen = format!("{host}:{port}");
        let mut argv: Vec<&str> = vec!["--config", config.to_str().expect("utf-8 path")];
        argv.extend(args);
        argv.extend(["serve", "--listen", &listen]);
        let stderr = sb.path().join("serve.stderr");
        let child = Command::new(BIN)
            .args(sb.isolated(&argv))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(sb.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start gatewatch serve");
        let mut serve = Serve {
            child,
            port,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while request(port, "GET /healthz HTTP/1.0\r\n\r\n").0 != 200 {
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("serve exited with {status}: {}", serve.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "serve did not answer: {}",
                serve.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `sig` and waits (at most `within`) for the exit status.
    fn stop(&mut self, sig: i32, within: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid touches no memory.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `raw` to 127.0.0.1:`port` and reads the whole answer (the server closes an HTTP/1.0
/// connection): the status code (0 for none), the head and the body.
fn request(port: u16, raw: &str) -> (u16, String, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    if s.write_all(raw.as_bytes()).is_err() {
        return (0, String::new(), String::new());
    }
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_string(), body.to_string())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn metrics_healthz_and_nothing_else_answer() {
    let sb = Sandbox::new();
    let serve = Serve::start(&sb, QUIET_TIMELINE, &[]);
    let p = serve.port;

    let (code, _, body) = request(p, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!((code, body.as_str()), (200, "ok\n"));

    let (code, head, body) = request(p, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(code, 200, "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(body.lines().any(|l| l == "gatewatch_up 1"), "{body}");
    assert!(body.contains("# TYPE gatewatch_up gauge"), "{body}");
    assert!(
        !body.contains("# EOF"),
        "the text format has no EOF: {body}"
    );

    // As Prometheus asks.
    let (code, head, body) = request(
        p,
        "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0;q=0.5,\
         text/plain;version=0.0.4;q=0.3,*/*;q=0.1\r\n\r\n",
    );
    assert_eq!(code, 200, "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");

    let (code, head, body) = request(p, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!((code, body.as_str()), (200, ""), "{head}");

    for path in ["/", "/metrics/", "/favicon.ico", "/healthz/../metrics"] {
        let (code, head, _) = request(p, &format!("GET {path} HTTP/1.0\r\n\r\n"));
        assert_eq!(code, 404, "{path}: {head}");
    }
    let (code, head, _) = request(
        p,
        "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(code, 405, "{head}");
    assert_eq!(header(&head, "allow"), Some("GET, HEAD"), "{head}");

    // A head past hyper's 8 KiB buffer is refused, not buffered.
    let big = format!(
        "GET /metrics HTTP/1.0\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let (code, head, _) = request(p, &big);
    assert_eq!(code, 431, "{head}");
}

#[test]
fn a_slow_client_holds_up_no_one_and_is_cut_off() {
    let sb = Sandbox::new();
    let serve = Serve::start(&sb, QUIET_TIMELINE, &[]);
    let p = serve.port;

    // Half a request head, never finished.
    let mut slow = TcpStream::connect(("127.0.0.1", p)).expect("connect");
    slow.write_all(b"GET /metr").expect("write");
    let started = Instant::now();
    let (code, _, _) = request(p, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(code, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered beside the slow client in {:?}",
        started.elapsed()
    );

    // The slow one is closed once its head is late (2 s), not kept for good.
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "closed after {waited:?}"
    );

    // More idle connections than slots: past the 16th, each is closed at once.
    let idle: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(("127.0.0.1", p)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(("127.0.0.1", p)).expect("connect");
    extra
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 1];
    let closed_at_once = match extra.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(closed_at_once, "the 17th connection is not kept");
    drop(idle);
    // Their slots come back: a scrape answers again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while request(p, "GET /healthz HTTP/1.0\r\n\r\n").0 != 200 {
        assert!(Instant::now() < deadline, "slots never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_and_sigint_stop_it_cleanly_within_a_second() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let sb = Sandbox::new();
        let mut serve = Serve::start(&sb, QUIET_TIMELINE, &[]);
        let status = serve.stop(sig, Duration::from_secs(1));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "signal {sig}: {status:?}: {}",
            serve.stderr()
        );
        assert!(
            TcpStream::connect(("127.0.0.1", serve.port)).is_err(),
            "the port is closed"
        );
    }
}

#[test]
fn listening_beyond_loopback_is_warned_about_and_loopback_is_not() {
    let sb = Sandbox::new();
    let serve = Serve::start(&sb, QUIET_TIMELINE, &[]);
    assert!(!serve.stderr().contains("warning"), "{}", serve.stderr());
    drop(serve);

    let sb = Sandbox::new();
    let serve = Serve::start_on(&sb, QUIET_TIMELINE, &[], "0.0.0.0");
    assert!(
        serve
            .stderr()
            .contains("warning: serving metrics on 0.0.0.0:"),
        "{}",
        serve.stderr()
    );
}

#[test]
fn a_bad_listen_address_is_refused_by_name() {
    let sb = Sandbox::new();
    let out = sb.run(&["serve", "--listen", "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'localhost'"), "{stderr}");
}

/// A real Prometheus on a loopback port, with its own config and data in a temp dir; killed
/// when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn scraping(target_port: u16) -> Prometheus {
        let bin = require_tool(
            &["prometheus"],
            "run ./scripts/test.sh, or apt-get install -y prometheus",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: gatewatch\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let log = File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut prom = Prometheus { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while request(port, "GET /-/ready HTTP/1.0\r\n\r\n").0 != 200 {
            if let Ok(Some(status)) = prom.child.try_wait() {
                panic!("prometheus exited with {status}: {}", prom.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready: {}",
                prom.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prom
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Instant query `q` (a bare metric name): each series' labels and value.
    fn query(&self, q: &str) -> Vec<(serde_json::Value, f64)> {
        let (code, head, body) = request(
            self.port,
            &format!("GET /api/v1/query?query={q} HTTP/1.0\r\n\r\n"),
        );
        assert_eq!(code, 200, "{head}{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON from prometheus");
        v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let value = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (s["metric"].clone(), value)
            })
            .collect()
    }

    /// Queries `q` until `ok` holds for its answer (30 s at most).
    fn wait_for(
        &self,
        q: &str,
        what: &str,
        ok: impl Fn(&[(serde_json::Value, f64)]) -> bool,
    ) -> Vec<(serde_json::Value, f64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let series = self.query(q);
            if ok(&series) {
                return series;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {q} = {series:?}; up = {:?}\n{}",
                self.query("up"),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value_of(series: &[(serde_json::Value, f64)], upstream: &str) -> Option<f64> {
    series
        .iter()
        .find(|(m, _)| m["upstream"] == upstream)
        .map(|(_, v)| *v)
}

#[test]
fn prometheus_scrapes_upstreams_up_and_down_and_nginx_502s() {
    // nginx answers /ok itself (the healthy upstream) and proxies the rest to a closed port,
    // so a request to / is a real 502 in its access log.
    let dead = free_port();
    let nginx = Nginx::start(
        "",
        &format!(
            "    location = /ok {{\n      return 200 \"ok\\n\";\n    }}\n    \
             location / {{\n      proxy_pass http://127.0.0.1:{dead};\n    }}\n"
        ),
    );
    let refusing = refusing_port();
    let config = format!(
        "{QUIET_TIMELINE}\n\
         [[upstream]]\nname = \"refusing\"\nurl = \"http://127.0.0.1:{}/\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\n\
         [[upstream]]\nname = \"healthy\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
        refusing.port, nginx.port
    );
    let sb = Sandbox::new();
    let serve = Serve::start(
        &sb,
        &config,
        &["--nginx-conf", nginx.conf.to_str().expect("path")],
    );
    let prom = Prometheus::scraping(serve.port);

    prom.wait_for("gatewatch_upstream_up", "refusing down, healthy up", |s| {
        value_of(s, "refusing") == Some(0.0) && value_of(s, "healthy") == Some(1.0)
    });

    // Judged by the same assessment as the dashboard: an upstream down is critical.
    prom.wait_for("gatewatch_status", "critical", |s| {
        s.iter().map(|(_, v)| *v).collect::<Vec<_>>() == [2.0]
    });

    let access = nginx.dir.path().join("access.log").display().to_string();
    let of_access = |s: &[(serde_json::Value, f64)]| {
        s.iter()
            .find(|(m, _)| m["log"].as_str().is_some_and(|l| l.contains(&access)))
            .map(|(_, v)| *v)
    };
    prom.wait_for(
        "gatewatch_log_502_total",
        "the access log's counter, before any 502",
        |s| of_access(s) == Some(0.0),
    );
    for _ in 0..3 {
        assert_eq!(nginx.get("/cart").0, 502, "nginx answers 502");
    }
    prom.wait_for("gatewatch_log_502_total", "three 502s counted", |s| {
        of_access(s) == Some(3.0)
    });
}

#[test]
fn promtool_finds_nothing_to_fix_in_the_exposition() {
    let refusing = refusing_port();
    // A hostile name: quotes, a backslash and an escape byte in a label value.
    let config = format!(
        "{QUIET_TIMELINE}\n[[upstream]]\nname = \"sh\\\"op\\\\\\u001b[2J\"\n\
         url = \"http://127.0.0.1:{}/\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
        refusing.port
    );
    let sb = Sandbox::new();
    let serve = Serve::start(&sb, &config, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (_, _, body) = request(serve.port, "GET /metrics HTTP/1.0\r\n\r\n");
        if body.contains("gatewatch_upstream_up{") {
            break body;
        }
        assert!(Instant::now() < deadline, "no upstream probed: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        body.contains(r#"upstream="sh\"op\\\\x1b[2J""#),
        "escaped as the format requires: {body}"
    );
    let out = common::promtool_check_metrics(&body);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
