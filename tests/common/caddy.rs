//! A real Caddy (the Debian package) with its own home, config and loopback ports, for
//! end-to-end tests. Killed when dropped.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::nginx::free_port;
use super::require_tool;

pub struct Caddy {
    child: Child,
    pub dir: tempfile::TempDir,
    /// The site, on 127.0.0.1.
    pub port: u16,
    /// The admin endpoint, on 127.0.0.1.
    pub admin: u16,
    pub conf: PathBuf,
}

impl Caddy {
    /// Runs `caddy run` on a Caddyfile: a global block with the admin endpoint and Caddy's own
    /// log (JSON, in `caddy.log`), then one site on `http://:PORT` bound to 127.0.0.1 (any Host)
    /// holding `site_body`
    /// and a JSON access log (`access.log`). Waits until both ports accept.
    pub fn start(site_body: &str) -> Caddy {
        let bin = require_tool(
            &["caddy"],
            "apt-get install -y caddy (scripts/test.sh does)",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let (port, admin) = (free_port(), free_port());
        let p = dir.path().display().to_string();
        let text = format!(
            "{{\n\tadmin 127.0.0.1:{admin}\n\tauto_https off\n\tlog {{\n\t\toutput file {p}/caddy.log\n\t\tformat json\n\t}}\n}}\n\n\
             http://:{port} {{\n\tbind 127.0.0.1\n\tlog {{\n\t\toutput file {p}/access.log\n\t\tformat json\n\t}}\n{site_body}}}\n"
        );
        let conf = dir.path().join("Caddyfile");
        std::fs::write(&conf, text).expect("write Caddyfile");
        let child = Command::new(&bin)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&conf)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut c = Caddy {
            child,
            dir,
            port,
            admin,
            conf,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while [port, admin]
            .iter()
            .any(|p| TcpStream::connect(("127.0.0.1", *p)).is_err())
        {
            if let Ok(Some(status)) = c.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = c.child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!("caddy exited with {status}: {stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "caddy did not listen on {port} and {admin}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Waits (up to 5 s) until `name` holds `count` lines containing `needle`.
    pub fn wait_for_lines(&self, name: &str, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.log(name).matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "{name} has not {count} lines with {needle}: {}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
