//! Process rows from sysinfo: user names and safe command lines.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use sysinfo::{Process, System, Users};

use super::ProcessRow;
use crate::sanitize::sanitize;

/// Longest command shown; argv can be megabytes and is attacker-influenced.
pub const MAX_COMMAND_CHARS: usize = 512;

/// Bytes of argv decoded per process: a char is at most 4 bytes, so this always yields enough
/// for [`MAX_COMMAND_CHARS`] without decoding a megabyte command line every sample.
const MAX_COMMAND_BYTES: usize = MAX_COMMAND_CHARS * 4;

/// An unknown uid re-reads /etc/passwd at most this often (a uid with no entry would otherwise
/// re-read it every sample).
pub const USER_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Shown when the kernel would not tell us who owns a process (it exited mid-read, hidepid).
const UNKNOWN_USER: &str = "?";

/// uid -> name, reloaded lazily and rate-limited.
#[derive(Default)]
pub(crate) struct UserNames {
    names: HashMap<u32, String>,
    last_reload: Option<Instant>,
}

impl UserNames {
    /// The name of `uid`, reloading through `reload` first if it is unknown and the last reload
    /// is older than [`USER_RELOAD_INTERVAL`]; the numeric uid when there is still no name.
    pub(crate) fn name(
        &mut self,
        uid: u32,
        now: Instant,
        reload: impl FnOnce() -> HashMap<u32, String>,
    ) -> String {
        if let Some(name) = self.names.get(&uid) {
            return name.clone();
        }
        let due = self
            .last_reload
            .is_none_or(|at| now.saturating_duration_since(at) >= USER_RELOAD_INTERVAL);
        if due {
            self.names = reload();
            self.last_reload = Some(now);
            if let Some(name) = self.names.get(&uid) {
                return name.clone();
            }
        }
        uid.to_string()
    }
}

/// Re-reads the user list; names are sanitised once here rather than on every row. Without a
/// user list every process shows its numeric uid.
pub(crate) fn load_users(users: Option<&mut Users>) -> HashMap<u32, String> {
    let Some(users) = users else {
        return HashMap::new();
    };
    users.refresh();
    users
        .iter()
        .map(|u| (**u.id(), sanitize(u.name()).into_owned()))
        .collect()
}

/// Joined argv as ps shows it, or `[name]` for a kernel thread (empty argv); lossy UTF-8,
/// sanitised, at most [`MAX_COMMAND_CHARS`] chars with a trailing `…` when cut.
pub(crate) fn command_line(argv: &[OsString], name: &OsStr) -> String {
    let mut bytes = Vec::with_capacity(128);
    if argv.is_empty() {
        bytes.push(b'[');
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(b']');
    } else {
        for (i, arg) in argv.iter().enumerate() {
            if i > 0 {
                bytes.push(b' ');
            }
            bytes.extend_from_slice(arg.as_bytes());
            if bytes.len() > MAX_COMMAND_BYTES {
                break;
            }
        }
    }
    let cut_bytes = bytes.len() > MAX_COMMAND_BYTES;
    bytes.truncate(MAX_COMMAND_BYTES);
    let text = String::from_utf8_lossy(&bytes);
    let clean = sanitize(&text);
    if !cut_bytes && clean.chars().count() <= MAX_COMMAND_CHARS {
        return clean.into_owned();
    }
    let mut out: String = clean.chars().take(MAX_COMMAND_CHARS - 1).collect();
    out.push('…');
    out
}

fn row(process: &Process, user: String) -> ProcessRow {
    ProcessRow {
        pid: process.pid().as_u32(),
        user,
        cpu: process.cpu_usage(),
        mem: process.memory(),
        command: command_line(process.cmd(), process.name()),
    }
}

/// One row per process, sorted by pid.
pub(crate) fn rows(
    system: &System,
    names: &mut UserNames,
    mut users: Option<&mut Users>,
) -> Vec<ProcessRow> {
    let now = Instant::now();
    let mut rows: Vec<ProcessRow> = system
        .processes()
        .values()
        .map(|p| {
            // Effective uid, as top and ps show: a setuid program runs as its owner.
            let user = match p.effective_user_id().or(p.user_id()) {
                Some(uid) => names.name(**uid, now, || load_users(users.as_deref_mut())),
                None => UNKNOWN_USER.to_owned(),
            };
            row(p, user)
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.pid);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn argv(args: &[&[u8]]) -> Vec<OsString> {
        args.iter()
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect()
    }

    #[test]
    fn argv_is_joined_with_spaces() {
        let cmd = command_line(
            &argv(&[b"/usr/sbin/nginx", b"-g", b"daemon off;"]),
            OsStr::new("nginx"),
        );
        assert_eq!(cmd, "/usr/sbin/nginx -g daemon off;");
    }

    #[test]
    fn kernel_threads_show_their_name_in_brackets() {
        assert_eq!(
            command_line(&[], OsStr::new("kworker/0:1")),
            "[kworker/0:1]"
        );
    }

    #[test]
    fn hostile_argv_is_sanitised_and_lossy() {
        let cmd = command_line(
            &argv(&[b"evil\x1b]0;owned\x07", b"\xff\xfe", b"\xc2\x9b31m"]),
            OsStr::new("evil"),
        );
        assert_eq!(cmd, "evil\\x1b]0;owned\\x07 \u{fffd}\u{fffd} \\u{9b}31m");
        assert!(!cmd.chars().any(char::is_control));
        let name = command_line(&[], OsStr::from_bytes(b"k\x1b[2J"));
        assert_eq!(name, "[k\\x1b[2J]");
    }

    #[test]
    fn long_commands_are_capped_at_512_chars() {
        let huge = vec![b'a'; 2 * 1024 * 1024];
        let cmd = command_line(&argv(&[b"java", &huge]), OsStr::new("java"));
        assert_eq!(cmd.chars().count(), MAX_COMMAND_CHARS);
        assert!(cmd.starts_with("java aaa"));
        assert!(cmd.ends_with('…'));

        // Multi-byte chars: the cap is in chars, not bytes.
        let wide = "é".repeat(600);
        let cmd = command_line(&argv(&[wide.as_bytes()]), OsStr::new("x"));
        assert_eq!(cmd.chars().count(), MAX_COMMAND_CHARS);

        // Escapes expand: 300 ESC bytes become 1200 chars, still capped.
        let cmd = command_line(&argv(&[&[0x1b; 300]]), OsStr::new("x"));
        assert_eq!(cmd.chars().count(), MAX_COMMAND_CHARS);

        // Exactly at the cap is not cut.
        let exact = "b".repeat(MAX_COMMAND_CHARS);
        assert_eq!(
            command_line(&argv(&[exact.as_bytes()]), OsStr::new("x")),
            exact
        );
    }

    #[test]
    fn unknown_uids_reload_at_most_once_a_minute() {
        let mut names = UserNames::default();
        let mut reloads = 0;
        let t0 = Instant::now();
        let passwd = || HashMap::from([(0, "root".to_owned()), (33, "www-data".to_owned())]);

        assert_eq!(
            names.name(33, t0, || {
                reloads += 1;
                passwd()
            }),
            "www-data"
        );
        assert_eq!(reloads, 1);
        // Known uids never reload.
        assert_eq!(
            names.name(0, t0, || {
                reloads += 1;
                passwd()
            }),
            "root"
        );
        assert_eq!(reloads, 1);
        // An unknown uid right after a reload falls back to the number without reloading.
        let later = t0 + Duration::from_secs(59);
        assert_eq!(
            names.name(1234, later, || {
                reloads += 1;
                passwd()
            }),
            "1234"
        );
        assert_eq!(reloads, 1);
        // A minute on, the user may have been created: reload once.
        let minute = t0 + USER_RELOAD_INTERVAL;
        let with_new = || {
            let mut p = passwd();
            p.insert(1234, "deploy".to_owned());
            p
        };
        assert_eq!(
            names.name(1234, minute, || {
                reloads += 1;
                with_new()
            }),
            "deploy"
        );
        assert_eq!(reloads, 2);
        assert_eq!(
            names.name(999, minute, || {
                reloads += 1;
                with_new()
            }),
            "999"
        );
        assert_eq!(reloads, 2);
    }
}
