//! gatewatch: a terminal dashboard for live troubleshooting of 502 Bad Gateway errors.
//!
//! The engine (`config`, `host`, `upstream`, `check`, `status`, `sanitize`) never imports the terminal crates;
//! `app`, `keymap`, `ui`, `tui` and `dashboard` sit on top of it, and the headless `check` command
//! uses the engine directly.

pub mod actions;
pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod diagnosis;
pub mod diagnostics;
pub mod discover;
pub mod dns;
pub mod firewall;
pub mod host;
pub mod keymap;
pub mod logs;
pub mod outbox;
pub mod pane;
pub mod periodic;
pub mod report;
pub mod sanitize;
pub mod source_error;
pub mod status;
pub mod theme;
pub mod tui;
pub mod ui;
pub mod upstream;
pub mod worker;
