//! Against a real nginx (the Debian package), in a temp prefix on a loopback port.

mod common;

use common::nginx::{Nginx, free_port};
use gatewatch::config::Target;

#[test]
fn a_dead_upstream_gives_a_real_502_and_discovery_finds_it_in_nginx_own_config() {
    let dead = free_port();
    let nginx = Nginx::start(
        &format!("  upstream shop {{\n    server 127.0.0.1:{dead} max_fails=0;\n  }}\n"),
        "    location / {\n      proxy_pass http://shop;\n    }\n",
    );
    let (status, _) = nginx.get("/cart");
    assert_eq!(status, 502);
    assert!(
        nginx
            .error_log()
            .contains("(111: Connection refused) while connecting to upstream"),
        "{}",
        nginx.error_log()
    );

    let found = gatewatch::discover::nginx(&nginx.conf);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let target = found
        .targets
        .iter()
        .find(|t| t.group.as_deref() == Some("shop"))
        .expect("the shop upstream");
    assert_eq!(
        target.target,
        Target::Http {
            url: format!("http://127.0.0.1:{dead}/"),
            tls: false,
            host: "127.0.0.1".into(),
            port: dead
        }
    );
    assert_eq!(target.flags.max_fails, Some(0));
    let text = std::fs::read_to_string(&nginx.conf).expect("conf");
    let line = text
        .lines()
        .position(|l| l.contains(&format!("server 127.0.0.1:{dead}")))
        .expect("line")
        + 1;
    assert_eq!(target.source.line, line, "source {}", target.source);
    assert_eq!(target.source.file, nginx.conf);
    let logs: Vec<_> = found.logs.iter().map(|l| l.path.clone()).collect();
    assert!(
        logs.contains(&nginx.dir.path().join("error.log")),
        "{logs:?}"
    );
    assert!(
        logs.contains(&nginx.dir.path().join("access.log")),
        "{logs:?}"
    );
}
