//! Upstream engine: probes (http, https, tcp, unix), outcome classification, per-target history
//! and the scheduler that runs them all.
//!
//! Plain data out: never imports the terminal crates, so the dashboard, the headless `check`
//! command and the tests use it alike. Every probe is bounded by its upstream's timeout and opens a
//! fresh connection; failures are results with a reason, never errors.

pub mod caddy_admin;
pub mod catalog;
mod cert;
mod history;
mod http;
mod in_container;
pub mod named_by;
mod outcome;
mod phases;
mod probe;
mod resolve;
mod scheduler;
mod socket;

use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

pub use history::{
    DEFAULT_CAPACITY, FLAP_CHANGES, FLAP_WINDOW, HISTORY_BUDGET_BYTES, History, MIN_CAPACITY,
    Sample, State, capacity_for,
};
pub use http::MAX_BODY_BYTES;
pub use outcome::{MAX_DETAIL_CHARS, Outcome};
pub use phases::Phases;
pub use probe::{MAX_PARALLEL, probe_all, probe_all_by, probe_once};
pub(crate) use probe::{Prober, not_run, probe_all_with};
pub(crate) use resolve::Names;
pub use scheduler::{
    BATCH_WINDOW, JITTER, MAX_BATCH_WINDOW, MAX_IN_FLIGHT, ProbeScheduler, ProberStats,
    STARTUP_SPREAD, SpawnError, batch_window,
};

/// One probe of one target, owned and self-contained so it can be sent to the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeResult {
    /// Position of the upstream in the list the prober was given.
    pub target_index: usize,
    /// Increases with every probe in the process: a result with a lower `seq` than one already
    /// shown for the same target is stale.
    pub seq: u64,
    /// When the probe started.
    #[serde(serialize_with = "timestamp")]
    pub at: SystemTime,
    pub outcome: Outcome,
    /// The HTTP status, when there was an answer.
    pub status_code: Option<u16>,
    /// Time to the answer (response headers) or to the connect (tcp, unix); `None` when there was
    /// neither.
    #[serde(rename = "latency_ms", serialize_with = "millis_opt")]
    pub latency: Option<Duration>,
    /// Time the whole probe took, failures included (e.g. how long a timeout waited).
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
    /// Where the time went: resolve, connect, tls, first byte, total (see [`Phases`]).
    pub phases: Phases,
    /// What happened, for people: "HTTP 200 OK", or the reason and the full error chain.
    /// Sanitised (it can hold server-controlled bytes) and at most [`MAX_DETAIL_CHARS`].
    pub detail: String,
    /// The address actually connected to ("127.0.0.1:8080", "[::1]:443", a socket path); for a
    /// failed HTTP probe of a host name it is unknown, so `None`.
    pub addr: Option<String>,
    /// When the https upstream's leaf certificate stops being valid (notAfter, unix seconds):
    /// from the handshake, or from the verifier's "expired" error when verification rejected it.
    /// `None` for http, tcp and unix, and when no certificate was seen. Left out of the JSON
    /// when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_not_after: Option<i64>,
}

/// A short age for narrow columns: "42s", "3m05s", "2h10m", "4d03h".
pub fn format_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
    }
}

fn timestamp<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    match jiff::Timestamp::try_from(*at) {
        Ok(ts) => s.collect_str(&ts),
        Err(_) => s.serialize_none(),
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(as_millis(*d))
}

fn millis_opt<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(as_millis(*d)),
        None => s.serialize_none(),
    }
}

/// Milliseconds to a tenth of a microsecond: loopback answers take well under a millisecond.
fn as_millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_the_fields_scripts_read() {
        let result = ProbeResult {
            target_index: 2,
            seq: 9,
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            outcome: Outcome::BadStatus,
            status_code: Some(502),
            latency: Some(Duration::from_micros(1500)),
            elapsed: Duration::from_micros(2250),
            phases: Phases::default(),
            detail: "HTTP 502 Bad Gateway, expected 200-399".into(),
            addr: Some("127.0.0.1:8080".into()),
            cert_not_after: None,
        };
        let v = serde_json::to_value(&result).expect("serialises");
        assert_eq!(v["outcome"], "bad_status");
        assert_eq!(v["status_code"], 502);
        assert_eq!(v["latency_ms"], 1.5);
        assert_eq!(v["elapsed_ms"], 2.25);
        assert_eq!(v["at"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["addr"], "127.0.0.1:8080");
        assert_eq!(v["target_index"], 2);
    }
}
