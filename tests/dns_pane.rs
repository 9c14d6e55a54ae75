//! DNS end to end: a real DNS server on loopback (hickory-server), the real binary resolving
//! through it, in `check --json` and in the dashboard's DNS pane.

mod common;
mod dns_server;

use common::{Sandbox, Tmux};
use dns_server::TestDns;
use hickory_server::proto::op::ResponseCode;

/// The server on a runtime of its own, so it answers while the test thread waits.
struct Dns {
    _rt: tokio::runtime::Runtime,
    server: TestDns,
}

fn start_dns() -> Dns {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(TestDns::start());
    server.set_addrs("app.test", &["10.0.0.5"], &[], 300);
    server.set_rcode("gone.test", ResponseCode::NXDomain);
    Dns { _rt: rt, server }
}

fn config(sb: &Sandbox, dns: &Dns) -> std::path::PathBuf {
    let hosts = sb.write("hosts", "127.0.0.1 localhost\n");
    let resolv = sb.write("resolv.conf", "nameserver 127.0.0.1\n");
    sb.write(
        "config.toml",
        &format!(
            "[dns]\nnames = [\"app.test\", \"gone.test\"]\nnameservers = [\"{}\"]\ntimeout = \"1s\"\n\
             hosts-file = \"{}\"\nresolv-conf = \"{}\"\n",
            dns.server.addr,
            hosts.display(),
            resolv.display()
        ),
    )
}

#[test]
fn check_json_has_a_row_per_name_and_nameserver() {
    let dns = start_dns();
    let sb = Sandbox::new();
    let cfg = config(&sb, &dns);
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = v["dns"].as_array().expect("dns rows");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {v}"))
    };
    let app = row("app.test");
    assert_eq!(app["nameserver"], dns.server.addr.to_string());
    assert_eq!(app["answers"], serde_json::json!(["10.0.0.5"]));
    assert_eq!(app["ttl"], 300);
    assert_eq!(app["rcode"], "NOERROR");
    assert_eq!(app["source"], "dns");
    assert!(app["error"].is_null());
    let gone = row("gone.test");
    assert_eq!(gone["rcode"], "NXDOMAIN");
    assert!(gone["error"].is_string());
    assert_eq!(
        v["status"], "critical",
        "a name every nameserver fails for is critical"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_dns_pane_shows_answers_failing_first_and_the_full_answer_on_enter() {
    let dns = start_dns();
    let files = Sandbox::new();
    let cfg = config(&files, &dns);
    let t = Tmux::start(&["--config", cfg.to_str().unwrap()], 120, 40);
    let screen = t.wait_for("10.0.0.5");
    // Rows of the table, not the header line (which names the worst finding).
    let gone = screen
        .lines()
        .position(|l| l.contains("gone.test") && l.contains("NXDOMAIN: no such"))
        .expect("gone.test row");
    let app = screen
        .lines()
        .position(|l| l.contains("app.test") && l.contains("10.0.0.5"))
        .expect("app.test row");
    assert!(gone < app, "failing first:\n{screen}");
    t.keys(&["3", "z", "Enter"]);
    let detail = t.wait_for("no change since gatewatch first resolved it");
    assert!(
        detail.contains("NXDOMAIN") && detail.contains(&dns.server.addr.to_string()),
        "{detail}"
    );
    // Separate key presses: ESC followed at once by q would read as Alt-q.
    t.keys(&["Escape"]);
    t.wait_until("the detail to close", |t| {
        !t.screen().contains("no change since")
    });
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn a_name_whose_ipv6_address_refuses_while_ipv4_accepts_is_flagged() {
    // The upstream listens on 127.0.0.1 only; its name also resolves to ::1 (the localhost trap).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert!(
        std::net::TcpListener::bind("[::1]:0").is_ok(),
        "this test needs the ::1 loopback"
    );
    let sb = Sandbox::new();
    let hosts = sb.write("hosts", "::1 dual.test\n127.0.0.1 dual.test\n");
    let resolv = sb.write(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    );
    let cfg = sb.write(
        "config.toml",
        &format!(
            "[[upstream]]\nname = \"app\"\nurl = \"tcp://dual.test:{port}\"\n\n[dns]\ntimeout = \"1s\"\n\
             hosts-file = \"{}\"\nresolv-conf = \"{}\"\n",
            hosts.display(),
            resolv.display()
        ),
    );
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let findings = v["findings"].to_string();
    assert!(
        findings.contains("dual.test resolves to IPv6")
            && findings.contains(&format!("port {port} is open only on IPv4")),
        "{findings}"
    );
}
