//! DNS honesty, end to end with real DNS servers on loopback (hickory-server): every nameserver
//! listed is asked, nginx's own `resolver` (with its port, IPv6 in brackets, `valid=` and
//! `ipv6=off` ignored) as well as the system configuration's; each one's answer is its own row;
//! and the DNS step is never ✓ while nginx's error log says names could not be resolved.

mod common;
mod dns_server;
#[path = "common/servers.rs"]
mod servers;

use std::net::{Ipv4Addr, SocketAddr};

use common::{Sandbox, Tmux};
use dns_server::TestDns;
use hickory_server::proto::op::ResponseCode;
use servers::{Behaviour, Server};

/// The servers on a runtime of their own, so they answer while the test thread waits:
/// `system` is what the sandbox's resolv.conf names (on port 53, the only port resolv.conf
/// knows: a 127.0.0.x address of its own, so parallel tests do not collide), `resolver` is
/// nginx's, `upstream` a healthy HTTP upstream.
/// The servers stop with the runtime.
struct World {
    _rt: tokio::runtime::Runtime,
    system: TestDns,
    resolver: TestDns,
    upstream: Server,
}

impl World {
    fn start() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let system = rt.block_on(async {
            // 127.0.0.53 is systemd-resolved's on many hosts: take another, by this process's id.
            let base = std::process::id();
            for i in 0..50u32 {
                let third = u8::try_from((base + i) % 200 + 20).expect("in range");
                let addr = SocketAddr::from((Ipv4Addr::new(127, 0, third, 53), 53));
                if let Ok(server) = TestDns::start_at(addr).await {
                    return server;
                }
            }
            panic!("no 127.0.x.53:53 free for the resolv.conf nameserver (needs root)");
        });
        let resolver = rt.block_on(TestDns::start());
        let upstream = rt.block_on(Server::start(Behaviour::status(200)));
        system.set_addrs("app.test", &["127.0.0.1"], &[], 300);
        World {
            _rt: rt,
            system,
            resolver,
            upstream,
        }
    }

    /// The sandbox's config, resolv.conf, hosts file and nginx.conf: nginx proxies to the
    /// upstream by address, asks `resolvers` (as written in its `resolver` directive), and logs
    /// to `error_log`; gatewatch watches `app.test`.
    fn files(&self, sb: &Sandbox, resolvers: &str, error_log: &str) -> Vec<String> {
        self.files_watching(sb, resolvers, error_log, "\"app.test\"")
    }

    /// [`World::files`] with `[dns] names = [names]`.
    fn files_watching(
        &self,
        sb: &Sandbox,
        resolvers: &str,
        error_log: &str,
        names: &str,
    ) -> Vec<String> {
        let hosts = sb.write("hosts", "127.0.0.1 localhost\n");
        let resolv = sb.write(
            "resolv.conf",
            &format!("nameserver {}\n", self.system.addr.ip()),
        );
        let log = sb.write("error.log", error_log);
        let nginx = sb.write(
            "nginx.conf",
            &format!(
                "error_log {};\nevents {{}}\nhttp {{\n  access_log off;\n  resolver {resolvers};\n  \
                 server {{\n    listen 127.0.0.1:8080;\n    location / {{\n      proxy_pass \
                 http://{}/;\n    }}\n  }}\n}}\n",
                log.display(),
                self.upstream.addr
            ),
        );
        let cfg = sb.write(
            "config.toml",
            &format!(
                "{SERVICE}[dns]\nnames = [{names}]\ntimeout = \"1s\"\nhosts-file = \"{}\"\n\
                 resolv-conf = \"{}\"\n",
                hosts.display(),
                resolv.display()
            ),
        );
        [
            "--config",
            &cfg.display().to_string(),
            "--nginx-conf",
            &nginx.display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// A service of the test's own, running: without one, the nginx found in the config would be
/// checked on this host (`pgrep nginx`).
const SERVICE: &str = "[[service]]\nname = \"proxy\"\nstatus = [\"true\"]\n\n";

/// `check --json` in the sandbox with TZ=UTC (the log's stamps are written in UTC).
fn check(sb: &Sandbox, args: &[String]) -> serde_json::Value {
    let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
    argv.extend(["check", "--json"]);
    let out = sb.run_under(&["env".to_owned(), "TZ=UTC".to_owned()], &argv);
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
        .unwrap_or_else(|| panic!("no {name} step in {v}"))
}

fn row<'a>(v: &'a serde_json::Value, nameserver: &str) -> &'a serde_json::Value {
    v["dns"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["name"] == "app.test" && r["nameserver"] == nameserver)
        })
        .unwrap_or_else(|| panic!("no app.test row for {nameserver} in {}", v["dns"]))
}

/// `2026/12/02 14:02:10 [error] 7#7: *12 app.test could not be resolved (3: Host not found),
/// ...` `seconds_ago`, in UTC.
fn not_resolved(seconds_ago: i64, conn: u32) -> String {
    let t = jiff::Timestamp::now().as_second() - seconds_ago;
    let stamp = common::utc_stamp(t, "%Y/%m/%d %H:%M:%S");
    format!(
        "{stamp} [error] 7#7: *{conn} app.test could not be resolved (3: Host not found), client: \
         127.0.0.1, server: , request: \"GET / HTTP/1.1\", host: \"127.0.0.1:8080\"\n"
    )
}

#[test]
fn the_proxys_own_resolvers_are_asked_and_each_failure_is_its_own_row() {
    let world = World::start();
    world.resolver.set_rcode("app.test", ResponseCode::ServFail);
    // A nameserver that never answers, on the IPv6 loopback where there is one.
    let silent_v6 = std::net::UdpSocket::bind("[::1]:0").ok();
    let mut resolvers = format!("{} valid=30s ipv6=off", world.resolver.addr);
    if let Some(s) = &silent_v6 {
        resolvers.push_str(&format!(
            " [{}]:{}",
            "::1",
            s.local_addr().expect("bound").port()
        ));
    }
    let sb = Sandbox::new();
    let args = world.files(&sb, &resolvers, "");
    let before = world.resolver.queries();
    let v = check(&sb, &args);

    // The system configuration and resolv.conf's server on its own both answer.
    let system = row(&v, "system");
    assert_eq!(system["answers"], serde_json::json!(["127.0.0.1"]), "{v}");
    let on_its_own = row(&v, &world.system.addr.to_string());
    assert_eq!(on_its_own["rcode"], "NOERROR");
    // nginx's resolver was asked (the server counted the queries) and its SERVFAIL shows.
    assert!(
        world.resolver.queries() > before,
        "nginx's resolver never asked"
    );
    let nginx = row(&v, &world.resolver.addr.to_string());
    assert_eq!(nginx["rcode"], "SERVFAIL", "{nginx}");
    assert!(nginx["error"].is_string(), "{nginx}");
    assert_eq!(nginx["answers"], serde_json::json!([]));
    // The silent one: asked, no response, an error of its own.
    if let Some(s) = &silent_v6 {
        let port = s.local_addr().expect("bound").port();
        let silent = row(&v, &format!("[::1]:{port}"));
        assert!(silent["rcode"].is_null(), "{silent}");
        assert!(silent["error"].is_string(), "{silent}");
    }
    // No nameserver that is not in the files: `valid=30s` and `ipv6=off` are not servers.
    let servers: std::collections::BTreeSet<&str> = v["dns"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["nameserver"].as_str())
        .collect();
    assert_eq!(
        servers.len(),
        3 + usize::from(silent_v6.is_some()),
        "{servers:?}"
    );
    // A name one nameserver fails for is not ✓.
    let dns = step(&v, "dns");
    assert_ne!(dns["status"], "ok", "{dns}");
}

#[test]
fn the_dns_step_is_never_ok_while_the_log_says_names_could_not_be_resolved() {
    let world = World::start();
    // Every nameserver answers now: our own lookups find nothing wrong.
    world
        .resolver
        .set_addrs("app.test", &["127.0.0.1"], &[], 300);
    let sb = Sandbox::new();
    let quiet = world.files(&sb, &world.resolver.addr.to_string(), "");
    let v = check(&sb, &quiet);
    assert_eq!(step(&v, "dns")["status"], "ok", "{}", step(&v, "dns"));
    assert_eq!(
        row(&v, &world.resolver.addr.to_string())["rcode"],
        "NOERROR"
    );

    // The same, but nginx logged resolution failures in the last minute. (Not 70-90 s ago:
    // early in a minute those fall in the minute two back, which the verdict counts as
    // "earlier", and the verdict's cause would depend on the second the test ran.)
    let sb = Sandbox::new();
    let log: String = (0..3)
        .map(|i| not_resolved(30 - i * 10, 10 + i as u32))
        .collect();
    let failing = world.files(&sb, &world.resolver.addr.to_string(), &log);
    let v = check(&sb, &failing);
    let dns = step(&v, "dns");
    assert_eq!(dns["status"], "warning", "{dns}");
    let evidence = dns["evidence"].as_str().expect("evidence");
    assert!(
        evidence.contains("app.test could not be resolved"),
        "{evidence}"
    );
    assert!(
        evidence.contains(&format!("through its resolver {}", world.resolver.addr)),
        "{evidence}"
    );
    assert!(
        evidence.contains("3 × "),
        "the log lines as evidence: {evidence}"
    );
    assert!(evidence.contains("error.log"), "{evidence}");
    // And the verdict blames DNS with the same lines: nothing else is wrong.
    assert_eq!(v["verdict"]["cause"], "dns", "{}", v["verdict"]);
}

#[test]
fn a_name_only_the_log_knows_is_asked_through_every_nameserver() {
    // nginx resolves it at run time (a variable in proxy_pass): no config names it, no one
    // watches it; its resolver fails it while the system answers.
    let world = World::start();
    world.resolver.set_rcode("app.test", ResponseCode::ServFail);
    let sb = Sandbox::new();
    let log: String = (0..2)
        .map(|i| not_resolved(60 - i * 10, 20 + i as u32))
        .collect();
    let args = world.files_watching(&sb, &world.resolver.addr.to_string(), &log, "");
    let before = world.resolver.queries();
    let v = check(&sb, &args);
    assert!(
        world.resolver.queries() > before,
        "nginx's resolver never asked"
    );
    let nginx = row(&v, &world.resolver.addr.to_string());
    assert_eq!(nginx["rcode"], "SERVFAIL", "{nginx}");
    assert_eq!(
        row(&v, "system")["answers"],
        serde_json::json!(["127.0.0.1"])
    );
    let dns = step(&v, "dns");
    assert_ne!(dns["status"], "ok", "{dns}");
    let evidence = dns["evidence"].as_str().expect("evidence");
    assert!(evidence.contains("app.test"), "{evidence}");
}

#[test]
fn the_dashboard_asks_about_a_name_only_the_log_knows() {
    // The same scene in the real terminal: no name is watched, so the DNS pane starts empty;
    // the log's "could not be resolved" lines make the dashboard ask nginx's resolver (which
    // fails it) and the system (which answers), each its own mark on the name's row.
    let world = World::start();
    world.resolver.set_rcode("app.test", ResponseCode::ServFail);
    let sb = Sandbox::new();
    let log: String = (0..2)
        .map(|i| not_resolved(60 - i * 10, 40 + i as u32))
        .collect();
    let args = world.files_watching(&sb, &world.resolver.addr.to_string(), &log, "");
    let before = world.resolver.queries();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Tmux::start_with(&argv, 160, 45, &[("TZ", "UTC")]);
    t.keys(&["3", "z"]);
    t.wait_until("the DNS pane to ask about app.test", |t| {
        let s = t.screen();
        s.lines()
            .any(|l| l.contains("app.test") && (l.contains("SERVFAIL") || l.contains('✖')))
    });
    let screen = t.screen();
    assert!(
        world.resolver.queries() > before,
        "nginx's resolver never asked:\n{screen}"
    );
    assert!(
        screen.contains("127.0.0.1"),
        "the system's answer:\n{screen}"
    );
}
