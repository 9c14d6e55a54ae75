//! Traefik's and Envoy's logs through the real binary: `check --json` over a `[[log]]` of each,
//! written as Traefik and Envoy write them (see src/logs/traefik.rs and src/logs/envoy.rs for the
//! documentation pages), with timestamps of the last minutes, beside a real probe of the same
//! upstream: a loopback port nothing listens on.
//!
//! Neither proxy is a Debian package, so no real Traefik or Envoy writes these lines; the lines
//! follow the formats their documentation gives, field for field.

// Helpers outside #[test] fns panic to report a failure, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use common::Sandbox;
use common::nginx::free_port;
use jiff::Timestamp;
use serde_json::Value;

/// `check --json` with `config` (TOML), parsed.
fn check(sb: &Sandbox, config: &str) -> Value {
    let cfg = sb.write("config.toml", config);
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON object on stdout ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// An RFC 3339 stamp `ago` seconds before now, with `fraction` digits (`.123`) when given.
fn stamp(ago: i64, fraction: &str) -> String {
    let t = Timestamp::from_second(Timestamp::now().as_second() - ago).unwrap();
    let text = t.to_string();
    let bare = text.strip_suffix('Z').unwrap();
    format!("{bare}{fraction}Z")
}

fn config(dead: u16, log: &std::path::Path, kind: &str) -> String {
    format!(
        "[[upstream]]\nname = \"shop\"\nurl = \"http://127.0.0.1:{dead}/\"\ntimeout = \"1s\"\n\n\
         [[log]]\npath = \"{}\"\nkind = \"{kind}\"\n",
        log.display()
    )
}

fn the_log<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["logs"]
        .as_array()
        .and_then(|logs| {
            logs.iter()
                .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
        })
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[test]
fn traefik_json_access_and_debug_lines_blame_the_refusing_upstream() {
    let sb = Sandbox::new();
    let dead = free_port();
    let mut text = String::new();
    // Twelve requests: eight answered 502 with no answer from the upstream (OriginStatus 0),
    // each with the debug line that says why, and four a moment before that went through.
    for i in 0..12 {
        let ago = 90 - i * 5;
        let (status, origin) = if i < 4 { (200, 200) } else { (502, 0) };
        if status == 502 {
            text += &format!(
                "{{\"level\":\"debug\",\"msg\":\"'502 Bad Gateway' caused by: dial tcp 127.0.0.1:{dead}: connect: connection refused\",\"time\":\"{}\"}}\n",
                stamp(ago, "")
            );
        }
        text += &format!(
            "{{\"ClientHost\":\"127.0.0.1\",\"DownstreamStatus\":{status},\"OriginStatus\":{origin},\"RequestMethod\":\"GET\",\"RequestPath\":\"/cart/{i}\",\"RouterName\":\"shop@file\",\"ServiceName\":\"shop@file\",\"ServiceURL\":\"http://127.0.0.1:{dead}\",\"ServiceAddr\":\"127.0.0.1:{dead}\",\"Duration\":3000000,\"StartUTC\":\"{}\",\"level\":\"info\",\"msg\":\"\",\"time\":\"{}\"}}\n",
            stamp(ago, ".123456789"),
            stamp(ago, "")
        );
    }
    // A client that went away, and a slow TLS hello: neither is the upstream's doing.
    text += &format!(
        "{{\"level\":\"debug\",\"msg\":\"'499 Client Closed Request' caused by: context canceled\",\"time\":\"{}\"}}\n",
        stamp(20, "")
    );
    text += &format!(
        "{{\"level\":\"debug\",\"msg\":\"Error while Peeking first byte: read tcp 127.0.0.1:443->127.0.0.9:5555: i/o timeout\",\"time\":\"{}\"}}\n",
        stamp(20, "")
    );
    let log = sb.write("traefik.log", &text);
    let v = check(&sb, &config(dead, &log, "traefik"));
    let l = the_log(&v, "traefik.log");
    assert_eq!(l["causes"], serde_json::json!({"refused": 8}), "{l}");
    assert_eq!(l["status_502"], 8, "{l}");
    assert_eq!(l["requests"], 12, "{l}");
    assert_eq!(l["failed_requests"], 8, "{l}");
    let upstream = format!("127.0.0.1:{dead}");
    assert_eq!(
        l["top_upstream_requests"],
        serde_json::json!([[upstream, 8, 12]]),
        "{l}"
    );
    let verdict = &v["verdict"];
    assert_eq!(verdict["cause"], "upstream_down", "{verdict}");
    assert_eq!(verdict["status"], "critical", "{verdict}");
    let said = verdict["text"].as_str().unwrap();
    assert!(
        said.contains(&upstream) && said.contains("refuses connections"),
        "{said}"
    );
    assert!(said.contains("traefik.log"), "{said}");
}

#[test]
fn traefik_common_format_and_v3_console_lines() {
    let sb = Sandbox::new();
    let dead = free_port();
    let mut text = String::new();
    for i in 0..6 {
        let ago = 60 - i * 5;
        let t = Timestamp::from_second(Timestamp::now().as_second() - ago).unwrap();
        let clf = t.strftime("%d/%b/%Y:%H:%M:%S +0000");
        text += &format!(
            "{} DBG github.com/traefik/traefik/v3/pkg/proxy/httputil/proxy.go:113 > 504 Gateway Timeout error=\"dial tcp 127.0.0.1:{dead}: i/o timeout\"\n",
            stamp(ago, "")
        );
        text += &format!(
            "127.0.0.1 - - [{clf}] \"GET /x HTTP/1.1\" 504 15 \"-\" \"curl/8\" {i} \"shop@file\" \"http://127.0.0.1:{dead}\" 1000ms\n"
        );
    }
    let log = sb.write("traefik.log", &text);
    let v = check(&sb, &config(dead, &log, "traefik"));
    let l = the_log(&v, "traefik.log");
    assert_eq!(l["causes"], serde_json::json!({"timeout": 6}), "{l}");
    assert_eq!(
        (l["requests"].as_u64(), l["failed_requests"].as_u64()),
        (Some(6), Some(6)),
        "{l}"
    );
    assert_eq!(
        l["top_upstream_requests"],
        serde_json::json!([[format!("http://127.0.0.1:{dead}"), 6, 6]]),
        "{l}"
    );
}

#[test]
fn envoy_response_flags_are_causes_and_its_503s_upstream_failures() {
    let sb = Sandbox::new();
    let dead = free_port();
    let upstream = format!("127.0.0.1:{dead}");
    let mut text = String::new();
    for i in 0..10 {
        let ago = 100 - i * 7;
        let (status, flags) = match i {
            0..=2 => (200, "-"),
            3..=8 => (503, "UF,URX"),
            _ => (503, "UH"),
        };
        let host = if flags == "UH" {
            "-"
        } else {
            upstream.as_str()
        };
        text += &format!(
            "[{}] \"GET /cart/{i} HTTP/1.1\" {status} {flags} 0 91 2 - \"127.0.0.1\" \"curl/8\" \"req-{i}\" \"shop.example\" \"{host}\"\n",
            stamp(ago, ".123")
        );
    }
    // The client hung up: not an upstream failure.
    text += &format!(
        "[{}] \"POST /upload HTTP/1.1\" 0 DC 512 0 30000 - \"127.0.0.1\" \"curl/8\" \"req-dc\" \"shop.example\" \"{upstream}\"\n",
        stamp(10, ".500")
    );
    // The JSON access log with the same field names.
    text += &format!(
        "{{\"start_time\":\"{}\",\"method\":\"GET\",\"path\":\"/j\",\"response_code\":503,\"response_flags\":\"UF\",\"upstream_host\":\"{upstream}\"}}\n",
        stamp(5, ".001")
    );
    let log = sb.write("envoy.log", &text);
    let v = check(&sb, &config(dead, &log, "envoy"));
    let l = the_log(&v, "envoy.log");
    assert_eq!(l["kind"], "envoy", "{l}");
    assert_eq!(
        l["causes"],
        serde_json::json!({"refused": 7, "no_live_upstreams": 1}),
        "{l}"
    );
    assert_eq!(l["status_502"], 0, "Envoy answers 503: {l}");
    assert_eq!(l["status_5xx"], 8, "{l}");
    assert_eq!(l["requests"], 11, "{l}");
    assert_eq!(l["failed_requests"], 8, "{l}");
    assert_eq!(
        l["top_upstream_requests"],
        serde_json::json!([[upstream, 7, 10]]),
        "{l}"
    );
    let verdict = &v["verdict"];
    assert_eq!(verdict["cause"], "upstream_down", "{verdict}");
    let said = verdict["text"].as_str().unwrap();
    assert!(
        said.contains(&upstream) && said.contains("refuses connections"),
        "{said}"
    );
    assert!(said.contains("envoy.log"), "{said}");
}

/// Every fixture line of tests/corpus/logs/{traefik,envoy}.txt reads as it says (the corpus
/// runner scores them with the others; this keeps these two right on their own).
#[test]
fn corpus_lines_read_as_expected() {
    let mut checked = 0;
    for name in ["traefik.txt", "envoy.txt"] {
        let path = format!("{}/tests/corpus/logs/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("corpus file");
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (expect, raw) = line.split_once('\t').expect("EXPECT<TAB>LINE");
            let c = gatewatch::logs::classify(raw, None);
            let at = format!("{name}:{}", n + 1);
            assert!(c.format.is_some(), "{at}: no format");
            match expect.strip_prefix("status=") {
                Some(status) => assert_eq!(c.status, status.parse().ok(), "{at}"),
                None if expect == "none" => assert_eq!(c.cause, None, "{at}"),
                None => assert_eq!(c.cause.map(|c| c.name()), Some(expect), "{at}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
}
