//! User names for process rows: uid -> name from the system user list, reloaded lazily.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sysinfo::Users;

use crate::sanitize::sanitize;

/// Longest command shown; argv can be megabytes and is attacker-influenced.
pub const MAX_COMMAND_CHARS: usize = 512;

/// An unknown uid re-reads /etc/passwd at most this often (a uid with no entry would otherwise
/// re-read it every sample).
pub const USER_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

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
pub fn load_users(users: Option<&mut Users>) -> HashMap<u32, String> {
    let Some(users) = users else {
        return HashMap::new();
    };
    users.refresh();
    users
        .iter()
        .map(|u| (**u.id(), sanitize(u.name()).into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
