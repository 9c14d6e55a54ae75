//! Log engine: follows proxy logs like `tail -F` (rotation, truncation, late files, unreadable
//! files, streaming commands such as `journalctl -f`), makes every line safe for a terminal,
//! and classifies upstream failures into named causes.
//!
//! Plain data in, plain data out: this module never imports the terminal crates. The follower
//! thread ([`LogFollower`]) hands owned [`LogBatch`]es to a callback; whoever owns the app state
//! keeps them in a [`LogBook`] (ring buffers plus counters). The headless `check` command uses
//! [`scan`], which reads only the recent end of a file.

mod access;
mod apache;
mod caddy;
mod cause;
mod classify;
mod command;
mod count;
mod envoy;
mod example;
mod file;
mod follow;
mod go_errors;
mod haproxy;
mod journal;
mod json;
mod lines;
mod nginx;
mod prefix;
mod restart;
mod ring;
mod scan;
mod severity;
mod sources;
mod status_class;
mod stream_scan;
mod tail;
mod tally;
mod text;
mod timestamp;
mod traefik;

use serde::Serialize;

pub use access::{AccessLine, parse as parse_access};
pub use apache::{ApacheError, parse as parse_apache_error};
pub use caddy::{CaddyLine, parse as parse_caddy};
pub use cause::Cause;
pub use classify::{Classified, classify, classify_with, detect};
pub use count::count_lines;
pub use example::{EXAMPLE_BYTES, Example};
pub(crate) use file::describe;
pub use follow::{FollowOptions, LogFollower, STOP_GRACE};
pub use haproxy::{HaproxyLine, parse as parse_haproxy};
pub use lines::{LineSplitter, cut_marker, make_line, make_line_with};
pub use nginx::{Memo as ClassifyMemo, NginxError, parse as parse_nginx_error};
pub use prefix::{Peeled, peel};
pub use ring::{LogBook, RingLimits, SourceLog};
pub use scan::{
    DEFAULT_MAX_LINES, DEFAULT_WINDOW, LINE_NUMBER_MAX_BYTES, LogReport, OLDER_RUN_BYTES,
    OLDER_RUN_LINES, RECENT_LINE_BYTES, RECENT_LINES, SCAN_MAX_BYTES, ScanSpan, Scanned, assess,
    judge, scan, scan_at, scan_source, scan_source_with,
};
pub(crate) use scan::{SCAN_MAX_LINE, WindowEnd, safe_text};
pub use severity::{
    CRITICAL_EVENTS, CRITICAL_SHARE_PERCENT, SHARE_MIN_REQUESTS, UPSTREAM_CRITICAL_PERCENT,
    UPSTREAM_MIN_REQUESTS, WARNING_EVENTS, percent, severity,
};
pub(crate) use sources::program;
pub use sources::{
    DOCKER_ENV, JOURNALCTL_ENV, Origin, STREAM_HISTORY, SourceSpec, container_source,
    container_source_at, journal_source, sources,
};
pub use status_class::{CLASS_NAMES, StatusClasses};
pub use stream_scan::{STREAM_SCAN_TIME, scan_stream};
pub use tail::{ReverseLines, line_numbers, start_of_last_lines};
pub(crate) use tally::minute_of;
pub use tally::{
    MAX_UPSTREAMS, MINUTES_KEPT, Mark, MinuteCounts, OTHER_UPSTREAMS, QuietRequests, Skipped,
    Tally, WindowCounts, earlier, is_gateway_failure,
};
pub use timestamp::{Clock, TimeParser};

/// The shape of a log, detected per line (or narrowed by the config's `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    NginxError,
    ApacheError,
    /// HAProxy's traffic log (HTTP or TCP format) and its alerts.
    Haproxy,
    /// The combined access log format (nginx or Apache), with optional upstream extras; also
    /// Traefik's common format.
    Access,
    /// Traefik's own log (text, console or JSON): its `'502 Bad Gateway' caused by: ...` lines.
    Traefik,
    /// Traefik's access log in JSON.
    TraefikAccess,
    /// Envoy's access log (default format or JSON), whose response flags say why.
    Envoy,
    /// Caddy's own messages (JSON, console or Caddy 1 text), upstream errors among them.
    Caddy,
    /// Caddy's JSON access entries (`http.log.access` loggers).
    CaddyAccess,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::NginxError => "nginx_error",
            Format::ApacheError => "apache_error",
            Format::Haproxy => "haproxy",
            Format::Access => "access",
            Format::Traefik => "traefik",
            Format::TraefikAccess => "traefik_access",
            Format::Envoy => "envoy",
            Format::Caddy => "caddy",
            Format::CaddyAccess => "caddy_access",
        }
    }

    /// Whether its lines carry HTTP statuses: an access log, HAProxy's traffic log.
    pub fn has_statuses(self) -> bool {
        matches!(
            self,
            Format::Access
                | Format::Haproxy
                | Format::TraefikAccess
                | Format::Envoy
                | Format::CaddyAccess
        )
    }

    /// Whether it is a proxy's error log, whose lines say why a request failed.
    pub fn is_error_log(self) -> bool {
        matches!(
            self,
            Format::NginxError | Format::ApacheError | Format::Traefik | Format::Caddy
        )
    }
}

/// One line, owned and ready to draw: `text` holds no control character (see
/// [`crate::sanitize`]) and ends with [`cut_marker`] when the line was longer than the cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub text: String,
    pub format: Option<Format>,
    pub cause: Option<Cause>,
    /// HTTP status of an access or HAProxy line.
    pub status: Option<u16>,
    /// The server a failure is attributed to, or that answered a request.
    pub upstream: Option<String>,
    /// Unix seconds from the line's own timestamp; parsed only for failures and requests (lines
    /// with a status), which the per-minute counters need.
    pub time: Option<i64>,
}

/// Where a source stands; errors are state to show, never a reason to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// Not looked at yet.
    Starting,
    /// Open and being read.
    Following,
    /// Read, but closed between reads to stay within the open-file budget: each poll looks
    /// at its size and opens it again when it grew.
    Polled,
    /// Nothing to read yet (the file does not exist, a glob matches nothing); checked every poll.
    Waiting(String),
    /// Cannot be read (permission denied, ...); retried every poll.
    Failed(String),
    /// A command source exited. Not restarted: a command like `printf` would repeat its lines.
    /// A journal or container source is started again, resuming where it stopped (see
    /// `restart`); its reason says when.
    Ended(String),
}

/// Things that happened to a file source, for the pane to mention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowEvent {
    /// A file was opened (at start, after appearing, or after a rotation).
    Opened,
    /// A new file replaced the followed one (rename-and-create, or delete and re-create); the old
    /// one was read to its end first.
    Rotated,
    /// The file shrank (copytruncate); reading restarted from its beginning.
    Truncated,
}

/// What a follower pass produced for one source: new lines (at most
/// [`FollowOptions::batch_lines`]), lines only counted before them, and the source's status
/// after reading them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogBatch {
    /// Index into the sources given to [`LogFollower::spawn`].
    pub source: usize,
    /// Counted but not materialised (see [`FollowOptions::ring_lines`]); older than `lines`.
    pub skipped: Skipped,
    pub lines: Vec<LogLine>,
    pub status: SourceStatus,
    pub events: Vec<FollowEvent>,
}

#[cfg(test)]
impl LogBatch {
    /// What a followed source sends for `lines`, nothing skipped and no event: the batch most
    /// tests feed the model.
    pub fn following(source: usize, lines: Vec<LogLine>) -> LogBatch {
        LogBatch {
            source,
            skipped: Default::default(),
            lines,
            status: SourceStatus::Following,
            events: vec![],
        }
    }
}
