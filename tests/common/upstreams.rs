//! Upstreams for the incident tests: the loopback servers of `servers.rs` on a runtime of their
//! own (so they serve while the test thread waits), one that comes back on its port after a
//! restart, a server in a child process that can be frozen (SIGSTOP), and busy loops that load the
//! host. Everything stops when dropped.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::require_tool;
use crate::servers::{Behaviour, Server};

pub struct Upstreams {
    rt: tokio::runtime::Runtime,
}

impl Upstreams {
    pub fn new() -> Self {
        Upstreams {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    pub fn start(&self, b: Behaviour) -> Server {
        self.rt.block_on(Server::start(b))
    }

    /// A server on 127.0.0.1:`port`, the port an upstream had before its restart.
    pub fn start_on(&self, port: u16, b: Behaviour) -> Server {
        self.start_at(SocketAddr::from(([127, 0, 0, 1], port)), b)
    }

    pub fn start_at(&self, addr: SocketAddr, b: Behaviour) -> Server {
        self.rt.block_on(Server::start_on(addr, b))
    }

    /// Stops `server` and waits until its port refuses connections.
    pub fn stop(&self, server: Server) {
        let addr = server.addr;
        drop(server);
        wait_until_refused(addr);
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

/// Waits (up to 3 s) until nothing accepts on `addr`.
pub fn wait_until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < deadline, "{addr} still accepts");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Answers 200 with one response header of `bytes` bytes: more than nginx's proxy_buffer_size.
pub fn big_header(bytes: usize) -> Behaviour {
    Behaviour::Respond {
        status: 200,
        headers: vec![("X-Session-Debug", "x".repeat(bytes))],
        body: "ok\n".into(),
        delay: Duration::ZERO,
    }
}

/// PHP's built-in web server in a child process (php8.2-cli): an upstream that can be frozen
/// with SIGSTOP, the way a process stuck in swap or a debugger looks from outside.
pub struct ChildServer {
    child: Child,
    _root: tempfile::TempDir,
    pub port: u16,
    frozen: bool,
}

impl ChildServer {
    pub fn start(port: u16) -> ChildServer {
        let php = require_tool(
            &["/usr/bin/php8.2", "php"],
            "run ./scripts/test.sh, or apt-get install -y php8.2-cli (php8.2-fpm brings it)",
        );
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::write(root.path().join("index.php"), "<?php echo \"ok\\n\";\n").expect("write");
        let child = Command::new(php)
            .args(["-n", "-S", &format!("127.0.0.1:{port}"), "-t"])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start php -S");
        let server = ChildServer {
            child,
            _root: root,
            port,
            frozen: false,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "php -S did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGSTOP: the kernel still accepts connections for it, nothing answers them.
    pub fn freeze(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGSTOP);
        }
        self.frozen = true;
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        if self.frozen {
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGCONT);
            }
        }
        let _ = self.child.wait();
    }
}

/// Busy loops (`sh -c 'while :; do :; done'`, at the lowest priority so the rest of the machine
/// barely notices) that push the 1-minute load average above the number of cores.
pub struct BusyHost {
    loops: Vec<Child>,
    pub cores: usize,
}

impl BusyHost {
    /// Starts 3 loops per core and waits (up to `wait`) until the 1-minute load exceeds the cores.
    pub fn load_above_cores(wait: Duration) -> BusyHost {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut host = BusyHost {
            loops: Vec::new(),
            cores,
        };
        for _ in 0..3 * cores {
            let child = Command::new("nice")
                .args(["-n", "19", "sh", "-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .spawn()
                .expect("start a busy loop");
            host.loops.push(child);
        }
        let deadline = Instant::now() + wait;
        loop {
            let load = load1();
            if load > cores as f64 {
                return host;
            }
            assert!(
                Instant::now() < deadline,
                "the 1-minute load is still {load} after {wait:?} of {} busy loops on {cores} cores",
                host.loops.len()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for BusyHost {
    fn drop(&mut self) {
        for child in &mut self.loops {
            let _ = child.kill();
        }
        for child in &mut self.loops {
            let _ = child.wait();
        }
    }
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}
