//! Reads every proxy API on its own OS thread, now and then every [`INTERVAL`], or at once when
//! asked: each read is blocking socket I/O bounded by [`super::TIMEOUT`].

use std::io;
use std::time::Duration;

use super::{DiscoveredApi, ProxyView, read_all};
use crate::outbox::Outbox;
use crate::periodic::{Periodic, Round};

/// Health checks run every few seconds (HAProxy's default `inter` is 2 s): as often as that,
/// without hammering the admin sockets.
pub const INTERVAL: Duration = Duration::from_secs(5);

pub struct ProxyViewCollector(Periodic);

impl ProxyViewCollector {
    /// Reads `apis` now, then every `interval`; ends when the receiver is gone or it drops.
    pub fn spawn(
        apis: Vec<DiscoveredApi>,
        interval: Duration,
        outbox: Outbox<Vec<ProxyView>>,
    ) -> io::Result<ProxyViewCollector> {
        let what = "proxy view reader";
        let periodic = Periodic::spawn("gatewatch-proxy-view", what, interval, outbox, || {
            move |round: &Round<'_, Vec<ProxyView>>| round.deliver(read_all(&apis))
        })?;
        Ok(ProxyViewCollector(periodic))
    }

    /// Reads again now instead of at the next interval; coalesced.
    pub fn rerun(&self) {
        self.0.rerun();
    }

    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;
    use crate::discover::{ApiKind, SourceLoc};
    use crate::outbox::recv_within;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use tokio::sync::mpsc;

    /// A real unix socket answering `show stat` the way HAProxy does, read twice: at once, then
    /// on a rerun.
    #[test]
    fn reads_at_once_and_again_when_asked() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("stats.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(mut conn) = conn else { return };
                let mut asked = [0u8; 10];
                let _ = conn.read(&mut asked);
                let state = if n == 0 { "UP" } else { "DOWN" };
                let _ = write!(conn, "# pxname,svname,status\nbe,s1,{state}\n\n");
            }
        });
        let api = DiscoveredApi {
            kind: ApiKind::HaproxyStats,
            at: Target::Unix { path: path.clone() },
            source: SourceLoc {
                file: "haproxy.cfg".into(),
                line: 2,
            },
        };
        let (tx, mut rx) = mpsc::channel(4);
        let c = ProxyViewCollector::spawn(vec![api], Duration::from_secs(3600), Outbox::new(tx))
            .expect("spawn");
        let first: Vec<ProxyView> = recv_within(&mut rx, Duration::from_secs(5)).expect("first");
        assert_eq!(first[0].servers[0].state, super::super::ViewState::Up);
        assert_eq!(first[0].at, format!("unix:{}", path.display()));
        c.rerun();
        let second: Vec<ProxyView> = recv_within(&mut rx, Duration::from_secs(5)).expect("second");
        assert_eq!(second[0].servers[0].state, super::super::ViewState::Down);
        assert!(c.is_running());
    }
}
