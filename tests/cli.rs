//! The real binary, without a terminal: what a user sees for a bad config, and what scripts and
//! monitoring get from `gatewatch check`.

mod common;

use common::Sandbox;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_key_names_file_line_column_and_key_and_exits_3_before_touching_the_terminal() {
    let sb = Sandbox::new();
    let path = sb.write("bad.toml", "theme = \"default\"\nrefrsh = \"2s\"\n");
    for args in [
        vec!["--config", path.to_str().unwrap()],
        vec!["--config", path.to_str().unwrap(), "check"],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "nothing may reach the terminal: {:?}",
            out.stdout
        );
        assert_eq!(
            stderr(&out),
            format!(
                "gatewatch: {}:2:1: unknown field `refrsh`, expected one of `refresh`, `theme`, `discover`, `upstream`, \
                 `dns`, `log`, `service`, `gateway`, `proxy-api`, `timeline`\n  |\n2 | refrsh = \"2s\"\n  | ^^^^^^\n",
                path.display()
            )
        );
    }
}

#[test]
fn a_bad_value_is_quoted_with_its_key() {
    let sb = Sandbox::new();
    let path = sb.write(
        "bad.toml",
        "[[upstream]]\nname = \"shop\"\nurl = \"http://127.0.0.1:8080/\"\ntimeout = \"soon\"\n",
    );
    let out = sb.run(&["--config", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "gatewatch: {}:4:11: invalid duration \"soon\" for `timeout`",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn broken_toml_is_a_config_error_too() {
    let sb = Sandbox::new();
    let path = sb.write("bad.toml", "refresh = \"2s\n");
    let out = sb.run(&["--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with(&format!("gatewatch: {}:1:", path.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_explicit_config_is_an_error_but_no_config_at_all_is_fine() {
    let sb = Sandbox::new();
    let out = sb.run(&["--config", "/nonexistent/gatewatch.toml", "check"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "gatewatch: /nonexistent/gatewatch.toml: cannot read config: No such file or directory (os error 2)\n"
    );
    let out = sb.run(&["check", "--json"]);
    assert!(matches!(out.status.code(), Some(0..=3)), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn the_user_config_is_found_in_xdg_config_home() {
    let sb = Sandbox::new();
    let path = sb.write(
        "config/gatewatch/config.toml",
        "theme = \"no-such-theme\"\n",
    );
    let out = sb.run(&["check"]);
    assert_eq!(out.status.code(), Some(3));
    // Named at its line in the file that was found.
    assert_eq!(
        stderr(&out),
        format!(
            "gatewatch: {}:1:9: unknown theme \"no-such-theme\": available themes are default, \
             high-contrast, light, monochrome\n  |\n1 | theme = \"no-such-theme\"\n  |         \
             ^^^^^^^^^^^^^^^\n",
            path.display()
        )
    );
}

#[test]
fn check_json_reports_the_host_and_its_exit_code_matches_its_status() {
    let sb = Sandbox::new();
    let out = sb.run(&["check", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let expected_code = match v["status"].as_str() {
        Some("ok") => 0,
        Some("warning") => 1,
        Some("critical") => 2,
        Some("unknown") => 3,
        other => panic!("bad status {other:?}"),
    };
    assert_eq!(out.status.code(), Some(expected_code));
    let host = &v["host"];
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    assert_eq!(host["cores"], cores);
    assert_eq!(host["load"].as_array().map(Vec::len), Some(3));
    for key in ["cpu_percent", "mem_used_percent", "swap_used_percent"] {
        let pct = host[key].as_f64().unwrap_or(-1.0);
        assert!((0.0..=100.0).contains(&pct), "{key} = {pct}");
    }
    assert!(host["tcp_states"].is_object());
    assert!(host["ephemeral_ports_total"].as_u64().unwrap_or(0) > 0);
    assert!(host["file_handles_used"].as_u64().unwrap_or(0) > 0);
    assert!(host["file_handles_max"].as_u64() > host["file_handles_used"].as_u64());
    for key in ["upstreams", "dns", "logs", "services"] {
        assert!(v[key].is_array(), "{key}");
    }
}

#[test]
fn check_text_starts_with_a_nagios_status_line() {
    let sb = Sandbox::new();
    let out = sb.run(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let label = match out.status.code() {
        Some(0) => "OK",
        Some(1) => "WARNING",
        Some(2) => "CRITICAL",
        _ => "UNKNOWN",
    };
    assert!(text.starts_with(&format!("GATEWATCH {label} - ")), "{text}");
    assert!(text.contains("ephemeral ports:"), "{text}");
}

#[test]
fn version_and_help_work_without_a_terminal() {
    let sb = Sandbox::new();
    let out = sb.run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("gatewatch {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = sb.run(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--config",
        "--theme",
        "--color",
        "--nginx-conf",
        "--log-file",
        "--mouse",
        "check",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn diagnostics_go_to_the_log_file_not_the_terminal() {
    let sb = Sandbox::new();
    let log = sb.path().join("diag.log");
    let out = sb.run(&["--log-file", log.to_str().unwrap(), "check"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).expect("log file written");
    assert!(text.contains("gatewatch starting"), "{text}");
}

#[test]
fn the_dashboard_refuses_to_draw_into_a_pipe() {
    let sb = Sandbox::new();
    let out = sb.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no escape sequences into a pipe");
    assert_eq!(
        stderr(&out),
        "gatewatch: the dashboard needs a terminal on stdout; `gatewatch check` prints a report\n"
    );
}

#[test]
fn check_runs_every_service_status_and_a_stopped_service_is_critical() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "config.toml",
        r#"
[[service]]
name = "web"
status = ["sh", "-c", "echo active"]

[[service]]
name = "app"
status = ["sh", "-c", "echo failed; exit 3"]
restart = ["false"]

[[service]]
name = "batch"
restart = ["true"]
"#,
    );
    let out = sb.run(&["--config", cfg.to_str().unwrap(), "check", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(v["status"], "critical");
    assert_eq!(out.status.code(), Some(2));
    let services = v["services"].as_array().expect("services");
    let rows: Vec<(&str, &str, &str)> = services
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
                s["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("web", "running", "active"),
            ("app", "stopped", "failed (exit 3)"),
            ("batch", "unknown", "no status command"),
        ]
    );
    assert_eq!(services[0]["command"], "sh -c 'echo active'");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"] == "service app is not running: failed (exit 3)"),
        "{}",
        v["findings"]
    );
}

#[test]
fn read_only_and_mouse_are_taken_after_a_subcommand_too() {
    let sb = Sandbox::new();
    let args = sb.isolated(&["check", "--json", "--read-only", "--mouse"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sb.run(&args);
    assert!(
        !stderr(&out).contains("unexpected argument"),
        "{}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check's JSON");
    assert!(v["status"].is_string(), "{v}");
}
