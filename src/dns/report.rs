//! The `dns` rows of `gatewatch check --json`: one per (name, nameserver), field names fixed
//! because scripts read them.

use serde::Serialize;

use super::{DnsResult, DnsRound};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DnsRow {
    pub name: String,
    /// "system" or "ip:port".
    pub nameserver: String,
    pub answers: Vec<String>,
    /// The smallest TTL among the answers, in seconds; null for hosts-file answers and failures.
    pub ttl: Option<u32>,
    /// "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", ...; null when no response came.
    pub rcode: Option<String>,
    /// To 0.1 ms: loopback and local resolvers answer well under a millisecond.
    pub latency_ms: f64,
    pub error: Option<String>,
    /// "dns" or "hosts".
    pub source: &'static str,
}

impl From<&DnsResult> for DnsRow {
    fn from(r: &DnsResult) -> Self {
        DnsRow {
            name: r.name.clone(),
            nameserver: r.nameserver.to_string(),
            answers: r.addresses().map(|a| a.to_string()).collect(),
            ttl: r.min_ttl(),
            rcode: r.rcode.map(|c| c.to_string()),
            latency_ms: (r.latency.as_secs_f64() * 10_000.0).round() / 10.0,
            error: r.error.clone(),
            source: r.source.as_str(),
        }
    }
}

pub fn rows(round: &DnsRound) -> Vec<DnsRow> {
    round.results.iter().map(DnsRow::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Answer, Nameserver, Rcode, Source};
    use std::time::Duration;

    #[test]
    fn rows_have_exactly_the_documented_fields() {
        let result = DnsResult {
            name: "app.test".into(),
            nameserver: Nameserver::Addr("[::1]:5353".parse().unwrap()),
            answers: vec![
                Answer {
                    addr: "10.0.0.1".parse().unwrap(),
                    ttl: Some(300),
                },
                Answer {
                    addr: "fd00::1".parse().unwrap(),
                    ttl: Some(60),
                },
            ],
            cname_chain: vec!["web.test".into()],
            rcode: Some(Rcode::NoError),
            latency: Duration::from_micros(1234),
            error: None,
            source: Source::Dns,
        };
        let json = serde_json::to_value(DnsRow::from(&result)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "app.test",
                "nameserver": "[::1]:5353",
                "answers": ["10.0.0.1", "fd00::1"],
                "ttl": 60,
                "rcode": "NOERROR",
                "latency_ms": 1.2,
                "error": null,
                "source": "dns",
            })
        );
    }
}
