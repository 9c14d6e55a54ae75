//! Against a real Apache httpd (the Debian package), with a config of its own on a loopback port.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;
#[path = "common/servers.rs"]
mod servers;
#[path = "common/upstreams.rs"]
mod upstreams;

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::nginx::free_port;
use common::{Sandbox, require_tool};
use gatewatch::discover::target::Target;
use gatewatch::logs::{Cause, TimeParser, make_line};
use servers::{Behaviour, Server};
use upstreams::Upstreams;

const MODULES: &str = "/usr/lib/apache2/modules";

/// `apache2 -X` (one process, in the foreground) with its own ServerRoot; killed when dropped.
struct Apache {
    child: Child,
    dir: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
}

impl Apache {
    /// Starts Apache with mod_proxy, mod_proxy_http and mod_rewrite, `body` after the modules.
    fn start(body: &str) -> Apache {
        let bin = require_tool(
            &["apache2", "/usr/sbin/apache2"],
            "run ./scripts/test.sh, or apt-get install -y apache2",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().display().to_string();
        let port = free_port();
        let mut conf_text = format!(
            "ServerRoot {root}\nServerName localhost\nListen 127.0.0.1:{port}\n\
             PidFile {root}/httpd.pid\nDefaultRuntimeDir {root}\n\
             ErrorLog {root}/error.log\nLogLevel warn\n\
             LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common\nCustomLog {root}/access.log common\n\
             User nobody\nGroup nogroup\n"
        );
        for module in ["mpm_event", "authz_core", "proxy", "proxy_http", "rewrite"] {
            conf_text.push_str(&format!(
                "LoadModule {module}_module {MODULES}/mod_{module}.so\n"
            ));
        }
        conf_text.push_str(body);
        let conf = dir.path().join("apache2.conf");
        std::fs::write(&conf, conf_text).expect("write apache2.conf");
        let child = Command::new(&bin)
            .arg("-X")
            .arg("-d")
            .arg(dir.path())
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut a = Apache {
            child,
            dir,
            conf,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = a.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = a.child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!("apache2 exited with {status}: {stderr}{}", a.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "apache2 did not listen on {port}: {}",
                a.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        a
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// One GET through Apache: the status code and the whole answer.
    fn get(&self, path: &str) -> (u16, String) {
        common::nginx::get(self.port, path, Duration::from_secs(5))
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn line_of(conf: &std::path::Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(conf).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .expect("the line")
        + 1
}

fn saw(upstream: &Server, path: &str) -> bool {
    upstream.requests().iter().any(|r| r.path == path)
}

/// The RewriteRule [P] idiom proxies real traffic; discovery names the same upstream at the
/// rule's line; a rule to a dead port gives a real 503 whose error line reads as `refused`; and
/// `gatewatch check` probes the live upstream as up.
#[test]
fn rewrite_rule_with_the_proxy_flag_is_a_target_that_carries_real_traffic() {
    let ups = Upstreams::new();
    let upstream = ups.start(Behaviour::status(200));
    let up = upstream.port();
    let short = ups.start(Behaviour::status(200));
    let short_port = short.port();
    let dead = free_port();
    let apache = Apache::start(&format!(
        "RewriteEngine On\n\
         RewriteRule ^/app/(.*)$ http://127.0.0.1:{up}/$1 [P,L]\n\
         RewriteRule ^/dead/(.*)$ http://127.0.0.1:{dead}/$1 [NE,P]\n\
         RewriteRule ^/tenant/(.*)$ http://%{{HTTP_HOST}}:8080/$1 [P]\n\
         ProxyPass /short/ http://127.1:{short_port}/\n"
    ));

    let (status, text) = apache.get("/app/hello");
    assert_eq!(status, 200, "{text}{}", apache.error_log());
    assert!(
        saw(&upstream, "/hello"),
        "the rewritten request reached the upstream"
    );
    // mod_proxy reads "127.1" as 127.0.0.1, as getaddrinfo does.
    let (status, text) = apache.get("/short/y");
    assert_eq!(status, 200, "{text}{}", apache.error_log());
    assert!(saw(&short, "/y"));
    let (status, _) = apache.get("/dead/x");
    assert_eq!(status, 503);
    let log = apache.error_log();
    let refused = log
        .lines()
        .find(|l| l.contains("(111)Connection refused"))
        .unwrap_or_else(|| panic!("Apache logged the refused connect: {log}"));
    let read = make_line(refused.as_bytes(), 0, None, &mut TimeParser::default());
    assert_eq!(read.cause, Some(Cause::Refused), "{refused}");

    let found = gatewatch::discover::apache(&apache.conf);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let targets: Vec<(Target, usize)> = found
        .targets
        .iter()
        .map(|t| (t.target.clone(), t.source.line))
        .collect();
    let http = |port: u16| Target::Http {
        url: format!("http://127.0.0.1:{port}/"),
        tls: false,
        host: "127.0.0.1".into(),
        port,
    };
    assert_eq!(
        targets,
        vec![
            (http(up), line_of(&apache.conf, "^/app/")),
            (http(dead), line_of(&apache.conf, "^/dead/")),
            (http(short_port), line_of(&apache.conf, "ProxyPass /short/")),
        ]
    );
    assert_eq!(
        found.targets[2].flags.notes,
        ["address 127.1 read as 127.0.0.1"]
    );
    assert_eq!(found.unprobeable.len(), 1, "{:?}", found.unprobeable);
    assert!(found.unprobeable[0].reason.contains("%{HTTP_HOST}"));

    let (v, stdout) = Sandbox::new().check_json(&["--apache-conf", apache.conf.to_str().unwrap()]);
    let rows = v["upstreams"].as_array().expect("upstreams in the report");
    let state = |port: u16| {
        rows.iter()
            .find(|r| r["target"] == format!("http://127.0.0.1:{port}/"))
            .map(|r| r["state"].clone())
    };
    assert_eq!(state(up), Some("up".into()), "{stdout}");
    assert_eq!(state(dead), Some("down".into()), "{stdout}");
    assert_eq!(state(short_port), Some("up".into()), "{stdout}");
    let short = rows
        .iter()
        .find(|r| r["target"] == format!("http://127.0.0.1:{short_port}/"))
        .expect("the short address's row");
    assert_eq!(
        short["notes"],
        serde_json::json!(["address 127.1 read as 127.0.0.1"]),
        "how it was read is said: {stdout}"
    );
    assert!(
        saw(&upstream, "/"),
        "gatewatch's probe reached the upstream"
    );
}
