//! The demo's nameservers: a minimal authoritative responder for `demo.internal` on a UDP port of
//! 127.0.0.1, built on the DNS message types hickory-resolver already brings (no server crate).
//! Two run: a primary and a secondary that copies its zone late, so one name drifts over time and
//! the two disagree for a while after each change, as a lagging secondary does.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

/// The zone the responders are authoritative for; other names are REFUSED (not a resolver).
pub const ZONE: &str = "demo.internal";
/// Resolves, on both servers, to the demo's loopback.
pub const STABLE: &str = "shop.demo.internal";
/// Fails over between two addresses every [`MOVES_EVERY`]; the secondary follows [`LAG`] later.
pub const MOVING: &str = "api.demo.internal";
/// Removed from the zone (NXDOMAIN) while something still points at it.
pub const GONE: &str = "legacy.demo.internal";
pub const NAMES: [&str; 3] = [STABLE, MOVING, GONE];

pub const MOVES_EVERY: Duration = Duration::from_secs(30);
pub const LAG: Duration = Duration::from_secs(10);
/// Both addresses are loopback: nothing ever connects to them, but if something did, it would stay
/// on this machine.
const MOVING_ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 10, 11), Ipv4Addr::new(127, 0, 10, 12)];

/// What one server answers, as a function of time.
#[derive(Clone, Copy, Debug)]
pub struct Zone {
    pub since: Instant,
    /// How far behind the primary this server's copy of the zone is.
    pub lag: Duration,
}

impl Zone {
    /// (rcode, records) for one question; `name` is lower-case without the final dot.
    fn answer(&self, name: &str, rtype: RecordType) -> (ResponseCode, Vec<(RData, u32)>) {
        let in_zone = name == ZONE || name.ends_with(&format!(".{ZONE}"));
        if !in_zone {
            return (ResponseCode::Refused, vec![]);
        }
        let records = match (name, rtype) {
            (STABLE, RecordType::A) => vec![(RData::A(A(Ipv4Addr::LOCALHOST)), 300)],
            (STABLE, RecordType::AAAA) => vec![(RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)), 300)],
            (MOVING, RecordType::A) => vec![(RData::A(A(self.moving_addr())), 30)],
            (STABLE | MOVING, _) => vec![],
            _ => return (ResponseCode::NXDomain, vec![]),
        };
        (ResponseCode::NoError, records)
    }

    fn moving_addr(&self) -> Ipv4Addr {
        let seen = self.since.elapsed().saturating_sub(self.lag);
        let moves = seen.as_secs() / MOVES_EVERY.as_secs().max(1);
        MOVING_ADDRS[(moves % 2) as usize]
    }

    /// The response to a query datagram; `None` for something that is not a query worth answering.
    pub fn respond(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let query = Message::from_vec(datagram).ok()?;
        if query.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut metadata = Metadata::response_from_request(&query.metadata);
        metadata.authoritative = true;
        let mut response = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
        response.metadata = metadata;
        response.add_queries(query.queries.iter().cloned());
        if query.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            response.edns = Some(edns);
        }
        let question = match (query.metadata.op_code, query.queries.as_slice()) {
            (OpCode::Query, [q]) if q.query_class() == DNSClass::IN => q,
            (OpCode::Query, _) => {
                response.metadata.response_code = ResponseCode::FormErr;
                return response.to_vec().ok();
            }
            _ => {
                response.metadata.response_code = ResponseCode::NotImp;
                return response.to_vec().ok();
            }
        };
        let name = question.name().to_ascii().to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        let (rcode, records) = self.answer(name, question.query_type());
        response.metadata.response_code = rcode;
        let owner = Name::from_ascii(format!("{name}.")).ok()?;
        for (rdata, ttl) in records {
            response.add_answer(Record::from_rdata(owner.clone(), ttl, rdata));
        }
        response.to_vec().ok()
    }
}

/// Answers queries on `socket` until the task is dropped.
pub async fn serve(socket: UdpSocket, zone: Zone) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!("demo dns recv: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Loopback only: the socket is bound to 127.0.0.1, but say so where it matters.
        if !from.ip().is_loopback() {
            continue;
        }
        if let Some(reply) = zone.respond(&buf[..n]) {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Query;

    fn ask(zone: &Zone, name: &str, rtype: RecordType) -> Message {
        let mut q = Message::new(4242, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
        let reply = zone.respond(&q.to_vec().expect("encode")).expect("a reply");
        Message::from_vec(&reply).expect("decode")
    }

    #[test]
    fn answers_its_zone_refuses_the_rest_and_the_moving_name_moves_late_on_the_secondary() {
        let now = Instant::now();
        let primary = Zone {
            since: now - MOVES_EVERY - Duration::from_secs(1),
            lag: Duration::ZERO,
        };
        let secondary = Zone {
            lag: LAG,
            ..primary
        };
        let r = ask(&primary, "Shop.Demo.Internal.", RecordType::A);
        assert_eq!(r.metadata.id, 4242);
        assert!(r.metadata.authoritative);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::LOCALHOST)));

        let gone = ask(&primary, "legacy.demo.internal.", RecordType::A);
        assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
        let outside = ask(&primary, "example.com.", RecordType::A);
        assert_eq!(outside.metadata.response_code, ResponseCode::Refused);

        let moved = ask(&primary, "api.demo.internal.", RecordType::A);
        let behind = ask(&secondary, "api.demo.internal.", RecordType::A);
        assert_eq!(moved.answers[0].data, RData::A(A(MOVING_ADDRS[1])));
        assert_eq!(behind.answers[0].data, RData::A(A(MOVING_ADDRS[0])));
        let none = ask(&primary, "api.demo.internal.", RecordType::AAAA);
        assert_eq!(none.metadata.response_code, ResponseCode::NoError);
        assert!(none.answers.is_empty());
    }

    #[test]
    fn garbage_gets_no_answer() {
        let zone = Zone {
            since: Instant::now(),
            lag: Duration::ZERO,
        };
        assert!(zone.respond(b"").is_none());
        assert!(zone.respond(&[0xff; 40]).is_none());
    }
}
