//! Every way gatewatch writes its judgement down: one [`Report`] model from the [`Model`] and its
//! [`Assessment`], and one file per format over it (text and JSON for `check`, Markdown for the
//! incident snapshot), plus writing a report file safely.
//!
//! [`Model`]: crate::model::Model
//! [`Assessment`]: crate::model::Assessment

mod json;
mod markdown;
mod model;
mod snapshot;
mod text;
mod timeline;
mod write;

pub use json::to_json;
pub use markdown::{code, code_block, markdown, text};
pub use model::{
    FirewallMatch, FirewallReport, FirewallTool, HostReport, ProxyApiReport, ProxyViewReport,
    Report, UpstreamReport, host_report, upstream_reports,
};
pub use snapshot::{LOG_LINES, ReportLine, Snapshot, newest, relevant};
pub use text::to_text;
pub use timeline::{EventReport, SHOWN_EVENTS, TimelineReport, rfc3339};
pub use write::{replace_whole, write_into, write_new, write_to_state_dir};
