//! What a discovered upstream is probed as: the same type as a configured one.

pub use crate::config::Target;
