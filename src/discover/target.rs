//! What a discovered upstream is probed as.

// TEMPORARY: replaced by crate::config::Target at merge
/// A probe target: an HTTP endpoint, a bare TCP port, or a Unix socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Http {
        url: String,
        tls: bool,
        host: String,
        port: u16,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Unix {
        path: std::path::PathBuf,
    },
}
