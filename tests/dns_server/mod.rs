//! A real DNS server on loopback for the DNS engine's tests: hickory-server with a handler whose
//! zone the test edits while it runs (for drift and cache tests) and which can answer with any
//! response code (SERVFAIL, REFUSED) or late. UDP and TCP on the same ephemeral port.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

/// What the server holds for a name.
#[derive(Clone, Debug)]
pub enum Entry {
    Addrs {
        v4: Vec<Ipv4Addr>,
        v6: Vec<Ipv6Addr>,
        ttl: u32,
    },
    Cname {
        target: String,
        ttl: u32,
    },
    Rcode(ResponseCode),
}

#[derive(Default)]
struct Zone {
    entries: HashMap<String, Entry>,
    delays: HashMap<String, Duration>,
    /// An answer code for one record type of a name, whatever its entry says.
    type_rcodes: HashMap<(String, RecordType), ResponseCode>,
}

struct Handler {
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Name {
    Name::from_ascii(format!("{}.", key(name))).expect("test names are valid")
}

impl Handler {
    /// Follows CNAMEs inside the zone, as an authoritative server for all of it would.
    fn answer(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> (Vec<Record>, ResponseCode, Option<Duration>) {
        let zone = self.zone.lock().expect("zone lock");
        let delay = zone.delays.get(&key(name)).copied();
        if let Some(code) = zone.type_rcodes.get(&(key(name), rtype)) {
            return (Vec::new(), *code, delay);
        }
        let mut records = Vec::new();
        let mut current = key(name);
        for _ in 0..8 {
            match zone.entries.get(&current) {
                None if records.is_empty() => return (records, ResponseCode::NXDomain, delay),
                None => break,
                Some(Entry::Rcode(code)) => return (records, *code, delay),
                Some(Entry::Cname { target, ttl }) => {
                    records.push(Record::from_rdata(
                        fqdn(&current),
                        *ttl,
                        RData::CNAME(CNAME(fqdn(target))),
                    ));
                    current = key(target);
                }
                Some(Entry::Addrs { v4, v6, ttl }) => {
                    let owner = fqdn(&current);
                    match rtype {
                        RecordType::A => {
                            records.extend(v4.iter().map(|ip| {
                                Record::from_rdata(owner.clone(), *ttl, RData::A(A(*ip)))
                            }))
                        }
                        RecordType::AAAA => records.extend(v6.iter().map(|ip| {
                            Record::from_rdata(owner.clone(), *ttl, RData::AAAA(AAAA(*ip)))
                        })),
                        _ => {}
                    }
                    break;
                }
            }
        }
        (records, ResponseCode::NoError, delay)
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let (records, code, delay) = match request.request_info() {
            Ok(info) => self.answer(&info.query.name().to_string(), info.query.query_type()),
            Err(_) => (Vec::new(), ResponseCode::FormErr, None),
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.response_code = code;
        let response = MessageResponseBuilder::from_message_request(request).build(
            metadata,
            records.iter(),
            std::iter::empty(),
            std::iter::empty(),
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            }),
        }
    }
}

/// Stops serving when dropped.
pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
    _server: Server<Handler>,
}

impl TestDns {
    pub async fn start() -> TestDns {
        Self::start_at(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0))
            .await
            .expect("a free UDP+TCP port on 127.0.0.1")
    }

    /// Binds UDP and TCP on `addr` (port 0: the same ephemeral port for both, retried when TCP
    /// finds it taken).
    pub async fn start_at(addr: SocketAddr) -> std::io::Result<TestDns> {
        let mut last_error = None;
        for _ in 0..20 {
            let udp = tokio::net::UdpSocket::bind(addr).await?;
            let bound = udp.local_addr()?;
            let tcp = match tokio::net::TcpListener::bind(bound).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            let zone = Arc::new(Mutex::new(Zone::default()));
            let queries = Arc::new(AtomicUsize::new(0));
            let mut server = Server::new(Handler {
                zone: Arc::clone(&zone),
                queries: Arc::clone(&queries),
            });
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 16);
            return Ok(TestDns {
                addr: bound,
                zone,
                queries,
                _server: server,
            });
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no port")))
    }

    pub fn set(&self, name: &str, entry: Entry) {
        self.zone
            .lock()
            .expect("zone lock")
            .entries
            .insert(key(name), entry);
    }

    pub fn set_addrs(&self, name: &str, v4: &[&str], v6: &[&str], ttl: u32) {
        self.set(
            name,
            Entry::Addrs {
                v4: v4
                    .iter()
                    .map(|s| s.parse().expect("IPv4 address"))
                    .collect(),
                v6: v6
                    .iter()
                    .map(|s| s.parse().expect("IPv6 address"))
                    .collect(),
                ttl,
            },
        );
    }

    pub fn set_cname(&self, name: &str, target: &str, ttl: u32) {
        self.set(
            name,
            Entry::Cname {
                target: target.into(),
                ttl,
            },
        );
    }

    pub fn set_rcode(&self, name: &str, code: ResponseCode) {
        self.set(name, Entry::Rcode(code));
    }

    /// Answers `code` for `name`'s records of `rtype` only (a server that fails AAAA alone).
    pub fn set_type_rcode(&self, name: &str, rtype: RecordType, code: ResponseCode) {
        self.zone
            .lock()
            .expect("zone lock")
            .type_rcodes
            .insert((key(name), rtype), code);
    }

    /// Answers for `name` only after `delay`.
    pub fn delay(&self, name: &str, delay: Duration) {
        self.zone
            .lock()
            .expect("zone lock")
            .delays
            .insert(key(name), delay);
    }

    /// Queries received so far, every type and transport.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

/// A loopback port with nothing listening: bound, read, and released.
pub fn unused_port() -> SocketAddr {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    socket.local_addr().expect("bound address")
}

/// A UDP socket that receives queries and never answers: a nameserver that hangs.
pub fn silent_server() -> std::net::UdpSocket {
    std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP address")
}
