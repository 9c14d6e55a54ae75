//! gatewatch: a terminal dashboard for live troubleshooting of 502 Bad Gateway errors.
//!
//! The engine (host sampling, config, checks) never imports the terminal crates; `app` and `ui`
//! sit on top of it, and the headless `check` command uses the engine directly.

pub mod discover;
pub mod sanitize;
pub mod status;
