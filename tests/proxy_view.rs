//! The proxy's own view of its upstreams, end to end through the binary: a real HAProxy with
//! its stats socket, and loopback stand-ins for Envoy's and Caddy's admin endpoints answering in
//! their documented shapes.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::nginx::free_port;
use common::{Sandbox, require_tool};
use serde_json::Value;

/// HAProxy in the foreground (`-db`) on the test's own config; killed when dropped.
struct Haproxy {
    child: Child,
    socket: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Haproxy {
    fn start(config: &Path, socket: PathBuf) -> Haproxy {
        let bin = require_tool(
            &["haproxy"],
            "run ./scripts/test.sh, or apt-get install -y haproxy",
        );
        let child = Command::new(bin)
            .args(["-f", &config.display().to_string(), "-db"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy");
        let mut h = Haproxy { child, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        // The socket file exists once bound, a moment before HAProxy listens on it: wait until
        // it takes a connection.
        while UnixStream::connect(&h.socket).is_err() {
            if let Ok(Some(status)) = h.child.try_wait() {
                panic!("haproxy exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "haproxy never made its stats socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        h
    }

    /// One runtime API command and its whole answer.
    fn ask(&self, command: &str) -> String {
        let mut s = UnixStream::connect(&self.socket).expect("stats socket");
        s.write_all(format!("{command}\n").as_bytes())
            .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("answer");
        out
    }

    /// Waits until HAProxy's own status of `backend/server` starts with `status`.
    fn wait_status(&self, server: &str, status: &str) {
        let (be, sv) = server.split_once('/').expect("backend/server");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.ask("show stat");
            let found = stats.lines().any(|l| {
                let c: Vec<&str> = l.split(',').collect();
                c.len() > 17 && c[0] == be && c[1] == sv && c[17].starts_with(status)
            });
            if found {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{server} never {status}:\n{stats}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A loopback HTTP server answering every request with `answer` (status line, headers, body as
/// given); the thread ends with the test process.
fn http_server(answer: impl Fn(&str) -> String + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut header = String::new();
                match reader.read_line(&mut header) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if header == "\r\n" || header == "\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let _ = conn.write_all(answer(&path).as_bytes());
        }
    });
    port
}

fn ok_server() -> u16 {
    http_server(|_| "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into())
}

fn check_json(sandbox: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["check", "--json", "--timeout", "8s"];
    all.extend_from_slice(args);
    let out = sandbox.run(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn upstream<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no upstream {name} in {report:#}"))
}

fn findings(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn haproxy_down_and_maint_servers_are_shown_beside_the_probe() {
    let sandbox = Sandbox::new();
    let live = ok_server();
    let dead = free_port();
    let socket = sandbox.path().join("haproxy.sock");
    let stats_port = free_port();
    let config = sandbox.write(
        "haproxy.cfg",
        &format!(
            "global\n\
             \x20   stats socket {} mode 600 level admin\n\
             \x20   stats socket ipv4@127.0.0.1:{stats_port} level operator\n\
             defaults\n\
             \x20   mode http\n\
             \x20   timeout connect 500ms\n\
             \x20   timeout client 5s\n\
             \x20   timeout server 5s\n\
             frontend fe\n\
             \x20   bind 127.0.0.1:{}\n\
             \x20   default_backend be\n\
             backend be\n\
             \x20   server s1 127.0.0.1:{live} check inter 200ms\n\
             \x20   server s2 127.0.0.1:{dead} check inter 200ms fall 1\n",
            socket.display(),
            free_port()
        ),
    );
    let haproxy = Haproxy::start(&config, socket.clone());
    haproxy.wait_status("be/s2", "DOWN");
    haproxy.wait_status("be/s1", "UP");
    let conf = config.display().to_string();

    let report = check_json(&sandbox, &["--haproxy-conf", &conf]);
    let apis = report["proxy_apis"].as_array().expect("proxy_apis");
    assert_eq!(apis.len(), 2, "{report:#}");
    assert_eq!(apis[0]["kind"], "haproxy");
    assert_eq!(apis[0]["at"], format!("unix:{}", socket.display()));
    assert_eq!(apis[1]["at"], format!("127.0.0.1:{stats_port}"));
    for api in apis {
        assert_eq!(api["error"], Value::Null, "{api:#}");
        assert_eq!(api["servers"], 2, "{api:#}");
    }
    let s2 = &upstream(&report, "be/s2")["proxy_view"];
    assert_eq!(s2["api"], "haproxy");
    assert_eq!(s2["state"], "DOWN", "{s2:#}");
    let check = s2["check"].as_str().expect("check");
    assert!(check.starts_with("L4CON"), "{check}");
    assert!(s2["since_s"].as_u64().is_some(), "{s2:#}");
    let s1 = &upstream(&report, "be/s1")["proxy_view"];
    assert_eq!(s1["state"], "UP", "{s1:#}");
    // Agreement confirms the verdict on the dead one.
    let evidence: Vec<String> = report["verdict"]["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("haproxy marks be/s2 DOWN (L4CON") && e.ends_with(" too")),
        "{evidence:#?}"
    );

    let answer = haproxy.ask("set server be/s1 state maint");
    assert!(answer.trim().is_empty(), "{answer}");
    haproxy.wait_status("be/s1", "MAINT");
    let report = check_json(&sandbox, &["--haproxy-conf", &conf]);
    let s1 = &upstream(&report, "be/s1");
    assert_eq!(s1["state"], "up", "gatewatch's probe still answers: {s1:#}");
    assert_eq!(s1["proxy_view"]["state"], "MAINT", "{s1:#}");
    let f = findings(&report);
    assert!(
        f.iter().any(|m| m.starts_with("haproxy marks be/s1 MAINT")
            && m.contains("in maintenance (disabled by an operator)")),
        "{f:#?}"
    );

    // The text report says it too.
    let out = sandbox.run(&["check", "--timeout", "8s", "--haproxy-conf", &conf]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("haproxy: MAINT"), "{text}");
    assert!(text.contains("proxy's own view: haproxy unix:"), "{text}");
    // And the Markdown report.
    let out = sandbox.run(&["report", "--timeout", "8s", "--haproxy-conf", &conf]);
    let markdown = String::from_utf8_lossy(&out.stdout);
    assert!(
        markdown.contains("  - the proxy's own view: haproxy: MAINT"),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!(
            "- proxy's own view from haproxy 127.0.0.1:{stats_port}: 2 servers"
        )),
        "{markdown}"
    );
}

#[test]
fn a_stats_socket_that_does_not_answer_is_a_note_not_a_verdict() {
    let sandbox = Sandbox::new();
    let live = ok_server();
    let config = sandbox.write(
        "haproxy.cfg",
        &format!(
            "global\n    stats socket {}/missing.sock\n\
             backend be\n    mode http\n    server s1 127.0.0.1:{live}\n",
            sandbox.path().display()
        ),
    );
    let started = Instant::now();
    let report = check_json(&sandbox, &["--haproxy-conf", &config.display().to_string()]);
    assert!(started.elapsed() < Duration::from_secs(8));
    let api = &report["proxy_apis"][0];
    assert_eq!(api["error"], "no such socket", "{report:#}");
    assert_eq!(upstream(&report, "be/s1")["proxy_view"], Value::Null);
    let f = findings(&report);
    assert!(!f.iter().any(|m| m.contains("haproxy")), "{f:#?}");
}

/// Envoy's admin `/clusters` in its text form (envoyproxy.io/docs/envoy/latest/operations/admin,
/// "GET /clusters"), sent chunked as Envoy's HTTP/1.1 codec does; Caddy's
/// `GET /reverse_proxy/upstreams` (caddyserver.com/docs/api) with a Content-Length.
#[test]
fn envoy_and_caddy_admin_endpoints_through_the_binary() {
    let sandbox = Sandbox::new();
    let live = ok_server();
    let dead = free_port();
    let clusters = format!(
        "shop::default_priority::max_connections::1024\n\
         shop::127.0.0.1:{live}::cx_connect_fail::0\n\
         shop::127.0.0.1:{live}::rq_total::40\n\
         shop::127.0.0.1:{live}::health_flags::/failed_active_hc\n\
         shop::127.0.0.1:{dead}::cx_connect_fail::7\n\
         shop::127.0.0.1:{dead}::rq_total::9\n\
         shop::127.0.0.1:{dead}::health_flags::healthy\n"
    );
    let envoy = http_server(move |path| {
        if path != "/clusters" {
            return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into();
        }
        let (a, b) = clusters.split_at(clusters.len() / 2);
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
    });
    let caddy_app = ok_server();
    let caddy_body =
        format!("[{{\"address\":\"localhost:{caddy_app}\",\"num_requests\":2,\"fails\":0}}]");
    let caddy = http_server(move |path| {
        if path != "/reverse_proxy/upstreams" {
            return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into();
        }
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{caddy_body}",
            caddy_body.len()
        )
    });
    let config = sandbox.write(
        "config/gatewatch/config.toml",
        &format!(
            "[[upstream]]\nname = \"live\"\nurl = \"http://127.0.0.1:{live}/\"\n\n\
             [[upstream]]\nname = \"dead\"\nurl = \"tcp://127.0.0.1:{dead}\"\n\n\
             [[upstream]]\nname = \"app\"\nurl = \"http://127.0.0.1:{caddy_app}/\"\n\n\
             [[proxy-api]]\nkind = \"envoy\"\nat = \"127.0.0.1:{envoy}\"\n\n\
             [[proxy-api]]\nkind = \"caddy\"\nat = \"localhost:{caddy}\"\n"
        ),
    );
    let report = check_json(&sandbox, &["--config", &config.display().to_string()]);
    let apis = report["proxy_apis"].as_array().expect("apis");
    assert_eq!(apis.len(), 2, "{report:#}");
    assert!(apis.iter().all(|a| a["error"].is_null()), "{apis:#?}");
    let live_view = &upstream(&report, "live")["proxy_view"];
    assert_eq!(live_view["api"], "envoy");
    assert_eq!(live_view["state"], "DOWN");
    assert_eq!(live_view["check"], "failed_active_hc");
    assert_eq!(live_view["requests"], 40);
    let dead_view = &upstream(&report, "dead")["proxy_view"];
    assert_eq!(dead_view["state"], "UP");
    assert_eq!(dead_view["fails"], 7);
    let app = &upstream(&report, "app")["proxy_view"];
    assert_eq!(app["api"], "caddy");
    assert_eq!(app["state"], "UP");
    assert_eq!(
        (app["requests"].as_u64(), app["fails"].as_u64()),
        (Some(2), Some(0))
    );
    let f = findings(&report);
    assert!(
        f.iter().any(|m| m.starts_with(&format!(
            "envoy marks shop/127.0.0.1:{live} DOWN (failed_active_hc)"
        )) && m.contains("its health check differs")),
        "{f:#?}"
    );
    assert!(
        f.iter().any(
            |m| m.starts_with(&format!("envoy marks shop/127.0.0.1:{dead} UP"))
                && m.contains("a path or firewall difference")
        ),
        "{f:#?}"
    );
}

#[test]
fn an_admin_endpoint_off_loopback_is_refused_by_the_config() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "config/gatewatch/config.toml",
        "[[proxy-api]]\nkind = \"envoy\"\nat = \"192.0.2.1:9901\"\n",
    );
    let out = sandbox.run(&["check", "--config", &config.display().to_string()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not on loopback"), "{err}");
    // A stuck admin endpoint costs at most the API's own timeout, not the check's.
    let stuck = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = stuck.local_addr().expect("addr").port();
    let hold = std::thread::spawn(move || {
        let conns: Vec<TcpStream> = stuck.incoming().take(1).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(5));
        drop(conns);
    });
    let config = sandbox.write(
        "config/gatewatch/stuck.toml",
        &format!("[[proxy-api]]\nkind = \"caddy\"\nat = \"127.0.0.1:{port}\"\n"),
    );
    let started = Instant::now();
    let report = check_json(&sandbox, &["--config", &config.display().to_string()]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        report["proxy_apis"][0]["error"], "no answer within 2 s",
        "{report:#}"
    );
    drop(hold);
}
