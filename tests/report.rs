//! `gatewatch report`: a Markdown incident snapshot of a real nginx failing on a dead upstream,
//! with a hostile log file alongside, to stdout and to a new private file.

mod common;

use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;

use common::Sandbox;
use common::nginx::{Nginx, free_port};

/// The fenced blocks of a Markdown text, each as its lines; and the lines outside any block.
fn blocks(md: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let mut inside: Vec<Vec<String>> = Vec::new();
    let mut outside = Vec::new();
    let mut fence: Option<String> = None;
    for line in md.lines() {
        match &fence {
            Some(f) if line == f => fence = None,
            Some(_) => inside
                .last_mut()
                .expect("a block is open")
                .push(line.to_string()),
            None if line.starts_with("```") => {
                let f: String = line.chars().take_while(|c| *c == '`').collect();
                fence = Some(f);
                inside.push(Vec::new());
            }
            None => outside.push(line.to_string()),
        }
    }
    assert!(fence.is_none(), "a block was left open:\n{md}");
    (inside, outside)
}

/// A request line nginx will log verbatim in its error line (backticks, Markdown, HTML).
fn hostile_request(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(b"GET /x``````y**z**[a](javascript:alert(1))<b>|</b> HTTP/1.0\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut buf = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut buf);
}

#[test]
fn a_report_shows_the_verdict_and_keeps_hostile_log_lines_inside_their_blocks() {
    let dead = free_port();
    let nginx = Nginx::start(
        &format!("  upstream shop {{\n    server 127.0.0.1:{dead} max_fails=0;\n  }}\n"),
        "    location / {\n      proxy_pass http://shop;\n    }\n",
    );
    assert_eq!(nginx.get("/").0, 502);
    hostile_request(nginx.port);

    // Another log, written by hand: 60 refused lines older than nginx's, one with escape
    // sequences and a fence-breaking backtick run.
    let sb = Sandbox::new();
    let now = jiff::Zoned::now();
    let mut text = String::new();
    for i in 0..60 {
        let t = now
            .checked_sub(jiff::SignedDuration::from_secs(300 - i))
            .unwrap();
        let extra = if i == 59 {
            "\u{1b}]0;pwned\u{7}\u{1b}[2J ```````` end"
        } else {
            ""
        };
        text.push_str(&format!(
            "{} [error] 7#7: *{i} connect() failed (111: Connection refused) while connecting to \
             upstream, client: 10.0.0.1, server: legacy, request: \"GET /{extra} HTTP/1.1\", \
             upstream: \"http://10.9.9.9:80/\", host: \"legacy\"\n",
            t.strftime("%Y/%m/%d %H:%M:%S")
        ));
    }
    let legacy = sb.write("legacy-error.log", &text);
    let cfg = sb.write(
        "config.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nkind = \"error\"\n",
            legacy.display()
        ),
    );
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--nginx-conf",
        nginx.conf.to_str().unwrap(),
        "report",
    ];
    let out = sb.run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(md.starts_with("# gatewatch incident report: "), "{md}");
    assert!(
        !md.contains('\u{1b}') && !md.contains('\u{7}'),
        "escape bytes reached the report"
    );
    assert!(
        md.contains(&format!(
            "## Verdict\n\n**CRITICAL** upstream shop 127.0.0.1:{dead} refuses connections (2 × \
             \"connect() failed (111: Connection refused)\" in error.log, last 2 min; probe: \
             connection refused): is its process running? restart it\n"
        )),
        "{md}"
    );
    assert!(
        md.contains("\n## Checklist\n\n1. **WARNING** gateway: "),
        "{md}"
    );
    assert!(
        md.contains("\n6. **CRITICAL** upstreams: shop 127.0.0.1:"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "- **down** `shop 127.0.0.1:{dead}` `http://127.0.0.1:{dead}/`: refused"
        )),
        "{md}"
    );
    assert!(md.contains("\n## Actions taken\n\nNone.\n"), "{md}");

    let (inside, outside) = blocks(&md);
    let lines: Vec<&String> = inside.iter().flatten().collect();
    assert_eq!(lines.len(), 50, "the newest 50 relevant lines: {lines:#?}");
    assert!(md.contains("The newest 50 lines with a 502 cause or a 5xx status"));
    // The newest are nginx's own two lines (the hostile request last); the legacy file's 48
    // newest before them, its escape-laden line among them, sanitised.
    assert!(
        lines[49].contains("GET /x``````y**z**[a](javascript:alert(1))<b>|</b> HTTP/1.0"),
        "{}",
        lines[49]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("GET /\\x1b]0;pwned\\x07\\x1b[2J ```````` end HTTP/1.1")),
        "{lines:#?}"
    );
    assert!(
        !outside
            .iter()
            .any(|l| l.contains("pwned") || l.contains("javascript:")),
        "hostile text escaped its block: {outside:#?}"
    );
    // A fence longer than the 8-backtick run, so that line cannot close its block.
    assert!(md.contains("\n`````````text\n"), "{md}");
}

#[test]
fn output_goes_to_a_new_private_file_and_never_over_an_existing_one() {
    let sb = Sandbox::new();
    let path = sb.path().join("incident.md");
    let p = path.to_str().unwrap();
    let out = sb.run(&["report", "-o", p]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("gatewatch: report written to {p}\n")
    );
    let meta = std::fs::metadata(&path).expect("written");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.starts_with("# gatewatch incident report: "));
    assert!(first.contains("\n## Checklist\n"));

    let again = sb.run(&["report", "--output", p]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        format!("gatewatch: {p} already exists: a report never overwrites a file\n")
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        first,
        "left as it was"
    );

    // A symlink planted where the report goes is not followed, dangling or not.
    let victim = sb.write("victim.txt", "keep me\n");
    for (link, target) in [
        ("link.md", victim.clone()),
        ("dangling.md", sb.path().join("nope")),
    ] {
        let link = sb.path().join(link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let out = sb.run(&["report", "-o", link.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", link.display());
        assert!(!sb.path().join("nope").exists());
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");

    let missing_dir = sb.path().join("no/such/dir/r.md");
    let out = sb.run(&["report", "-o", missing_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such file or directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
