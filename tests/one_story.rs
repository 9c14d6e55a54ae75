//! One story on screen: the header (and `check`'s first line), the verdict and the checklist's
//! upstreams step name the same upstream, because all three read the one assessment. Scenes
//! with several upstreams failing differently, where the logs blame one that is not first in
//! the config; one failing beside one slow; and the demo, in the real terminal.

mod common;
#[path = "common/servers.rs"]
mod servers;

use common::{Sandbox, Tmux};
use servers::{Behaviour, Server};

/// The HTTP upstreams on a runtime of their own, so they answer while the test waits.
struct Upstreams {
    _rt: tokio::runtime::Runtime,
    servers: Vec<Server>,
}

fn start(behaviours: Vec<Behaviour>) -> Upstreams {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let servers = behaviours
        .into_iter()
        .map(|b| rt.block_on(Server::start(b)))
        .collect();
    Upstreams { _rt: rt, servers }
}

/// nginx's line for a refused connect to `port`, `seconds_ago`, in UTC.
fn refused(seconds_ago: i64, port: u16) -> String {
    let t = jiff::Timestamp::now().as_second() - seconds_ago;
    format!(
        "{} [error] 7#7: *{seconds_ago} connect() failed (111: Connection refused) while \
         connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET / HTTP/1.1\", \
         upstream: \"http://127.0.0.1:{port}/\", host: \"shop\"\n",
        common::utc_stamp(t, "%Y/%m/%d %H:%M:%S")
    )
}

/// A service of the test's own, running: without one, an nginx would be looked for on this host.
const SERVICE: &str = "[[service]]\nname = \"proxy\"\nstatus = [\"true\"]\n\n";

/// `check` and `check --json` on `config` (TZ=UTC: the log's stamps are UTC).
fn check(sb: &Sandbox, config: &str) -> (serde_json::Value, String) {
    let cfg = sb.write("config.toml", &format!("{SERVICE}{config}"));
    let tz = ["env".to_owned(), "TZ=UTC".to_owned()];
    let args = ["--config", cfg.to_str().expect("utf-8"), "check"];
    let json = sb.run_under(&tz, &[&args[..], &["--json"]].concat());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&json.stdout),
            String::from_utf8_lossy(&json.stderr)
        )
    });
    let text = sb.run_under(&tz, &args);
    (v, String::from_utf8_lossy(&text.stdout).into_owned())
}

/// The upstream every front end of `check` names: the verdict's, checked against the JSON's
/// headline, the upstreams step and the text's first line and verdict line.
fn named_by_check(v: &serde_json::Value, text: &str) -> String {
    let verdict = &v["verdict"];
    let name = verdict["upstream"]
        .as_str()
        .unwrap_or_else(|| panic!("the verdict names no upstream: {verdict}"))
        .to_owned();
    let about = format!("upstream {name} ");
    assert!(
        verdict["text"].as_str().is_some_and(|t| t.contains(&about)),
        "{verdict}"
    );
    let headline = v["headline"].as_str().expect("headline");
    assert!(headline.starts_with(&about), "{headline} / {verdict}");
    let step = v["diagnosis"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == "upstreams"))
        .expect("upstreams step");
    let evidence = step["evidence"].as_str().expect("evidence");
    assert!(
        evidence.starts_with(&format!("{name} ")),
        "step 6 names {evidence:?}, the verdict {name}"
    );
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.contains(&format!(" - {about}")),
        "{first}\nverdict names {name}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("verdict: ") && l.contains(&about)),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("upstreams") && l.contains(&format!("  {name} "))),
        "{text}"
    );
    name
}

#[test]
fn three_upstreams_failing_differently_one_story_about_the_one_the_logs_blame() {
    let ups = start(vec![Behaviour::status(502), Behaviour::Hang]);
    let gone = servers::refusing_port();
    let sb = Sandbox::new();
    // The third, refusing, is the one nginx fails at: 20 lines in the last 2 minutes.
    let log: String = (0..20).map(|i| refused(100 - i * 4, gone.port)).collect();
    let log = sb.write("error.log", &log);
    let (v, text) = check(
        &sb,
        &format!(
            "[[upstream]]\nname = \"alpha\"\nurl = \"{}\"\n\n\
             [[upstream]]\nname = \"beta\"\nurl = \"{}\"\ntimeout = \"500ms\"\n\n\
             [[upstream]]\nname = \"gamma\"\nurl = \"http://127.0.0.1:{}/\"\n\n\
             [[log]]\npath = \"{}\"\n",
            ups.servers[0].url("http", "/"),
            ups.servers[1].url("http", "/"),
            gone.port,
            log.display()
        ),
    );
    let states: Vec<(&str, &str)> = v["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap_or(""),
                u["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("alpha", "bad_status"),
            ("beta", "timeout"),
            ("gamma", "refused")
        ]
    );
    assert_eq!(v["verdict"]["cause"], "upstream_down", "{}", v["verdict"]);
    assert_eq!(named_by_check(&v, &text), "gamma");
}

#[test]
fn the_logs_blaming_the_first_keep_the_story_on_the_first() {
    let ups = start(vec![Behaviour::status(502)]);
    let gone = servers::refusing_port();
    let sb = Sandbox::new();
    let log: String = (0..5)
        .map(|i| refused(60 - i * 4, ups.servers[0].port()))
        .collect();
    let log = sb.write("error.log", &log);
    let (v, text) = check(
        &sb,
        &format!(
            "[[upstream]]\nname = \"gamma\"\nurl = \"http://127.0.0.1:{}/\"\n\n\
             [[upstream]]\nname = \"alpha\"\nurl = \"{}\"\n\n\
             [[log]]\npath = \"{}\"\n",
            gone.port,
            ups.servers[0].url("http", "/"),
            log.display()
        ),
    );
    assert_eq!(named_by_check(&v, &text), "alpha");
}

#[test]
fn one_failing_beside_one_slow_names_the_failing_one_everywhere() {
    let ups = start(vec![Behaviour::slow(std::time::Duration::from_millis(300))]);
    let gone = servers::refusing_port();
    let sb = Sandbox::new();
    let (v, text) = check(
        &sb,
        &format!(
            "[[upstream]]\nname = \"images\"\nurl = \"{}\"\nslow = \"100ms\"\n\n\
             [[upstream]]\nname = \"orders\"\nurl = \"http://127.0.0.1:{}/\"\n",
            ups.servers[0].url("http", "/"),
            gone.port
        ),
    );
    let images = v["upstreams"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "images"))
        .expect("images");
    assert_eq!(images["state"], "degraded", "{images}");
    assert_eq!(named_by_check(&v, &text), "orders");
}

/// The word after "upstream " in `line`.
fn upstream_in(line: &str) -> Option<&str> {
    line.split("upstream ")
        .nth(1)?
        .split_whitespace()
        .next()
        .map(|w| w.trim_end_matches("'s"))
}

#[test]
fn the_demo_tells_one_story_in_the_header_the_verdict_and_the_checklist() {
    let files = Sandbox::new();
    let tmp = files.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let t = Tmux::start_with(
        &["demo"],
        160,
        50,
        &[("TMPDIR", tmp.to_str().expect("utf-8"))],
    );
    // The scene is alive: several upstreams down, the verdict blaming one of them.
    t.wait_until("the verdict to blame an upstream", |t| {
        let s = t.screen();
        s.contains("[refused]")
            && s.lines()
                .nth(1)
                .and_then(upstream_in)
                .is_some_and(|u| !u.is_empty())
    });
    // One frame: the header and the verdict line under it.
    let screen = t.screen();
    let lines: Vec<&str> = screen.lines().collect();
    let verdict = upstream_in(lines[1]).expect("the verdict line names an upstream");
    let header = upstream_in(lines[0]);
    assert_eq!(header, Some(verdict), "the header:\n{screen}");

    // One frame of the checklist view: the header above it, its verdict and step 6.
    t.keys(&["v"]);
    let screen = t.wait_for("Where to look");
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("│Verdict"))
        .unwrap_or_else(|| panic!("no verdict in the view:\n{screen}"));
    let verdict = upstream_in(lines[at + 1]).expect("the view's verdict names an upstream");
    let header = upstream_in(lines[0]);
    let step6 = lines
        .iter()
        .find_map(|l| l.split("6 ✖ upstreams").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no failing step 6:\n{screen}"));
    assert_eq!(
        (header, step6),
        (Some(verdict), verdict),
        "one story, one upstream:\n{screen}"
    );
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

/// After a restart, the Host pane shows the service running as soon as it is, not at the status
/// poller's next round (30 s): here it comes up a second after its restart command has ended,
/// when the check made at once still said stopped.
#[test]
fn a_restarted_service_shows_running_within_seconds_of_coming_up() {
    let files = Sandbox::new();
    let dir = files.path().display().to_string();
    let config = files.write(
        "config.toml",
        &format!(
            r#"
[[service]]
name = "web"
status = ["sh", "-c", "if test -e {dir}/web.up; then echo active; else echo inactive; exit 3; fi"]
restart = ["touch", "{dir}/web.restart"]
"#
        ),
    );
    let (flag, up) = (
        files.path().join("web.restart"),
        files.path().join("web.up"),
    );
    let app = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !flag.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        std::fs::write(&up, "").expect("write web.up");
    });
    let t = Tmux::start(&["--config", config.to_str().expect("utf-8")], 120, 40);
    t.wait_for("web ✖ stopped (inactive (exit 3))");
    t.keys(&["a"]);
    t.wait_for("Actions");
    t.keys(&["j", "Enter"]);
    t.wait_for("Confirm: restart web");
    t.keys(&["y"]);
    t.wait_for("restart web: exit 0 in");
    t.keys(&["Escape"]);
    // wait_for gives up after 10 s, well before the poller's next round.
    t.wait_for("web ● running");
    app.join().expect("the app thread");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
