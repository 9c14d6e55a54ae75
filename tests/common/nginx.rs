//! A real nginx (the Debian package) in a temp prefix on a loopback port, for end-to-end tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub conf: PathBuf,
}

fn nginx_binary() -> &'static str {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return candidate;
        }
    }
    panic!("nginx is required for this test: run ./scripts/test.sh, or apt-get install -y nginx");
}

/// A port that was free a moment ago (the kernel does not hand it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Nginx {
    /// Starts nginx in the foreground with `server_body` inside a server listening on a loopback
    /// port, and `http_extra` at http level (upstream blocks, resolvers...).
    pub fn start(http_extra: &str, server_body: &str) -> Nginx {
        let bin = nginx_binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let p = dir.path().display().to_string();
        // As root, workers would switch to `nobody` and could not read the 0700 temp dir.
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root;"
        } else {
            ""
        };
        let conf_text = format!(
            "{user}\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
             scgi_temp_path {p}/scgi;\n{http_extra}\n  server {{\n    listen 127.0.0.1:{port};\n{server_body}\n  }}\n}}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, conf_text).expect("write nginx.conf");
        let child = Command::new(bin)
            .args([
                "-p",
                &p,
                "-c",
                &conf.display().to_string(),
                "-g",
                "daemon off;",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx");
        let n = Nginx {
            child,
            dir,
            port,
            conf,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start listening on {port}: {}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// A plain HTTP/1.0 GET; returns the status code and the whole response.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to nginx");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(s, "GET {path} HTTP/1.0\r\nHost: test.local\r\n\r\n").expect("send request");
        let mut response = String::new();
        let _ = s.read_to_string(&mut response);
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (code, response)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT is nginx's graceful stop; a kill follows if it lingers.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
