//! Where a probe's time went, phase by phase, the way blackbox_exporter splits an HTTP probe.
//!
//! reqwest shows no phase times, so the probe marks them itself, on one request: the DNS resolver
//! it already uses marks the lookup, a connector layer marks the connector's call (lookup, TCP
//! connect and TLS handshake together), and the TLS session store marks the handshake's start
//! (rustls asks it for a ticket while writing the ClientHello, right after the TCP connect). The
//! marks live in a task-local set around the request: the client is shared by parallel probes,
//! and hyper runs a new connection's connect inside the task that sent the request.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::NamedGroup;
use rustls::client::Tls13ClientSessionValue;
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue};
use rustls::pki_types::ServerName;
use serde::Serialize;
use tokio::time::Instant;

/// Phases of one probe; a phase that never began (the probe failed before it, or there is no
/// TLS) is `None`. A phase that failed, or was still running when the probe gave up, lasts until
/// then: a connect timeout shows as a long `connect`, a slow upstream as a long `first_byte`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Phases {
    /// The name lookup (getaddrinfo: /etc/hosts, then DNS). `None` for an IP literal.
    #[serde(rename = "resolve_ms", serialize_with = "super::millis_opt")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve: Option<Duration>,
    /// From the addresses known to the TCP connection made (SYN to SYN-ACK, every address tried);
    /// for a unix socket, the connect call.
    #[serde(rename = "connect_ms", serialize_with = "super::millis_opt")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<Duration>,
    /// The TLS handshake, ClientHello to finished (https only).
    #[serde(rename = "tls_ms", serialize_with = "super::millis_opt")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Duration>,
    /// From the connection ready (the request is written at once) to the response headers: the
    /// upstream's own time to answer, what a proxy's read timeout bounds (http only).
    #[serde(rename = "first_byte_ms", serialize_with = "super::millis_opt")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte: Option<Duration>,
    /// The whole probe, body read included: the probe's `elapsed`.
    #[serde(rename = "total_ms", serialize_with = "super::millis_opt")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Duration>,
}

impl Phases {
    /// "resolve 1 ms  connect 0.4 ms  tls 12 ms  first byte 2.1 s  total 2.1 s", the phases that
    /// happened; empty when none did.
    pub fn summary(&self) -> String {
        let named = [
            ("resolve", self.resolve),
            ("connect", self.connect),
            ("tls", self.tls),
            ("first byte", self.first_byte),
            ("total", self.total),
        ];
        let parts: Vec<String> = named
            .iter()
            .filter_map(|(name, d)| d.map(|d| format!("{name} {}", short(d))))
            .collect();
        parts.join("  ")
    }
}

/// Two significant digits at most: "0.4 ms", "12 ms", "2.1 s".
fn short(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    let (value, unit) = if ms >= 1000.0 {
        (ms / 1000.0, "s")
    } else {
        (ms, "ms")
    };
    let text = if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {unit}")
}

/// Instants marked during one request.
#[derive(Default)]
pub(crate) struct Marks {
    resolve_start: Cell<Option<Instant>>,
    resolve_end: Cell<Option<Instant>>,
    connector_start: Cell<Option<Instant>>,
    tls_start: Cell<Option<Instant>>,
    connector_end: Cell<Option<Instant>>,
    /// The connector's end when it handed over a connection (not an error).
    connected: Cell<Option<Instant>>,
}

tokio::task_local! {
    static MARKS: Marks;
}

/// Runs `fut` (one probe's request) with fresh marks, handing them over afterwards.
pub(crate) async fn marked<F: Future>(fut: F) -> (F::Output, Marks) {
    MARKS
        .scope(Marks::default(), async {
            let out = fut.await;
            (out, MARKS.with(Marks::take))
        })
        .await
}

fn mark(pick: impl FnOnce(&Marks) -> &Cell<Option<Instant>>) {
    // Outside a probe (no task-local) there is nothing to mark.
    let _ = MARKS.try_with(|m| {
        let cell = pick(m);
        if cell.get().is_none() {
            cell.set(Some(Instant::now()));
        }
    });
}

pub(crate) fn resolve_started() {
    mark(|m| &m.resolve_start);
}

pub(crate) fn resolve_done() {
    mark(|m| &m.resolve_end);
}

impl Marks {
    fn take(&self) -> Marks {
        Marks {
            resolve_start: Cell::new(self.resolve_start.get()),
            resolve_end: Cell::new(self.resolve_end.get()),
            connector_start: Cell::new(self.connector_start.get()),
            tls_start: Cell::new(self.tls_start.get()),
            connector_end: Cell::new(self.connector_end.get()),
            connected: Cell::new(self.connected.get()),
        }
    }

    /// The HTTP probe's phases; `headers` is when the response headers came, `stop` when the
    /// probe stopped (answered, failed or gave up).
    pub(crate) fn http_phases(&self, headers: Option<Instant>, stop: Instant) -> Phases {
        let until = |start: Option<Instant>, end: Option<Instant>| {
            start.map(|s| end.unwrap_or(stop).saturating_duration_since(s))
        };
        let resolve_end = self.resolve_end.get();
        let tls_start = self.tls_start.get();
        let end = self.connector_end.get();
        // The TCP connect starts when the lookup ends, or with the connector's call for a literal.
        let connect_start = match self.resolve_start.get() {
            Some(_) => resolve_end,
            None => self.connector_start.get(),
        };
        Phases {
            resolve: until(self.resolve_start.get(), resolve_end),
            connect: until(connect_start, tls_start.or(end)),
            tls: until(tls_start, end),
            first_byte: until(self.connected.get(), headers),
            total: None,
        }
    }
}

/// The connector layer: marks the start and end of the connector's call (lookup, connect, TLS).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimeConnect;

impl<S> tower_layer::Layer<S> for TimeConnect {
    type Service = Timed<S>;
    fn layer(&self, inner: S) -> Timed<S> {
        Timed(inner)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Timed<S>(S);

impl<S, R> tower_service::Service<R> for Timed<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let fut = self.0.call(request);
        Box::pin(async move {
            mark(|m| &m.connector_start);
            let out = fut.await;
            mark(|m| &m.connector_end);
            if out.is_ok() {
                mark(|m| &m.connected);
            }
            out
        })
    }
}

/// rustls's usual in-memory session store, which also marks the TLS handshake's start: rustls
/// looks up a ticket and a key-share hint for the server while building the ClientHello, the
/// first thing it does on the freshly connected socket.
pub(crate) struct MarkTlsStart(Arc<ClientSessionMemoryCache>);

impl MarkTlsStart {
    pub(crate) fn new() -> Self {
        // As many names as rustls's default store keeps.
        MarkTlsStart(Arc::new(ClientSessionMemoryCache::new(256)))
    }
}

impl fmt::Debug for MarkTlsStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MarkTlsStart")
    }
}

impl ClientSessionStore for MarkTlsStart {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.0.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        mark(|m| &m.tls_start);
        self.0.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.0.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        mark(|m| &m.tls_start);
        self.0.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.0.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        mark(|m| &m.tls_start);
        self.0.take_tls13_ticket(server_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_the_phases_that_happened() {
        let phases = Phases {
            resolve: Some(Duration::from_millis(1)),
            connect: Some(Duration::from_micros(400)),
            tls: Some(Duration::from_millis(12)),
            first_byte: Some(Duration::from_millis(2100)),
            total: Some(Duration::from_millis(2114)),
        };
        assert_eq!(
            phases.summary(),
            "resolve 1 ms  connect 0.4 ms  tls 12 ms  first byte 2.1 s  total 2.1 s"
        );
        assert_eq!(Phases::default().summary(), "");
        let json = serde_json::to_value(Phases {
            connect: Some(Duration::from_micros(1500)),
            ..Phases::default()
        })
        .expect("serialises");
        assert_eq!(json, serde_json::json!({"connect_ms": 1.5}));
    }

    #[test]
    fn an_unfinished_phase_lasts_until_the_probe_stopped() {
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        let marks = Marks::default();
        marks.connector_start.set(at(0));
        // A literal address: no lookup; the connect never finished.
        let phases = marks.http_phases(None, t0 + Duration::from_millis(2000));
        assert_eq!(phases.resolve, None);
        assert_eq!(phases.connect, Some(Duration::from_millis(2000)));
        assert_eq!((phases.tls, phases.first_byte), (None, None));

        marks.resolve_start.set(at(0));
        marks.resolve_end.set(at(3));
        marks.tls_start.set(at(5));
        marks.connector_end.set(at(20));
        let failed = marks.http_phases(None, t0 + Duration::from_millis(25));
        assert_eq!(failed.tls, Some(Duration::from_millis(15)));
        assert_eq!(failed.first_byte, None, "no connection, no request");
        marks.connected.set(at(20));
        let phases = marks.http_phases(at(1020), t0 + Duration::from_millis(1030));
        assert_eq!(phases.resolve, Some(Duration::from_millis(3)));
        assert_eq!(phases.connect, Some(Duration::from_millis(2)));
        assert_eq!(phases.tls, Some(Duration::from_millis(15)));
        assert_eq!(phases.first_byte, Some(Duration::from_millis(1000)));
    }
}
