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

/// How to run nginx beyond its server block.
#[derive(Default)]
pub struct Options<'a> {
    /// Main-context directives, e.g. `worker_rlimit_nofile 24;`.
    pub main_extra: &'a str,
    /// At http level: upstream blocks, resolvers...
    pub http_extra: &'a str,
    /// Inside the one server, which listens on a loopback port.
    pub server_body: &'a str,
    /// A command that execs nginx (its argv is appended), e.g. a private mount namespace.
    pub wrapper: Vec<String>,
}

impl Nginx {
    /// Starts nginx in the foreground with `server_body` inside a server listening on a loopback
    /// port, and `http_extra` at http level (upstream blocks, resolvers...).
    pub fn start(http_extra: &str, server_body: &str) -> Nginx {
        Self::start_with(&Options {
            http_extra,
            server_body,
            ..Options::default()
        })
    }

    /// Starts nginx as `opts` say, and waits until it listens.
    pub fn start_with(opts: &Options) -> Nginx {
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
        let Options {
            main_extra,
            http_extra,
            server_body,
            wrapper,
        } = opts;
        let conf_text = format!(
            "{user}\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log info;\n{main_extra}\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
             scgi_temp_path {p}/scgi;\n{http_extra}\n  server {{\n    listen 127.0.0.1:{port};\n{server_body}\n  }}\n}}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, conf_text).expect("write nginx.conf");
        let conf_arg = conf.display().to_string();
        let nginx_argv = [bin, "-p", &p, "-c", &conf_arg, "-g", "daemon off;"];
        let mut argv: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        argv.extend(nginx_argv);
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start nginx with {argv:?}: {e}"));
        let mut n = Nginx {
            child,
            dir,
            port,
            conf,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = n.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = n.child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!(
                    "nginx ({argv:?}) exited with {status}: {stderr}{}",
                    n.error_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not start listening on {port}: {}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    /// The master's pid (the wrapper execs nginx, so it is the child's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("nginx.pid")
    }

    /// `total` GETs of `path` through nginx, `concurrency` at a time, each given up after
    /// `timeout`: the status codes (0 for no answer), in no particular order.
    pub fn traffic(
        &self,
        path: &str,
        total: usize,
        concurrency: usize,
        timeout: Duration,
    ) -> Vec<u16> {
        traffic(self.port, path, total, concurrency, timeout)
    }

    /// `nginx -p PREFIX -c CONF -s reload`, as an operator sends it; panics unless it succeeds.
    pub fn reload(&self) {
        let out = Command::new(nginx_binary())
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "reload"])
            .output()
            .expect("run nginx -s reload");
        assert!(out.status.success(), "nginx -s reload: {out:?}");
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// A plain HTTP/1.0 GET; returns the status code and the whole response.
    pub fn get(&self, path: &str) -> (u16, String) {
        get(self.port, path, Duration::from_secs(10))
    }
}

/// A plain HTTP/1.0 GET to 127.0.0.1:`port`: the status code (0 for none) and the response.
pub fn get(port: u16, path: &str, timeout: Duration) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(timeout)).expect("timeout");
    if write!(s, "GET {path} HTTP/1.0\r\nHost: test.local\r\n\r\n").is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, response)
}

/// `total` GETs, `concurrency` threads at a time; see [`Nginx::traffic`].
pub fn traffic(
    port: u16,
    path: &str,
    total: usize,
    concurrency: usize,
    timeout: Duration,
) -> Vec<u16> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let codes = std::sync::Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|scope| {
        for _ in 0..concurrency.max(1) {
            scope.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < total {
                    let (code, _) = get(port, path, timeout);
                    codes.lock().expect("codes").push(code);
                }
            });
        }
    });
    codes.into_inner().expect("codes")
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
