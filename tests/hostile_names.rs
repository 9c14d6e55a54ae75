//! Names from hostile config files (gatewatch's own, nginx's) carry terminal escape sequences and
//! secrets: the real binary must show the escapes as text (`\x1b`) in `check`, `report` and the
//! dashboard, keep `--json` valid, and never quote a non-config file an `include` pulled in.

mod common;

use common::{Sandbox, Tmux};

/// An OSC title change, a screen clear and an 8-bit CSI.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m";
const SHOWN: &str = "\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m";
const SECRET: &str = "$6$abcdefgh$SECRETHASHsecrethash0123456789";

/// A closed loopback port: probes are refused at once.
const DEAD: &str = "tcp://127.0.0.1:1";

/// Fails when `out` holds any byte a terminal could act on (all controls but newline).
fn assert_inert(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && c.is_control())
        .collect();
    assert!(bad.is_empty(), "{what} writes raw {bad:?}:\n{text}");
}

fn gatewatch_config(s: &Sandbox) -> String {
    // TOML cannot hold raw controls: its escapes put the bytes in the parsed names.
    let toml_escaped = "\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m";
    let text = format!(
        "[[upstream]]\nname = \"up{toml_escaped}\"\nurl = \"{DEAD}\"\n\n\
         [[service]]\nname = \"svc{toml_escaped}\"\nstatus = [\"false\"]\n"
    );
    s.write("config.toml", &text).display().to_string()
}

fn nginx_config(s: &Sandbox) -> String {
    s.write(
        "shadow",
        &format!("root:{SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"),
    );
    // Quoted, as nginx allows, so the ";" of the OSC does not end the directive.
    let text = format!(
        "events {{}}\nhttp {{\n upstream \"ng{HOSTILE}\" {{ server 127.0.0.1:1; }}\n \
         server {{ listen 8080; server_name \"srv{HOSTILE}\";\n  \
         location / {{ proxy_pass \"http://ng{HOSTILE}\"; }}\n }}\n include shadow;\n}}\n"
    );
    s.write("nginx.conf", &text).display().to_string()
}

#[test]
fn check_and_report_show_escapes_from_gatewatch_config_names() {
    let s = Sandbox::new();
    let config = gatewatch_config(&s);
    let text = s.run(&["check", "--config", &config]);
    assert_inert("check", &text.stdout);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(&format!("up{SHOWN}")), "{stdout}");
    assert!(stdout.contains(&format!("svc{SHOWN}")), "{stdout}");

    let report = s.run(&["report", "--config", &config]);
    assert_inert("report", &report.stdout);
    let md = String::from_utf8_lossy(&report.stdout);
    // Inline Markdown escapes the backslash and brackets of the shown form too.
    let shown_md = |prefix: &str| gatewatch::report::text(&format!("{prefix}{HOSTILE}"));
    assert!(md.contains(&shown_md("up")), "{md}");

    let json = s.run(&["check", "--json", "--config", &config]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let names: Vec<&str> = value["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, [format!("up{SHOWN}")]);
}

#[test]
fn check_and_report_show_escapes_from_nginx_names_and_never_quote_an_included_secret() {
    let s = Sandbox::new();
    let nginx = nginx_config(&s);
    let text = s.run(&["check", "--nginx-conf", &nginx]);
    assert_inert("check", &text.stdout);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(&format!("ng{SHOWN}")), "{stdout}");
    assert!(stdout.contains("not an nginx config at line 1"), "{stdout}");

    let report = s.run(&["report", "--nginx-conf", &nginx]);
    assert_inert("report", &report.stdout);
    let md = String::from_utf8_lossy(&report.stdout);
    let shown_md = gatewatch::report::text(&format!("ng{HOSTILE}"));
    assert!(md.contains(&shown_md), "{md}");

    let json = s.run(&["check", "--json", "--nginx-conf", &nginx]);
    let raw = String::from_utf8_lossy(&json.stdout);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    // Escaped where discovery read it, not only by the text writers.
    let name = value["upstreams"][0]["name"]
        .as_str()
        .expect("a discovered upstream");
    assert!(name.starts_with(&format!("ng{SHOWN}")), "{name}");
    for (what, out) in [("check", &*stdout), ("report", &*md), ("json", &*raw)] {
        assert!(
            !out.contains("SECRETHASH"),
            "{what} quotes the secret:\n{out}"
        );
        assert!(
            !out.contains("root:"),
            "{what} quotes the shadow line:\n{out}"
        );
    }
}

#[test]
fn the_dashboard_shows_escapes_and_its_title_is_untouched() {
    let s = Sandbox::new();
    let config = gatewatch_config(&s);
    let t = Tmux::start(&["--config", &config], 160, 45);
    t.wait_for("up\\x1b]0;pwned");
    // Only SGR (colours, attributes) may reach the pane: an OSC would have retitled it.
    let ansi = t.screen_ansi();
    for (i, _) in ansi.match_indices('\u{1b}') {
        let rest = &ansi[i + 1..];
        let sgr = rest.starts_with('[')
            && rest[1..]
                .chars()
                .take_while(|c| !c.is_ascii_alphabetic())
                .all(|c| c.is_ascii_digit() || c == ';' || c == ':')
            && rest[1..]
                .chars()
                .find(|c| c.is_ascii_alphabetic())
                .is_some_and(|c| c == 'm');
        assert!(
            sgr,
            "a non-SGR escape on screen: {:?}",
            &rest[..rest.len().min(20)]
        );
    }
    assert!(
        !t.format("#{pane_title}").contains("pwned"),
        "pane retitled"
    );
}
