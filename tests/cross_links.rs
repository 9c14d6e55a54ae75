//! Cross-links with the real binary in a real terminal: an upstream that refuses on a real
//! loopback port, one that answers, and a real error log naming both. From the verdict and from
//! each upstream to its own log lines.

mod common;
#[path = "common/servers.rs"]
mod servers;

use std::net::TcpListener;

use common::{Sandbox, Tmux, append};
use servers::{Behaviour, Server};

/// A loopback port nothing listens on: bound by the kernel's choice, then closed.
fn refusing_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// nginx's words for a refused connect and for an upstream that closed early, connection
/// numbers `*101` and `*202` telling them apart on a cut line.
fn lines(dead: u16, alive: u16) -> String {
    let stamp = jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S").to_string();
    let mut text = String::new();
    for _ in 0..3 {
        text.push_str(&format!(
            "{stamp} [error] 12#12: *101 connect() failed (111: Connection refused) while connecting \
             to upstream, client: 10.0.0.1, server: shop, request: \"GET /pay HTTP/1.1\", upstream: \
             \"http://127.0.0.1:{dead}/pay\", host: \"shop\"\n"
        ));
    }
    text.push_str(&format!(
        "{stamp} [error] 12#12: *202 upstream prematurely closed connection while reading response \
         header from upstream, client: 10.0.0.1, server: shop, request: \"GET /stock HTTP/1.1\", \
         upstream: \"http://127.0.0.1:{alive}/stock\", host: \"shop\"\n"
    ));
    text
}

#[test]
fn from_the_verdict_and_each_upstream_to_its_own_log_lines() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(Server::start(Behaviour::status(200)));
    let (dead, alive) = (refusing_port(), server.port());
    let files = Sandbox::new();
    let log = files.path().join("error.log");
    append(&log, &lines(dead, alive));
    let cfg = files.write(
        "config.toml",
        &format!(
            "[[upstream]]\nname = \"payments_api\"\nurl = \"http://127.0.0.1:{dead}/\"\n\n\
             [[upstream]]\nname = \"inventory\"\nurl = \"http://127.0.0.1:{alive}/\"\n\n\
             [[log]]\npath = \"{}\"\n",
            log.display()
        ),
    );
    let t = Tmux::start(&["--config", cfg.to_str().expect("utf-8 path")], 120, 40);

    // At 120x40 both names and both targets are whole, the refusing one first.
    let dead_row = format!("payments_api http://127.0.0.1:{dead}/ ");
    let alive_row = format!("inventory    http://127.0.0.1:{alive}/ ");
    let screen = t.wait_for(&format!("{dead_row}refused"));
    let screen = if screen.contains(&alive_row) {
        screen
    } else {
        t.wait_for(&alive_row)
    };
    assert!(
        screen.find(&dead_row) < screen.find(&alive_row),
        "the refusing upstream first:\n{screen}"
    );
    // The log strip names the upstream of each address it counts.
    t.wait_for(&format!("payments_api 127.0.0.1:{dead} ×3"));

    // The verdict's evidence: the refusing upstream and its lines.
    t.keys(&["v"]);
    t.wait_for("Checklist");
    t.keys(&["Enter"]);
    let screen = t.wait_for("the verdict's evidence: upstream payments_api");
    assert!(
        screen.contains("only the lines of upstream payments_api"),
        "{screen}"
    );
    t.keys(&["4", "z"]);
    let screen = t.wait_for("*101 connect() failed");
    assert!(
        !screen.contains("*202"),
        "the other upstream's line:\n{screen}"
    );
    t.keys(&["z"]);
    t.wait_for("1 Host");

    // L on the answering upstream: its one line only.
    t.keys(&["2", "j", "L"]);
    t.wait_for("only the lines of upstream inventory");
    t.keys(&["z"]);
    let screen = t.wait_for("*202 upstream prematurely closed");
    assert!(!screen.contains("*101"), "{screen}");
    t.keys(&["z"]);
    t.wait_for("1 Host");

    // And back on the refusing one.
    t.keys(&["2", "g", "L"]);
    t.wait_for("only the lines of upstream payments_api");
    t.keys(&["z"]);
    let screen = t.wait_for("*101 connect() failed");
    assert!(!screen.contains("*202"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    drop(server);
}
