//! HAProxy discovery on Debian's haproxy.cfg grown into a real load balancer.

use std::fs;
use std::net::SocketAddr;

use gatewatch::discover::{self, ServerFlags};

use crate::support::{Tree, http, random_bytes, tcp, unix};

#[test]
fn servers_of_backends_and_listens_with_mode_from_defaults() {
    let tree = Tree::from_fixture("haproxy");
    let d = discover::haproxy(&tree.path("haproxy.cfg"));
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    let got = tree.targets(&d);
    assert_eq!(
        got,
        vec![
            // mode http from the unnamed defaults.
            (
                "be_app/app1",
                Some("be_app"),
                http("http://10.0.0.5:8080/", "10.0.0.5", 8080),
                "haproxy.cfg:51".into()
            ),
            (
                "be_app/app2",
                Some("be_app"),
                http("http://10.0.0.6:8080/", "10.0.0.6", 8080),
                "haproxy.cfg:52".into()
            ),
            (
                "be_app/app3",
                Some("be_app"),
                http("http://10.0.0.7:8080/", "10.0.0.7", 8080),
                "haproxy.cfg:53".into()
            ),
            (
                "be_app/spare",
                Some("be_app"),
                http(
                    "http://app-spare.internal:8080/",
                    "app-spare.internal",
                    8080
                ),
                "haproxy.cfg:54".into()
            ),
            (
                "be_api/api1",
                Some("be_api"),
                http("https://[fd00::10]:8443/", "fd00::10", 8443),
                "haproxy.cfg:58".into()
            ),
            (
                "be_api/api2",
                Some("be_api"),
                http("https://[fd00::11]:8443/", "fd00::11", 8443),
                "haproxy.cfg:59".into()
            ),
            (
                "be_api/sock",
                Some("be_api"),
                unix("/run/api/api.sock"),
                "haproxy.cfg:60".into()
            ),
            // mode tcp from the "tcp_defaults" section that precedes them.
            (
                "pg_primary/pg1",
                Some("pg_primary"),
                tcp("10.0.3.10", 5432),
                "haproxy.cfg:71".into()
            ),
            (
                "pg_primary/pg2",
                Some("pg_primary"),
                tcp("10.0.3.11", 5432),
                "haproxy.cfg:72".into()
            ),
            (
                "be_web/web1",
                Some("be_web"),
                tcp("10.0.8.1", 80),
                "haproxy.cfg:79".into()
            ),
            (
                "be_redis/redis1",
                Some("be_redis"),
                unix("/run/redis/redis.sock"),
                "haproxy.cfg:82".into()
            ),
            (
                "be_redis/redis2",
                Some("be_redis"),
                tcp("10.0.6.1", 6379),
                "haproxy.cfg:83".into()
            ),
        ]
    );

    let flags = |name: &str| {
        d.targets
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .flags
            .clone()
    };
    let checked = |other: &[&str]| ServerFlags {
        health_check: true,
        weight: Some(10),
        other: other.iter().map(|s| s.to_string()).collect(),
        ..ServerFlags::default()
    };
    // default-server parameters come first, then the server's own.
    assert_eq!(
        flags("be_app/app1"),
        checked(&["inter 2s", "fall 3", "rise 2"])
    );
    assert_eq!(
        flags("be_app/app3"),
        ServerFlags {
            down: true,
            weight: None,
            ..checked(&["inter 2s", "fall 3", "rise 2"])
        }
    );
    assert_eq!(
        flags("be_app/spare"),
        ServerFlags {
            backup: true,
            weight: None,
            ..checked(&["inter 2s", "fall 3", "rise 2"])
        }
    );
    assert_eq!(
        flags("be_api/api1"),
        ServerFlags {
            weight: None,
            ..checked(&["verify none"])
        }
    );
    assert_eq!(
        flags("pg_primary/pg2"),
        ServerFlags {
            backup: true,
            weight: None,
            ..checked(&[])
        }
    );
    assert_eq!(flags("be_api/sock"), ServerFlags::default());
}

#[test]
fn unprobeable_servers_resolvers_and_no_logs() {
    let tree = Tree::from_fixture("haproxy");
    let d = discover::haproxy(&tree.path("haproxy.cfg"));
    let got: Vec<_> = d
        .unprobeable
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                u.directive.as_str(),
                u.reason.as_str(),
                tree.loc(&u.source),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "be_api/legacy 10.0.0.40",
                "server",
                "no port: HAProxy connects to the port the client connected to",
                "haproxy.cfg:61".to_string()
            ),
            (
                "be_api/dyn api.service.consul:8080",
                "server-template",
                "server-template: servers are filled in from DNS at run time",
                "haproxy.cfg:62".to_string()
            ),
        ]
    );
    let resolvers: Vec<SocketAddr> = ["10.0.0.2:53", "10.0.0.3:53", "[fd00::53]:5353"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(d.resolvers, resolvers);
    // HAProxy logs to syslog: no files.
    assert!(d.logs.is_empty());
    assert_eq!(tree.files(&d), vec!["haproxy.cfg"]);
}

#[test]
fn named_defaults_and_a_config_directory() {
    let tree = Tree::empty();
    tree.write(
        "haproxy.d/10-defaults.cfg",
        "defaults web\n    mode http\n    default-server ssl\n\ndefaults raw\n    mode tcp\n",
    );
    tree.write(
        "haproxy.d/20-backends.cfg",
        "backend be_a from web\n    server a1 10.1.0.1:443\n    server a2 10.1.0.2:80 no-ssl\n\nbackend be_b\n    server b1 10.1.0.3:25\n",
    );
    tree.write("haproxy.d/README", "server not 10.9.9.9:1\n");
    let d = discover::haproxy(&tree.path("haproxy.d"));
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    let got: Vec<_> = d
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.target.clone(), tree.loc(&t.source)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "be_a/a1",
                http("https://10.1.0.1:443/", "10.1.0.1", 443),
                "haproxy.d/20-backends.cfg:2".into()
            ),
            (
                "be_a/a2",
                http("http://10.1.0.2:80/", "10.1.0.2", 80),
                "haproxy.d/20-backends.cfg:3".into()
            ),
            (
                "be_b/b1",
                tcp("10.1.0.3", 25),
                "haproxy.d/20-backends.cfg:6".into()
            ),
        ]
    );
    assert_eq!(
        tree.files(&d),
        vec!["haproxy.d/10-defaults.cfg", "haproxy.d/20-backends.cfg"]
    );
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    let tree = Tree::empty();
    let cfg = tree.write(
        "haproxy.cfg",
        "backend be\n    mode http\n    http-request set-header X \"unterminated\n    server s1 10.0.0.1:99999\n    \
         server s2 10.0.0.2:80 weight\n    server s3\n    server s4 10.0.0.4:80 check\n",
    );
    let d = discover::haproxy(&cfg);
    assert_eq!(
        tree.errors(&d),
        vec![
            "haproxy.cfg:3: unmatched double quote",
            "haproxy.cfg:4: server \"s1\": invalid port \"99999\"",
            "haproxy.cfg:5: server \"s2\": \"weight\" expects a value",
            "haproxy.cfg:6: \"server\" expects a name and an address",
        ]
    );
    let names: Vec<_> = d.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["be/s2", "be/s4"]);
}

#[test]
fn unreadable_and_binary_configs() {
    let tree = Tree::empty();
    let d = discover::haproxy(&tree.path("missing.cfg"));
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0].line, None);
    assert!(
        d.errors[0]
            .to_string()
            .contains("No such file or directory")
    );

    let cfg = tree.path("haproxy.cfg");
    let mut bytes = b"backend be\n    server s1 10.0.0.1:80\n".to_vec();
    bytes.extend(random_bytes(2 * 1024 * 1024, 99));
    fs::write(&cfg, bytes).unwrap();
    let d = discover::haproxy(&cfg);
    assert_eq!(d.targets.len(), 1);
    assert!(d.errors.iter().any(|e| e.message().contains("NUL byte")));
}

#[test]
fn stats_sockets_in_global_are_the_proxys_own_view() {
    use gatewatch::discover::ApiKind;
    let tree = Tree::empty();
    tree.write(
        "haproxy.cfg",
        "global\n\
         \x20   stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners\n\
         \x20   stats socket ipv4@127.0.0.1:9999 level admin\n\
         \x20   stats socket *:9998\n\
         \x20   stats socket unix@/run/other.sock\n\
         \x20   stats socket /run/haproxy/admin.sock level user\n\
         \x20   stats socket\n\
         \x20   stats socket abns@hidden\n\
         \x20   stats timeout 30s\n\
         defaults\n    mode http\n\
         backend be\n    stats socket /ignored/outside/global.sock\n    server s1 127.0.0.1:8080\n",
    );
    let d = discover::haproxy(&tree.path("haproxy.cfg"));
    let got: Vec<(ApiKind, String, String)> = d
        .apis
        .iter()
        .map(|a| (a.kind, a.at.to_string(), tree.loc(&a.source)))
        .collect();
    let k = ApiKind::HaproxyStats;
    assert_eq!(
        got,
        vec![
            (
                k,
                "unix:/run/haproxy/admin.sock".into(),
                "haproxy.cfg:2".into()
            ),
            (k, "tcp://127.0.0.1:9999".into(), "haproxy.cfg:3".into()),
            (k, "tcp://127.0.0.1:9998".into(), "haproxy.cfg:4".into()),
            (k, "unix:/run/other.sock".into(), "haproxy.cfg:5".into()),
        ]
    );
    assert_eq!(
        tree.errors(&d),
        vec![
            "haproxy.cfg:7: \"stats socket\" expects an address".to_string(),
            "haproxy.cfg:8: stats socket \"abns@hidden\": the abns@ family is not read by gatewatch"
                .to_string(),
        ]
    );
    assert_eq!(d.targets.len(), 1);
}

/// A stats socket's address is read as HAProxy reads a server's: the port after the last colon,
/// brackets or not; a port offset means nothing for a socket HAProxy listens on.
#[test]
fn stats_socket_addresses_are_read_like_server_addresses() {
    let tree = Tree::empty();
    tree.write(
        "haproxy.cfg",
        "global\n\
         \x20   stats socket ipv6@::1:9996\n\
         \x20   stats socket [::1]:9995\n\
         \x20   stats socket 127.0.0.1:+1\n",
    );
    let d = discover::haproxy(&tree.path("haproxy.cfg"));
    let got: Vec<String> = d.apis.iter().map(|a| a.at.to_string()).collect();
    assert_eq!(got, ["tcp://[::1]:9996", "tcp://[::1]:9995"]);
    let errors = tree.errors(&d);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("haproxy.cfg:4: port offset"),
        "{errors:?}"
    );
}

/// Short IPv4 forms, mptcp@, a SOCKS4 hop and a health check that goes elsewhere.
#[test]
fn short_ipv4_mptcp_socks4_and_check_port() {
    let tree = Tree::empty();
    let cfg = tree.write(
        "haproxy.cfg",
        "defaults
    mode http

backend be_app
    server s1 10.10.188:80 check
    server s2 127.1:8080
    server s3 mptcp@10.0.0.7:8080
    server s4 mptcp6@[fd00::7]:8080
    server s5 10.0.0.5:80 socks4 127.0.0.1:1080 check
    server s6 10.0.0.6:80 check port 8081 addr 10.0.0.9 check-ssl
    server s7 abns@app-sock
    server s8 1.2.3.4.5:80
",
    );
    let d = discover::haproxy(&cfg);
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    let got: Vec<_> = tree
        .targets(&d)
        .into_iter()
        .map(|(name, _, target, at)| (name.to_string(), target, at))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "be_app/s1".to_string(),
                http("http://10.10.0.188:80/", "10.10.0.188", 80),
                "haproxy.cfg:5".to_string()
            ),
            (
                "be_app/s2".to_string(),
                http("http://127.0.0.1:8080/", "127.0.0.1", 8080),
                "haproxy.cfg:6".to_string()
            ),
            (
                "be_app/s3".to_string(),
                http("http://10.0.0.7:8080/", "10.0.0.7", 8080),
                "haproxy.cfg:7".to_string()
            ),
            (
                "be_app/s4".to_string(),
                http("http://[fd00::7]:8080/", "fd00::7", 8080),
                "haproxy.cfg:8".to_string()
            ),
            // The hop is probed, over TCP whatever the mode, and named.
            (
                "be_app/s5 via socks4 127.0.0.1:1080".to_string(),
                tcp("127.0.0.1", 1080),
                "haproxy.cfg:9".to_string()
            ),
            // Where the health check goes changes nothing in what is probed.
            (
                "be_app/s6".to_string(),
                http("http://10.0.0.6:80/", "10.0.0.6", 80),
                "haproxy.cfg:10".to_string()
            ),
            // Not an inet_aton form: still a name, as HAProxy would look it up.
            (
                "be_app/s8".to_string(),
                http("http://1.2.3.4.5:80/", "1.2.3.4.5", 80),
                "haproxy.cfg:12".to_string()
            ),
        ]
    );
    let notes = |name: &str| {
        let flags = &d.targets.iter().find(|t| t.name == name).unwrap().flags;
        assert!(
            flags.other.iter().all(|o| !o.contains("read as")),
            "{flags:?}"
        );
        flags.notes.clone()
    };
    assert_eq!(
        notes("be_app/s1"),
        ["address 10.10.188 read as 10.10.0.188"]
    );
    assert_eq!(
        notes("be_app/s3"),
        ["mptcp@ address: probed over plain TCP"]
    );
    assert_eq!(
        notes("be_app/s5 via socks4 127.0.0.1:1080"),
        ["probed: the SOCKS4 proxy 127.0.0.1:1080; 10.0.0.5:80 is reached through it"]
    );
    assert_eq!(
        notes("be_app/s6"),
        ["health check at 10.0.0.9:8081 over TLS"]
    );
    assert!(notes("be_app/s8").is_empty());
    let unprobeable: Vec<_> = d
        .unprobeable
        .iter()
        .map(|u| (u.name.as_str(), tree.loc(&u.source)))
        .collect();
    assert_eq!(
        unprobeable,
        [("be_app/s7 abns@app-sock", "haproxy.cfg:11".to_string())]
    );
    assert!(d.unprobeable[0].reason.contains("abstract"));
}

/// Parameters and notes come from the file and end up on a terminal: no control byte survives.
#[test]
fn server_notes_hold_no_control_bytes() {
    let tree = Tree::empty();
    let cfg = tree.write(
        "haproxy.cfg",
        "backend be\n    server s1 10.0.0.5:80 odd\u{1b}[31mflag socks4 127.0.0.1:1080\n    \
         server s2 10.0.0.6:80 check addr \"10.0.0.9\u{7}\"\n",
    );
    let d = discover::haproxy(&cfg);
    let others: Vec<&String> = d
        .targets
        .iter()
        .flat_map(|t| t.flags.other.iter().chain(&t.flags.notes))
        .collect();
    assert!(
        others.iter().any(|o| o.contains("odd\\x1b[31mflag")),
        "{others:?}"
    );
    assert!(
        others
            .iter()
            .any(|o| o.starts_with("health check at 10.0.0.9\\x07")),
        "{others:?}"
    );
    for o in others {
        assert!(!o.chars().any(char::is_control), "{o:?}");
    }
}
