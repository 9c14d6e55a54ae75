//! nginx discovery on a Debian-style /etc/nginx: nginx.conf, conf.d/*.conf, sites-enabled/*
//! symlinked from sites-available, snippets included by relative path, a stream block.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatewatch::discover::{self, LogKindHint, ServerFlags};

use crate::support::{Tree, http, tcp, unix};

fn debian() -> Tree {
    let tree = Tree::from_fixture("nginx-debian");
    for site in ["app.example.com", "default", "zz-reports"] {
        tree.symlink(
            &format!("../sites-available/{site}"),
            &format!("sites-enabled/{site}"),
        );
    }
    tree
}

#[test]
fn debian_layout_targets_in_config_order() {
    let tree = debian();
    let d = discover::nginx(&tree.path("nginx.conf"));
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    let got = tree.targets(&d);
    let upstreams = "conf.d/upstreams.conf";
    let app = "sites-enabled/app.example.com";
    let expected = vec![
        // proxy_pass http://app_backend: HTTP probes of each server.
        (
            "app_backend 10.0.0.5:8080",
            Some("app_backend"),
            http("http://10.0.0.5:8080/", "10.0.0.5", 8080),
            format!("{upstreams}:7"),
        ),
        (
            "app_backend 10.0.0.6:8080",
            Some("app_backend"),
            http("http://10.0.0.6:8080/", "10.0.0.6", 8080),
            format!("{upstreams}:8"),
        ),
        (
            "app_backend 10.0.0.7:8080",
            Some("app_backend"),
            http("http://10.0.0.7:8080/", "10.0.0.7", 8080),
            format!("{upstreams}:9"),
        ),
        (
            "app_backend app-spare.internal:8080",
            Some("app_backend"),
            http(
                "http://app-spare.internal:8080/",
                "app-spare.internal",
                8080,
            ),
            format!("{upstreams}:10"),
        ),
        // Used only by fastcgi_pass: TCP (and Unix) probes.
        (
            "php_pool unix:/run/php/php8.2-fpm.sock",
            Some("php_pool"),
            unix("/run/php/php8.2-fpm.sock"),
            format!("{upstreams}:16"),
        ),
        (
            "php_pool 127.0.0.1:9000",
            Some("php_pool"),
            tcp("127.0.0.1", 9000),
            format!("{upstreams}:17"),
        ),
        // Used only by grpc_pass.
        (
            "grpc_backend [fd00::20]:50051",
            Some("grpc_backend"),
            tcp("fd00::20", 50051),
            format!("{upstreams}:21"),
        ),
        (
            "grpc_backend 10.0.2.21:50051",
            Some("grpc_backend"),
            tcp("10.0.2.21", 50051),
            format!("{upstreams}:22"),
        ),
        // Direct passes in app.example.com; the variable in the URI does not matter.
        (
            "127.0.0.1:8081",
            None,
            http("http://127.0.0.1:8081/", "127.0.0.1", 8081),
            format!("{app}:44"),
        ),
        (
            "10.0.4.4:3031",
            None,
            tcp("10.0.4.4", 3031),
            format!("{app}:53"),
        ),
        (
            "[fd00::30]:443",
            None,
            http("https://[fd00::30]:443/", "fd00::30", 443),
            format!("{app}:58"),
        ),
        // Defined after app.example.com used it with https://, in another file.
        (
            "reports_api 10.0.5.1:8443",
            Some("reports_api"),
            http("https://10.0.5.1:8443/", "10.0.5.1", 8443),
            "sites-enabled/zz-reports:3".into(),
        ),
        (
            "reports_api 10.0.5.2:8443",
            Some("reports_api"),
            http("https://10.0.5.2:8443/", "10.0.5.2", 8443),
            "sites-enabled/zz-reports:4".into(),
        ),
        // stream {} upstreams are always TCP.
        (
            "pg_primary 10.0.3.10:5432",
            Some("pg_primary"),
            tcp("10.0.3.10", 5432),
            "streams-enabled/postgres.conf:2".into(),
        ),
        (
            "pg_primary 10.0.3.11:5432",
            Some("pg_primary"),
            tcp("10.0.3.11", 5432),
            "streams-enabled/postgres.conf:3".into(),
        ),
    ];
    assert_eq!(got, expected);
    // Never referenced: listed as unused, not probed. The default site's php-fpm socket (passed
    // to at lines 38 and 53) is php_pool's first server: probed once, under the group.
    let unused: Vec<_> = d
        .unused
        .iter()
        .map(|g| (g.name.as_str(), g.servers, tree.loc(&g.source)))
        .collect();
    assert_eq!(unused, vec![("unused_pool", 1, format!("{upstreams}:26"))]);
    // Nothing named after a group, nothing from comments or from sites-available/staging.
    for t in &d.targets {
        assert!(
            !t.name.contains("10.0.0.99")
                && !t.name.contains("reports.internal")
                && !t.name.contains("10.9.9.9")
        );
    }
}

#[test]
fn debian_layout_server_flags() {
    let tree = debian();
    let d = discover::nginx(&tree.path("nginx.conf"));
    let flags = |name: &str| {
        d.targets
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .flags
            .clone()
    };
    assert_eq!(
        flags("app_backend 10.0.0.5:8080"),
        ServerFlags {
            weight: Some(5),
            max_fails: Some(3),
            fail_timeout: Some(Duration::from_secs(30)),
            ..ServerFlags::default()
        }
    );
    assert_eq!(
        flags("app_backend 10.0.0.7:8080"),
        ServerFlags {
            down: true,
            ..ServerFlags::default()
        }
    );
    assert_eq!(
        flags("app_backend app-spare.internal:8080"),
        ServerFlags {
            backup: true,
            other: vec!["max_conns=200".into()],
            ..ServerFlags::default()
        }
    );
    assert_eq!(
        flags("php_pool 127.0.0.1:9000"),
        ServerFlags {
            backup: true,
            ..ServerFlags::default()
        }
    );
    assert_eq!(
        flags("pg_primary 10.0.3.10:5432"),
        ServerFlags {
            max_fails: Some(2),
            fail_timeout: Some(Duration::from_secs(10)),
            ..ServerFlags::default()
        }
    );
    assert_eq!(flags("127.0.0.1:8081"), ServerFlags::default());
}

#[test]
fn debian_layout_unprobeable_logs_resolvers_and_files() {
    let tree = debian();
    let d = discover::nginx(&tree.path("nginx.conf"));

    assert_eq!(d.unprobeable.len(), 1);
    let u = &d.unprobeable[0];
    assert_eq!(u.name, "http://$tenant_backend");
    assert_eq!(u.directive, "proxy_pass");
    assert_eq!(
        u.reason,
        "target contains a variable ($tenant_backend): resolved per request"
    );
    assert_eq!(tree.loc(&u.source), "sites-enabled/app.example.com:39");

    let logs: Vec<_> = d
        .logs
        .iter()
        .map(|l| (tree.rel(l.path.display()), l.kind, tree.loc(&l.source)))
        .collect();
    // The relative stream log is under the prefix: the parent of the config's directory.
    let stream_log = tree
        .root
        .parent()
        .unwrap()
        .join("logs/stream-error.log")
        .display()
        .to_string();
    assert_eq!(
        logs,
        vec![
            (
                "/var/log/nginx/error.log".into(),
                LogKindHint::Error,
                "nginx.conf:4".into()
            ),
            (
                "/var/log/nginx/access.log".into(),
                LogKindHint::Access,
                "nginx.conf:40".into()
            ),
            (
                "/var/log/nginx/app.access.log".into(),
                LogKindHint::Access,
                "sites-enabled/app.example.com:18".into()
            ),
            (
                "/var/log/nginx/app.error.log".into(),
                LogKindHint::Error,
                "sites-enabled/app.example.com:19".into()
            ),
            (stream_log, LogKindHint::Error, "nginx.conf:67".into()),
        ]
    );

    let resolvers: Vec<SocketAddr> = ["127.0.0.53:53", "[::1]:5353", "10.0.0.2:53"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(d.resolvers, resolvers);

    assert_eq!(
        tree.files(&d),
        vec![
            "nginx.conf",
            "modules-enabled/50-mod-stream.conf",
            "mime.types",
            "conf.d/upstreams.conf",
            "sites-enabled/app.example.com",
            "uwsgi_params",
            "sites-enabled/default",
            "snippets/fastcgi-php.conf",
            // Included by the snippet as "fastcgi.conf": relative to the main config's directory.
            "fastcgi.conf",
            "sites-enabled/zz-reports",
            "streams-enabled/postgres.conf",
        ]
    );
}

#[test]
fn relative_log_paths_follow_the_given_prefix() {
    let tree = debian();
    let d =
        discover::nginx_with_prefix(&tree.path("nginx.conf"), &PathBuf::from("/usr/share/nginx"));
    assert!(
        d.logs
            .iter()
            .any(|l| l.path == Path::new("/usr/share/nginx/logs/stream-error.log"))
    );
}

#[test]
fn group_resolution_rules() {
    let tree = Tree::empty();
    let main = tree.write(
        "nginx.conf",
        r#"http {
    server {
        location /a { proxy_pass http://Mixed; }          # names match case-insensitively
        location /b { fastcgi_pass mixed; }               # http use wins over fastcgi use
        location /c { proxy_pass http://mixed:8080; }     # nginx: may not have port
        location /d { proxy_pass http://db; }             # "db" is only a stream upstream
        location /e { proxy_pass http://unix:/run/app.sock:/api/; }
        location /f { fastcgi_pass php.internal; }        # no port and no such upstream
        location /g { proxy_pass $scheme://static; }
        location /h { grpc_pass grpcs://[::1]:50051; }
        location /i { proxy_pass backend; }
    }
    upstream mixed {
        include upstream-servers.conf;
    }
}
stream {
    upstream db { server 10.1.0.1:5432; }
    server { listen 5432; proxy_pass db; }
}
"#,
    );
    tree.write(
        "upstream-servers.conf",
        "server 10.1.1.1:8000 weight=0;\nserver [::1];\n",
    );
    let d = discover::nginx(&main);
    let got: Vec<_> = d
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.target.clone(), tree.loc(&t.source)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "db:80",
                http("http://db:80/", "db", 80),
                "nginx.conf:6".into()
            ),
            (
                "unix:/run/app.sock",
                unix("/run/app.sock"),
                "nginx.conf:7".into()
            ),
            ("[::1]:50051", tcp("::1", 50051), "nginx.conf:10".into()),
            (
                "mixed 10.1.1.1:8000",
                http("http://10.1.1.1:8000/", "10.1.1.1", 8000),
                "upstream-servers.conf:1".into()
            ),
            (
                "mixed [::1]:80",
                http("http://[::1]:80/", "::1", 80),
                "upstream-servers.conf:2".into()
            ),
            (
                "db 10.1.0.1:5432",
                tcp("10.1.0.1", 5432),
                "nginx.conf:18".into()
            ),
        ]
    );
    assert_eq!(
        tree.errors(&d),
        vec![
            "nginx.conf:11: invalid URL prefix \"backend\" in \"proxy_pass\"",
            "upstream-servers.conf:1: invalid parameter \"weight=0\" in upstream \"server\"",
            "nginx.conf:5: upstream \"mixed\" may not have port 8080",
            "nginx.conf:8: no port in upstream \"php.internal\" of \"fastcgi_pass\"",
        ]
    );
    assert_eq!(d.unprobeable.len(), 1);
    assert_eq!(
        d.unprobeable[0].reason,
        "target contains a variable ($scheme): resolved per request"
    );
    assert_eq!(d.targets[3].flags.other, vec!["weight=0".to_string()]);
}

#[test]
fn error_display_is_path_line_message() {
    let tree = Tree::empty();
    let main = tree.write("nginx.conf", "http {\n  include missing.conf;\n}\n");
    let d = discover::nginx(&main);
    assert_eq!(d.errors.len(), 1);
    let e = &d.errors[0];
    assert_eq!(e.file, main);
    assert_eq!(e.line, Some(2));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: cannot read {}: No such file or directory (os error 2)",
            main.display(),
            tree.path("missing.conf").display()
        )
    );
    assert_eq!(discover::discover(discover::ProxyKind::Nginx, &main), d);
}
