//! Discovery against real config trees in temporary directories.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod apache;
mod caddy;
mod haproxy;
mod nginx;
mod nginx_hostile;
mod support;
