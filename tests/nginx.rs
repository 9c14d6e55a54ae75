//! Against a real nginx (the Debian package), in a temp prefix on a loopback port.

mod common;

use common::nginx::{Nginx, free_port};
use gatewatch::config::Target;

#[test]
fn a_dead_upstream_gives_a_real_502_and_discovery_finds_it_in_nginx_own_config() {
    let dead = free_port();
    let nginx = Nginx::start(
        &format!("  upstream shop {{\n    server 127.0.0.1:{dead} max_fails=0;\n  }}\n"),
        "    location / {\n      proxy_pass http://shop;\n    }\n",
    );
    let (status, _) = nginx.get("/cart");
    assert_eq!(status, 502);
    assert!(
        nginx
            .error_log()
            .contains("(111: Connection refused) while connecting to upstream"),
        "{}",
        nginx.error_log()
    );

    let found = gatewatch::discover::nginx(&nginx.conf);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let target = found
        .targets
        .iter()
        .find(|t| t.group.as_deref() == Some("shop"))
        .expect("the shop upstream");
    assert_eq!(
        target.target,
        Target::Http {
            url: format!("http://127.0.0.1:{dead}/"),
            tls: false,
            host: "127.0.0.1".into(),
            port: dead
        }
    );
    assert_eq!(target.flags.max_fails, Some(0));
    let text = std::fs::read_to_string(&nginx.conf).expect("conf");
    let line = text
        .lines()
        .position(|l| l.contains(&format!("server 127.0.0.1:{dead}")))
        .expect("line")
        + 1;
    assert_eq!(target.source.line, line, "source {}", target.source);
    assert_eq!(target.source.file, nginx.conf);
    let logs: Vec<_> = found.logs.iter().map(|l| l.path.clone()).collect();
    assert!(
        logs.contains(&nginx.dir.path().join("error.log")),
        "{logs:?}"
    );
    assert!(
        logs.contains(&nginx.dir.path().join("access.log")),
        "{logs:?}"
    );
}

#[test]
fn check_reports_the_dead_upstream_nginx_502s_for_as_refused() {
    let dead = free_port();
    let nginx = Nginx::start(
        &format!("  upstream shop {{\n    server 127.0.0.1:{dead};\n  }}\n"),
        "    location / {\n      proxy_pass http://shop;\n    }\n    location /api/ {\n      proxy_pass http://$http_x_backend;\n    }\n",
    );
    assert_eq!(nginx.get("/").0, 502, "nginx itself answers 502");

    let sb = common::Sandbox::new();
    let out = sb.run(&[
        "--nginx-conf",
        nginx.conf.to_str().unwrap(),
        "check",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["status"], "critical");
    let shop = v["upstreams"]
        .as_array()
        .and_then(|ups| ups.iter().find(|u| u["group"] == "shop"))
        .unwrap_or_else(|| panic!("no shop upstream in {v}"));
    assert_eq!(shop["outcome"], "refused");
    assert_eq!(shop["state"], "down");
    assert_eq!(shop["target"], format!("http://127.0.0.1:{dead}/"));
    let text = std::fs::read_to_string(&nginx.conf).expect("conf");
    let line = text
        .lines()
        .position(|l| l.contains(&format!("server 127.0.0.1:{dead}")))
        .expect("line")
        + 1;
    assert_eq!(shop["source"], format!("{}:{line}", nginx.conf.display()));
    // nginx's own logs, discovered from its config: the real 502 lines, classified.
    let logs = v["logs"].as_array().expect("logs");
    let error_log = logs
        .iter()
        .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("error.log")))
        .expect("error.log scanned");
    assert!(
        error_log["causes"]["refused"].as_u64().unwrap_or(0) >= 1,
        "{error_log}"
    );
    assert!(
        error_log["top_upstreams"]
            .to_string()
            .contains(&format!("127.0.0.1:{dead}")),
        "{error_log}"
    );
    let access_log = logs
        .iter()
        .find(|l| {
            l["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("access.log"))
        })
        .expect("access.log scanned");
    assert!(
        access_log["status_502"].as_u64().unwrap_or(0) >= 1,
        "{access_log}"
    );
    let unprobeable = v["unprobeable"].to_string();
    assert!(
        unprobeable.contains("$http_x_backend"),
        "a variable target is listed as not probe-able: {unprobeable}"
    );
}

/// php-fpm stopped: nginx's real error line for a unix socket that is not there is read as
/// `no_socket`, quoted with its errno and located by its line number; its access log (with
/// `$upstream_addr`) gives the requests and the failed share per upstream.
#[test]
fn a_missing_php_socket_is_no_socket_with_nginx_own_words_and_the_failed_share() {
    use gatewatch::logs::{self, Cause, ScanSpan, scan_source, severity};
    use gatewatch::status::Status;

    let socket = "/nonexistent-gatewatch-test/php8.2-fpm.sock";
    let backend = free_port();
    let nginx = Nginx::start(
        "  log_format up '$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent \"-\" \"-\" us=$upstream_status ua=$upstream_addr';\n",
        &format!(
            "    listen 127.0.0.1:{backend};\n    access_log up.log up;\n    \
             location /php/ {{\n      proxy_pass http://unix:{socket}:/;\n    }}\n    \
             location /ok {{\n      proxy_pass http://127.0.0.1:{backend}/plain;\n    }}\n    \
             location /plain {{\n      return 200 \"ok\";\n    }}\n"
        ),
    );
    let (bad, ok) = (4u64, 10u64);
    for _ in 0..ok {
        assert_eq!(nginx.get("/ok").0, 200);
    }
    for _ in 0..bad {
        assert_eq!(nginx.get("/php/index.php").0, 502);
    }
    let now = jiff::Timestamp::now().as_second() + 1;
    let span = ScanSpan::recent(now);

    let error_path = nginx.dir.path().join("error.log");
    let text = nginx.error_log();
    let expected_line = text
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| l.contains("(2: No such file or directory)"))
        .unwrap_or_else(|| panic!("no ENOENT line in {text}")) as u64
        + 1;
    let error_log = scan_source("error.log".into(), &error_path, None, &span);
    let counts = error_log.tally.last(logs::DEFAULT_WINDOW, now);
    assert_eq!(counts.causes.get(&Cause::NoSocket), Some(&bad), "{text}");
    assert_eq!(counts.causes.get(&Cause::Refused), None);
    let example = &counts.examples[&Cause::NoSocket];
    assert!(
        example.text.contains(&format!(
            "connect() to unix:{socket} failed (2: No such file or directory)"
        )),
        "{example:?}"
    );
    assert!(!example.text.contains("client:"), "{example:?}");
    assert_eq!(example.line, Some(expected_line), "{text}");
    assert_eq!(
        example.upstream.as_deref(),
        Some(&*format!("http://unix:{socket}"))
    );
    assert!(example.time.is_some_and(|t| (now - t).abs() < 120));

    let access = scan_source(
        "up.log".into(),
        &nginx.dir.path().join("up.log"),
        None,
        &span,
    );
    let counts = access.tally.last(logs::DEFAULT_WINDOW, now);
    // Each /ok is two requests: the client's, and nginx's own to /plain (no upstream).
    assert_eq!(counts.requests, 2 * ok + bad, "{}", nginx.access_log());
    assert_eq!((counts.status_502, counts.failed_requests), (bad, bad));
    assert_eq!(
        counts.upstream_share(&format!("unix:{socket}")),
        Some((bad, bad))
    );
    assert_eq!(
        counts.upstream_share(&format!("127.0.0.1:{backend}")),
        Some((0, ok))
    );
    assert_eq!(severity(&counts), Status::Critical);
    let finding = logs::judge("up.log", None, &counts, 0, logs::DEFAULT_WINDOW);
    assert!(
        finding
            .message
            .contains(&format!("{bad} of {} requests failed", 2 * ok + bad)),
        "{}",
        finding.message
    );
}
