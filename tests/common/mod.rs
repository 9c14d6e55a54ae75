//! Drives the real binary in a real terminal: a private tmux server per test, keystrokes in,
//! screen text and terminal modes out.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub mod caddy;
pub mod firewall;
pub mod nginx;

pub const BIN: &str = env!("CARGO_BIN_EXE_gatewatch");

/// A home of its own for each test, so no real user config, theme or state leaks in or out.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let p = self.path().display().to_string();
        vec![
            ("HOME".into(), p.clone()),
            ("XDG_CONFIG_HOME".into(), format!("{p}/config")),
            ("XDG_STATE_HOME".into(), format!("{p}/state")),
            ("RUST_BACKTRACE".into(), "0".into()),
            // No container lookup: the host may run other tests' containers and proxies in
            // mount namespaces of their own. The container tests name their own daemon.
            ("GATEWATCH_DOCKER_SOCKET".into(), "none".into()),
            // A dark terminal, said rather than asked: the background query reads the tty, and
            // would take the keys a test types before the dashboard is up.
            ("COLORFGBG".into(), "15;0".into()),
        ]
    }

    /// `env K='V' ...` with this sandbox's environment, for a shell command line.
    pub fn env_command(&self) -> String {
        let mut cmd = String::from("env");
        for (k, v) in self.env() {
            cmd.push_str(&format!(" {k}='{v}'"));
        }
        cmd
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `args` plus empty proxy configs for every proxy flag `args` does not set, so the machine's
    /// own /etc/nginx (installed for the nginx tests) never leaks into a test.
    pub fn isolated(&self, args: &[&str]) -> Vec<String> {
        let empty = self.write("empty-proxy.conf", "");
        let mut out: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for flag in [
            "--nginx-conf",
            "--haproxy-conf",
            "--apache-conf",
            "--caddy-conf",
        ] {
            if !args.contains(&flag) {
                out.push(flag.to_string());
                out.push(empty.display().to_string());
            }
        }
        out
    }

    /// Runs the binary directly (no terminal), with this sandbox's environment.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_under(&[], args)
    }

    /// `gatewatch ARGS check --json`: the one JSON object it prints, and its stdout for messages.
    #[allow(dead_code)]
    pub fn check_json(&self, args: &[&str]) -> (serde_json::Value, String) {
        let mut argv = args.to_vec();
        argv.extend(["check", "--json"]);
        let out = self.run(&argv);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "one JSON object on stdout ({e}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, stdout)
    }

    /// The same under `wrapper`, a command that execs the binary (its argv appended): a private
    /// mount namespace, say.
    pub fn run_under(&self, wrapper: &[String], args: &[&str]) -> Output {
        let mut argv: Vec<String> = wrapper.to_vec();
        argv.push(BIN.to_string());
        argv.extend(self.isolated(args));
        Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env())
            .output()
            .expect("run gatewatch")
    }
}

/// The first of `candidates` (paths or names on PATH) that exists; a missing tool fails the test
/// (never skips it) with `install`, how to get it.
pub fn require_tool(candidates: &[&str], install: &str) -> PathBuf {
    for c in candidates {
        let p = Path::new(c);
        if p.is_absolute() {
            if p.exists() {
                return p.to_path_buf();
            }
            continue;
        }
        let path = std::env::var("PATH").unwrap_or_default();
        for dir in path.split(':').chain(["/usr/sbin", "/sbin"]) {
            let full = Path::new(dir).join(c);
            if full.exists() {
                return full;
            }
        }
    }
    panic!(
        "{} is required for this test: {install}",
        candidates.join(" or ")
    );
}

fn require_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is required for the terminal tests: run `bash .ci/run` or `apt-get install -y tmux`"
    );
}

pub struct Tmux {
    socket: String,
    pub sandbox: Sandbox,
}

impl Tmux {
    /// Starts gatewatch with `args` in a detached w x h tmux window. A shell waits after it exits,
    /// so the terminal state gatewatch left behind (modes, cursor) and its exit status can be read.
    pub fn start(args: &[&str], w: u16, h: u16) -> Tmux {
        Self::start_with(args, w, h, &[])
    }

    pub fn start_with(args: &[&str], w: u16, h: u16, extra_env: &[(&str, &str)]) -> Tmux {
        Self::start_under(&[], args, w, h, extra_env)
    }

    /// [`Tmux::start_with`], gatewatch run by `wrapper` (a command that execs its arguments,
    /// e.g. into a namespace of the test's own).
    pub fn start_under(
        wrapper: &[String],
        args: &[&str],
        w: u16,
        h: u16,
        extra_env: &[(&str, &str)],
    ) -> Tmux {
        require_tmux();
        let sandbox = Sandbox::new();
        let mut cmd = sandbox.env_command();
        for (k, v) in extra_env {
            cmd.push_str(&format!(" {k}='{v}'"));
        }
        for w in wrapper {
            assert!(!w.contains('\''), "a quote in the wrapper: {w}");
            cmd.push_str(&format!(" '{w}'"));
        }
        cmd.push_str(&format!(" '{BIN}'"));
        for a in sandbox.isolated(args) {
            cmd.push_str(&format!(" '{a}'"));
        }
        cmd.push_str("; echo \"[gatewatch exited $?]\"; exec sleep 600");
        Tmux::session(sandbox, &cmd, w, h)
    }

    /// A detached w x h session running `cmd`, on a tmux server of its own.
    fn session(sandbox: Sandbox, cmd: &str, w: u16, h: u16) -> Tmux {
        let conf = sandbox.write("tmux.conf", "set -g status off\n");
        let t = Tmux {
            socket: format!("gw-test-{}-{}", std::process::id(), unique()),
            sandbox,
        };
        let (conf, w, h) = (conf.display().to_string(), w.to_string(), h.to_string());
        let out = t.tmux(&[
            "-f",
            &conf,
            "new-session",
            "-d",
            "-s",
            "gw",
            "-x",
            &w,
            "-y",
            &h,
            cmd,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    /// An interactive bash with job control in the pane (for Ctrl-Z and `fg`), gatewatch typed
    /// into it like a person would. Type `echo "[gatewatch exited $?]"` before `wait_exit`.
    pub fn shell_running(args: &[&str], w: u16, h: u16) -> Tmux {
        require_tmux();
        let sandbox = Sandbox::new();
        let cmd = format!(
            "{} PS1='$ ' bash --norc --noprofile -i",
            sandbox.env_command()
        );
        let t = Tmux::session(sandbox, &cmd, w, h);
        let mut line = format!("'{BIN}'");
        for a in t.sandbox.isolated(args) {
            line.push_str(&format!(" '{a}'"));
        }
        t.wait_for("$");
        t.keys(&["-l", &line]);
        t.keys(&["Enter"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "gw"]).stdout).into_owned()
    }

    /// The screen with colours and attributes as escape sequences (for screenshots and colour checks).
    pub fn screen_ansi(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-e", "-t", "gw"]).stdout)
            .into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "gw"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    pub fn format(&self, f: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "gw", f]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// gatewatch's pid: the child of the pane's shell. Asked right after the session starts,
    /// the shell may not have forked yet, so it is looked for a while.
    pub fn pid(&self) -> i32 {
        let shell = self.format("#{pane_pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = child_of(&shell) {
                return pid;
            }
            if Instant::now() > deadline {
                panic!("gatewatch is not running; screen:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn resize(&self, w: u16, h: u16) {
        let out = self.tmux(&[
            "resize-window",
            "-t",
            "gw",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -s {sig}");
    }

    /// Waits until the screen shows `text`, or fails with what it showed instead.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("screen to show {text:?}"), |t| {
            t.screen().contains(text)
        })
        .screen()
    }

    /// Waits for gatewatch to exit and returns its status as the shell saw it (128+N for signal N).
    pub fn wait_exit(&self) -> i32 {
        // The typed command line holds the marker too, with `$?` where the number will be.
        let status = |screen: &str| {
            screen
                .split("[gatewatch exited ")
                .skip(1)
                .filter_map(|tail| tail.split(']').next().and_then(|n| n.parse::<i32>().ok()))
                .last()
        };
        let mut found = None;
        self.wait_until("gatewatch to exit", |t| {
            found = status(&t.screen());
            found.is_some()
        });
        found.unwrap_or(-1)
    }

    pub fn wait_until(&self, what: &str, mut cond: impl FnMut(&Tmux) -> bool) -> &Tmux {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if cond(self) {
                return self;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.screen());
    }

    /// After exit: the terminal is back to normal (main screen, cursor visible).
    pub fn assert_restored(&self) {
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.format("#{cursor_flag}"), "1", "cursor left hidden");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// An upstream as a test probes it: `url`, GET, any 2xx/3xx, `timeout`.
pub fn upstream(name: &str, url: &str, timeout: Duration) -> gatewatch::config::Upstream {
    use gatewatch::config::{HttpMethod, StatusRange, Upstream};
    Upstream {
        name: name.into(),
        url: url.parse().expect("valid url"),
        timeout,
        interval: Duration::from_secs(60),
        expect: StatusRange::DEFAULT,
        method: HttpMethod::Get,
        host: None,
        tls_verify: true,
        slow: Duration::from_secs(1),
        from: None,
    }
}

/// Appends `text` to the file at `path` (created if missing), as a log writer would.
pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    f.write_all(text.as_bytes()).expect("append");
}

/// The first process whose parent is `parent` (a pid as text), from /proc.
fn child_of(parent: &str) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // Fields after the parenthesised command: state, ppid, ...
            let after = stat.rsplit_once(')')?.1;
            (after.split_whitespace().nth(1) == Some(parent))
                .then(|| entry.file_name().to_string_lossy().parse().ok())
                .flatten()
        })
}

/// Unix seconds `t` as a log writes it (`strftime` `format`), in UTC: the binary under test runs
/// with TZ=UTC where the format has no offset.
#[allow(dead_code)]
pub fn utc_stamp(t: i64, format: &str) -> String {
    jiff::Timestamp::from_second(t)
        .expect("a time in range")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime(format)
        .to_string()
}

/// Writes an executable shell script `dir/name` that records its argv in `dir/NAME.argv`, one
/// word a line, then runs `body`: a stand-in for `journalctl`, `docker` or `nginx`.
#[allow(dead_code)]
pub fn fake_program(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let argv = dir.join(format!("{name}.argv"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n{body}\n",
            argv.display()
        ),
    )
    .expect("write the fake program");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("make it executable");
    path
}

/// `promtool check metrics` fed `text` on stdin (Prometheus' own linter of an exposition): its
/// exit status and what it said. A missing promtool fails the test saying how to get it.
#[allow(dead_code)]
pub fn promtool_check_metrics(text: &str) -> Output {
    use std::io::Write as _;
    let promtool = require_tool(
        &["promtool"],
        "run ./scripts/test.sh, or apt-get install -y prometheus",
    );
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    child.wait_with_output().expect("promtool ends")
}
