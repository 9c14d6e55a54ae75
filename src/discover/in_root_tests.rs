//! Discovery inside a root: a temporary directory stands for a container's filesystem, with
//! decoys on the host side at the absolute paths its links name.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::mpsc;
use std::time::Duration;

use super::*;
use crate::discover::address::tcp_target;
use crate::rootfs::StdStream;
use crate::rootfs::tests::{Area, write_at};

/// Discovery inside the area's root, on another thread: a failed test, not a hang, if it blocks.
fn discover_area(area: &Area, kind: ProxyKind, config: &str) -> Discovery {
    let root = Root::open(&area.root_dir()).unwrap();
    let config = PathBuf::from(config);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(discover_in_root(kind, &root, &config));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("discovery blocked for 10 seconds")
}

fn names(d: &Discovery) -> Vec<String> {
    d.targets.iter().map(|t| t.name.clone()).collect()
}

fn errors(d: &Discovery) -> Vec<String> {
    d.errors.iter().map(ToString::to_string).collect()
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn nginx_in_a_root_reads_includes_links_and_logs_inside_it() {
    let area = Area::new();
    let linked = area.both(
        "other.conf",
        "server { location / { proxy_pass http://192.0.2.66:1; } }\n",
        "server { location /b { proxy_pass http://10.0.0.6:9000; } }\n",
    );
    let up = area.both(
        "up.conf",
        "server { location / { proxy_pass http://192.0.2.67:1; } }\n",
        "server { location /c { proxy_pass http://10.0.0.7:9000; } }\n",
    );
    area.put(
        "/etc/nginx/nginx.conf",
        &format!(
            "error_log /var/log/nginx/error.log;\n\
             http {{\n\
             access_log /var/log/nginx/access.log;\n\
             include conf.d/*.conf;\n\
             include ../../../../../../../../..{up};\n\
             include /etc/nginx/fifo.conf;\n\
             }}\n"
        ),
    );
    area.put(
        "/etc/nginx/conf.d/app.conf",
        "upstream app { server 10.0.0.5:8000; }\n\
         server { access_log /var/log/app/app.log; location / { proxy_pass http://app; } }\n",
    );
    area.link("/etc/nginx/conf.d/linked.conf", &linked);
    area.link("/etc/nginx/conf.d/loop.conf", "loop.conf");
    mkfifo(&area.root_dir().join("etc/nginx/fifo.conf"));
    // The official image's layout: the log files are links to the container's streams.
    area.link("/var/log/nginx/access.log", "/dev/stdout");
    area.link("/var/log/nginx/error.log", "/dev/stderr");
    area.put("/var/log/app/app.log", "");

    let d = discover_area(&area, ProxyKind::Nginx, "/etc/nginx/nginx.conf");
    assert_eq!(
        names(&d),
        ["app 10.0.0.5:8000", "10.0.0.6:9000", "10.0.0.7:9000"],
        "{:?}",
        errors(&d)
    );
    assert_eq!(
        d.files_read,
        [
            PathBuf::from("/etc/nginx/nginx.conf"),
            "/etc/nginx/conf.d/app.conf".into(),
            "/etc/nginx/conf.d/linked.conf".into(),
            format!("/etc/nginx/../../../../../../../../..{up}").into(),
        ]
    );
    let errors = errors(&d);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("loop.conf: a loop of symbolic links"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("fifo.conf: a FIFO, not a regular file"),
        "{errors:?}"
    );

    let logs: Vec<_> = d
        .logs
        .iter()
        .map(|l| (l.path.clone(), l.in_root.clone().unwrap()))
        .collect();
    let app = area.root_dir().join("var/log/app/app.log");
    assert_eq!(
        logs,
        [
            (
                PathBuf::from("/var/log/nginx/error.log"),
                Resolved::Stream(StdStream::Stderr)
            ),
            (
                "/var/log/nginx/access.log".into(),
                Resolved::Stream(StdStream::Stdout)
            ),
            (
                "/var/log/app/app.log".into(),
                Resolved::File {
                    in_root: "/var/log/app/app.log".into(),
                    host_path: app.clone(),
                }
            ),
        ]
    );
    assert!(app.is_file());
}

#[test]
fn the_host_discovery_is_unchanged_and_follows_the_host_link() {
    let area = Area::new();
    let linked = area.both(
        "other.conf",
        "server { location / { proxy_pass http://192.0.2.66:1; } }\n",
        "server { location /b { proxy_pass http://10.0.0.6:9000; } }\n",
    );
    area.put("/etc/nginx/nginx.conf", "http { include conf.d/*.conf; }\n");
    area.link("/etc/nginx/conf.d/linked.conf", &linked);
    let d = discover(
        ProxyKind::Nginx,
        &area.root_dir().join("etc/nginx/nginx.conf"),
    );
    assert_eq!(names(&d), ["192.0.2.66:1"]);
}

#[test]
fn apache_in_a_root_reads_envvars_and_linked_include_dirs_inside_it() {
    let area = Area::new();
    area.put(
        "/etc/apache2/envvars",
        "export APACHE_LOG_DIR=/var/log/apache2\n",
    );
    area.put(
        "/etc/apache2/apache2.conf",
        "IncludeOptional sites-enabled/*.conf\nInclude conf-enabled\n\
         ErrorLog ${APACHE_LOG_DIR}/error.log\n",
    );
    area.link("/etc/apache2/sites-enabled", "/srv/sites");
    area.put(
        "/srv/sites/shop.conf",
        "ProxyPass / http://10.0.0.8:8080/\n",
    );
    // An absolute link to a directory that exists on the host too, with other files.
    let dir = area.dir.path().join("decoy/confdir");
    let host_file = dir.join("x.conf");
    write_at(
        Path::new("/"),
        &host_file.to_string_lossy(),
        "ProxyPass /x http://192.0.2.68:1/\n",
    );
    let root_file = dir.join("y.conf");
    area.put(
        &root_file.to_string_lossy(),
        "ProxyPass /y http://10.0.0.9:8080/\n",
    );
    area.link("/etc/apache2/conf-enabled", &dir.to_string_lossy());
    area.put("/var/log/apache2/error.log", "");

    let d = discover_area(&area, ProxyKind::Apache, "etc/apache2/apache2.conf");
    assert_eq!(
        names(&d),
        ["10.0.0.8:8080", "10.0.0.9:8080"],
        "{:?}",
        errors(&d)
    );
    assert!(d.errors.is_empty(), "{:?}", errors(&d));
    assert_eq!(d.logs.len(), 1);
    assert_eq!(d.logs[0].path, Path::new("/var/log/apache2/error.log"));
    assert!(matches!(d.logs[0].in_root, Some(Resolved::File { .. })));
}

#[test]
fn haproxy_config_directory_in_a_root() {
    let area = Area::new();
    let linked = area.both(
        "h.cfg",
        "backend b\n  server s1 192.0.2.69:1\n",
        "backend b\n  server s1 10.0.0.10:80\n",
    );
    area.link("/etc/haproxy/conf.d/10-b.cfg", &linked);
    area.put(
        "/etc/haproxy/conf.d/20-c.cfg",
        "backend c\n  server s2 10.0.0.11:80\n",
    );
    let d = discover_area(&area, ProxyKind::Haproxy, "/etc/haproxy/conf.d");
    assert_eq!(names(&d), ["b/s1", "c/s2"], "{:?}", errors(&d));
    let targets: Vec<_> = d.targets.iter().map(|t| t.target.clone()).collect();
    assert_eq!(
        targets,
        [tcp_target("10.0.0.10", 80), tcp_target("10.0.0.11", 80)]
    );
}

#[test]
fn caddy_imports_in_a_root() {
    let area = Area::new();
    area.put("/etc/caddy/Caddyfile", "import sites/*\n");
    let linked = area.both(
        "site",
        "b.example {\n  reverse_proxy 192.0.2.70:1\n}\n",
        "b.example {\n  reverse_proxy 10.0.0.13:3000\n}\n",
    );
    area.put(
        "/etc/caddy/sites/a",
        "a.example {\n  reverse_proxy 10.0.0.12:3000\n}\n",
    );
    area.link("/etc/caddy/sites/b", &linked);
    let d = discover_area(&area, ProxyKind::Caddy, "/etc/caddy/Caddyfile");
    let names = names(&d);
    assert!(names.contains(&"10.0.0.12:3000".to_string()), "{names:?}");
    assert!(names.contains(&"10.0.0.13:3000".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("192.0.2.70")), "{names:?}");
}

#[test]
fn default_config_paths_apply_inside_the_root() {
    let area = Area::new();
    let root = Root::open(&area.root_dir()).unwrap();
    assert_eq!(default_config_in_root(ProxyKind::Nginx, &root), None);
    // A directory, or a link to the container's output, is no config.
    std::fs::create_dir_all(area.root_dir().join("etc/nginx/nginx.conf")).unwrap();
    area.link("/usr/local/nginx/conf/nginx.conf", "/dev/stdout");
    assert_eq!(default_config_in_root(ProxyKind::Nginx, &root), None);
    area.put("/usr/local/etc/nginx/nginx.conf", "");
    assert_eq!(
        default_config_in_root(ProxyKind::Nginx, &root),
        Some(PathBuf::from("/usr/local/etc/nginx/nginx.conf"))
    );
    area.link("/etc/caddy/caddy.json", "/srv/caddy.json");
    area.put("/srv/caddy.json", "{}");
    assert_eq!(
        default_config_in_root(ProxyKind::Caddy, &root),
        Some(PathBuf::from("/etc/caddy/caddy.json"))
    );
}
