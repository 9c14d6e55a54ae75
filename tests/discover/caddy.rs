//! Caddy discovery: a Caddyfile with imports and snippets, its JSON form, and the real `caddy
//! adapt` as the judge of what the Caddyfile means.

use std::path::Path;
use std::process::Command;

use gatewatch::discover::target::Target;
use gatewatch::discover::{self, ApiKind, Discovery, LogKindHint};

use crate::support::{Tree, http, random_bytes, tcp, unix};

const SITE: &str = "\
# global options
{
\tadmin 127.0.0.1:2999
\tlog {
\t\toutput file /nonexistent/caddy/caddy.log
\t}
}

(upstreams) {
\treverse_proxy {args[0]} {
\t\tto 10.0.0.2:8080
\t}
}

app.example.com, :8443 {
\tlog {
\t\toutput file /nonexistent/caddy/access.log {
\t\t\troll_size 10mb
\t\t}
\t\tformat json
\t}
\treverse_proxy /api/* localhost:9000 :9001 \\
\t\thttp://10.0.0.3
\treverse_proxy /secure/* https://secure.internal
\thandle_path /old/* {
\t\treverse_proxy {
\t\t\tto unix//run/app.sock 10.0.0.4:7000-7002
\t\t\tlb_policy round_robin
\t\t}
\t}
\tphp_fastcgi unix//run/php/php-fpm.sock
\troute /h2 {
\t\treverse_proxy h2c://127.0.0.1:50051
\t}
\timport sites/*.caddy
\trespond /health \"ok\"
\tforward_auth /private/* 127.0.0.1:9091 {
\t\turi /verify
\t}
}

other.example.com {
\timport upstreams 10.0.0.9:80
\tlog {
\t\toutput stderr
\t}
}
";

const IMPORTED: &str = "\
reverse_proxy /dyn/* {
\tdynamic srv _http._tcp.app.internal
}
reverse_proxy /per-request/* {http.request.header.X-Backend}
php_fastcgi /legacy/* 127.0.0.1 {
\tsplit .php
}
";

fn names(d: &Discovery) -> Vec<String> {
    d.targets
        .iter()
        .map(|t| format!("{} {}", t.name, t.target.kind()))
        .collect()
}

#[test]
fn caddyfile_upstreams_logs_and_admin_with_their_lines() {
    let tree = Tree::empty();
    let main = tree.write("Caddyfile", SITE);
    tree.write("sites/dyn.caddy", IMPORTED);
    let d = discover::caddy(&main);
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    assert_eq!(
        names(&d),
        [
            "localhost:9000 http",
            "localhost:9001 http",
            "10.0.0.3:80 http",
            "secure.internal:443 http",
            "/run/app.sock unix",
            "10.0.0.4:7000 http",
            "10.0.0.4:7001 http",
            "10.0.0.4:7002 http",
            "/run/php/php-fpm.sock unix",
            "127.0.0.1:50051 tcp",
            "127.0.0.1:80 tcp",
            "127.0.0.1:9091 http",
            "10.0.0.9:80 http",
            "10.0.0.2:8080 http",
        ]
        .map(|s| s.replace("/run/", "unix//run/"))
    );
    let at = |name: &str| {
        let t = d.targets.iter().find(|t| t.name == name).unwrap();
        tree.loc(&t.source)
    };
    assert_eq!(at("localhost:9000"), "Caddyfile:22");
    // After an escaped newline: the line the word is on.
    assert_eq!(at("10.0.0.3:80"), "Caddyfile:23");
    assert_eq!(at("10.0.0.4:7001"), "Caddyfile:27");
    assert_eq!(at("127.0.0.1:80"), "sites/dyn.caddy:5");
    // A snippet's upstreams are where the snippet writes them.
    assert_eq!(at("10.0.0.2:8080"), "Caddyfile:11");
    assert_eq!(at("10.0.0.9:80"), "Caddyfile:10");
    assert_eq!(
        d.targets[3].target,
        http("https://secure.internal:443/", "secure.internal", 443)
    );
    assert_eq!(d.targets[4].target, unix("/run/app.sock"));
    assert_eq!(d.targets[10].target, tcp("127.0.0.1", 80));

    let unprobeable: Vec<(String, String)> = d
        .unprobeable
        .iter()
        .map(|u| (u.name.clone(), tree.loc(&u.source)))
        .collect();
    assert_eq!(
        unprobeable,
        [
            (
                "dynamic srv _http._tcp.app.internal".to_string(),
                "sites/dyn.caddy:2".to_string()
            ),
            (
                "{http.request.header.X-Backend}".into(),
                "sites/dyn.caddy:4".into()
            ),
        ]
    );
    assert!(d.unprobeable[0].reason.contains("chosen at run time"));

    let logs: Vec<(String, LogKindHint, String)> = d
        .logs
        .iter()
        .map(|l| (l.path.display().to_string(), l.kind, tree.loc(&l.source)))
        .collect();
    assert_eq!(
        logs,
        [
            (
                "/nonexistent/caddy/caddy.log".to_string(),
                LogKindHint::Error,
                "Caddyfile:5".to_string()
            ),
            (
                "/nonexistent/caddy/access.log".into(),
                LogKindHint::Access,
                "Caddyfile:17".into()
            ),
        ]
    );
    assert_eq!(d.apis.len(), 1);
    assert_eq!(d.apis[0].kind, ApiKind::CaddyAdmin);
    assert_eq!(d.apis[0].at, tcp("127.0.0.1", 2999));
    assert_eq!(tree.loc(&d.apis[0].source), "Caddyfile:3");
    assert_eq!(tree.files(&d), ["Caddyfile", "sites/dyn.caddy"]);
    // Through the kind switch too.
    assert_eq!(discover::discover(discover::ProxyKind::Caddy, &main), d);
}

#[test]
fn admin_default_off_and_unix_socket() {
    let tree = Tree::empty();
    let d = discover::caddy(&tree.write("Caddyfile", ":80\n\nreverse_proxy 127.0.0.1:3000\n"));
    // A site without braces; the default admin endpoint.
    assert_eq!(names(&d), ["127.0.0.1:3000 http"]);
    assert_eq!(d.apis[0].at, tcp("localhost", 2019));
    let d = discover::caddy(&tree.write("Caddyfile", "{\n admin off\n}\n:80 {\n}\n"));
    assert!(d.apis.is_empty());
    let d = discover::caddy(&tree.write("Caddyfile", "{\n admin unix//run/caddy/admin.sock\n}\n"));
    assert_eq!(d.apis[0].at, unix("/run/caddy/admin.sock"));
    // An empty file names no Caddy at all.
    let d = discover::caddy(&tree.write("Caddyfile", ""));
    assert!(d.apis.is_empty() && d.targets.is_empty());
}

#[test]
fn json_config_with_subroutes_fastcgi_dynamic_and_logs() {
    let tree = Tree::empty();
    let json = r#"{
  "admin": {"listen": "unix//run/caddy/admin.sock"},
  "logging": {"logs": {
    "default": {"writer": {"output": "file", "filename": "/nonexistent/caddy/caddy.log"}},
    "log0": {"writer": {"output": "file", "filename": "/nonexistent/caddy/access.log"},
             "include": ["http.log.access.log0"]},
    "net": {"writer": {"output": "net", "address": "10.0.0.1:514"}}
  }},
  "apps": {"http": {"servers": {"srv0": {
    "listen": [":443"],
    "routes": [
      {"match": [{"host": ["a.example"]}], "handle": [{"handler": "subroute", "routes": [
        {"handle": [{"handler": "reverse_proxy",
                     "upstreams": [{"dial": "127.0.0.1:8080"}, {"dial": "unix//run/app.sock"}]}]},
        {"handle": [{"handler": "reverse_proxy",
                     "transport": {"protocol": "fastcgi", "split_path": [".php"]},
                     "upstreams": [{"dial": "127.0.0.1:9000"}]}]}
      ]}]},
      {"handle": [{"handler": "reverse_proxy",
                   "transport": {"protocol": "http", "tls": {}},
                   "upstreams": [{"dial": "backend.internal:443"}, {"dial": "{http.request.host}:80"}]}]},
      {"handle": [{"handler": "reverse_proxy",
                   "dynamic_upstreams": {"source": "a", "name": "app.internal", "port": "8080"}}]}
    ],
    "errors": {"routes": [{"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "10.0.0.8:80"}]}]}]}
  }}}}
}"#;
    let path = tree.write("caddy.json", json);
    let d = discover::caddy(&path);
    assert_eq!(tree.errors(&d), Vec::<String>::new());
    assert_eq!(
        names(&d),
        [
            "127.0.0.1:8080 http",
            "unix//run/app.sock unix",
            "127.0.0.1:9000 tcp",
            "backend.internal:443 http",
            "10.0.0.8:80 http",
        ]
    );
    assert!(matches!(
        d.targets[3].target,
        Target::Http { tls: true, .. }
    ));
    // The line each dial string is written on.
    assert_eq!(tree.loc(&d.targets[0].source), "caddy.json:14");
    assert_eq!(tree.loc(&d.targets[2].source), "caddy.json:17");
    let reasons: Vec<&str> = d.unprobeable.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        reasons,
        ["{http.request.host}:80", "dynamic a app.internal 8080"]
    );
    let logs: Vec<(String, LogKindHint)> = d
        .logs
        .iter()
        .map(|l| (l.path.display().to_string(), l.kind))
        .collect();
    assert_eq!(
        logs,
        [
            (
                "/nonexistent/caddy/caddy.log".to_string(),
                LogKindHint::Error
            ),
            ("/nonexistent/caddy/access.log".into(), LogKindHint::Access),
        ]
    );
    assert_eq!(d.apis[0].at, unix("/run/caddy/admin.sock"));
    // A name that is neither: read as JSON because it parses as JSON.
    let d2 = discover::caddy(&tree.write("running-config", json));
    assert_eq!(names(&d2), names(&d));
    let d = discover::caddy(&tree.write("broken.json", "{\"apps\": [\n"));
    assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
    assert_eq!(d.errors[0].line, Some(2));
}

/// The real Caddy turns the Caddyfile into JSON: reading that JSON must find what reading the
/// Caddyfile found (same upstreams, kinds and logs), so the two readers agree with Caddy.
#[test]
fn the_caddyfile_reader_agrees_with_caddy_adapt() {
    let caddy = crate::support::require_caddy();
    let tree = Tree::empty();
    // `caddy adapt` resolves imports relative to its working directory's Caddyfile: absolute.
    let text = SITE.replace(
        "import sites/*.caddy",
        &format!("import {}/sites/*.caddy", tree.root.display()),
    );
    let main = tree.write("Caddyfile", &text);
    tree.write("sites/dyn.caddy", IMPORTED);
    // Caddy 2.6 (Debian 12) knows `{args.0}`, not yet `{args[0]}`.
    let main_text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("{args[0]}", "{args.0}");
    std::fs::write(&main, main_text).unwrap();
    let out = Command::new(&caddy)
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(&main)
        .env("HOME", &tree.root)
        .env("XDG_DATA_HOME", tree.root.join("data"))
        .env("XDG_CONFIG_HOME", tree.root.join("config"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "caddy adapt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let adapted = tree.write("adapted.json", &String::from_utf8_lossy(&out.stdout));
    let from_file = discover::caddy(&main);
    let from_json = discover::caddy(&adapted);
    assert_eq!(tree.errors(&from_file), Vec::<String>::new());
    assert_eq!(tree.errors(&from_json), Vec::<String>::new());
    let mut a = names(&from_file);
    let mut b = names(&from_json);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let logs = |d: &Discovery| {
        let mut l: Vec<(String, LogKindHint)> = d
            .logs
            .iter()
            .map(|l| (l.path.display().to_string(), l.kind))
            .collect();
        l.sort_by(|x, y| x.0.cmp(&y.0));
        l
    };
    assert_eq!(logs(&from_file), logs(&from_json));
    assert_eq!(from_file.apis[0].at, from_json.apis[0].at);
    // Caddy orders routes by how specific their matchers are: compare as sets.
    let placeholders = |d: &Discovery| {
        let mut p: Vec<String> = d.unprobeable.iter().map(|u| u.name.clone()).collect();
        p.sort();
        p
    };
    assert_eq!(placeholders(&from_file), placeholders(&from_json));
}

#[test]
fn hostile_caddyfiles_end_in_errors_not_panics() {
    let tree = Tree::empty();
    for seed in 1..40u64 {
        let mut bytes = random_bytes(2000, seed);
        // Mostly syntax: braces, quotes, heredocs, imports.
        for (i, b) in bytes.iter_mut().enumerate() {
            if i % 3 == 0 {
                *b = b"{}\"`<\n \\#import reverse_proxy:"[usize::from(*b) % 30];
            }
        }
        bytes.retain(|&b| b != 0);
        let path = tree.path("Caddyfile");
        std::fs::write(&path, &bytes).unwrap();
        let _ = discover::caddy(&path);
    }
    let deep = "a {\n".repeat(500);
    let d = discover::caddy(&tree.write("Caddyfile", &deep));
    assert!(
        d.errors
            .iter()
            .any(|e| e.to_string().contains("nested deeper")),
        "{:?}",
        d.errors
    );
    let d = discover::caddy(&tree.write("Caddyfile", "a {\n reverse_proxy \"x\0\n"));
    assert!(!d.errors.is_empty());
    // A directory named as the config.
    let d = discover::caddy(&tree.root);
    assert_eq!(d.errors.len(), 1);
    assert!(Path::new(&d.errors[0].file) == tree.root);
}

/// Caddy refuses a proxy whose upstreams mix schemes; so does discovery, naming the line.
#[test]
fn mixed_schemes_are_refused_like_caddy_refuses_them() {
    let caddy = crate::support::require_caddy();
    let tree = Tree::empty();
    let main = tree.write(
        "Caddyfile",
        ":80 {\n\treverse_proxy /a/* 10.0.0.1:80\n\treverse_proxy http://10.0.0.2 https://10.0.0.3\n}\n",
    );
    let out = Command::new(&caddy)
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(&main)
        .env("HOME", &tree.root)
        .env("XDG_DATA_HOME", tree.root.join("data"))
        .env("XDG_CONFIG_HOME", tree.root.join("config"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Caddyfile:3"));
    let d = discover::caddy(&main);
    assert_eq!(
        tree.errors(&d),
        [
            "Caddyfile:3: reverse_proxy: all upstreams must use the same scheme, not http:// and https:// (Caddy refuses this)"
        ]
    );
    assert_eq!(names(&d), ["10.0.0.1:80 http"]);
}
