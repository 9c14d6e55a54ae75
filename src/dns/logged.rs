//! Names the proxy's own log says it could not resolve: names resolved at run time (a variable
//! in `proxy_pass`) are in no config list, so without this no one would ask about them, and the
//! proxy's `resolver` would be listed without ever being asked about the names it fails on.

use std::time::Duration;

use crate::logs::{Cause, Tally};

/// Names from the logs asked about in one round, at most: a hostile log cannot make a round ask
/// about thousands.
pub const MAX_LOGGED_NAMES: usize = 16;

/// The names the logs' resolution failures in the last `window` (to `now`, unix seconds) name,
/// without a `:port`, each once, leaving out IP literals and the `watched` names.
pub fn unresolved_in<'a>(
    tallies: impl IntoIterator<Item = &'a Tally>,
    window: Duration,
    now: i64,
    watched: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tally in tallies {
        let counts = tally.last(window, now);
        let Some(logged) = counts
            .examples
            .get(&Cause::Dns)
            .and_then(|e| e.unresolved_name())
        else {
            continue;
        };
        let name = without_port(logged)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let known = |n: &String| n.eq_ignore_ascii_case(&name);
        if name.is_empty()
            || super::is_ip_literal(&name)
            || watched.iter().any(known)
            || out.iter().any(known)
        {
            continue;
        }
        out.push(name);
        if out.len() == MAX_LOGGED_NAMES {
            break;
        }
    }
    out
}

/// `backend:8080` → `backend`; a bare name (or an IPv6 literal) as it is.
fn without_port(name: &str) -> &str {
    match name.rsplit_once(':') {
        Some((host, port))
            if !host.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_cut_and_an_ipv6_literal_kept() {
        assert_eq!(without_port("backend:8080"), "backend");
        assert_eq!(without_port("app.internal"), "app.internal");
        assert_eq!(without_port("::1"), "::1");
        assert_eq!(without_port("host:"), "host:");
    }
}
