//! The incident timeline: when the current failure began, and what the host recorded just before
//! it (proxy reloads, crashes, OOM kills, package changes, containers that died...), as timed [`Event`]s on one line of
//! time. The readers here turn raw lines into events; the collectors that find the files, and
//! the views that draw the result, live elsewhere.

pub mod certs;
pub mod collect;
pub mod config_files;
pub mod containers;
pub mod event;
pub mod history;
pub mod kernel;
pub mod listeners;
pub mod notice_tail;
pub mod onset;
pub mod packages;
pub mod proxy_notices;
pub mod story;
pub mod systemd;
pub mod tail_text;

pub use certs::cert_event;
pub use event::{Event, EventKind, Events};
pub use history::{History, HistorySpan, Minute, scan_history, scan_history_before};
pub use onset::{Onset, OnsetState, onset};
pub use tail_text::{DEFAULT_BUDGET, read_tail};
