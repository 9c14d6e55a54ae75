//! Envoy's admin `/clusters` in its text form: one `cluster::host::stat::value` line per host
//! statistic, e.g. `shop::10.0.0.5:80::health_flags::/failed_active_hc` and
//! `shop::10.0.0.5:80::rq_total::100`, among cluster-wide lines such as
//! `shop::default_priority::max_connections::1024`.
//! Reference: envoyproxy.io/docs/envoy/latest/operations/admin ("GET /clusters") and the
//! ClusterStatus/HostStatus health flags in the admin API reference.

use std::collections::HashMap;

use super::{MAX_SERVERS, ServerView, ViewState, field};

/// Statistics only a host line has; other lines are the cluster's own.
const HOST_KEYS: &[&str] = &[
    "cx_total",
    "cx_active",
    "cx_connect_fail",
    "rq_total",
    "rq_timeout",
    "rq_success",
    "rq_error",
    "rq_active",
    "health_flags",
    "weight",
    "region",
    "zone",
    "sub_zone",
    "canary",
    "priority",
    "success_rate",
    "local_origin_success_rate",
    "hostname",
];

pub(super) fn parse(body: &[u8]) -> Vec<ServerView> {
    let text = String::from_utf8_lossy(body);
    let mut servers: Vec<ServerView> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for line in text.lines() {
        // The address may be "[::1]:80", itself holding "::": the stat and value are split
        // off the end, the cluster off the front.
        let mut tail = line.rsplitn(3, "::");
        let (Some(value), Some(key), Some(front)) = (tail.next(), tail.next(), tail.next()) else {
            continue;
        };
        let Some((cluster, host)) = front.split_once("::") else {
            continue;
        };
        if !HOST_KEYS.contains(&key) || !(host.contains(':') || host.starts_with('/')) {
            continue;
        }
        let (cluster, host) = (field(cluster), field(host));
        let at = match index.get(&(cluster.clone(), host.clone())) {
            Some(&i) => i,
            None if servers.len() == MAX_SERVERS => continue,
            None => {
                index.insert((cluster.clone(), host.clone()), servers.len());
                servers.push(ServerView {
                    group: cluster,
                    server: host.clone(),
                    address: host,
                    state: ViewState::Unknown("no health flags".into()),
                    check: None,
                    since: None,
                    requests: None,
                    fails: None,
                });
                servers.len() - 1
            }
        };
        let s = &mut servers[at];
        let value = value.trim();
        match key {
            "health_flags" => {
                let (state, check) = health(value);
                s.state = state;
                s.check = check;
            }
            "rq_total" => s.requests = value.parse().ok(),
            "rq_error" | "cx_connect_fail" => {
                if let Ok(n) = value.parse::<u64>() {
                    s.fails = Some(s.fails.unwrap_or(0).saturating_add(n));
                }
            }
            _ => {}
        }
    }
    servers
}

/// "healthy", or flags such as "/failed_active_hc/failed_outlier_check".
fn health(flags: &str) -> (ViewState, Option<String>) {
    if flags == "healthy" {
        return (ViewState::Up, None);
    }
    let list: Vec<&str> = flags.split('/').filter(|f| !f.is_empty()).collect();
    let check = (!list.is_empty()).then(|| field(&list.join(" ")));
    let state = if list.iter().any(|f| f.starts_with("failed_")) {
        ViewState::Down
    } else if list.contains(&"pending_dynamic_removal") {
        ViewState::Drain
    } else if list.iter().all(|f| f.starts_with("degraded_")) && !list.is_empty() {
        ViewState::Up
    } else {
        ViewState::Unknown(field(flags))
    };
    (state, check)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written for this project in the documented text shape of `/clusters`.
    const CLUSTERS: &str = "\
shop::observability_name::shop
shop::default_priority::max_connections::1024
shop::default_priority::max_retries::3
shop::added_via_api::false
shop::outlier::success_rate_average::-1
shop::127.0.0.1:8080::cx_total::7
shop::127.0.0.1:8080::cx_connect_fail::0
shop::127.0.0.1:8080::rq_error::1
shop::127.0.0.1:8080::rq_total::100
shop::127.0.0.1:8080::health_flags::healthy
shop::127.0.0.1:9::cx_connect_fail::12
shop::127.0.0.1:9::rq_error::3
shop::127.0.0.1:9::rq_total::15
shop::127.0.0.1:9::health_flags::/failed_active_hc/failed_outlier_check
api::[::1]:9000::health_flags::/pending_dynamic_removal
api::[::1]:9000::hostname::
";

    #[test]
    fn hosts_with_their_flags_and_counts() {
        let s = parse(CLUSTERS.as_bytes());
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(
            (s[0].group.as_str(), s[0].address.as_str()),
            ("shop", "127.0.0.1:8080")
        );
        assert_eq!(s[0].state, ViewState::Up);
        assert_eq!((s[0].requests, s[0].fails), (Some(100), Some(1)));
        assert_eq!(s[1].state, ViewState::Down);
        assert_eq!(
            s[1].check.as_deref(),
            Some("failed_active_hc failed_outlier_check")
        );
        assert_eq!(s[1].fails, Some(15));
        assert_eq!(s[2].address, "[::1]:9000");
        assert_eq!(s[2].state, ViewState::Drain);
    }

    #[test]
    fn hostile_text() {
        assert!(parse(b"").is_empty());
        assert!(parse(b"::::::::\n::\n:::::\na::b\n").is_empty());
        let s =
            parse(b"c\x1b::1.2.3.4:5::health_flags::\x07weird\nc\x1b::1.2.3.4:5::rq_total::-4\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].group, "c\\x1b");
        assert_eq!(s[0].state, ViewState::Unknown("\\x07weird".into()));
        assert_eq!(s[0].requests, None);
        let many: String = (0..MAX_SERVERS + 3)
            .map(|i| format!("c::10.0.{}.{}:80::rq_total::1\n", i / 256, i % 256))
            .collect();
        assert_eq!(parse(many.as_bytes()).len(), MAX_SERVERS);
    }
}
