//! nginx idioms from real deployments, against the real nginx (the Debian package): a variable set
//! once then used in proxy_pass, a group under two names, a FastCGI pool, a group nothing uses,
//! an access log sent to syslog; and `nginx -V` read from the real binary and from hostile ones.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::nginx::{Nginx, free_port};
use gatewatch::config::Target;
use gatewatch::discover::{self, CompiledDefaults, LogKindHint};
use servers::{Behaviour, Server};

fn http(port: u16) -> Target {
    Target::Http {
        url: format!("http://127.0.0.1:{port}/"),
        tls: false,
        host: "127.0.0.1".into(),
        port,
    }
}

fn nginx_binary() -> PathBuf {
    common::require_tool(
        &["/usr/sbin/nginx", "nginx"],
        "run ./scripts/test.sh, or apt-get install -y nginx",
    )
}

/// The line of `conf` holding `needle`, 1-based.
fn line_of(conf: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(conf).expect("conf");
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {text}"))
        + 1
}

#[test]
fn real_nginx_agrees_with_what_discovery_reads_from_its_idioms() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(Server::start(Behaviour::status(200)));
    let media = rt.block_on(Server::start(Behaviour::status(200)));
    let (app, media) = (app.port(), media.port());
    let (php, retired) = (free_port(), free_port());
    let syslog = UdpSocket::bind("127.0.0.1:0").expect("udp");
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let syslog_port = syslog.local_addr().expect("addr").port();

    let nginx = Nginx::start(
        &format!(
            "  upstream app_pool {{ server 127.0.0.1:{app}; }}\n  \
             upstream app_alias {{ server 127.0.0.1:{app}; }}\n  \
             upstream php_pool {{ server 127.0.0.1:{php}; }}\n  \
             upstream retired {{ server 127.0.0.1:{retired}; }}\n"
        ),
        &format!(
            "    set $media_host 127.0.0.1;\n    \
             location /media/ {{ proxy_pass http://$media_host:{media}; }}\n    \
             location /media/socket {{ proxy_pass http://$media_host:{media}; }}\n    \
             location /a/ {{ proxy_pass http://app_pool; }}\n    \
             location /b/ {{ proxy_pass http://app_alias; }}\n    \
             location ~ \\.php$ {{ fastcgi_pass php_pool; }}\n    \
             access_log syslog:server=127.0.0.1:{syslog_port},tag=gwtest;\n"
        ),
    );
    // nginx itself substitutes the variable and reaches the media server, and sends the
    // access lines to syslog rather than a file.
    assert_eq!(nginx.get("/media/x").0, 200, "{}", nginx.error_log());
    assert_eq!(nginx.get("/media/socket").0, 200);
    assert_eq!(nginx.get("/b/").0, 200);
    let mut buf = [0u8; 4096];
    let n = syslog.recv(&mut buf).expect("a syslog datagram from nginx");
    let datagram = String::from_utf8_lossy(&buf[..n]);
    assert!(
        datagram.contains("gwtest") && datagram.contains("GET /media/x"),
        "{datagram}"
    );

    let found = discover::nginx(&nginx.conf);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let targets: Vec<_> = found
        .targets
        .iter()
        .map(|t| (t.name.clone(), t.target.clone(), t.source.line))
        .collect();
    let conf = &nginx.conf;
    assert_eq!(
        targets,
        vec![
            // app_alias names the same server: one probe, under the first group.
            (
                format!("app_pool 127.0.0.1:{app}"),
                http(app),
                line_of(conf, "upstream app_pool")
            ),
            (
                format!("php_pool 127.0.0.1:{php}"),
                Target::Tcp {
                    host: "127.0.0.1".into(),
                    port: php
                },
                line_of(conf, "upstream php_pool")
            ),
            (
                format!("127.0.0.1:{media}"),
                http(media),
                line_of(conf, "location /media/ ")
            ),
        ]
    );
    assert!(found.unprobeable.is_empty(), "{:?}", found.unprobeable);
    let unused: Vec<_> = found.unused.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(unused, ["retired"]);
    assert_eq!(found.elsewhere.len(), 1);
    let e = &found.elsewhere[0];
    assert_eq!(
        (e.kind, e.to.as_str(), e.detail.clone()),
        (
            LogKindHint::Access,
            "syslog",
            format!("127.0.0.1:{syslog_port}")
        )
    );

    // What `check --json` shows of it.
    let sb = common::Sandbox::new();
    let out = sb.run(&["--nginx-conf", conf.to_str().unwrap(), "check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let unprobeable = v["unprobeable"].to_string();
    assert!(
        unprobeable.contains("upstream retired at") && unprobeable.contains("unused"),
        "{unprobeable}"
    );
    let elsewhere = v["log_elsewhere"].to_string();
    assert!(
        elsewhere.contains(&format!(
            "access_log goes to syslog (server=127.0.0.1:{syslog_port})"
        )),
        "{elsewhere}"
    );
    let probed: Vec<&str> = v["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .filter_map(|u| u["target"].as_str())
        .collect();
    assert_eq!(probed.len(), 3, "{probed:?}");
    assert!(!probed.iter().any(|t| t.contains(&retired.to_string())));
}

#[test]
fn real_nginx_v_gives_its_compiled_in_logs() {
    let bin = nginx_binary();
    let defaults = discover::read_nginx_defaults(&bin).expect("nginx -V");
    assert_eq!(
        defaults.from,
        PathBuf::from(format!("{} -V", bin.display()))
    );
    assert!(defaults.line >= 1);
    // Debian: --prefix=/usr/share/nginx --http-log-path=/var/log/nginx/access.log
    // --error-log-path=stderr (older packages: /var/log/nginx/error.log).
    assert_eq!(defaults.prefix, Some(PathBuf::from("/usr/share/nginx")));
    assert_eq!(
        defaults.http_log.as_deref(),
        Some("/var/log/nginx/access.log")
    );
    let error_log = defaults.error_log.clone().expect("--error-log-path");

    // A config with no error_log and no access_log: nginx's own defaults apply. Only paths are
    // compared; nothing under /var/log is read.
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        "events {}\nhttp { server { listen 127.0.0.1:1; } }\n",
    )
    .expect("write");
    let d = discover::nginx_with_defaults(&conf, &mut || Some(defaults.clone()));
    let logs: Vec<_> = d.logs.iter().map(|l| (l.path.clone(), l.kind)).collect();
    let mut expected = vec![];
    if error_log == "stderr" {
        assert_eq!(d.elsewhere.len(), 1);
        assert_eq!(d.elsewhere[0].to, "stderr");
        assert_eq!(d.elsewhere[0].kind, LogKindHint::Error);
    } else {
        expected.push((PathBuf::from(&error_log), LogKindHint::Error));
    }
    expected.push((
        PathBuf::from("/var/log/nginx/access.log"),
        LogKindHint::Access,
    ));
    assert_eq!(logs, expected);
}

/// A script standing in for the nginx binary. Written, closed and made executable before it
/// runs; "text file busy" (another test's fork holding it open for writing) is retried.
fn fake_nginx(dir: &Path, name: &str, body: &str) -> PathBuf {
    common::fake_program(dir, name, body)
}

fn read(bin: &Path) -> Result<CompiledDefaults, String> {
    for _ in 0..20 {
        match discover::read_nginx_defaults(bin) {
            Err(e) if e.contains("Text file busy") => std::thread::sleep(Duration::from_millis(50)),
            other => return other,
        }
    }
    discover::read_nginx_defaults(bin)
}

#[test]
fn hostile_nginx_v_output_is_capped_timed_and_cleaned() {
    let dir = tempfile::tempdir().expect("tmp");

    // Escape sequences in a path, then megabytes of output: read up to the cap (the writer then
    // meets a closed pipe), the value with control bytes dropped, the clean one kept.
    let noisy = fake_nginx(
        dir.path(),
        "noisy",
        "printf 'configure arguments: --error-log-path=/tmp/\\033]0;owned\\007 --http-log-path=/srv/a.log\\n' >&2\n\
         head -c 5000000 /dev/zero | tr '\\0' x >&2\nexit 0",
    );
    let start = Instant::now();
    let d = read(&noisy).expect("runs");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(d.error_log, None);
    assert_eq!(d.http_log.as_deref(), Some("/srv/a.log"));

    let dirty = fake_nginx(
        dir.path(),
        "dirty",
        "printf 'configure arguments: --error-log-path=/tmp/\\033]0;owned\\007 --http-log-path=/srv/a.log --prefix=/srv\\n' >&2",
    );
    let d = read(&dirty).expect("runs");
    assert_eq!(d.error_log, None);
    assert_eq!(d.http_log.as_deref(), Some("/srv/a.log"));
    assert_eq!(d.prefix, Some(PathBuf::from("/srv")));

    let hangs = fake_nginx(dir.path(), "hangs", "exec sleep 30");
    let start = Instant::now();
    let e = read(&hangs).expect_err("times out");
    assert!(e.contains("did not finish within 2s"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );

    // Exits at once but leaves a child holding its stderr open.
    let pid_file = dir.path().join("sleeper.pid");
    let lingers = fake_nginx(
        dir.path(),
        "lingers",
        &format!("sleep 30 &\necho $! > '{}'\nexit 0", pid_file.display()),
    );
    let start = Instant::now();
    let e = read(&lingers).expect_err("output never ends");
    let elapsed = start.elapsed();
    // The sleeper is this test's to end.
    if let Ok(pid) = std::fs::read_to_string(&pid_file)
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(e.contains("did not end"), "{e}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");

    let fails = fake_nginx(
        dir.path(),
        "fails",
        "echo 'nginx: invalid option' >&2; exit 1",
    );
    assert!(read(&fails).expect_err("fails").contains("failed"));
}

#[test]
fn a_hostile_nginx_binary_is_a_clean_finding_in_the_catalog() {
    use gatewatch::config::Config;
    use gatewatch::upstream::catalog::{self, NginxBinary, ProxyConfigs};

    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, "events {}\nhttp {}\n").expect("write");
    let empty = dir.path().join("empty.conf");
    std::fs::write(&empty, "").expect("write");
    let bad = fake_nginx(dir.path(), "bad\x1b[31mname", "exit 3");
    let proxies = ProxyConfigs {
        nginx: Some(conf.clone()),
        haproxy: Some(empty.clone()),
        apache: Some(empty.clone()),
        caddy: Some(empty),
        nginx_binary: NginxBinary::At(bad),
        containers: Default::default(),
    };
    let c = catalog::build(&Config::default(), &proxies);
    let messages: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("compiled-in log paths are unknown")),
        "{messages:?}"
    );
    assert!(
        !messages.concat().chars().any(char::is_control),
        "{messages:?}"
    );

    // A well-behaved binary: its stderr default becomes a note, shown where logs are listed.
    let good = fake_nginx(
        dir.path(),
        "good",
        "echo 'configure arguments: --prefix=/srv/ng --error-log-path=stderr' >&2",
    );
    read(&good).expect("the script runs");
    let proxies = ProxyConfigs {
        nginx_binary: NginxBinary::At(good),
        ..proxies
    };
    let c = catalog::build(&Config::default(), &proxies);
    assert!(c.findings.is_empty(), "{:?}", c.findings);
    assert_eq!(c.elsewhere.len(), 1);
    assert_eq!(c.elsewhere[0].to, "stderr");
}

/// nginx reads `127.1` through getaddrinfo as 127.0.0.1, like HAProxy and Apache: such a server
/// is an address that answers, never a name that "does not resolve".
#[test]
fn a_short_dotted_server_in_nginx_is_an_address_not_a_name() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = rt.block_on(Server::start(Behaviour::status(200)));
    let nginx = Nginx::start(
        &format!("  upstream short {{ server 127.1:{}; }}\n", app.port()),
        "    location /s/ { proxy_pass http://short; }\n",
    );
    assert_eq!(nginx.get("/s/").0, 200, "{}", nginx.error_log());
    let sb = common::Sandbox::new();
    let out = sb.run(&[
        "--nginx-conf",
        nginx.conf.to_str().unwrap(),
        "check",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let rows = v["upstreams"].as_array().expect("upstreams");
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["state"], "up", "{v}");
    assert!(
        v["dns"].as_array().expect("dns").is_empty(),
        "no name to look up: {v}"
    );
    assert!(!v.to_string().contains("does not resolve"), "{v}");
}
