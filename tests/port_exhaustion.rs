//! Ephemeral port exhaustion for real, inside a network namespace of the test's own: the port range
//! and TIME_WAIT reuse are per-namespace settings, so the host's own are never touched, and the
//! namespace (with every socket in it) is gone when the child process exits.
//!
//! Each test re-runs itself under `unshare -n`; the child, marked by [`INSIDE`], does the work.
//! Root is required (as in CI): without it the test fails saying so, it never skips.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use gatewatch::config::Upstream;
use gatewatch::host::{EphemeralPorts, HostCollector, TcpState};
use gatewatch::upstream::{Outcome, ProbeResult, probe_once};

/// Set in the child to the parent's network namespace, so the child can check it is elsewhere.
const INSIDE: &str = "GATEWATCH_TEST_PARENT_NETNS";

/// The upstream every test exhausts ports toward, as in the classic incident.
const UPSTREAM: &str = "127.0.0.1:8080";

fn netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| panic!("cannot read /proc/self/ns/net: {e}"))
}

/// Runs `body` in a fresh network namespace: directly when this process is the child, else by
/// re-running the test `name` under `unshare -n` and failing with its output if it fails.
fn in_netns(name: &str, body: impl FnOnce()) {
    if let Ok(parent) = std::env::var(INSIDE) {
        // Never change settings in the namespace we were started from.
        assert_ne!(netns(), parent, "not inside a new network namespace");
        return body();
    }
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test needs root to create a network namespace (unshare -n); run it as root, as CI does"
    );
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("unshare")
        .args(["-n", "--"])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, netns())
        .output()
        .unwrap_or_else(|e| panic!("cannot run unshare (util-linux): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture: the child's measurements and gatewatch's JSON.
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the test in its network namespace failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn write_sysctl(name: &str, value: &str) {
    let path = format!("/proc/sys/net/ipv4/{name}");
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
}

/// A new namespace's loopback starts down.
fn loopback_up() {
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run ip");
    assert!(up.success(), "ip link set lo up failed");
}

/// A `low..=high` ephemeral range and no TIME_WAIT reuse: Linux reuses TIME_WAIT ports for
/// loopback connects by default (tcp_tw_reuse = 2), which a proxy talking to another host does
/// not get.
fn limit_ports(low: u16, high: u16) {
    write_sysctl("ip_local_port_range", &format!("{low} {high}"));
    write_sysctl("tcp_tw_reuse", "0");
}

fn upstream(url: &str) -> Upstream {
    common::upstream("shop", url, Duration::from_secs(2))
}

fn probe(url: &str) -> ProbeResult {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(probe_once(&upstream(url)))
}

fn assert_local_limit(url: &str) {
    let result = probe(url);
    assert_eq!(result.outcome, Outcome::LocalLimit, "{url}: {result:#?}");
    assert!(
        result
            .detail
            .starts_with("no local port free (99: Cannot assign requested address)"),
        "{url}: {}",
        result.detail
    );
}

/// A full socket scan of this namespace (a fresh collector scans at once).
fn ports() -> EphemeralPorts {
    let sample = HostCollector::new().sample();
    sample.ports.expect("ports read")
}

/// Connects to `addr` until the kernel has no local port left; returns the connections.
fn exhaust(addr: SocketAddr, range_size: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    loop {
        match TcpStream::connect(addr) {
            Ok(stream) => held.push(stream),
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => return held,
            Err(e) => panic!("connect {} failed with {e}", held.len() + 1),
        }
        assert!(held.len() <= range_size, "more connections than ports");
    }
}

#[test]
fn probes_and_the_host_pane_see_exhausted_ephemeral_ports() {
    in_netns(
        "probes_and_the_host_pane_see_exhausted_ephemeral_ports",
        || {
            loopback_up();
            let listener = TcpListener::bind(UPSTREAM).expect("bind the upstream");
            limit_ports(40000, 40007);
            let addr: SocketAddr = UPSTREAM.parse().expect("addr");
            let clients = exhaust(addr, 8);
            assert_eq!(clients.len(), 8, "every port of the range was handed out");

            // (a) The probe fails on this host, and says so.
            assert_local_limit(&format!("tcp://{UPSTREAM}"));
            assert_local_limit(&format!("http://{UPSTREAM}/"));

            // (b) The host sees the whole range held, ESTABLISHED, toward the upstream.
            let p = ports();
            println!("held open: {}", p.summary());
            assert_eq!((p.in_use, p.total()), (8, 8));
            assert_eq!(p.by_state, [(TcpState::Established, 8)].into());
            assert_eq!(p.top_remotes, vec![(addr, 8)]);
            assert_eq!(
                p.summary(),
                "8 of 8 ephemeral ports in use, 8 ESTABLISHED, mostly to 127.0.0.1:8080"
            );

            // Closed by us first, then by the server: each port now sits in TIME_WAIT, still
            // taken for this upstream.
            listener.set_nonblocking(true).expect("nonblocking");
            let mut accepted = Vec::new();
            while let Ok((s, _)) = listener.accept() {
                accepted.push(s);
            }
            assert_eq!(accepted.len(), 8);
            drop(clients);
            thread::sleep(Duration::from_millis(100));
            drop(accepted);
            let deadline = Instant::now() + Duration::from_secs(5);
            let p = loop {
                let p = ports();
                if p.by_state.get(&TcpState::TimeWait) == Some(&8) || Instant::now() > deadline {
                    break p;
                }
                thread::sleep(Duration::from_millis(100));
            };
            println!("after close: {}", p.summary());
            assert_eq!((p.in_use, p.total()), (8, 8));
            assert_eq!(p.by_state, [(TcpState::TimeWait, 8)].into());
            assert_eq!(p.top_remotes, vec![(addr, 8)]);
            assert_local_limit(&format!("tcp://{UPSTREAM}"));
        },
    );
}

/// An upstream that answers one request per connection and then waits for the proxy to close,
/// so the proxy's side of every connection ends in TIME_WAIT, as with a real backend that
/// answers `Content-Length` without closing.
fn serve_and_wait_for_close(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
}

#[test]
fn nginx_without_keepalive_runs_out_of_ports_and_check_says_local_limit() {
    in_netns(
        "nginx_without_keepalive_runs_out_of_ports_and_check_says_local_limit",
        || {
            loopback_up();
            let listener = TcpListener::bind(UPSTREAM).expect("bind the upstream");
            thread::spawn(move || serve_and_wait_for_close(listener));
            // nginx picks its own port before the range shrinks; the range is below the
            // default one, so the two cannot overlap.
            let nginx = Nginx::start(
                &format!("  upstream shop {{\n    server {UPSTREAM};\n  }}\n"),
                "    location / {\n      proxy_pass http://shop;\n    }\n",
            );
            limit_ports(20000, 20007);
            let mut codes = Vec::new();
            while !nginx
                .error_log()
                .contains("(99: Cannot assign requested address)")
            {
                assert!(codes.len() < 50, "nginx never ran out of ports: {codes:?}");
                codes.push(nginx.get("/").0);
            }
            println!("nginx answered {codes:?}");
            assert_eq!(codes.last(), Some(&502));

            let sb = common::Sandbox::new();
            let out = sb.run(&[
                "--nginx-conf",
                nginx.conf.to_str().expect("utf-8 path"),
                "check",
                "--json",
            ]);
            let json = String::from_utf8_lossy(&out.stdout);
            println!(
                "gatewatch check --json exited {:?}:\n{json}",
                out.status.code()
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("{e}: {json}\n{}", String::from_utf8_lossy(&out.stderr))
            });
            let shop = v["upstreams"]
                .as_array()
                .and_then(|ups| ups.iter().find(|u| u["group"] == "shop"))
                .unwrap_or_else(|| panic!("no shop upstream in {v}"));
            assert_eq!(shop["outcome"], "local_limit", "{shop}");
            assert!(
                shop["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("(99: Cannot assign requested address)")),
                "{shop}"
            );
            assert_eq!(v["host"]["ephemeral_ports_total"], 8);
            assert_eq!(v["host"]["ephemeral_ports_in_use"], 8);
            assert_eq!(v["host"]["ephemeral_ports_by_state"]["TIME_WAIT"], 8);
            assert_eq!(
                v["host"]["ephemeral_ports_top_remotes"][0],
                serde_json::json!(["127.0.0.1:8080", 8])
            );
            assert!(
                v["host"]["findings"].to_string().contains(
                    "8 of 8 ephemeral ports in use, 8 TIME_WAIT, mostly to 127.0.0.1:8080"
                ),
                "{}",
                v["host"]
            );
            // The verdict blames this host, never the upstream, and gives the fixes.
            let verdict = &v["verdict"];
            assert_eq!(verdict["cause"], "host_limits", "{verdict}");
            assert_eq!(out.status.code(), Some(2), "{verdict}");
            let text = verdict["text"].as_str().unwrap_or_default();
            assert!(
                text.starts_with("the proxy host has run out of local ports")
                    && text.contains("(99: Cannot assign requested address)")
                    && text.contains(
                        "8 of 8 ephemeral ports in use, 8 TIME_WAIT, mostly to 127.0.0.1:8080"
                    ),
                "{verdict}"
            );
            let next = verdict["next_step"].as_str().unwrap_or_default();
            for fix in ["keepalive", "ip_local_port_range", "tcp_tw_reuse"] {
                assert!(next.contains(fix), "{fix}: {verdict}");
            }
            let sources: Vec<&str> = verdict["evidence"]
                .as_array()
                .map(|e| e.iter().filter_map(|i| i["source"].as_str()).collect())
                .unwrap_or_default();
            assert!(sources.contains(&"host"), "{verdict}");
            assert!(
                sources.iter().any(|s| s.starts_with("error.log")),
                "{verdict}"
            );
        },
    );
}
