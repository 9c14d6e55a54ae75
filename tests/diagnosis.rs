//! The checklist and the verdict from the real binary: a real nginx answering real 502s for a
//! dead upstream (with its own error and access logs), a real firewall rule dropping a loopback
//! upstream, in `check --json` and in the text report.

mod common;

use common::Sandbox;
use common::firewall::RuleGuard;
use common::nginx::{Nginx, free_port};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON object on stdout ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn step<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["diagnosis"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == name))
        .unwrap_or_else(|| panic!("no {name} step in {}", v["diagnosis"]))
}

/// nginx in front of a port nothing listens on, `max_fails=0` so every request tries (and logs)
/// the connect; five real 502s.
fn nginx_with_a_dead_upstream() -> (Nginx, u16) {
    let dead = free_port();
    let nginx = Nginx::start(
        &format!("  upstream shop {{\n    server 127.0.0.1:{dead} max_fails=0;\n  }}\n"),
        "    location / {\n      proxy_pass http://shop;\n    }\n",
    );
    for _ in 0..5 {
        assert_eq!(nginx.get("/cart").0, 502);
    }
    (nginx, dead)
}

#[test]
fn check_blames_the_dead_upstream_with_nginx_own_log_lines_and_probes_the_gateway() {
    let (nginx, dead) = nginx_with_a_dead_upstream();
    let sb = Sandbox::new();
    let cfg = sb.write(
        "config.toml",
        &format!("[gateway]\nurl = \"http://127.0.0.1:{}/\"\n", nginx.port),
    );
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--nginx-conf",
        nginx.conf.to_str().unwrap(),
        "check",
    ];
    let out = sb.run(&[&args[..], &["--json"]].concat());
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let upstream = format!("127.0.0.1:{dead}");
    // Five refused connects from the requests, and a sixth from the gateway probe, which nginx
    // proxies to the same dead server: the log scan runs beside the probes, so it may come just
    // after the scan.
    let verdict = &v["verdict"];
    assert_eq!(verdict["cause"], "upstream_down");
    assert_eq!(verdict["status"], "critical");
    let verdict_text = |n: u32| {
        format!(
            "upstream shop {upstream} refuses connections ({n} × \"connect() failed (111: \
             Connection refused)\" in error.log, last 2 min; probe: connection refused): is its \
             process running? restart it"
        )
    };
    let refused = if verdict["text"] == verdict_text(6) {
        6
    } else {
        5
    };
    assert_eq!(verdict["text"], verdict_text(refused));
    assert_eq!(verdict["next_step"], "is its process running? restart it");

    let gateway = step(&v, "gateway");
    assert_eq!(gateway["status"], "critical", "{gateway}");
    // The probe's own access line may land just after the scan.
    let probe = format!("gateway http://127.0.0.1:{}/ answers 502 now", nginx.port);
    let evidence = gateway["evidence"].as_str().unwrap();
    assert!(
        evidence == format!("6 502s in access.log (10 min, 0.6/min); {probe}")
            || evidence == format!("5 502s in access.log (10 min, 0.5/min); {probe}"),
        "{evidence}"
    );
    let logs = step(&v, "logs");
    // Few lines, but every request through nginx failed: critical by rate.
    assert_eq!(logs["status"], "critical");
    assert_eq!(
        logs["evidence"],
        format!(
            "error.log: {refused} refused in 10 min; most at http://{upstream} ({refused}) (+1 \
             more logs)"
        )
    );
    let upstreams = step(&v, "upstreams");
    assert_eq!(upstreams["status"], "critical");
    assert_eq!(
        upstreams["evidence"],
        format!("shop {upstream} refuses connections")
    );
    let network = step(&v, "network");
    assert!(
        network["evidence"]
            .as_str()
            .is_some_and(|e| e.starts_with("1 of 1 upstreams reachable; ")),
        "refused means the host answered: {network}"
    );
    assert_eq!(step(&v, "dns")["status"], "ok");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "critical"
                && f["message"]
                    == format!("gateway http://127.0.0.1:{}/ answers 502 now", nginx.port)),
        "the gateway probe is a finding: {}",
        v["findings"]
    );

    // The text report: the Nagios line, then the verdict, then the checklist.
    let out = sb.run(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("GATEWATCH CRITICAL - "), "{text}");
    // One more refused connect: this run's gateway probe (again, maybe just after the scan).
    assert!(
        [6, 7]
            .iter()
            .any(|n| lines[1] == format!("verdict: {}", verdict_text(*n))),
        "{text}"
    );
    // The verdict's evidence, each with its source, then the checklist.
    assert!(
        lines[2].starts_with("  evidence  error.log:")
            && lines[2].contains("(111: Connection refused)"),
        "{text}"
    );
    assert_eq!(
        lines[3],
        "  evidence  probe             probe: connection refused"
    );
    // When it began, from the incident timeline: nginx served nothing before failing, so its
    // logs begin with the failure.
    assert!(lines[4].starts_with("  since     502s began "), "{text}");
    assert_eq!(lines[6], "checklist:");
    assert!(
        lines[7].starts_with("  CRITICAL  gateway           "),
        "{text}"
    );
    assert!(lines[7].contains(" 502s in access.log (10 min, "), "{text}");
    assert!(
        lines[12].starts_with("  CRITICAL  upstreams         "),
        "{text}"
    );
}

#[test]
fn a_real_drop_rule_is_the_verdict_for_the_upstream_it_blocks() {
    let comment = format!("gatewatch-check-test-{}", std::process::id());
    let added = RuleGuard::drop_blocked(&comment);
    let sb = Sandbox::new();
    let cfg = sb.write(
        "config.toml",
        "[[upstream]]\nname = \"blocked\"\nurl = \"tcp://127.0.0.66:9\"\ntimeout = \"500ms\"\n",
    );
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    let v = json(&out);
    let iptables = v["firewall"]["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tool"] == "iptables"))
        .cloned()
        .expect("iptables reported");
    let _guard = match added {
        Ok(guard) => guard,
        Err(why) => {
            // No CAP_NET_ADMIN here: the report must say the firewall could not be read.
            assert_eq!(iptables["state"], "not_permitted", "{why}: {iptables}");
            assert!(
                step(&v, "network")["evidence"]
                    .as_str()
                    .is_some_and(|e| e.contains("not permitted")),
                "{}",
                step(&v, "network")
            );
            return;
        }
    };
    assert_eq!(iptables["state"], "read");
    assert_eq!(out.status.code(), Some(2));
    let verdict = &v["verdict"];
    assert_eq!(verdict["cause"], "firewall", "{verdict}");
    assert_eq!(verdict["status"], "critical");
    let text = verdict["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "the firewall blocks upstream blocked 127.0.0.66:9 (iptables OUTPUT: -A OUTPUT -d \
             127.0.0.66/32 -p tcp -m tcp --dport 9 -m comment --comment {comment} -j DROP; \
             probes: does not answer within 500ms)"
        )),
        "{text}"
    );
    assert_eq!(
        verdict["next_step"],
        "remove or narrow that rule, or ACCEPT 127.0.0.66 port 9 before it; then rerun the checks"
    );
    let matches = v["firewall"]["matches"].as_array().unwrap();
    let ours: Vec<_> = matches
        .iter()
        .filter(|m| m["rule"].as_str().is_some_and(|r| r.contains(&comment)))
        .collect();
    assert_eq!(ours.len(), 1, "{matches:?}");
    assert_eq!(ours[0]["upstream"], "blocked");
    assert_eq!(ours[0]["path"], "outbound");
    assert_eq!(ours[0]["strength"], "names");
    assert_eq!(step(&v, "network")["status"], "critical");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("firewall blocks upstream blocked 127.0.0.66:9"))),
        "{}",
        v["findings"]
    );
}
