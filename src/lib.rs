//! gatewatch: a terminal dashboard for live troubleshooting of 502 Bad Gateway errors.
//!
//! The engine (everything but `app`, `keymap`, `ui`, `tui`, `theme`, `dashboard` and `demo`) never imports
//! the terminal crates, `app` or `ui`; `tests/layers.rs` reads the sources to hold that. The
//! collectors fill one [`model::Model`], judged once by [`model::assess`]: the dashboard draws the
//! result, `check` and `report` format it. Collectors run on [`periodic`] and deliver through an
//! [`outbox::Outbox`]: one loop, one back-pressure rule.

pub mod actions;
pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod containers;
pub mod dashboard;
pub mod demo;
pub mod diagnosis;
pub mod diagnostics;
pub mod discover;
pub mod dns;
pub mod exposition;
pub mod firewall;
pub mod host;
pub mod keymap;
pub mod local_api;
pub mod logs;
pub mod man;
pub mod model;
pub mod netns;
pub mod open_files;
pub mod outbox;
pub mod pane;
pub mod periodic;
pub mod popup;
pub mod private_dir;
pub mod proxy_view;
pub mod regular_file;
pub mod report;
pub mod rootfs;
pub mod sanitize;
pub mod serve;
pub mod source_error;
pub mod status;
pub mod theme;
pub mod timeline;
pub mod tui;
pub mod ui;
pub mod upstream;
pub mod worker;
