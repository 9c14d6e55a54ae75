//! Paths that are not regular files, where a log, config or resolver file should be: a FIFO would
//! block `open()` forever and `/dev/zero` would be read forever. The real binary must name them
//! and carry on with everything else.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Sandbox, Tmux};

/// Longer than a healthy check takes here, far shorter than a hang.
const DEADLINE: Duration = Duration::from_secs(15);

fn mkfifo(path: &Path) -> PathBuf {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
    path.to_path_buf()
}

/// `text` has an error that starts with `path` and says it is `what`, not a regular file.
#[track_caller]
fn names(text: &str, path: &Path, what: &str) {
    let error = format!("{}: ", path.display());
    let at = text
        .find(&error)
        .unwrap_or_else(|| panic!("no error naming {}: {text}", path.display()));
    assert!(
        text[at..].contains(&format!("{what}, not a regular file")),
        "{text}"
    );
}

fn refused_lines(n: usize) -> String {
    let stamp = jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S").to_string();
    (0..n)
        .map(|i| {
            format!(
                "{stamp} [error] 12#12: *{i} connect() failed (111: Connection refused) while \
                 connecting to upstream, client: 10.0.0.1, server: shop, request: \"GET / HTTP/1.1\", \
                 upstream: \"http://127.0.0.1:8080/\", host: \"shop\"\n"
            )
        })
        .collect()
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary like [`Sandbox::run`], but kills it past [`DEADLINE`] and fails the test, so
/// a regression hangs nothing.
fn run_within(sb: &Sandbox, args: &[&str]) -> Finished {
    let (out, err) = (sb.path().join("stdout"), sb.path().join("stderr"));
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(sb.isolated(args))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sb.env())
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .expect("run gatewatch");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "gatewatch {args:?} still running after {DEADLINE:?}; stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).expect("stdout"),
        stderr: std::fs::read_to_string(&err).expect("stderr"),
        took: started.elapsed(),
    }
}

fn check_json(sb: &Sandbox, config: &Path) -> (serde_json::Value, Finished) {
    let run = run_within(
        sb,
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "check",
            "--json",
        ],
    );
    let json = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json printed no JSON ({e}):\n{}\nstderr: {}",
            run.stdout, run.stderr
        )
    });
    (json, run)
}

fn two_logs_config(sb: &Sandbox, hostile: &Path, real: &Path) -> PathBuf {
    sb.write(
        "config.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nkind = \"error\"\n\n[[log]]\npath = \"{}\"\nkind = \"error\"\n",
            hostile.display(),
            real.display()
        ),
    )
}

/// The log whose label names `path`.
fn log_of<'a>(json: &'a serde_json::Value, path: &Path) -> &'a serde_json::Value {
    let name = path.file_name().expect("name").to_string_lossy();
    json["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find(|l| l.to_string().contains(name.as_ref()))
        .unwrap_or_else(|| panic!("no log for {}: {json}", path.display()))
}

#[test]
fn a_fifo_log_is_an_error_and_the_real_log_beside_it_is_still_counted() {
    let sb = Sandbox::new();
    let fifo = mkfifo(&sb.path().join("fifo.log"));
    let real = sb.write("error.log", &refused_lines(3));
    let config = two_logs_config(&sb, &fifo, &real);
    let (json, run) = check_json(&sb, &config);
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    let error = log_of(&json, &fifo)["error"].as_str().unwrap_or_default();
    assert_eq!(error, "cannot open: a FIFO, not a regular file", "{json}");
    assert_eq!(log_of(&json, &real)["causes"]["refused"], 3, "{json}");
    names(&json["findings"].to_string(), &fifo, "a FIFO");
    assert!(run.code.is_some(), "exited by itself");
}

#[test]
fn a_log_linked_to_dev_zero_is_a_character_device_and_burns_no_cpu() {
    let sb = Sandbox::new();
    let zero = sb.path().join("zero.log");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let real = sb.write("error.log", &refused_lines(2));
    let config = two_logs_config(&sb, &zero, &real);
    let (json, run) = check_json(&sb, &config);
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    let error = log_of(&json, &zero)["error"].as_str().unwrap_or_default();
    assert_eq!(
        error, "cannot open: a character device, not a regular file",
        "{json}"
    );
    names(&json["findings"].to_string(), &zero, "a character device");
    assert_eq!(log_of(&json, &real)["causes"]["refused"], 2, "{json}");
}

/// CPU seconds `pid` has used so far (utime + stime).
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), utime 14 and stime 15.
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn the_dashboard_names_a_fifo_and_dev_zero_and_still_follows_the_real_log() {
    let files = Sandbox::new();
    let fifo = mkfifo(&files.path().join("fifo.log"));
    let zero = files.path().join("zero.log");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let real = files.write("error.log", &refused_lines(1));
    let config = files.write(
        "config.toml",
        &format!(
            "[[log]]\npath = \"{}\"\n\n[[log]]\npath = \"{}\"\n\n[[log]]\npath = \"{}\"\n",
            fifo.display(),
            zero.display(),
            real.display()
        ),
    );
    let t = Tmux::start(&["--config", config.to_str().expect("utf-8")], 160, 50);
    t.keys(&["4", "z"]);
    // The pane opens on the log with the bad gateways (the third); `]` shows the next, round.
    t.wait_for("[refused]");
    t.keys(&["]"]);
    t.wait_for("cannot open: a FIFO, not a regular file");
    t.keys(&["]"]);
    t.wait_for("cannot open: a character device, not a regular file");
    let pid = t.pid();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - before;
    assert!(
        used < 1.0,
        "{used:.2}s of CPU in 2s: something reads forever"
    );
}

#[test]
fn a_fifo_as_the_config_file_is_refused_at_once() {
    let sb = Sandbox::new();
    let fifo = mkfifo(&sb.path().join("config.toml"));
    let run = run_within(&sb, &["--config", fifo.to_str().expect("utf-8"), "check"]);
    names(&run.stderr, &fifo, "a FIFO");
    assert_ne!(run.code, Some(0));
}

#[test]
fn a_fifo_as_resolv_conf_or_hosts_file_is_a_dns_error_and_check_finishes() {
    for which in ["resolv-conf", "hosts-file"] {
        let sb = Sandbox::new();
        let fifo = mkfifo(&sb.path().join("fifo"));
        let resolv = sb.write(
            "resolv.conf",
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        );
        // Not in the hosts file: the lookup needs resolv.conf.
        let hosts = sb.write("hosts", "127.0.0.1 localhost\n");
        let (resolv, hosts) = match which {
            "resolv-conf" => (fifo.clone(), hosts),
            _ => (resolv, fifo.clone()),
        };
        let config = sb.write(
            "config.toml",
            &format!(
                "[dns]\nnames = [\"app.test\"]\nhosts-file = \"{}\"\nresolv-conf = \"{}\"\n",
                hosts.display(),
                resolv.display()
            ),
        );
        let (json, _) = check_json(&sb, &config);
        names(&json["findings"].to_string(), &fifo, "a FIFO");
    }
}

#[test]
fn check_and_report_stop_at_the_timeout_and_say_what_did_not_finish() {
    let sb = Sandbox::new();
    // Accepts connections (the kernel does, into the backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let real = sb.write("error.log", &refused_lines(1));
    let config = sb.write(
        "config.toml",
        &format!(
            "[[upstream]]\nname = \"silent\"\nurl = \"http://127.0.0.1:{port}/\"\ntimeout = \"60s\"\n\n\
             [[log]]\npath = \"{}\"\nkind = \"error\"\n",
            real.display()
        ),
    );
    let config = config.to_str().expect("utf-8");
    let run = run_within(
        &sb,
        &["--config", config, "check", "--json", "--timeout", "2s"],
    );
    assert!(run.took < Duration::from_secs(8), "took {:?}", run.took);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert!(
        json["findings"]
            .to_string()
            .contains("1 of 1 upstreams not probed: check's time budget ran out"),
        "{json}"
    );
    assert_eq!(log_of(&json, &real)["causes"]["refused"], 1, "{json}");
    assert_eq!(json["probes"]["not_probed"], 1, "{json}");
    assert_eq!(json["upstreams"][0]["outcome"], "not_probed", "{json}");

    let run = run_within(&sb, &["--config", config, "report", "--timeout", "1s"]);
    assert!(run.took < Duration::from_secs(8), "took {:?}", run.took);
    assert!(
        run.stdout
            .contains("not probed: check's time budget ran out"),
        "{}",
        run.stdout
    );

    let run = run_within(&sb, &["check", "--timeout", "soon"]);
    assert_eq!(run.code, Some(2), "a usage error: {}", run.stderr);
    assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
}

#[test]
fn a_fifo_as_a_user_theme_is_refused_at_once() {
    let sb = Sandbox::new();
    let dir = sb.path().join("config/gatewatch/themes");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let fifo = mkfifo(&dir.join("evil.toml"));
    let run = run_within(&sb, &["--theme", "evil", "check"]);
    names(&run.stderr, &fifo, "a FIFO");
    assert_ne!(run.code, Some(0));
}
