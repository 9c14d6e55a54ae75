//! The process's open-file limit: raised to its hard limit at start (the common soft limit of
//! 1024 is far below what a host with a thousand vhosts' logs needs), and the share of it the
//! log follower may keep open, so probes, sockets and the terminal always find descriptors.

use std::io;

/// Descriptors kept back from the logs' share whatever the limit: probes, DNS, the terminal,
/// the follower's own stats and reopens.
pub const RESERVE: u64 = 64;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
pub fn raise_to_hard_limit() -> io::Result<u64> {
    let mut limit = current()?;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid, initialised rlimit for the whole call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// The soft open-file limit in force (unlimited reads as `u64::MAX`).
pub fn soft_limit() -> io::Result<u64> {
    Ok(current()?.rlim_cur)
}

/// Log files the follower may keep open under a soft limit of `soft`: half of what the
/// reserve leaves, at least one.
pub fn log_budget(soft: u64) -> usize {
    let half = soft.saturating_sub(RESERVE) / 2;
    usize::try_from(half).unwrap_or(usize::MAX).max(1)
}

fn current() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the whole call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_the_reserve_and_half_the_rest() {
        assert_eq!(log_budget(1024), 480);
        assert_eq!(log_budget(256), 96);
        assert_eq!(log_budget(10), 1);
        assert!(log_budget(u64::MAX) > 1 << 40);
    }

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let raised = raise_to_hard_limit().expect("raise");
        assert_eq!(raised, current().expect("getrlimit").rlim_max);
        assert_eq!(soft_limit().expect("soft"), raised);
    }
}
