//! One name through one resolver: A and AAAA at once, turned into a plain [`DnsResult`].

use std::io;
use std::time::{Duration, Instant};

use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::{Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

use super::name::{InvalidName, is_localhost};
use super::{Answer, DnsResult, Nameserver, Rcode, Source, short_duration};
use crate::sanitize::sanitize;

/// Our own deadline is hickory's plus this: hickory's timeout error normally comes first and
/// is more precise, ours bounds what hickory's does not (a search list tried name by name).
const DEADLINE_SLACK: Duration = Duration::from_millis(100);

/// A name as the caller gave it (sanitised, for showing) and as it will be asked.
pub(super) struct NameToAsk {
    pub shown: String,
    pub parsed: Result<Name, InvalidName>,
}

/// How to ask: a resolver for one nameserver or for the system configuration (which also has
/// the hosts file), or why there is none.
pub(super) struct Via<'a> {
    pub nameserver: Nameserver,
    pub resolver: Result<&'a TokioResolver, &'a str>,
    /// Only for the system configuration: consulted before DNS, as glibc does.
    pub hosts: Option<&'a Hosts>,
}

pub(super) async fn lookup(name: &NameToAsk, via: &Via<'_>, timeout: Duration) -> DnsResult {
    let started = Instant::now();
    let mut result = DnsResult {
        name: name.shown.clone(),
        nameserver: via.nameserver,
        answers: Vec::new(),
        cname_chain: Vec::new(),
        rcode: None,
        latency: Duration::ZERO,
        error: None,
        source: Source::Dns,
    };
    let parsed = match &name.parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    if let Some(answers) = via.hosts.and_then(|hosts| from_hosts(hosts, parsed)) {
        result.answers = answers;
        result.source = Source::Hosts;
        result.latency = started.elapsed();
        return result;
    }
    let resolver = match via.resolver {
        Ok(resolver) => resolver,
        Err(e) => {
            result.error = Some(e.to_owned());
            return result;
        }
    };
    let mut asked = parsed.clone();
    if via.nameserver != Nameserver::System {
        asked.set_fqdn(true);
    }
    let (a, aaaa) = futures_util::future::join(
        one_type(resolver, asked.clone(), RecordType::A, timeout),
        one_type(resolver, asked, RecordType::AAAA, timeout),
    )
    .await;
    result.latency = started.elapsed();
    merge(&mut result, a, aaaa);
    if is_localhost(parsed) {
        // hickory's built-in answer carries a made-up TTL; nothing expires here.
        for answer in &mut result.answers {
            answer.ttl = None;
        }
    }
    result
}

/// glibc's "files" source answers for a name found in the hosts file with whatever families it
/// lists there, without asking DNS for the other one; so do we.
fn from_hosts(hosts: &Hosts, name: &Name) -> Option<Vec<Answer>> {
    let answers: Vec<Answer> = [RecordType::A, RecordType::AAAA]
        .into_iter()
        .filter_map(|rtype| hosts.lookup_static_host(&Query::query(name.clone(), rtype)))
        .flat_map(|lookup| addresses(&lookup, false))
        .collect();
    (!answers.is_empty()).then_some(answers)
}

/// The answer to one record type.
enum TypeOutcome {
    /// A response with no error; `answers` may be empty (no records of this type).
    Answered {
        answers: Vec<Answer>,
        chain: Vec<String>,
        rcode: Rcode,
    },
    Failed {
        rcode: Option<Rcode>,
        error: String,
    },
}

async fn one_type(
    resolver: &TokioResolver,
    name: Name,
    rtype: RecordType,
    timeout: Duration,
) -> TypeOutcome {
    match tokio::time::timeout(timeout + DEADLINE_SLACK, resolver.lookup(name, rtype)).await {
        Err(_elapsed) => TypeOutcome::Failed {
            rcode: None,
            error: timed_out(timeout),
        },
        Ok(Ok(lookup)) => TypeOutcome::Answered {
            answers: addresses(&lookup, true),
            chain: cname_chain(&lookup),
            rcode: rcode(lookup.message().metadata.response_code),
        },
        Ok(Err(e)) => from_error(e, timeout),
    }
}

fn addresses(lookup: &Lookup, with_ttl: bool) -> Vec<Answer> {
    lookup
        .answers()
        .iter()
        .filter_map(|record| {
            let addr = match &record.data {
                RData::A(a) => a.0.into(),
                RData::AAAA(aaaa) => aaaa.0.into(),
                _ => return None,
            };
            let ttl = with_ttl.then_some(record.ttl);
            Some(Answer { addr, ttl })
        })
        .collect()
}

/// Follows CNAME records from the asked name; bounded by the record count, so a loop in a
/// hostile answer ends.
fn cname_chain(lookup: &Lookup) -> Vec<String> {
    let records = lookup.answers();
    let mut chain = Vec::new();
    let mut current = lookup.query().name().clone();
    for _ in 0..records.len() {
        let next = records.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.name == current => Some(target.0.clone()),
            _ => None,
        });
        let Some(next) = next else { break };
        chain.push(shown_name(&next));
        current = next;
    }
    chain
}

fn shown_name(name: &Name) -> String {
    let ascii = name.to_ascii();
    let bare = ascii.strip_suffix('.').unwrap_or(&ascii);
    sanitize(bare).into_owned()
}

fn from_error(error: NetError, timeout: Duration) -> TypeOutcome {
    let failed = |rcode: Option<Rcode>, error: String| TypeOutcome::Failed { rcode, error };
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no))
            if no.response_code == ResponseCode::NoError =>
        {
            TypeOutcome::Answered {
                answers: Vec::new(),
                chain: Vec::new(),
                rcode: Rcode::NoError,
            }
        }
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            let code = rcode(no.response_code);
            failed(Some(code), rcode_error(code))
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            let code = rcode(code);
            failed(Some(code), rcode_error(code))
        }
        NetError::Timeout => failed(None, timed_out(timeout)),
        NetError::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            failed(None, "connection refused".to_owned())
        }
        NetError::Io(e) => failed(None, sanitize(&e.to_string()).into_owned()),
        NetError::NoConnections => failed(None, "no connection to the nameserver".to_owned()),
        other => failed(None, sanitize(&other.to_string()).into_owned()),
    }
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", short_duration(timeout))
}

fn rcode_error(code: Rcode) -> String {
    format!("{code}: {}", code.meaning())
}

fn rcode(code: ResponseCode) -> Rcode {
    match code {
        ResponseCode::NoError => Rcode::NoError,
        ResponseCode::FormErr => Rcode::FormErr,
        ResponseCode::ServFail => Rcode::ServFail,
        ResponseCode::NXDomain => Rcode::NxDomain,
        ResponseCode::NotImp => Rcode::NotImp,
        ResponseCode::Refused => Rcode::Refused,
        other => Rcode::Other(u16::from(other)),
    }
}

/// A and AAAA into one row: all addresses, the worse rcode, and an error naming the type when
/// only one of them failed.
fn merge(result: &mut DnsResult, a: TypeOutcome, aaaa: TypeOutcome) {
    let mut errors: Vec<(&str, String)> = Vec::new();
    for (label, outcome) in [("A", a), ("AAAA", aaaa)] {
        match outcome {
            TypeOutcome::Answered {
                answers,
                chain,
                rcode,
            } => {
                result.answers.extend(answers);
                if result.cname_chain.is_empty() {
                    result.cname_chain = chain;
                }
                result.rcode = Rcode::worst(result.rcode, Some(rcode));
            }
            TypeOutcome::Failed { rcode, error } => {
                result.rcode = Rcode::worst(result.rcode, rcode);
                errors.push((label, error));
            }
        }
    }
    result.error = match errors.as_slice() {
        [] if result.answers.is_empty() => Some("no A or AAAA records".to_owned()),
        [] => None,
        [(_, a), (_, b)] if a == b => Some(a.clone()),
        _ => Some(
            errors
                .iter()
                .map(|(label, error)| format!("{label}: {error}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn empty() -> DnsResult {
        DnsResult {
            name: "n".into(),
            nameserver: Nameserver::System,
            answers: Vec::new(),
            cname_chain: Vec::new(),
            rcode: None,
            latency: Duration::ZERO,
            error: None,
            source: Source::Dns,
        }
    }

    fn answered(ip: Option<IpAddr>) -> TypeOutcome {
        TypeOutcome::Answered {
            answers: ip
                .map(|addr| Answer {
                    addr,
                    ttl: Some(60),
                })
                .into_iter()
                .collect(),
            chain: Vec::new(),
            rcode: Rcode::NoError,
        }
    }

    fn failed(rcode: Option<Rcode>, error: &str) -> TypeOutcome {
        TypeOutcome::Failed {
            rcode,
            error: error.into(),
        }
    }

    #[test]
    fn an_ipv4_only_name_is_healthy() {
        let mut r = empty();
        merge(
            &mut r,
            answered(Some(Ipv4Addr::LOCALHOST.into())),
            answered(None),
        );
        assert_eq!(
            (r.error, r.rcode, r.answers.len()),
            (None, Some(Rcode::NoError), 1)
        );
    }

    #[test]
    fn no_addresses_at_all_is_an_error() {
        let mut r = empty();
        merge(&mut r, answered(None), answered(None));
        assert_eq!(r.error.as_deref(), Some("no A or AAAA records"));
    }

    #[test]
    fn one_failing_type_is_named_and_the_worse_rcode_wins() {
        let mut r = empty();
        merge(
            &mut r,
            answered(Some(Ipv4Addr::LOCALHOST.into())),
            failed(
                Some(Rcode::ServFail),
                "SERVFAIL: the server failed to answer",
            ),
        );
        assert_eq!(r.rcode, Some(Rcode::ServFail));
        assert_eq!(
            r.error.as_deref(),
            Some("AAAA: SERVFAIL: the server failed to answer")
        );
        assert_eq!(r.answers.len(), 1);
    }

    #[test]
    fn the_same_failure_twice_is_said_once() {
        let mut r = empty();
        merge(
            &mut r,
            failed(None, "timed out after 2s"),
            failed(None, "timed out after 2s"),
        );
        assert_eq!(
            (r.error.as_deref(), r.rcode),
            (Some("timed out after 2s"), None)
        );
        let mut r = empty();
        merge(
            &mut r,
            failed(None, "timed out after 2s"),
            failed(None, "connection refused"),
        );
        assert_eq!(
            r.error.as_deref(),
            Some("A: timed out after 2s; AAAA: connection refused")
        );
    }

    #[test]
    fn hosts_entries_answer_without_ttl() {
        let mut hosts = Hosts::default();
        hosts
            .read_hosts_conf("127.0.0.1 app.test\n::1 app.test\n".as_bytes())
            .unwrap();
        let answers = from_hosts(&hosts, &Name::from_ascii("app.test").unwrap()).unwrap();
        let addrs: Vec<String> = answers.iter().map(|a| a.addr.to_string()).collect();
        assert_eq!(addrs, ["127.0.0.1", "::1"]);
        assert!(answers.iter().all(|a| a.ttl.is_none()));
        assert!(from_hosts(&hosts, &Name::from_ascii("other.test").unwrap()).is_none());
    }
}
