//! The fixed outcome vocabulary, and how a real error maps onto it.
//!
//! Errors arrive as chains (reqwest -> hyper-util -> hyper / io::Error -> rustls ...). The chain is
//! walked down to the innermost error that says something definite, because that is the one that
//! names the cause: a refused connect is an `io::Error` several layers below "error sending request".

use std::error::Error;
use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use super::resolve::ResolveError;
use crate::sanitize::sanitize;

/// How one probe ended. Serialised as the snake_case name (`"bad_status"`), which scripts rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Connected (tcp, unix) or answered with a status inside `expect` (http).
    Ok,
    /// Nothing accepts: ECONNREFUSED, or a unix socket path that is missing or has no listener.
    Refused,
    /// No connection or no answer within the upstream's timeout (or the kernel's ETIMEDOUT).
    Timeout,
    /// The peer accepted, then reset or closed the connection before answering.
    Reset,
    /// The host name did not resolve.
    Dns,
    /// TLS handshake or certificate failure.
    Tls,
    /// An HTTP answer with a status outside `expect`.
    BadStatus,
    /// The peer answered something that is not HTTP.
    InvalidResponse,
    /// No route: EHOSTUNREACH, ENETUNREACH.
    Unreachable,
    /// Anything else; the detail says what.
    Error,
    /// This host could not give the probe a resource (EADDRNOTAVAIL: no free local port or
    /// address; EMFILE, ENFILE: no file descriptor). Says nothing about the upstream, but the
    /// proxy on this host is starved the same way.
    LocalLimit,
    /// A unix socket's listen backlog is full (EAGAIN on connect): the server is alive but not
    /// accepting fast enough, e.g. every php-fpm child is busy.
    Busy,
}

impl Outcome {
    pub const ALL: [Outcome; 12] = [
        Outcome::Ok,
        Outcome::Refused,
        Outcome::Timeout,
        Outcome::Reset,
        Outcome::Dns,
        Outcome::Tls,
        Outcome::BadStatus,
        Outcome::InvalidResponse,
        Outcome::Unreachable,
        Outcome::Error,
        Outcome::LocalLimit,
        Outcome::Busy,
    ];

    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Reset => "reset",
            Outcome::Dns => "dns",
            Outcome::Tls => "tls",
            Outcome::BadStatus => "bad_status",
            Outcome::InvalidResponse => "invalid_response",
            Outcome::Unreachable => "unreachable",
            Outcome::Error => "error",
            Outcome::LocalLimit => "local_limit",
            Outcome::Busy => "busy",
        }
    }

    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest detail kept: error text can carry server-controlled bytes, and results are stored.
pub const MAX_DETAIL_CHARS: usize = 1024;

/// An outcome with a short human reason, e.g. `(Reset, "closed before answering")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub outcome: Outcome,
    pub reason: &'static str,
}

impl Verdict {
    const fn new(outcome: Outcome, reason: &'static str) -> Self {
        Verdict { outcome, reason }
    }
}

const HYPER_UNEXPECTED_MESSAGE: &str = "received unexpected message from connection";

const CLOSED: Verdict = Verdict::new(Outcome::Reset, "closed before answering");

/// Classifies an error by its innermost meaningful cause; `Error` when nothing in the chain says.
pub(crate) fn classify(err: &(dyn Error + 'static)) -> Verdict {
    chain(err)
        .filter_map(verdict_of)
        .last()
        .unwrap_or(Verdict::new(Outcome::Error, "error"))
}

/// `reason: chain`, the chain's messages joined by ": " without repeats, sanitised and capped.
pub(crate) fn describe(reason: &str, err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err) {
        let text = e.to_string();
        // Layers often repeat their source's text (io::Error shows its inner error's message).
        if text.is_empty() || parts.last().is_some_and(|prev| prev.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    let chain = parts.join(": ");
    let text = if chain.is_empty() || chain.starts_with(reason) {
        chain
    } else {
        format!("{reason}: {chain}")
    };
    clean(&text)
}

/// The detail of a failure classified as `verdict`. A local limit is quoted the way nginx logs it,
/// "no local port free (99: Cannot assign requested address)", so it can be matched against the
/// proxy's error log; the layers above the errno add nothing there.
pub(crate) fn detail(verdict: Verdict, err: &(dyn Error + 'static)) -> String {
    let os = chain(err)
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .filter_map(errno_text)
        .last();
    match os {
        Some(os) if verdict.outcome == Outcome::LocalLimit => {
            clean(&format!("{} ({os})", verdict.reason))
        }
        _ => describe(verdict.reason, err),
    }
}

/// "99: Cannot assign requested address" for an OS error; `None` for other io errors.
pub(crate) fn errno_text(err: &io::Error) -> Option<String> {
    let code = err.raw_os_error()?;
    let text = err.to_string();
    let text = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    Some(format!("{code}: {text}"))
}

/// Sanitises and caps text that may hold bytes from the server.
pub(crate) fn clean(text: &str) -> String {
    let safe = sanitize(text);
    match safe.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &safe[..cut]),
        None => safe.into_owned(),
    }
}

/// The chain from `err` down, looking inside `io::Error`s: their `source()` skips the error they
/// wrap (where tokio-rustls puts the `rustls::Error`), so `get_ref()` is followed instead.
fn chain<'a>(err: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&e: &&'a (dyn Error + 'static)| match e
        .downcast_ref::<io::Error>()
    {
        Some(io) => match io.get_ref() {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => io.source(),
        },
        None => e.source(),
    })
    .take(32)
}

fn verdict_of(e: &(dyn Error + 'static)) -> Option<Verdict> {
    if e.is::<ResolveError>() {
        return Some(Verdict::new(Outcome::Dns, "name resolution failed"));
    }
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        use rustls::CertificateError as C;
        let reason = match tls {
            rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
                "certificate expired"
            }
            rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
                "certificate not valid yet"
            }
            rustls::Error::InvalidCertificate(_) => "certificate rejected",
            _ => "TLS handshake failed",
        };
        return Some(Verdict::new(Outcome::Tls, reason));
    }
    if let Some(h) = e.downcast_ref::<hyper::Error>() {
        if h.is_parse() {
            return Some(Verdict::new(
                Outcome::InvalidResponse,
                "not an HTTP response",
            ));
        }
        // A peer that speaks first (an SSH or SMTP banner) is not HTTP; hyper has no predicate
        // for this kind, only its message.
        if h.to_string() == HYPER_UNEXPECTED_MESSAGE {
            return Some(Verdict::new(
                Outcome::InvalidResponse,
                "not an HTTP server (it spoke first)",
            ));
        }
        if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
            return Some(CLOSED);
        }
        if h.is_timeout() {
            return Some(Verdict::new(Outcome::Timeout, "timed out"));
        }
        return None;
    }
    if let Some(r) = e.downcast_ref::<reqwest::Error>() {
        return r
            .is_timeout()
            .then_some(Verdict::new(Outcome::Timeout, "timed out"));
    }
    e.downcast_ref::<io::Error>().and_then(io_verdict)
}

/// The notAfter (unix seconds) that rustls's verifier quoted when it rejected a certificate as
/// expired; `None` for any other error (or an expiry reported without its time).
pub(crate) fn expired_not_after(err: &(dyn Error + 'static)) -> Option<i64> {
    chain(err)
        .filter_map(|e| e.downcast_ref::<rustls::Error>())
        .find_map(|tls| match tls {
            rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext {
                not_after,
                ..
            }) => i64::try_from(not_after.as_secs()).ok(),
            _ => None,
        })
}

/// What an OS error means for a probe; `None` for errors that are just "error".
pub(crate) fn io_verdict(err: &io::Error) -> Option<Verdict> {
    use Outcome::*;
    let v = match err.raw_os_error() {
        Some(libc::ECONNREFUSED) => Verdict::new(Refused, "connection refused"),
        Some(libc::ECONNRESET) => Verdict::new(Reset, "connection reset"),
        Some(libc::ECONNABORTED | libc::EPIPE) => CLOSED,
        Some(libc::ETIMEDOUT) => Verdict::new(Timeout, "timed out"),
        Some(libc::EHOSTUNREACH | libc::EHOSTDOWN) => Verdict::new(Unreachable, "host unreachable"),
        Some(libc::ENETUNREACH | libc::ENETDOWN) => {
            Verdict::new(Unreachable, "network unreachable")
        }
        // These starve the proxy as much as the probe; the fault is on this host, not upstream.
        Some(libc::EADDRNOTAVAIL) => Verdict::new(LocalLimit, "no local port free"),
        Some(libc::EMFILE) => Verdict::new(LocalLimit, "this process is out of file descriptors"),
        Some(libc::ENFILE) => Verdict::new(LocalLimit, "the host is out of file handles"),
        Some(_) => return None,
        None => match err.kind() {
            io::ErrorKind::ConnectionRefused => Verdict::new(Refused, "connection refused"),
            io::ErrorKind::ConnectionReset => Verdict::new(Reset, "connection reset"),
            io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => CLOSED,
            io::ErrorKind::TimedOut => Verdict::new(Timeout, "timed out"),
            io::ErrorKind::HostUnreachable => Verdict::new(Unreachable, "host unreachable"),
            io::ErrorKind::NetworkUnreachable => Verdict::new(Unreachable, "network unreachable"),
            _ => return None,
        },
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer layer")]
    struct Outer(#[source] io::Error);

    #[test]
    fn names_are_snake_case_and_match_serde() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).expect("serialises");
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
            let back: Outcome = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, outcome);
        }
        assert_eq!(Outcome::BadStatus.to_string(), "bad_status");
        assert_eq!(Outcome::InvalidResponse.as_str(), "invalid_response");
    }

    #[test]
    fn os_errors_map_by_code_through_layers() {
        let cases = [
            (libc::ECONNREFUSED, Outcome::Refused),
            (libc::ECONNRESET, Outcome::Reset),
            (libc::ETIMEDOUT, Outcome::Timeout),
            (libc::EHOSTUNREACH, Outcome::Unreachable),
            (libc::ENETUNREACH, Outcome::Unreachable),
            (libc::EADDRNOTAVAIL, Outcome::LocalLimit),
            (libc::EMFILE, Outcome::LocalLimit),
            (libc::ENFILE, Outcome::LocalLimit),
            (libc::EACCES, Outcome::Error),
        ];
        for (code, want) in cases {
            let err = Outer(io::Error::from_raw_os_error(code));
            assert_eq!(classify(&err).outcome, want, "errno {code}");
        }
    }

    #[test]
    fn local_limits_quote_the_errno_like_nginx() {
        let err = Outer(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        let verdict = classify(&err);
        assert_eq!(verdict.outcome, Outcome::LocalLimit);
        assert_eq!(
            detail(verdict, &err),
            "no local port free (99: Cannot assign requested address)"
        );
        let err = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(
            detail(classify(&err), &err),
            "this process is out of file descriptors (24: Too many open files)"
        );
        // Other outcomes keep the whole chain.
        let err = Outer(io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(
            detail(classify(&err), &err),
            "connection refused: outer layer: Connection refused (os error 111)"
        );
        assert_eq!(errno_text(&io::Error::other("no code")), None);
    }

    #[test]
    fn resolver_errors_are_dns_even_when_wrapped_in_io_errors() {
        let resolve = ResolveError::Lookup {
            host: "db.internal".into(),
            source: io::Error::other("failed to lookup address information"),
        };
        assert_eq!(classify(&resolve).outcome, Outcome::Dns);
        let wrapped = Outer(io::Error::other(resolve));
        let verdict = classify(&wrapped);
        assert_eq!(verdict.outcome, Outcome::Dns);
        assert_eq!(
            describe(verdict.reason, &wrapped),
            "name resolution failed: outer layer: cannot resolve \"db.internal\": \
             failed to lookup address information"
        );
    }

    #[test]
    fn rustls_errors_inside_io_errors_are_tls() {
        let err = Outer(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let verdict = classify(&err);
        assert_eq!(verdict.outcome, Outcome::Tls);
        assert_eq!(verdict.reason, "certificate rejected");
        assert_eq!(expired_not_after(&err), None);
    }

    #[test]
    fn expired_certificates_say_so_and_when() {
        use rustls::pki_types::UnixTime;
        let expired = rustls::CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_799_000_000)),
        };
        let err = Outer(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(expired),
        ));
        let verdict = classify(&err);
        assert_eq!(verdict.outcome, Outcome::Tls);
        assert_eq!(verdict.reason, "certificate expired");
        assert_eq!(expired_not_after(&err), Some(1_799_000_000));
        let bare = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert_eq!(classify(&bare).reason, "certificate expired");
        assert_eq!(expired_not_after(&bare), None);
        let early = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidYet);
        assert_eq!(classify(&early).reason, "certificate not valid yet");
    }

    #[test]
    fn details_are_sanitised_and_capped() {
        let err = Outer(io::Error::other(format!(
            "bad \x1b[2J{}",
            "x".repeat(MAX_DETAIL_CHARS * 2)
        )));
        let detail = describe("error", &err);
        assert!(
            detail.starts_with("error: outer layer: bad \\x1b[2J"),
            "{detail}"
        );
        assert!(!detail.chars().any(char::is_control));
        assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1);
    }
}
