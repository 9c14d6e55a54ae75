//! Caddy's admin API, `GET /reverse_proxy/upstreams`: every upstream of every `reverse_proxy`
//! with its requests in flight and its recent failures, e.g.
//! `[{"address":"localhost:9000","num_requests":0,"fails":0}]`.
//! Reference: caddyserver.com/docs/api, "GET /reverse_proxy/upstreams".
//!
//! Caddy keeps no UP/DOWN per upstream in this answer. `fails` counts the failures its passive
//! health checks remember (within `fail_duration`): an upstream with none is shown UP (Caddy
//! keeps sending it requests), one with some as "failing" (Caddy may already skip it,
//! depending on `max_fails`).

use serde::Deserialize;

use super::{MAX_SERVERS, ServerView, ViewState, field};

#[derive(Deserialize)]
struct Upstream {
    address: String,
    #[serde(default)]
    num_requests: Option<u64>,
    #[serde(default)]
    fails: Option<u64>,
}

pub(super) fn parse(body: &[u8]) -> Result<Vec<ServerView>, String> {
    let list: Vec<Upstream> = serde_json::from_slice(body)
        .map_err(|e| format!("not Caddy's upstream list: {}", field(&e.to_string())))?;
    Ok(list
        .into_iter()
        .take(MAX_SERVERS)
        .map(|u| {
            let failing = u.fails.is_some_and(|f| f > 0);
            ServerView {
                group: String::new(),
                server: field(&u.address),
                address: field(&u.address),
                state: if failing {
                    ViewState::Unknown("failing".into())
                } else {
                    ViewState::Up
                },
                check: None,
                since: None,
                requests: u.num_requests,
                fails: u.fails,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_with_counts() {
        let body = br#"[{"address":"localhost:9000","num_requests":3,"fails":0},
                        {"address":"127.0.0.1:9001","num_requests":0,"fails":2,"extra":true}]"#;
        let s = parse(body).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].address, "localhost:9000");
        assert_eq!(s[0].state, ViewState::Up);
        assert_eq!(s[0].requests, Some(3));
        assert_eq!(s[1].state, ViewState::Unknown("failing".into()));
        assert_eq!(s[1].fails, Some(2));
    }

    #[test]
    fn hostile_bodies() {
        assert!(parse(b"").is_err());
        assert!(parse(b"{\"error\":\"x\"}").is_err());
        assert!(parse(b"[{\"address\":1}]").is_err());
        assert!(parse(b"[{\"num_requests\":-1,\"address\":\"a\"}]").is_err());
        let s = parse(b"[{\"address\":\"a\\u001b[2J\"}]").unwrap();
        assert_eq!(s[0].address, "a\\x1b[2J");
        assert_eq!(parse(b"[]").unwrap(), vec![]);
        let deep = "[".repeat(10_000);
        assert!(
            parse(deep.as_bytes()).is_err(),
            "serde_json's recursion limit holds"
        );
    }
}
