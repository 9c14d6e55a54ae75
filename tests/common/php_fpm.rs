//! A real php-fpm (the Debian package php8.2-fpm) with a prefix, config and unix socket of its own
//! in a temp dir, for the FastCGI incidents. Stopped when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::require_tool;

const INSTALL: &str = "run ./scripts/test.sh, or apt-get install -y php8.2-fpm";

pub struct PhpFpm {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

/// How the one pool is sized.
pub struct Pool {
    pub max_children: u32,
    pub backlog: u32,
}

impl PhpFpm {
    /// Starts php-fpm in the foreground with one static pool listening on a unix socket, and
    /// `scripts` (name, PHP source) in its document root; waits for the socket.
    pub fn start(pool: Pool, scripts: &[(&str, &str)]) -> PhpFpm {
        let bin = require_tool(&["/usr/sbin/php-fpm8.2", "php-fpm8.2"], INSTALL);
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().display().to_string();
        let socket = dir.path().join("php-fpm.sock");
        for (name, source) in scripts {
            std::fs::write(dir.path().join(name), source).expect("write script");
        }
        // As root php-fpm insists on `-R` and a pool user; otherwise it runs as whoever we are.
        let root = unsafe { libc::geteuid() } == 0;
        let user = if root {
            "user = root\ngroup = root\n"
        } else {
            ""
        };
        let conf = dir.path().join("php-fpm.conf");
        let Pool {
            max_children,
            backlog,
        } = pool;
        std::fs::write(
            &conf,
            format!(
                "[global]\npid = {p}/php-fpm.pid\nerror_log = {p}/php-fpm.log\ndaemonize = no\n\n\
                 [app]\n{user}listen = {sock}\nlisten.backlog = {backlog}\npm = static\n\
                 pm.max_children = {max_children}\ncatch_workers_output = yes\n",
                sock = socket.display()
            ),
        )
        .expect("write php-fpm.conf");
        let mut cmd = Command::new(&bin);
        cmd.args(["-n", "-F", "-p", &p, "-y", &conf.display().to_string()]);
        if root {
            cmd.arg("-R");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut fpm = PhpFpm {
            child: Some(child),
            dir,
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&fpm.socket).is_err() {
            if let Some(Ok(Some(status))) = fpm.child.as_mut().map(Child::try_wait) {
                panic!("php-fpm exited with {status}: {}", fpm.log());
            }
            assert!(
                Instant::now() < deadline,
                "php-fpm did not listen on {}: {}",
                fpm.socket.display(),
                fpm.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fpm
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("php-fpm.log")).unwrap_or_default()
    }

    /// A graceful stop (SIGQUIT) and waits for the exit: php-fpm removes its socket on the way.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        unsafe {
            libc::kill(child.id() as i32, libc::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        // SIGQUIT waits for busy workers; a test is done with them.
        if let Some(child) = &self.child {
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
        }
        self.stop();
    }
}
