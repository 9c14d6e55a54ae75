//! HTTP(S) probes with reqwest over rustls.
//!
//! Every probe opens a fresh connection: a pooled one would hide exactly the failures a 502 comes
//! from (refused connects, resets on a new connection, slow accepts). Redirects are reported, not
//! followed, and proxy variables are ignored: the probe must talk to the upstream itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once};
use std::time::Duration;

use reqwest::header::{CONNECTION, HOST, LOCATION};
use reqwest::tls::TlsInfo;
use reqwest::{Client, Method, Response, StatusCode};
use tokio::time::{Instant, timeout_at};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::cert;
use super::outcome::{self, Outcome, clean};
use super::phases::{self, MarkTlsStart, Phases, TimeConnect};
use super::probe::{Attempt, show};
use super::resolve::{Names, ProbeResolver};
use crate::config::{HttpMethod, Upstream};
use crate::sanitize::sanitize;

/// Most of a body read: enough to let the server finish a small answer, never a download.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Characters of a bad status's body shown in the detail (nginx and apps explain errors there).
const SNIPPET_CHARS: usize = 120;

const USER_AGENT: &str = concat!("gatewatch/", env!("CARGO_PKG_VERSION"));

/// What a request cannot choose for itself: certificate checking and the connect timeout.
type ClientKey = (bool, Duration);

/// One client per distinct [`ClientKey`] among the upstreams, built up front, all resolving
/// host names the same way.
pub(crate) struct Clients {
    clients: HashMap<ClientKey, Result<Client, String>>,
}

impl Clients {
    pub fn for_upstreams(upstreams: &[Upstream], names: &Names) -> Self {
        let mut clients = HashMap::new();
        for upstream in upstreams.iter().filter(|u| u.url.kind() == "http") {
            let key = key(upstream);
            clients.entry(key).or_insert_with(|| {
                build(key, names)
                    .map_err(|e| outcome::describe("cannot set up the HTTP client", &e))
            });
        }
        Clients { clients }
    }

    pub fn get(&self, upstream: &Upstream) -> Result<&Client, String> {
        match self.clients.get(&key(upstream)) {
            Some(Ok(client)) => Ok(client),
            Some(Err(reason)) => Err(reason.clone()),
            None => Err("no HTTP client for this upstream".into()),
        }
    }
}

fn key(upstream: &Upstream) -> ClientKey {
    (upstream.tls_verify, upstream.timeout)
}

fn build((tls_verify, connect_timeout): ClientKey, names: &Names) -> Result<Client, BuildError> {
    install_crypto_provider();
    Ok(Client::builder()
        .pool_max_idle_per_host(0)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .http1_only()
        .referer(false)
        .tls_backend_preconfigured(tls_config(tls_verify)?)
        .connector_layer(TimeConnect)
        // The leaf certificate on https responses, for its expiry; plain http gets none.
        .tls_info(true)
        .user_agent(USER_AGENT)
        .dns_resolver(Arc::new(ProbeResolver(names.clone())))
        .build()?)
}

#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Tls(#[from] rustls::Error),
}

/// The TLS config reqwest would build (the platform's verifier, or none when `tls_verify` is off;
/// ALPN http/1.1), with a session store that marks the handshake's start for [`Phases`].
fn tls_config(tls_verify: bool) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous();
    let builder = if tls_verify {
        let verifier = rustls_platform_verifier::Verifier::new(provider)?;
        builder.with_custom_certificate_verifier(Arc::new(verifier))
    } else {
        builder.with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    };
    let mut config = builder.with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::store(Arc::new(MarkTlsStart::new()));
    Ok(config)
}

/// Accepts any certificate (`tls_verify = false`), still checking that the server holds its key.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// reqwest is built without a crypto provider so that ring (small, quick to build) is used rather
/// than aws-lc; it must be the process default before the first client is built. Another part of
/// the program having installed one first is fine: then that one is used.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One request, its phases timed (see [`super::phases`]).
pub(crate) async fn probe(
    client: &Client,
    upstream: &Upstream,
    url: &str,
    host: &str,
    port: u16,
    deadline: Instant,
) -> Attempt {
    let ((mut attempt, headers), marks) =
        phases::marked(request(client, upstream, url, host, port, deadline)).await;
    attempt.phases = marks.http_phases(headers, Instant::now());
    attempt
}

/// The attempt, and when the response headers came.
async fn request(
    client: &Client,
    upstream: &Upstream,
    url: &str,
    host: &str,
    port: u16,
    deadline: Instant,
) -> (Attempt, Option<Instant>) {
    let started = Instant::now();
    // Known before connecting only for IP literals; otherwise only a response tells.
    let literal = host
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port).to_string());
    let method = match upstream.method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
    };
    // `Connection: close`: the server, not us, then holds the TIME_WAIT, and it does not keep an
    // idle connection open for a client that will never reuse it.
    let mut request = client.request(method, url).header(CONNECTION, "close");
    if let Some(host) = &upstream.host {
        request = request.header(HOST, host);
    }
    let response = match timeout_at(deadline, request.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => return (Attempt::error(&err, literal), None),
        Err(_) => {
            let detail = format!("no answer within {}", show(upstream.timeout));
            return (Attempt::failed(Outcome::Timeout, detail, literal), None);
        }
    };
    let headers = Instant::now();
    let latency = headers - started;
    let status = response.status();
    let addr = response.remote_addr().map(|a| a.to_string()).or(literal);
    let location = location(&response);
    let cert_not_after = response
        .extensions()
        .get::<TlsInfo>()
        .and_then(TlsInfo::peer_certificate)
        .and_then(cert::not_after);
    let body = read_body(response, deadline).await;

    let code = status.as_u16();
    let ok = upstream.expect.contains(code);
    let mut detail = status_line(status);
    if !ok {
        detail.push_str(&format!(", expected {}", upstream.expect));
    }
    if let Some(location) = location {
        detail.push_str(&format!(" -> {location}"));
    }
    if !ok {
        let snippet = snippet(&body.head);
        if !snippet.is_empty() {
            detail.push_str(&format!(": {snippet}"));
        }
    }
    if let Some(problem) = body.problem {
        detail.push_str(&format!(" ({problem})"));
    }
    let attempt = Attempt {
        outcome: if ok { Outcome::Ok } else { Outcome::BadStatus },
        status_code: Some(code),
        latency: Some(latency),
        detail: clean(&detail),
        addr,
        cert_not_after,
        phases: Phases::default(),
    };
    (attempt, Some(headers))
}

/// "HTTP 502 Bad Gateway": the canonical reason, not the server's, which is free text.
fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

fn location(response: &Response) -> Option<String> {
    let status = response.status();
    if !status.is_redirection() {
        return None;
    }
    let value = response.headers().get(LOCATION)?;
    Some(clean(&String::from_utf8_lossy(value.as_bytes())))
}

struct Body {
    /// The first bytes, for the snippet.
    head: Vec<u8>,
    /// Why reading stopped early, if it did; never changes the verdict.
    problem: Option<String>,
}

/// Reads at most [`MAX_BODY_BYTES`] and stops at the deadline. Reading (rather than dropping) a
/// small body lets the server finish cleanly instead of seeing a reset.
async fn read_body(mut response: Response, deadline: Instant) -> Body {
    let mut body = Body {
        head: Vec::new(),
        problem: None,
    };
    let mut total = 0usize;
    while total < MAX_BODY_BYTES {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                total += chunk.len();
                let room = SNIPPET_CHARS
                    .saturating_mul(4)
                    .saturating_sub(body.head.len());
                body.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(Ok(None)) => break,
            Ok(Err(err)) => {
                let verdict = outcome::classify(&err);
                body.problem = Some(format!("body: {}", verdict.reason));
                break;
            }
            Err(_) => {
                body.problem = Some("body not finished within the timeout".into());
                break;
            }
        }
    }
    body
}

/// The body's text with tags dropped and whitespace collapsed, cut to [`SNIPPET_CHARS`].
fn snippet(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            c if c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    let cut: String = joined.chars().take(SNIPPET_CHARS).collect();
    sanitize(&cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_drop_markup_and_collapse_space() {
        let page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center>\
                     <h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>";
        assert_eq!(snippet(page), "502 Bad Gateway 502 Bad Gateway nginx");
        assert_eq!(snippet(b"plain \x1b[31mred"), "plain \\x1b[31mred");
        assert_eq!(snippet(&[b'a'; 500]).len(), SNIPPET_CHARS);
        assert_eq!(snippet(b""), "");
    }

    #[test]
    fn status_lines_use_canonical_reasons() {
        assert_eq!(status_line(StatusCode::BAD_GATEWAY), "HTTP 502 Bad Gateway");
        let odd = StatusCode::from_u16(599).expect("valid code");
        assert_eq!(status_line(odd), "HTTP 599");
    }
}
