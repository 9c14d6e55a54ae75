//! The probe reads an https upstream's certificate end, and the timeline turns a near or past
//! end into a `cert_expiry` event: real TLS servers on 127.0.0.1 with certificates made for the
//! test, one ending in 3 days and one ended yesterday.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::time::{Duration, SystemTime};

use gatewatch::timeline::{EventKind, cert_event};
use gatewatch::upstream::{Outcome, probe_once};
use servers::{Behaviour, Server};

const DAY: i64 = 24 * 3600;

fn unix_now() -> i64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit")
}

fn upstream(url: &str, tls_verify: bool) -> gatewatch::config::Upstream {
    let mut u = common::upstream("shop-api", url, Duration::from_secs(3));
    u.tls_verify = tls_verify;
    u
}

#[tokio::test]
async fn a_certificate_ending_in_three_days_is_read_and_warned_about() {
    let now = unix_now();
    let not_after = now + 3 * DAY;
    let server = Server::start_tls_valid(Behaviour::status(200), now - DAY, not_after).await;

    let result = probe_once(&upstream(&server.url("https", "/"), false)).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    assert_eq!(result.cert_not_after, Some(not_after), "{result:#?}");

    let seen = unix_now();
    let event = cert_event("shop-api", not_after, seen).expect("a cert_expiry event");
    assert_eq!(event.kind, EventKind::CertExpiry);
    assert_eq!(event.at, seen);
    assert!(
        event.text.starts_with("certificate of shop-api expires ")
            && event.text.ends_with("(in 3 days)"),
        "{}",
        event.text
    );
    // The JSON of a probe carries it for scripts.
    let json = serde_json::to_value(&result).expect("serialises");
    assert_eq!(json["cert_not_after"], not_after);
}

#[tokio::test]
async fn an_expired_certificate_is_read_unverified_and_named_when_verification_rejects_it() {
    let now = unix_now();
    let not_after = now - DAY;
    let server = Server::start_tls_valid(Behaviour::status(200), now - 30 * DAY, not_after).await;
    let url = server.url("https", "/");

    let unverified = probe_once(&upstream(&url, false)).await;
    assert_eq!(unverified.outcome, Outcome::Ok, "{unverified:#?}");
    assert_eq!(
        unverified.cert_not_after,
        Some(not_after),
        "{unverified:#?}"
    );
    let event = cert_event("shop-api", not_after, unix_now()).expect("a cert_expiry event");
    assert_eq!(event.kind, EventKind::CertExpiry);
    assert_eq!(event.at, not_after);
    assert!(
        event.text.starts_with("certificate of shop-api expired "),
        "{}",
        event.text
    );

    // Verified, the handshake fails; the failure says why, and rustls's error still tells when.
    let verified = probe_once(&upstream(&url, true)).await;
    assert_eq!(verified.outcome, Outcome::Tls, "{verified:#?}");
    assert!(
        verified.detail.starts_with("certificate expired"),
        "{}",
        verified.detail
    );
    assert_eq!(verified.status_code, None);
    assert_eq!(verified.cert_not_after, Some(not_after), "{verified:#?}");
}

#[tokio::test]
async fn a_certificate_valid_for_long_is_read_but_no_event() {
    let now = unix_now();
    let not_after = now + 400 * DAY;
    let server = Server::start_tls_valid(Behaviour::status(200), now - DAY, not_after).await;
    let result = probe_once(&upstream(&server.url("https", "/"), false)).await;
    assert_eq!(result.outcome, Outcome::Ok, "{result:#?}");
    assert_eq!(result.cert_not_after, Some(not_after));
    assert_eq!(cert_event("shop-api", not_after, now), None);
}

#[tokio::test]
async fn plain_http_and_tcp_probes_have_no_certificate() {
    let server = Server::start(Behaviour::status(200)).await;
    let http = probe_once(&upstream(&server.url("http", "/"), false)).await;
    assert_eq!(http.outcome, Outcome::Ok, "{http:#?}");
    assert_eq!(http.cert_not_after, None);
    let json = serde_json::to_value(&http).expect("serialises");
    assert!(json.get("cert_not_after").is_none(), "{json}");
    let tcp = probe_once(&upstream(&format!("tcp://{}", server.addr), false)).await;
    assert_eq!(tcp.outcome, Outcome::Ok, "{tcp:#?}");
    assert_eq!(tcp.cert_not_after, None);
}

/// The whole path: `check --json` probes an https upstream whose certificate ends in 3 days and
/// puts the warning on the timeline, once, with the upstream's name.
#[test]
fn check_puts_a_certificate_ending_soon_on_the_timeline() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let now = unix_now();
    let server = rt.block_on(Server::start_tls_valid(
        Behaviour::status(200),
        now - DAY,
        now + 3 * DAY,
    ));
    let sb = common::Sandbox::new();
    let config = sb.write(
        "gatewatch.toml",
        &format!(
            "[[upstream]]\nname = \"shop-api\"\nurl = \"{}\"\ntls-verify = false\n\n\
             [timeline]\nkernel = \"/dev/null\"\npackages = []\n",
            server.url("https", "/")
        ),
    );
    let (json, stdout) = sb.check_json(&["--config", config.to_str().expect("utf-8")]);
    let certs: Vec<&serde_json::Value> = json["timeline"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "cert_expiry")
        .collect();
    assert_eq!(certs.len(), 1, "{stdout}");
    assert_eq!(certs[0]["source"], "tls");
    let text = certs[0]["text"].as_str().expect("text");
    assert!(
        text.starts_with("certificate of shop-api ") && text.ends_with("(in 3 days)"),
        "{text}"
    );
}
