//! Files other users can write: a state directory they could redirect, a report path with a link
//! planted on it, a config they could edit. The real binary, as root, against real files, links
//! and the real `nobody` user.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use common::{Sandbox, Tmux};

const TARGET_TEXT: &str = "root's file, not to be touched\n";

fn nobody() -> (u32, u32) {
    // SAFETY: a NUL-terminated name; the result is read at once, before any other getpw call.
    let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    assert!(
        !pw.is_null(),
        "no user `nobody` on this machine: the tests need one"
    );
    // SAFETY: checked non-null above.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

fn chown(path: &Path, uid: u32, gid: u32) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::chown(c.as_ptr(), uid, gid) };
    assert_eq!(
        rc,
        0,
        "chown {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `<sandbox>/state` made hostile by `spoil`, with `gatewatch/gatewatch.log` and
/// `gatewatch/actions.log` planted as links to a file of the test's own. Returns the target.
fn planted_state(sb: &Sandbox, spoil: impl Fn(&Path)) -> PathBuf {
    let target = sb.write("target", TARGET_TEXT);
    let dir = sb.path().join("state/gatewatch");
    fs::create_dir_all(&dir).expect("mkdir");
    for name in ["gatewatch.log", "actions.log"] {
        symlink(&target, dir.join(name)).expect("symlink");
    }
    spoil(&sb.path().join("state"));
    target
}

fn world_writable(dir: &Path) {
    chmod(dir, 0o777);
}

fn nobodys(dir: &Path) {
    let (uid, gid) = nobody();
    chown(dir, uid, gid);
    chmod(dir, 0o755);
}

fn check_writes_nothing_through_links(spoil: impl Fn(&Path), why: &str) {
    let sb = Sandbox::new();
    let target = planted_state(&sb, spoil);
    let out = sb.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(fs::read_to_string(&target).expect("target"), TARGET_TEXT);
    let state = sb.path().join("state");
    assert!(
        stderr.contains(&format!("{} {why}", state.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("gatewatch writes no files under it"),
        "{stderr}"
    );
}

#[test]
fn a_world_writable_parent_gets_no_writes() {
    check_writes_nothing_through_links(
        world_writable,
        "is writable by others (owner root, mode 0777)",
    );
}

#[test]
fn a_parent_owned_by_nobody_gets_no_writes() {
    check_writes_nothing_through_links(
        nobodys,
        "is owned by another user (owner nobody, mode 0755)",
    );
}

#[test]
fn the_dashboard_writes_no_log_there_and_turns_actions_off() {
    let sb = Sandbox::new();
    let target = planted_state(&sb, world_writable);
    let state = sb.path().join("state");
    let state_env = state.display().to_string();
    let t = Tmux::start_with(&[], 250, 40, &[("XDG_STATE_HOME", &state_env)]);
    t.wait_for("is writable by others");
    t.keys(&["a"]);
    t.wait_for("read-only: no safe audit trail");
    assert_eq!(fs::read_to_string(&target).expect("target"), TARGET_TEXT);
}

#[test]
fn a_state_dir_of_its_own_is_0700_with_0600_files() {
    let sb = Sandbox::new();
    let out = sb.run(&["check"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = sb.path().join("state/gatewatch");
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("gatewatch.log")), 0o600);
}

#[test]
fn report_o_does_not_write_through_a_planted_link() {
    let sb = Sandbox::new();
    let target = sb.write("target", TARGET_TEXT);
    let link = sb.path().join("report.md");
    symlink(&target, &link).expect("symlink");
    let out = sb.run(&["report", "-o", link.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(fs::read_to_string(&target).expect("target"), TARGET_TEXT);
    assert!(fs::symlink_metadata(&link).expect("link").is_symlink());
}

fn service_config(sb: &Sandbox, marker: &Path) -> PathBuf {
    sb.write(
        "gatewatch.toml",
        &format!(
            "[[service]]\nname = \"web\"\nstatus = [\"touch\", \"{}\"]\n",
            marker.display()
        ),
    )
}

#[test]
fn a_config_others_can_write_runs_no_commands() {
    let sb = Sandbox::new();
    let marker = sb.path().join("marker");
    let config = service_config(&sb, &marker);
    let (uid, gid) = nobody();
    chown(&config, uid, gid);
    chmod(&config, 0o666);
    let out = sb.run(&[
        "--config",
        config.to_str().expect("utf-8"),
        "check",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!marker.exists(), "the status command ran");
    let why = format!(
        "{} is owned by another user (mode 0666, owner nobody): its commands are not run; \
         chmod 600 and chown root",
        config.display()
    );
    assert!(stdout.contains(&why), "a finding: {stdout}");
    assert!(stderr.contains(&why), "{stderr}");

    chown(&config, 0, 0);
    chmod(&config, 0o600);
    let out = sb.run(&["--config", config.to_str().expect("utf-8"), "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        marker.exists(),
        "root's 0600 config runs its status command: {stdout}"
    );
    assert!(!stdout.contains("its commands are not run"), "{stdout}");
    assert_eq!(fs::metadata(&config).expect("stat").uid(), 0);
}

#[test]
fn a_config_of_ours_writable_by_others_runs_no_commands() {
    let sb = Sandbox::new();
    let marker = sb.path().join("marker");
    let config = service_config(&sb, &marker);
    chmod(&config, 0o666);
    let out = sb.run(&[
        "--config",
        config.to_str().expect("utf-8"),
        "check",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!marker.exists(), "the status command ran");
    let why = "is writable by others (mode 0666, owner root): its commands are not run";
    assert!(stdout.contains(why), "a finding: {stdout}");
    assert!(stderr.contains(why), "{stderr}");
}
