//! The terminal disappearing under gatewatch without a SIGHUP (nohup, a pty closed by its owner).
//! crossterm programs that keep polling a dead terminal spin at 100% CPU; gatewatch must exit.
//! In its own test binary so no parallel test can inherit the pty's master while it is open.

mod common;

use std::time::{Duration, Instant};

#[test]
fn exits_when_its_terminal_disappears() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::{Command, Stdio};

    let sandbox = common::Sandbox::new();
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into the provided locations; the null name/termios are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both fds were just returned by openpty and are owned by nobody else. The master must
    // not leak into the child (openpty does not set close-on-exec), or it would keep the pty alive.
    let (master, slave) = unsafe {
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
    };
    let mut child = Command::new(common::BIN)
        .env_clear()
        .envs(sandbox.env())
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("spawn gatewatch on a pty");
    // Drain what it draws so it never blocks on a full pty, until it has drawn the dashboard.
    let mut reader = std::fs::File::from(master);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains("Host") && Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        match std::io::Read::read(&mut reader, &mut buf) {
            Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("Host"),
        "never drew the dashboard"
    );
    drop(reader); // the terminal disappears
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(libc::SIGHUP),
                "ends as a hang-up would: {status:?}"
            );
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gatewatch kept running after its terminal disappeared");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
