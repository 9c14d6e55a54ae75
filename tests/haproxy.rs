//! Against a real HAProxy (the Debian package), with a config of its own on a loopback port.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::nginx::free_port;
use common::{Sandbox, require_tool};
use servers::Behaviour;
use upstreams::Upstreams;

/// HAProxy in the foreground (`-db`) with `cfg`; killed when dropped.
struct Haproxy {
    child: Child,
    _dir: tempfile::TempDir,
    cfg: PathBuf,
}

impl Haproxy {
    /// Writes `cfg` (with `@PORT@` the frontend's port) and waits until HAProxy listens on it.
    fn start(cfg: &str, port: u16) -> Haproxy {
        let bin = require_tool(
            &["haproxy"],
            "run ./scripts/test.sh, or apt-get install -y haproxy",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg.replace("@PORT@", &port.to_string())).expect("write cfg");
        let child = Command::new(&bin)
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut h = Haproxy {
            child,
            _dir: dir,
            cfg: path,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = h.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = h.child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!("haproxy exited with {status}: {stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "haproxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        h
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET through `port`: the status line's code and the whole answer.
fn get(port: u16, path: &str) -> (u16, String) {
    common::nginx::get(port, path, Duration::from_secs(5))
}

/// `server up 127.1:PORT`: HAProxy itself connects to 127.0.0.1 (real traffic gets the
/// upstream's answer), and `gatewatch check` probes that address, with no DNS lookup of "127.1".
#[test]
fn a_short_dotted_server_address_is_probed_as_the_address_haproxy_connects_to() {
    let ups = Upstreams::new();
    let upstream = ups.start(Behaviour::status(200));
    let port = free_port();
    let up_port = upstream.port();
    let cfg = format!(
        "global\n    maxconn 64\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:@PORT@\n    default_backend be_short\n\
         backend be_short\n    server up 127.1:{up_port}\n"
    );
    let haproxy = Haproxy::start(&cfg, port);
    let (status, text) = get(port, "/through-haproxy");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("status 200 from the test server"), "{text}");
    assert!(
        upstream
            .requests()
            .iter()
            .any(|r| r.path == "/through-haproxy"),
        "the request reached the upstream through haproxy"
    );

    // DNS stays on this host: a name would be asked of a loopback port where nothing answers.
    let sb = Sandbox::new();
    let hosts = sb.write("hosts", "127.0.0.1 localhost\n");
    let resolv = sb.write("resolv.conf", "nameserver 127.0.0.1\n");
    let config = sb.write(
        "config.toml",
        &format!(
            "[dns]\nnameservers = [\"127.0.0.1:{}\"]\ntimeout = \"1s\"\nhosts-file = \"{}\"\n\
             resolv-conf = \"{}\"\n",
            free_port(),
            hosts.display(),
            resolv.display()
        ),
    );
    let out = sb.run(&[
        "--config",
        config.to_str().unwrap(),
        "--haproxy-conf",
        haproxy.cfg.to_str().unwrap(),
        "check",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one JSON object on stdout ({e}): {stdout}"));
    // "127.1" is never a name to look up: no DNS result for it, no "does not resolve".
    assert!(!stdout.contains("does not resolve"), "{stdout}");
    assert!(!v["dns"].to_string().contains("127.1"), "{}", v["dns"]);
    let upstreams = v["upstreams"].as_array().expect("upstreams in the report");
    assert_eq!(upstreams.len(), 1, "{stdout}");
    let row = &upstreams[0];
    assert_eq!(row["name"], "be_short/up", "{row}");
    assert_eq!(
        row["target"],
        format!("http://127.0.0.1:{up_port}/"),
        "{row}"
    );
    assert_eq!(row["state"], "up", "{row}");
    let step = v["diagnosis"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == "upstreams"))
        .expect("the upstreams step");
    assert_eq!(step["status"], "ok", "{step}");
    // The probe reached the upstream too.
    assert!(
        upstream.requests().iter().any(|r| r.path == "/"),
        "gatewatch's probe reached the upstream"
    );
}

/// A SOCKS4 proxy on loopback: records where each client asked to go, answers "granted" and
/// forwards the bytes to `forward_to` (whatever the request named, so nothing leaves loopback).
fn socks4_proxy(forward_to: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SOCKS4 proxy");
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || serve_socks4(client, forward_to, &seen));
        }
    });
    (port, asked)
}

fn serve_socks4(mut client: TcpStream, forward_to: u16, seen: &Mutex<Vec<String>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    // VN=4, CD=1 (connect), DSTPORT, DSTIP, then a user id ending in NUL.
    let mut head = [0u8; 8];
    if client.read_exact(&mut head).is_err() || head[0] != 4 || head[1] != 1 {
        return;
    }
    let mut byte = [0u8; 1];
    while client.read_exact(&mut byte).is_ok() && byte[0] != 0 {}
    let port = u16::from_be_bytes([head[2], head[3]]);
    let ip = std::net::Ipv4Addr::new(head[4], head[5], head[6], head[7]);
    seen.lock().unwrap().push(format!("{ip}:{port}"));
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", forward_to)) else {
        let _ = client.write_all(&[0, 0x5B, 0, 0, 0, 0, 0, 0]);
        return;
    };
    if client.write_all(&[0, 0x5A, 0, 0, 0, 0, 0, 0]).is_err() {
        return;
    }
    let _ = client.set_read_timeout(None);
    let (mut c_in, mut u_out) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut u_in, mut c_out) = (upstream, client);
    let to_upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut u_out);
        let _ = u_out.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u_in, &mut c_out);
    let _ = c_out.shutdown(std::net::Shutdown::Write);
    let _ = to_upstream.join();
}

/// `server r1 ADDR socks4 HOP`: HAProxy connects only to the SOCKS4 proxy, which connects on.
/// Real traffic flows that way; `gatewatch check` probes the hop, named as such, and never the
/// server address itself (which here nothing listens on).
#[test]
fn a_server_behind_socks4_is_probed_at_its_hop() {
    let ups = Upstreams::new();
    let upstream = ups.start(Behaviour::status(200));
    let (hop, asked) = socks4_proxy(upstream.port());
    let behind = free_port();
    let port = free_port();
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:@PORT@\n    default_backend be_remote\n\
         backend be_remote\n    server r1 127.0.0.1:{behind} socks4 127.0.0.1:{hop}\n"
    );
    let haproxy = Haproxy::start(&cfg, port);
    let (status, text) = get(port, "/via-socks");
    assert_eq!(status, 200, "{text}");
    assert!(upstream.requests().iter().any(|r| r.path == "/via-socks"));
    assert_eq!(
        *asked.lock().unwrap(),
        [format!("127.0.0.1:{behind}")],
        "HAProxy asked the SOCKS4 proxy for the server"
    );

    let (v, stdout) = Sandbox::new().check_json(&["--haproxy-conf", haproxy.cfg.to_str().unwrap()]);
    let rows = v["upstreams"].as_array().expect("upstreams in the report");
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(
        rows[0]["name"],
        format!("be_remote/r1 via socks4 127.0.0.1:{hop}")
    );
    assert_eq!(rows[0]["target"], format!("tcp://127.0.0.1:{hop}"));
    assert_eq!(rows[0]["state"], "up", "{}", rows[0]);
}
