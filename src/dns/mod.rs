//! The DNS engine: resolves the upstreams' host names through the system configuration and
//! through each nameserver on its own, so that the causes of 502s that DNS hides can be seen:
//! nginx still using an address resolved at its last start or reload, one nameserver that times
//! out or says NXDOMAIN while another answers, a name whose first address is of the family the
//! upstream does not listen on.
//!
//! Every round asks afresh (no cache, a new resolver per round) with one attempt and a bounded
//! timeout, and hands over owned, plain data: a [`DnsRound`] of [`DnsResult`]s. Findings are
//! computed from rounds by [`assess`] and a [`DriftTracker`], the JSON rows of `gatewatch check`
//! by [`report::rows`]. This module never touches the terminal.

mod collector;
mod direct;
mod drift;
pub mod family;
mod findings;
mod logged;
mod lookup;
mod name;
pub mod report;
mod resolver;
mod round;
mod settings;
mod system;

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

pub use crate::config::Nameserver;
pub use collector::{DnsCollector, SpawnError};
pub(crate) use direct::lookup_each;
pub use drift::{AnswerChange, DriftTracker, HISTORY_PER_NAME};
pub use findings::{SLOW_LOOKUP, assess, family_mismatch};
pub use logged::{MAX_LOGGED_NAMES, unresolved_in};
pub use name::{InvalidName, is_ip_literal, is_localhost, parse_name};
pub use report::DnsRow;
pub use round::{DnsLookups, MAX_IN_FLIGHT, ROUND_TIMEOUTS};
pub use settings::DnsSettings;
pub(crate) use system::resolv_conf_nameservers;

/// One round: every name through every nameserver, in the order names and nameservers were
/// given (names first, then nameservers). Names under `localhost` go through the system
/// configuration only, when it is used: no nameserver is ever asked about them.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsRound {
    /// Increases by one per round of a [`DnsLookups`], so a stale round can be recognised.
    pub seq: u64,
    pub finished_at: SystemTime,
    /// Wall time of the whole round.
    pub elapsed: Duration,
    /// The nameservers asked this round: `system` first when configured, then each one from
    /// resolv.conf, then the configured and extra ones.
    pub nameservers: Vec<Nameserver>,
    pub results: Vec<DnsResult>,
    /// Trouble with the system files that is not any one lookup's (an unreadable hosts file),
    /// sanitised.
    pub problems: Vec<String>,
    /// Names whose addresses split by family on their upstream's port (see [`family`]).
    pub family: Vec<crate::status::Finding>,
}

impl DnsRound {
    /// The results for one name, in nameserver order.
    pub fn for_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a DnsResult> + 'a {
        self.results.iter().filter(move |r| r.name == name)
    }

    /// The names of this round, each once, in order.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.results {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
        names
    }
}

/// What one nameserver (or the system configuration) said about one name: its A and AAAA
/// answers together. All text is safe to print: anything from the network, and the name itself,
/// went through [`crate::sanitize`].
#[derive(Clone, Debug, PartialEq)]
pub struct DnsResult {
    pub name: String,
    pub nameserver: Nameserver,
    /// A answers first, then AAAA, each in the order the server gave them.
    pub answers: Vec<Answer>,
    /// The CNAME targets from the name to the one holding the addresses, without trailing dots.
    pub cname_chain: Vec<String>,
    /// The worst response code of the A and AAAA queries; `None` when no response came (timeout,
    /// refused connection, invalid name) or the answer came from the hosts file.
    pub rcode: Option<Rcode>,
    pub latency: Duration,
    /// Why this lookup is not healthy: a transport error, an error rcode, no addresses at all, or
    /// only one of A and AAAA failing (prefixed with the type). `None` when all is well.
    pub error: Option<String>,
    pub source: Source,
}

impl DnsResult {
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.answers.iter().map(|a| a.addr)
    }

    /// The smallest TTL among the answers: when the first cached copy would expire.
    pub fn min_ttl(&self) -> Option<u32> {
        self.answers.iter().filter_map(|a| a.ttl).min()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Answer {
    pub addr: IpAddr,
    /// Seconds; `None` for hosts-file entries, which do not expire.
    pub ttl: Option<u32>,
}

/// Where the answer came from: glibc (and so nginx) consults the hosts file before DNS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Dns,
    Hosts,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Dns => "dns",
            Source::Hosts => "hosts",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DNS response code, named as dig names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    Other(u16),
}

impl Rcode {
    /// How bad, for picking the one code to show for A and AAAA together.
    fn severity(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::NxDomain => 1,
            _ => 2,
        }
    }

    pub(crate) fn worst(a: Option<Rcode>, b: Option<Rcode>) -> Option<Rcode> {
        match (a, b) {
            (Some(a), Some(b)) if b.severity() > a.severity() => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        }
    }

    /// What the code means to someone reading the pane.
    pub fn meaning(self) -> &'static str {
        match self {
            Rcode::NoError => "no error",
            Rcode::FormErr => "the server could not parse the query",
            Rcode::ServFail => "the server failed to answer",
            Rcode::NxDomain => "no such name",
            Rcode::NotImp => "the server does not support this query",
            Rcode::Refused => "the server refused the query",
            Rcode::Other(_) => "unexpected response code",
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rcode::NoError => f.write_str("NOERROR"),
            Rcode::FormErr => f.write_str("FORMERR"),
            Rcode::ServFail => f.write_str("SERVFAIL"),
            Rcode::NxDomain => f.write_str("NXDOMAIN"),
            Rcode::NotImp => f.write_str("NOTIMP"),
            Rcode::Refused => f.write_str("REFUSED"),
            Rcode::Other(code) => write!(f, "RCODE{code}"),
        }
    }
}

/// "2s" or "1500ms": short enough for a pane cell.
pub(crate) fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_rcode_prefers_failures_over_nxdomain_over_noerror() {
        use Rcode::*;
        assert_eq!(Rcode::worst(Some(NoError), Some(NxDomain)), Some(NxDomain));
        assert_eq!(Rcode::worst(Some(ServFail), Some(NxDomain)), Some(ServFail));
        assert_eq!(Rcode::worst(None, Some(NoError)), Some(NoError));
        assert_eq!(Rcode::worst(None, None), None);
        assert_eq!(Other(23).to_string(), "RCODE23");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_secs(2)), "2s");
        assert_eq!(short_duration(Duration::from_millis(1500)), "1500ms");
    }
}
