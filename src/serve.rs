//! `gatewatch serve`: the dashboard's collectors and model, headless, judged by the same
//! `assess`, exposed over HTTP for Prometheus: `GET /metrics` and `GET /healthz`.
//!
//! A front end like the dashboard (its collectors send the dashboard's `Event`s), minus the
//! terminal and the action runner: serve never runs an action. HTTP is hyper's, bounded: a
//! request head of at most 8 KiB read within [`HEADER_TIMEOUT`], [`MAX_CONNECTIONS`] at once, no
//! request body read.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc};

use crate::actions::ActionEvent;
use crate::app::Event;
use crate::dashboard::{self, Options};
use crate::exposition::{self, Format, Mode};
use crate::model::{Assessment, Model, assess};

/// The default port. The Prometheus project's "Default port allocations" wiki page
/// (github.com/prometheus/prometheus/wiki/Default-port-allocations) lists exporters' ports: its
/// first range, 9100-9999, was fully allocated by mid-2023 and allocations went on above 10000
/// (10019 by 2024). 10502 is past those; it is to be checked against the live page and
/// registered there for gatewatch.
pub const DEFAULT_PORT: u16 = 10502;

/// Loopback: metrics name the host's upstreams and logs, not for every network to read.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT);

/// Connections served at once; one more is closed at once (a scraper tries again next time).
pub const MAX_CONNECTIONS: usize = 16;
/// A request head must arrive within this (a client that trickles bytes is cut off).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// hyper's read buffer, which bounds a request head; 8 KiB is its least.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// No connection lives longer, kept alive or not: a slot is never held for good.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// A scrape judges the model again when it changed, or when the last judgement is this old
/// (log windows and ages move on with the clock).
const REJUDGE_AFTER: Duration = Duration::from_secs(1);

/// What the collectors filled and when it was last judged; shared with the HTTP handlers.
struct Shared {
    model: Model,
    judged: Assessment,
    judged_at: Option<Instant>,
    /// The model changed since `judged` was made.
    stale: bool,
}

/// Serves until SIGTERM or SIGINT. Fails when the address cannot be bound or a collector cannot
/// start.
pub async fn run(opts: Options, listen: SocketAddr) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "gatewatch: warning: serving metrics on {bound}, reachable beyond this host; they name \
             its upstreams and logs (firewall the port, or listen on 127.0.0.1)"
        );
    }

    let model = opts.model();
    let shared = Arc::new(Mutex::new(Shared {
        model,
        judged: Assessment::default(),
        judged_at: None,
        stale: true,
    }));

    let (tx, rx) = mpsc::channel::<Event>(16);
    let collectors = dashboard::spawn_collectors(&opts, &tx)?;
    // Dropped before the collectors: one waiting for room in the channel fails at once.
    let mut rx = rx;
    let server = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
    eprintln!("gatewatch: serving http://{bound}/metrics");
    tracing::info!(%bound, "serving metrics");

    loop {
        tokio::select! {
            Some(event) = rx.recv() => {
                let mut s = lock(&shared);
                let (changed, ask_dns) = apply(&mut s.model, event, SystemTime::now());
                s.stale |= changed;
                drop(s);
                if ask_dns {
                    collectors.rerun_dns();
                }
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    tracing::info!("stopping on a signal");
    server.abort();
    drop(rx);
    drop(collectors);
    Ok(())
}

/// Files a collector's result into the model, as the dashboard's `App::update` does; returns
/// whether the model changed, and whether DNS should be asked now (a failure at an address not
/// seen before may be a stale answer). Terminal events never come here.
fn apply(model: &mut Model, event: Event, now: SystemTime) -> (bool, bool) {
    match event {
        Event::Host(sample) => {
            model.apply_host(*sample);
            (true, false)
        }
        Event::Probes(results) => {
            model.apply_probes(results, now);
            (true, false)
        }
        Event::Dns(round) => (model.apply_dns(*round, now), false),
        Event::Firewall(summary) => {
            model.apply_firewall(*summary, now);
            (true, false)
        }
        Event::Timeline(round) => (model.apply_timeline(*round, now), false),
        Event::ProxyViews(views) => (model.apply_proxy_views(views), false),
        Event::Containers(listing) => (model.apply_containers(*listing), false),
        Event::Gateway(results) => {
            let mut changed = false;
            for result in results {
                changed |= model.apply_gateway(result);
            }
            (changed, false)
        }
        Event::Log(batch) => {
            let ask = model.dns.new_suspect(&batch);
            (model.apply_log(*batch, now), ask)
        }
        Event::Action(event) => match *event {
            ActionEvent::Status(status) => (model.apply_service(*status), false),
            // No runner: nothing else can arrive.
            _ => (false, false),
        },
        Event::Key(_) | Event::Mouse(_) | Event::Resize(..) | Event::Tick(_) => (false, false),
    }
}

/// A poisoned lock still holds a usable model: a panic in one scrape must not stop the others.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Mutex<Shared>>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!("too many connections; one closed");
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _slot = slot;
            serve_connection(stream, shared).await;
        });
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    let service = service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(respond(&req, &shared)) }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// The answer to one request; its body is never read.
fn respond(req: &Request<Incoming>, shared: &Mutex<Shared>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => {
            let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
            let format = exposition::format_for_accept(accept);
            let body = exposition_now(shared, format);
            let content_type = match format {
                Format::Text => exposition::TEXT_CONTENT_TYPE,
                Format::OpenMetrics => exposition::OPENMETRICS_CONTENT_TYPE,
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found: try /metrics\n"),
    }
}

/// The exposition as of now, judging the model first when it changed or time moved on.
fn exposition_now(shared: &Mutex<Shared>, format: Format) -> String {
    let mut s = lock(shared);
    let now = SystemTime::now();
    if s.stale || s.judged_at.is_none_or(|at| at.elapsed() >= REJUDGE_AFTER) {
        s.judged = assess(&s.model, now);
        s.judged_at = Some(Instant::now());
        s.stale = false;
    }
    exposition::render(&s.model, &s.judged, Mode::Serve, now, format)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
