//! Whole configs through the nginx collector: one or more per idiom it reads.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use super::super::{nginx, nginx_with_defaults};
use super::*;
use crate::discover::address::{http_target, tcp_target};
use crate::discover::model::Discovery;
use crate::discover::target::Target;

fn discover(text: &str) -> (tempfile::TempDir, Discovery) {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("nginx.conf");
    std::fs::write(&main, text).unwrap();
    let d = nginx(&main);
    (dir, d)
}

fn targets(d: &Discovery) -> Vec<(String, Target)> {
    d.targets
        .iter()
        .map(|t| (t.name.clone(), t.target.clone()))
        .collect()
}

fn tcp(host: &str, port: u16) -> Target {
    tcp_target(host, port)
}

fn http(host: &str, port: u16) -> Target {
    http_target(host, port, false)
}

fn errors(d: &Discovery) -> Vec<String> {
    d.errors
        .iter()
        .map(|e| format!("{}: {}", e.line.unwrap_or(0), e.message()))
        .collect()
}

#[test]
fn lua_blocks_do_not_hide_what_follows() {
    let (_dir, d) = discover(
        r#"http {
init_by_lua_block {
    local cfg = { a = "x, y", b = '}', c = "{" }  -- a comment, with } and "
    --[==[ a long
    comment } ]==]
    local s = [[ ; { ]] .. [=[ ]] } ]=]
}
server {
    location / {
        access_by_lua_block { if ngx.var.x == "a,b" then ngx.exit(403) end }
        set_by_lua_block $who { return "me}" }
        proxy_pass http://127.0.0.1:8080;
    }
}
access_log /nonexistent/access.log;
error_log /nonexistent/error.log;
resolver 127.0.0.53;
}
"#,
    );
    assert_eq!(errors(&d), Vec::<String>::new());
    assert_eq!(
        targets(&d),
        vec![("127.0.0.1:8080".into(), http("127.0.0.1", 8080))]
    );
    let logs: Vec<_> = d
        .logs
        .iter()
        .map(|l| (l.path.clone(), l.kind, l.source.line))
        .collect();
    assert_eq!(
        logs,
        vec![
            ("/nonexistent/access.log".into(), LogKindHint::Access, 15),
            ("/nonexistent/error.log".into(), LogKindHint::Error, 16),
        ]
    );
    assert_eq!(d.resolvers, vec!["127.0.0.53:53".parse().unwrap()]);
}

#[test]
fn broken_lua_is_reported_at_its_line_and_the_rest_still_read() {
    let (_dir, d) = discover(
        "http {\n    content_by_lua_block {\n        ngx.say(\"unclosed)\n    }\n    error_log /nonexistent/e.log;\n}\n",
    );
    assert_eq!(
        errors(&d),
        vec![
            "2: broken Lua in \"content_by_lua_block\": unterminated Lua string at line 3; skipped to the block's \"}\""
        ]
    );
    assert_eq!(d.logs.len(), 1);
}

#[test]
fn lua_balanced_groups_and_placeholders_are_never_probed() {
    let (_dir, d) = discover(
        "http {
upstream upstream_balancer {
    server 0.0.0.1;
    balancer_by_lua_block { balancer.balance() }
    keepalive 32;
}
upstream fixed { server 0.0.0.2:80; server 10.0.0.1:80; }
server {
    location / { proxy_pass http://upstream_balancer; }
    location /f { proxy_pass http://fixed; }
    location /p { proxy_pass http://0.0.0.7:8080; }
}
}
stream {
upstream upstream_balancer { server 0.0.0.1:1234; balancer_by_lua_file /x/balancer.lua; }
server { listen 8443; proxy_pass upstream_balancer; }
}
",
    );
    assert_eq!(errors(&d), Vec::<String>::new());
    assert_eq!(
        targets(&d),
        vec![("fixed 10.0.0.1:80".into(), http("10.0.0.1", 80))]
    );
    let notes: Vec<_> = d
        .unprobeable
        .iter()
        .map(|u| (u.name.as_str(), u.reason.as_str(), u.source.line))
        .collect();
    let runtime = "backends chosen at run time (balancer_by_lua)";
    let placeholder = "placeholder address in 0.0.0.0/8: nothing to connect to";
    assert_eq!(
        notes,
        vec![
            ("upstream_balancer", runtime, 2),
            ("fixed 0.0.0.2:80", placeholder, 7),
            ("0.0.0.7:8080", placeholder, 11),
            ("upstream_balancer", runtime, 15),
        ]
    );
    assert!(d.unused.is_empty());
}

#[test]
fn unreferenced_groups_are_unused_pools_are_tcp_and_ports_probed_once() {
    let (_dir, d) = discover(
        "http {
upstream php { server 127.0.0.1:9000; }
upstream old_php { server 127.0.0.1:9001; server 127.0.0.1:9002; }
upstream a { server 127.0.0.1:8080; }
upstream b { server 127.0.0.1:8080; server 127.0.0.1:8081; }
upstream g { server 127.0.0.1:50051; }
upstream tls { server 127.0.0.1:8443; }
upstream mc { server 127.0.0.1:11211; }
server {
    location ~ \\.php$ { fastcgi_pass php; }
    location /a { proxy_pass http://a; }
    location /b { proxy_pass http://B/path; }
    location /g { grpc_pass grpc://g; }
    location /t { proxy_pass https://tls/x/; }
    location /m { memcached_pass mc; }
    # location /old { fastcgi_pass old_php; }
}
}
stream {
upstream db { server 127.0.0.1:5432; }
upstream spare { server 127.0.0.1:5433; }
server { listen 5432; proxy_pass db; }
}
",
    );
    assert_eq!(errors(&d), Vec::<String>::new());
    assert_eq!(
        targets(&d),
        vec![
            ("php 127.0.0.1:9000".into(), tcp("127.0.0.1", 9000)),
            ("a 127.0.0.1:8080".into(), http("127.0.0.1", 8080)),
            // b's 127.0.0.1:8080 is a's: probed once, under the first group.
            ("b 127.0.0.1:8081".into(), http("127.0.0.1", 8081)),
            ("g 127.0.0.1:50051".into(), tcp("127.0.0.1", 50051)),
            (
                "tls 127.0.0.1:8443".into(),
                http_target("127.0.0.1", 8443, true)
            ),
            ("mc 127.0.0.1:11211".into(), tcp("127.0.0.1", 11211)),
            ("db 127.0.0.1:5432".into(), tcp("127.0.0.1", 5432)),
        ]
    );
    let unused: Vec<_> = d
        .unused
        .iter()
        .map(|g| (g.name.as_str(), g.servers, g.source.line))
        .collect();
    assert_eq!(unused, vec![("old_php", 2, 3), ("spare", 1, 21)]);
}

#[test]
fn a_group_a_variable_may_name_is_still_probed() {
    let (_dir, d) = discover(
        "http {
map $host $pool { default blue; green.example green; }
upstream blue { server 10.0.0.1:80; }
upstream green { server 10.0.0.2:80; }
upstream retired { server 10.0.0.3:80; }
server { location / { proxy_pass http://$pool; } }
}
",
    );
    let names: Vec<_> = d.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["blue 10.0.0.1:80", "green 10.0.0.2:80"]);
    assert_eq!(d.unused.len(), 1);
    assert_eq!(d.unused[0].name, "retired");
    assert_eq!(d.unprobeable.len(), 1);

    // A group name that is no valid host (nginx takes any): reported, and still used.
    let (_dir, d) = discover(
        "http {
upstream \"odd[name\" { server 10.0.0.9:80; }
server { location / { proxy_pass \"http://odd[name\"; } }
}
",
    );
    assert_eq!(d.targets.len(), 1);
    assert_eq!(d.errors.len(), 1);
    assert!(d.unused.is_empty());

    // Only the scheme varies: the group is named (Kong writes it this way).
    let (_dir, d) = discover(
        "http {
upstream kong_upstream { server 10.0.0.1:80; }
server { location / { proxy_pass $upstream_scheme://kong_upstream$upstream_uri; } }
}
",
    );
    assert_eq!(d.targets.len(), 1);
    assert!(d.unused.is_empty());
}

#[test]
fn a_variable_set_once_to_a_literal_is_substituted() {
    let (_dir, d) = discover(
        "http {
server {
    set $jellyfin 127.0.0.1;
    location / { proxy_pass http://$jellyfin:8096; }
    location /socket { proxy_pass http://$jellyfin:8096; }
    location /dlna { proxy_pass http://${jellyfin}:8920$request_uri; }
    location /twice { set $jellyfin 10.0.0.1; proxy_pass http://$jellyfin:1; }
}
server {
    set $up backend;
    if ($arg_x) { set $cond 10.0.0.2; }
    set $from $host;
    location / { proxy_pass http://$up; }
    location /c { proxy_pass http://$cond:81; }
    location /d { proxy_pass http://$from:82; }
    location /e { proxy_pass http://$cond:81; }
}
upstream backend { server 10.0.0.5:8080; }
}
",
    );
    assert_eq!(errors(&d), Vec::<String>::new());
    assert_eq!(
        targets(&d),
        vec![
            // Both locations proxy to it: one probe, named from the first.
            ("127.0.0.1:8096".into(), http("127.0.0.1", 8096)),
            ("127.0.0.1:8920".into(), http("127.0.0.1", 8920)),
            ("backend 10.0.0.5:8080".into(), http("10.0.0.5", 8080)),
        ]
    );
    assert_eq!(d.targets[0].source.line, 4);
    let left: Vec<_> = d
        .unprobeable
        .iter()
        .map(|u| (u.name.as_str(), u.source.line))
        .collect();
    // Set twice, set in `if` (listed for each location), set from a variable.
    assert_eq!(
        left,
        vec![
            ("http://$jellyfin:1", 7),
            ("http://$cond:81", 14),
            ("http://$from:82", 15),
            ("http://$cond:81", 16),
        ]
    );
    assert_eq!(
        d.unprobeable[0].reason,
        "target contains a variable ($jellyfin): resolved per request"
    );
}

#[test]
fn syslog_and_stderr_logs_are_noted_not_followed() {
    let (_dir, d) = discover(
        "error_log syslog:server=unix:/dev/log,tag=nginx warn;
error_log stderr;
http {
access_log syslog:server=127.0.0.1:514,facility=local7 combined;
error_log memory:32m;
server { error_log /nonexistent/site.error.log; }
}
",
    );
    let logs: Vec<_> = d.logs.iter().map(|l| l.path.clone()).collect();
    assert_eq!(logs, vec![PathBuf::from("/nonexistent/site.error.log")]);
    let notes: Vec<_> = d.elsewhere.iter().map(LogElsewhere::advice).collect();
    assert_eq!(
        notes,
        vec![
            "error_log goes to syslog (server=unix:/dev/log): read it with journalctl -u nginx or the syslog file",
            "error_log goes to stderr: in the journal (systemd) or the container's log",
            "access_log goes to syslog (server=127.0.0.1:514): read it with journalctl -u nginx or the syslog file",
        ]
    );
    assert_eq!(d.elsewhere[0].source.line, 1);
    assert_eq!(d.elsewhere[2].kind, LogKindHint::Access);
}

#[test]
fn compiled_in_logs_fill_in_what_the_config_does_not_name() {
    let defaults = CompiledDefaults {
        from: "/usr/sbin/nginx -V".into(),
        line: 4,
        prefix: Some("/opt/nginx".into()),
        error_log: Some("logs/error.log".into()),
        http_log: Some("/var/log/nginx/access.log".into()),
    };
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("nginx.conf");
    let asked = std::cell::Cell::new(0);
    let run = |text: &str, defaults: &CompiledDefaults| {
        std::fs::write(&main, text).unwrap();
        asked.set(0);
        let d = nginx_with_defaults(&main, &mut || {
            asked.set(asked.get() + 1);
            Some(defaults.clone())
        });
        let logs: Vec<_> = d
            .logs
            .iter()
            .map(|l| (l.path.display().to_string(), l.kind, l.source.to_string()))
            .collect();
        (logs, d.elsewhere)
    };
    let from = "/usr/sbin/nginx -V:4".to_string();
    // Nothing named: both defaults, the relative one under the compiled prefix.
    let (logs, _) = run("http { server { listen 80; } }\n", &defaults);
    assert_eq!(
        logs,
        vec![
            (
                "/opt/nginx/logs/error.log".into(),
                LogKindHint::Error,
                from.clone()
            ),
            (
                "/var/log/nginx/access.log".into(),
                LogKindHint::Access,
                from.clone()
            ),
        ]
    );
    assert_eq!(asked.get(), 1);
    // An http-level error_log does not replace the main one; every server has its access_log.
    let (logs, _) = run(
        "http { error_log /x/e.log; server { access_log /x/a.log; } server { access_log off; } }\n",
        &defaults,
    );
    let paths: Vec<_> = logs.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(paths, ["/x/e.log", "/x/a.log", "/opt/nginx/logs/error.log"]);
    // Both named, absolute: the binary is not even asked.
    let (logs, _) = run(
        "error_log /x/e.log;\nhttp { access_log /x/a.log; }\n",
        &defaults,
    );
    assert_eq!(logs.len(), 2);
    assert_eq!(asked.get(), 0);
    // Named but relative: asked for the prefix.
    let (logs, _) = run(
        "error_log logs/e.log;\nhttp { access_log /x/a.log; }\n",
        &defaults,
    );
    assert_eq!(logs[0].0, "/opt/nginx/logs/e.log");
    assert_eq!(asked.get(), 1);
    // Not a main config (an empty file, a snippet): not asked.
    let (logs, _) = run("", &defaults);
    assert!(logs.is_empty());
    assert_eq!(asked.get(), 0);
    // Debian's nginx is built with --error-log-path=stderr.
    let debian = CompiledDefaults {
        error_log: Some("stderr".into()),
        ..defaults.clone()
    };
    let (logs, elsewhere) = run("events {}\n", &debian);
    assert!(logs.is_empty(), "no http block: no access log");
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0].to, "stderr");
    assert_eq!(elsewhere[0].source.to_string(), from);
}

/// A timeout in whole seconds and the line that set it (0: nginx's default).
type Seconds = (u64, usize);

/// Each target's connect and read timeouts.
fn limits(d: &Discovery) -> Vec<(String, Seconds, Seconds)> {
    let show = |l: &crate::discover::model::Limit| {
        (l.value.as_secs(), l.from.as_ref().map_or(0, |at| at.line))
    };
    d.targets
        .iter()
        .map(|t| {
            let l = t.limits.as_ref().unwrap();
            (
                t.name.clone(),
                show(&l.connect_timeout),
                show(&l.read_timeout),
            )
        })
        .collect()
}

#[test]
fn proxy_timeouts_come_from_the_innermost_block_that_sets_them() {
    let (_dir, d) = discover(
        "http {
    proxy_read_timeout 30s;
    upstream app { server 127.0.0.1:9001; server 127.0.0.1:9002; }
    server {
        proxy_connect_timeout 5;
        location /slow {
            proxy_pass http://127.0.0.1:9003;
            proxy_read_timeout 2m;
        }
        location /app {
            proxy_pass http://app;
        }
        location /nested {
            location /nested/deeper {
                proxy_pass http://127.0.0.1:9004;
                proxy_connect_timeout 750ms;
            }
        }
    }
    server {
        location / { proxy_pass http://127.0.0.1:9005; }
    }
}
",
    );
    assert_eq!(errors(&d), Vec::<String>::new());
    // The location's own setting, written after the pass; the server's; the http one.
    assert_eq!(
        limits(&d),
        vec![
            ("app 127.0.0.1:9001".into(), (5, 5), (30, 2)),
            ("app 127.0.0.1:9002".into(), (5, 5), (30, 2)),
            ("127.0.0.1:9003".into(), (5, 5), (120, 8)),
            ("127.0.0.1:9004".into(), (0, 16), (30, 2)),
            ("127.0.0.1:9005".into(), (60, 0), (30, 2)),
        ]
    );
    let deeper = &d.targets[3].limits.as_ref().unwrap().connect_timeout;
    assert_eq!(deeper.value, std::time::Duration::from_millis(750));
}

#[test]
fn proxy_timeouts_default_to_sixty_seconds_and_only_proxy_pass_has_them() {
    let (_dir, d) = discover(
        "http {
    server {
        location / { proxy_pass http://127.0.0.1:9001; }
        location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; }
        location /bad { proxy_read_timeout soon; proxy_pass http://127.0.0.1:9002; }
    }
}
stream { server { listen 5432; proxy_pass 127.0.0.1:5433; proxy_connect_timeout 1s; } }
",
    );
    assert_eq!(
        errors(&d),
        vec!["5: invalid value in \"proxy_read_timeout\""]
    );
    let limits: Vec<_> = d
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.limits.clone()))
        .collect();
    let default = crate::discover::model::Limit {
        value: std::time::Duration::from_secs(60),
        from: None,
    };
    let nginx_default = Some(crate::discover::model::ProxyLimits {
        connect_timeout: default.clone(),
        read_timeout: default,
    });
    assert_eq!(
        limits,
        vec![
            ("127.0.0.1:9001", nginx_default.clone()),
            ("127.0.0.1:9000", None),
            ("127.0.0.1:9002", nginx_default),
            ("127.0.0.1:5433", None),
        ]
    );
}
