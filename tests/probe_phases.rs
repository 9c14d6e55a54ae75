//! Per-phase probe timings against real loopback servers: a slow answer shows in `first_byte`, not
//! in `connect`; an https upstream has a `tls` phase; a refused connect has no phase after it;
//! tcp:// and unix: targets have only the phases they go through.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::time::Duration;

use gatewatch::upstream::{Outcome, Phases, ProbeResult, probe_once};
use servers::{Behaviour, Server, refusing_port};

fn upstream(url: &str) -> gatewatch::config::Upstream {
    let mut u = common::upstream("shop-api", url, Duration::from_secs(3));
    u.tls_verify = false;
    u
}

/// Phases never add up to more than the whole probe.
fn assert_within_total(result: &ProbeResult) {
    let p = result.phases;
    let sum: Duration = [p.resolve, p.connect, p.tls, p.first_byte]
        .iter()
        .flatten()
        .sum();
    let total = p.total.expect("a total");
    assert_eq!(total, result.elapsed, "{result:#?}");
    assert!(sum <= total, "{result:#?}");
}

#[tokio::test]
async fn a_slow_answer_is_a_long_first_byte_after_a_quick_connect() {
    let server = Server::start(Behaviour::slow(Duration::from_secs(1))).await;
    // `localhost` comes from /etc/hosts: a lookup without any DNS traffic.
    let url = format!("http://localhost:{}/", server.port());
    let result = probe_once(&upstream(&url)).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let p = result.phases;
    assert!(p.resolve.is_some(), "{result:#?}");
    let connect = p.connect.expect("a connect phase");
    assert!(connect < Duration::from_millis(500), "{result:#?}");
    assert_eq!(p.tls, None, "plain http has no handshake: {result:#?}");
    let first_byte = p.first_byte.expect("a first byte");
    assert!(first_byte >= Duration::from_secs(1), "{result:#?}");
    assert!(first_byte < Duration::from_secs(3), "{result:#?}");
    assert_within_total(&result);

    // An IP literal needs no lookup.
    let literal = probe_once(&upstream(&server.url("http", "/"))).await;
    assert_eq!(literal.phases.resolve, None, "{literal:#?}");
    assert!(literal.phases.connect.is_some(), "{literal:#?}");

    // The JSON carries them for scripts, in milliseconds.
    let json = serde_json::to_value(&result).expect("serialises");
    let ms = json["phases"]["first_byte_ms"]
        .as_f64()
        .expect("first_byte_ms");
    assert!(ms >= 1000.0, "{json}");
    assert!(json["phases"].get("tls_ms").is_none(), "{json}");
}

#[tokio::test]
async fn an_https_upstream_has_a_handshake_between_connect_and_first_byte() {
    let server = Server::start_tls(Behaviour::status(200)).await;
    let result = probe_once(&upstream(&server.url("https", "/"))).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let p = result.phases;
    assert!(p.connect.is_some(), "{result:#?}");
    assert!(p.tls.is_some_and(|t| t > Duration::ZERO), "{result:#?}");
    assert!(p.first_byte.is_some(), "{result:#?}");
    assert_within_total(&result);

    // Verified, the self-signed certificate fails the handshake: its time is still the handshake's,
    // and no request was sent.
    let mut verified = upstream(&server.url("https", "/"));
    verified.tls_verify = true;
    let rejected = probe_once(&verified).await;
    assert_eq!(rejected.outcome, Outcome::Tls, "{rejected:#?}");
    assert!(rejected.phases.connect.is_some(), "{rejected:#?}");
    assert!(rejected.phases.tls.is_some(), "{rejected:#?}");
    assert_eq!(rejected.phases.first_byte, None, "{rejected:#?}");
}

#[tokio::test]
async fn a_refused_connect_has_no_phase_after_it() {
    let port = refusing_port();
    for url in [
        format!("http://127.0.0.1:{}/", port.port),
        format!("https://127.0.0.1:{}/", port.port),
        format!("tcp://127.0.0.1:{}", port.port),
    ] {
        let result = probe_once(&upstream(&url)).await;
        assert_eq!(result.outcome, Outcome::Refused, "{url}: {result:#?}");
        let p = result.phases;
        assert!(p.connect.is_some(), "{url}: {result:#?}");
        assert_eq!((p.tls, p.first_byte), (None, None), "{url}: {result:#?}");
        assert_within_total(&result);
    }
}

#[tokio::test]
async fn tcp_targets_resolve_and_connect_and_unix_ones_only_connect() {
    let server = Server::start(Behaviour::status(200)).await;
    let result = probe_once(&upstream(&format!("tcp://localhost:{}", server.port()))).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let p = result.phases;
    assert!(p.resolve.is_some() && p.connect.is_some(), "{result:#?}");
    assert_eq!((p.tls, p.first_byte), (None, None), "{result:#?}");
    assert_within_total(&result);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.sock");
    let _listener = tokio::net::UnixListener::bind(&path).expect("bind unix socket");
    let result = probe_once(&upstream(&format!("unix:{}", path.display()))).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    let expected = Phases {
        connect: result.phases.connect,
        total: result.phases.total,
        ..Phases::default()
    };
    assert_eq!(result.phases, expected, "{result:#?}");
    assert!(result.phases.connect.is_some(), "{result:#?}");
    assert_within_total(&result);
}
