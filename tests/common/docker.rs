//! A Docker Engine of the test's own: its dockerd (and the containerd it manages) with a data
//! root, exec root and API socket under a short temp dir, no default bridge (a test's own
//! networks make bridges that go with them), no iptables rules and no change to ip_forward, so the
//! host's firewall and networks stay as they were. No registry is reachable: images are imports
//! of an empty tar, and containers run the host's binaries through read-only bind mounts.
//!
//! Include with `#[path = "common/docker.rs"] mod docker;`. Start one daemon per test binary at a
//! time (they would share nothing, but each costs seconds and memory).
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long dockerd may take to answer its API.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long dockerd may take to stop (it stops its containers and containerd first).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The host directories every container sees read-only.
const HOST_BINDS: [&str; 7] = [
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc/passwd",
    "/etc/group",
];

pub struct Dockerd {
    dir: tempfile::TempDir,
    daemon: Option<Child>,
    iptables_before: Vec<String>,
    empty_image: OnceLock<String>,
}

fn find_binary(name: &str, places: &[&str]) -> Option<PathBuf> {
    places
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

fn dockerd_binary() -> PathBuf {
    find_binary("dockerd", &["/usr/sbin", "/usr/bin", "/usr/local/bin"]).expect(
        "dockerd is required for this test: run ./scripts/test.sh or apt-get install -y docker.io",
    )
}

fn docker_cli() -> PathBuf {
    find_binary("docker", &["/usr/bin", "/usr/local/bin"]).expect(
        "the docker CLI is required for this test: run ./scripts/test.sh or apt-get install -y docker.io",
    )
}

/// The host's iptables rules that a daemon could add: its chains and bridges. Counters and
/// comments are left out; other rules are not compared, since other tests on the host may add
/// and remove their own meanwhile.
fn docker_iptables_rules() -> Vec<String> {
    let Some(save) = find_binary("iptables-save", &["/usr/sbin", "/sbin", "/usr/bin"]) else {
        panic!("iptables-save is required for this test: apt-get install -y iptables");
    };
    let out = Command::new(save).output().expect("run iptables-save");
    assert!(
        out.status.success(),
        "iptables-save failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rules: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.strip_prefix(':') {
            // ":CHAIN POLICY [packets:bytes]": drop the counters.
            Some(chain) => chain
                .rsplit_once(' ')
                .map_or(l, |(head, _)| head)
                .to_string(),
            None => l.to_string(),
        })
        .filter(|l| l.contains("DOCKER") || l.contains("docker") || l.contains("br-"))
        .collect();
    rules.sort();
    rules
}

impl Dockerd {
    /// Starts the daemon and waits until its API answers; panics with its log's tail if it
    /// does not within 30 s.
    pub fn start() -> Dockerd {
        let dockerd = dockerd_binary();
        docker_cli();
        let iptables_before = docker_iptables_rules();
        // Short: the exec root holds containerd's socket (unix socket paths stop at 108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("gwd")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let d = dir.path();
        fs::write(d.join("daemon.json"), "{}").expect("daemon.json");
        let log = fs::File::create(d.join("dockerd.log")).expect("dockerd.log");
        let daemon = Command::new(dockerd)
            .arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("x"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-forward=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let mut daemon = Dockerd {
            dir,
            daemon: Some(daemon),
            iptables_before,
            empty_image: OnceLock::new(),
        };
        daemon.wait_until_answering();
        daemon
    }

    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.daemon.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("dockerd exited ({status}):\n{}", self.log_tail());
            }
            let answered = self
                .docker_output(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success();
            if answered {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "dockerd did not answer within {START_TIMEOUT:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last 40 lines of dockerd's own log.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// A scratch directory of the test's, removed with the daemon.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("scratch").join(name);
        fs::create_dir_all(&path).expect("scratch dir");
        path
    }

    /// The docker CLI against this daemon, not yet run (for a test that runs it its own way).
    pub fn docker_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(docker_cli());
        command
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("cli"))
            .stdin(Stdio::null());
        command
    }

    /// The docker CLI against this daemon, whatever its outcome.
    pub fn docker_output(&self, args: &[&str]) -> Output {
        self.docker_command(args).output().expect("run docker")
    }

    /// The docker CLI against this daemon; its stdout, trimmed. Panics when it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_output(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// An image with nothing in it (`docker import` of an empty tar), made once.
    pub fn empty_image(&self) -> &str {
        self.empty_image.get_or_init(|| {
            let name = "gatewatch-empty:latest";
            let mut import = self
                .docker_command(&["import", "-", name])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run docker import");
            // An empty tar: two zero blocks.
            import
                .stdin
                .take()
                .expect("stdin")
                .write_all(&[0u8; 1024])
                .expect("write tar");
            let out = import.wait_with_output().expect("docker import");
            assert!(
                out.status.success(),
                "docker import failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            name.to_string()
        })
    }

    /// A user-defined bridge network (the daemon's embedded DNS serves names on it).
    pub fn network(&self, name: &str) -> String {
        self.docker(&["network", "create", "--driver", "bridge", name])
    }

    /// Runs `argv` (a host binary) detached in a new container `name` on `network`, with the
    /// host's binaries bound read-only; `extra` goes before the image (mounts, tmpfs, env).
    /// Returns the container id.
    pub fn run(&self, name: &str, network: &str, extra: &[&str], argv: &[&str]) -> String {
        let image = self.empty_image().to_string();
        let mut args: Vec<String> = ["run", "-d", "--name", name, "--network", network]
            .map(String::from)
            .to_vec();
        for bind in HOST_BINDS.iter().filter(|p| Path::new(p).exists()) {
            args.push("-v".into());
            args.push(format!("{bind}:{bind}:ro"));
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        args.push(image);
        args.extend(argv.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.docker(&args)
    }

    /// The main pid of a container as the host sees it (0 when not running).
    pub fn pid(&self, name: &str) -> u32 {
        self.docker(&["inspect", "--format", "{{.State.Pid}}", name])
            .parse()
            .expect("a pid")
    }

    /// Waits until `probe` holds, at most `limit`; panics naming `what` with dockerd's log.
    pub fn wait_for(&self, what: &str, limit: Duration, mut probe: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !probe() {
            if Instant::now() > deadline {
                panic!("{what}: not within {limit:?}\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn remove_everything(&self) {
        let ids = self.docker_output(&["ps", "-aq"]);
        let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(&ids);
            self.docker_output(&args);
        }
        let nets = self.docker_output(&["network", "ls", "-q", "--filter", "type=custom"]);
        let nets = String::from_utf8_lossy(&nets.stdout).into_owned();
        for net in nets.split_whitespace() {
            self.docker_output(&["network", "rm", net]);
        }
    }

    fn stop_daemon(&mut self) {
        let Some(mut child) = self.daemon.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            let _ = child.wait();
        }
        // dockerd stops the containerd it started; if dockerd was killed, that one is ours to end.
        let containerd_pid = self.dir.path().join("x/containerd/containerd.pid");
        if let Ok(text) = fs::read_to_string(containerd_pid)
            && let Ok(pid) = text.trim().parse::<libc::pid_t>()
            && pid > 1
            && comm_of(pid).as_deref() == Some("containerd")
        {
            // SAFETY: a plain signal to the containerd our dockerd started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.kill_leftover_processes();
    }

    /// Every process still running with our dir on its command line: the containerd shims,
    /// which outlive a dockerd that had to be killed. The containers' own processes are not
    /// chased here: `remove_everything` removed them before the daemon was stopped.
    fn kill_leftover_processes(&self) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let ours: Vec<libc::pid_t> = fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
            .filter(|&pid| {
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains(&dir)
            })
            .collect();
        for pid in ours {
            // SAFETY: a plain signal to a process started from this daemon's directory.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Detaches every mount left under our dir (overlay layers, netns files, shm), deepest first.
    fn unmount_leftovers(&self) {
        let root = self.dir.path().to_string_lossy().into_owned();
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<String> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&root))
            .map(str::to_string)
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let Ok(c_path) = std::ffi::CString::new(point) else {
                continue;
            };
            // SAFETY: a valid C string; MNT_DETACH never blocks.
            unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

fn comm_of(pid: libc::pid_t) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_string())
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.remove_everything();
        self.stop_daemon();
        self.unmount_leftovers();
        let _ = fs::remove_dir_all(self.dir.path());
        let after = docker_iptables_rules();
        if after != self.iptables_before {
            let message = format!(
                "dockerd changed the host's iptables rules:\nbefore {:#?}\nafter {after:#?}",
                self.iptables_before
            );
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

/// nginx's main config for a container: every path it writes under /tmp (a tmpfs mount), its
/// logs where given, and `server` as the http block's servers.
pub fn nginx_conf(error_log: &str, access_log: &str, server: &str) -> String {
    format!(
        "pid /tmp/nginx.pid;\n\
         worker_processes 1;\n\
         error_log {error_log};\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
           access_log {access_log};\n\
           client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy;\n\
           fastcgi_temp_path /tmp/fastcgi; uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;\n\
           {server}\n\
         }}\n"
    )
}

impl Dockerd {
    /// The host's nginx in a new container `name` on `network` (its config at
    /// /etc/nginx/nginx.conf through `extra`'s mounts, /tmp a tmpfs), once its main process is
    /// nginx.
    pub fn start_nginx(&self, name: &str, network: &str, extra: &[&str]) {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["--tmpfs", "/tmp"]);
        self.run(
            name,
            network,
            &args,
            &[
                "/usr/sbin/nginx",
                "-c",
                "/etc/nginx/nginx.conf",
                "-g",
                "daemon off;",
            ],
        );
        self.wait_for(&format!("nginx in {name}"), Duration::from_secs(10), || {
            let pid = self.pid(name);
            pid != 0
                && fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "nginx")
        });
    }

    /// The container's address on `network`, once it has one.
    pub fn address(&self, name: &str, network: &str) -> Option<String> {
        let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        let out = self.docker_output(&["inspect", "--format", &format, name]);
        let ip = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !ip.is_empty()).then_some(ip)
    }
}

/// One GET of `http://ip/` from the host (the test's own bridge): its status and body.
pub fn http_get(ip: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-m", "5"])
        .arg(format!("http://{ip}/"))
        .output()
        .expect("curl (apt-get install -y curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match text.rsplit_once('\n') {
        Some((body, code)) => (code.parse().unwrap_or(0), body.to_owned()),
        None => (0, text),
    }
}

/// The statuses of `n` GETs of `http://ip/`.
pub fn http_statuses(ip: &str, n: usize) -> Vec<u16> {
    (0..n).map(|_| http_get(ip).0).collect()
}

/// The one JSON object a gatewatch run printed, or a panic showing what it printed instead.
pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON object ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
