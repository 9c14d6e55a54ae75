//! The names of what went wrong between the proxy and its upstream, shared by every log format.

use std::fmt;

use serde::Serialize;

/// Why a request failed upstream. The snake_case names are what the pane and the JSON show, so
/// they are part of the interface: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// 111: Connection refused (nothing listens on the port or socket).
    Refused,
    /// 104: Connection reset by peer (and 32: Broken pipe).
    Reset,
    /// The upstream closed the connection before a complete response header.
    PrematureClose,
    /// 110: upstream timed out (nginx answers 504 for it).
    Timeout,
    /// Every server of the upstream group is marked failed.
    NoLiveUpstreams,
    /// The response header does not fit the proxy buffers.
    TooBigHeader,
    /// The upstream sent an invalid header or response.
    InvalidHeader,
    /// The upstream's name could not be resolved.
    Dns,
    /// The TLS handshake with the upstream failed.
    Tls,
    /// 11: Resource temporarily unavailable: a unix socket's backlog is full (php-fpm saturated).
    Unavailable,
    /// 113: No route to host, 101: Network is unreachable.
    Unreachable,
    /// 13: Permission denied (SELinux, socket file permissions).
    Permission,
    /// 99: Cannot assign requested address (ephemeral ports exhausted).
    NoAddress,
    /// 24: Too many open files.
    FdLimit,
    /// 2: No such file or directory on connect(): the unix socket file is gone, so its server
    /// (php-fpm, gunicorn) is not running, or runs with another socket path. Unlike `Refused`,
    /// restarting it is the fix and nothing listens to be overloaded.
    NoSocket,
}

impl Cause {
    pub const ALL: [Cause; 15] = [
        Cause::Refused,
        Cause::Reset,
        Cause::PrematureClose,
        Cause::Timeout,
        Cause::NoLiveUpstreams,
        Cause::TooBigHeader,
        Cause::InvalidHeader,
        Cause::Dns,
        Cause::Tls,
        Cause::Unavailable,
        Cause::Unreachable,
        Cause::Permission,
        Cause::NoAddress,
        Cause::FdLimit,
        Cause::NoSocket,
    ];

    /// The name used in the pane and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Refused => "refused",
            Cause::Reset => "reset",
            Cause::PrematureClose => "premature_close",
            Cause::Timeout => "timeout",
            Cause::NoLiveUpstreams => "no_live_upstreams",
            Cause::TooBigHeader => "too_big_header",
            Cause::InvalidHeader => "invalid_header",
            Cause::Dns => "dns",
            Cause::Tls => "tls",
            Cause::Unavailable => "unavailable",
            Cause::Unreachable => "unreachable",
            Cause::Permission => "permission",
            Cause::NoAddress => "no_address",
            Cause::FdLimit => "fd_limit",
            Cause::NoSocket => "no_socket",
        }
    }

    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The cause an errno means when it is about an upstream connection. Shared by nginx
    /// (`(111: Connection refused)`) and Apache (`(111)Connection refused`); Apache's own APR codes
    /// (70007 timeout, 70014 end of file) are mapped by its parser.
    pub fn from_errno(errno: u32) -> Option<Cause> {
        Some(match errno {
            111 => Cause::Refused,
            // ENOENT on connect(): the unix socket file is gone.
            2 => Cause::NoSocket,
            104 | 32 => Cause::Reset,
            110 => Cause::Timeout,
            11 => Cause::Unavailable,
            113 | 101 => Cause::Unreachable,
            13 => Cause::Permission,
            99 => Cause::NoAddress,
            24 => Cause::FdLimit,
            _ => return None,
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_json() {
        for cause in Cause::ALL {
            assert_eq!(Cause::from_name(cause.name()), Some(cause));
            let json = serde_json::to_string(&cause).expect("serialises");
            assert_eq!(json, format!("\"{}\"", cause.name()));
        }
        assert_eq!(Cause::from_name("nope"), None);
    }

    #[test]
    fn a_missing_socket_file_is_not_a_refusal() {
        assert_eq!(Cause::from_errno(2), Some(Cause::NoSocket));
        assert_eq!(Cause::from_errno(111), Some(Cause::Refused));
        assert_eq!(Cause::NoSocket.name(), "no_socket");
    }
}
