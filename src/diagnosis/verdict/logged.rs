//! Causes the proxy's log names: TLS, buffers and headers, a full backlog, permissions, crashes
//! mid-response, slowness, and 502s nothing explains.

use crate::logs::Cause as LogCause;
use crate::status::Status;
use crate::upstream::{Outcome, State};

use super::super::evidence::{blamed_upstream, cause_total, log_evidence};
use super::{Candidate, by_count, reload_hint};
use crate::diagnosis::{Cause, Evidence, Inputs, NextStep, Span, UpstreamInput, Verdict};

/// "upstream shop 10.0.0.5:8080", the upstream the logs blame most for `causes` (by our name
/// when it is one of ours), or "an upstream" when no line names one.
fn blamed<'a>(
    inputs: &'a Inputs,
    causes: &[LogCause],
    span: Span,
) -> (String, Option<&'a UpstreamInput>) {
    match blamed_upstream(inputs, causes, span) {
        Some(logged) => match inputs.upstreams.iter().find(|u| u.is_named_by(&logged)) {
            Some(u) => (format!("upstream {}", u.display()), Some(u)),
            None => (format!("upstream {logged}"), None),
        },
        None => ("an upstream".into(), None),
    }
}

/// A rule that fires on log lines of `causes` alone.
fn from_lines(
    inputs: &Inputs,
    span: Span,
    causes: &[LogCause],
    verdict: impl FnOnce(Status, Vec<Evidence>) -> Verdict,
) -> Option<Candidate> {
    let n = cause_total(inputs, causes, span);
    if n == 0 {
        return None;
    }
    Candidate::lines(
        n,
        verdict(by_count(inputs, causes), log_evidence(inputs, causes, span)),
    )
}

/// A rule that fires on the first upstream whose probe `fails` this way, with the log lines of
/// `causes` after the probe's own words.
fn from_probe(
    inputs: &Inputs,
    span: Span,
    fails: impl Fn(&UpstreamInput) -> bool,
    causes: &[LogCause],
    verdict: impl FnOnce(&UpstreamInput, Vec<Evidence>) -> Verdict,
) -> Option<Candidate> {
    let u = inputs.upstreams.iter().find(|u| fails(u))?;
    let mut evidence = vec![Evidence::new(
        "probe",
        format!("{}: {}", u.display(), u.detail),
    )];
    evidence.extend(log_evidence(inputs, causes, span));
    Candidate::now(verdict(u, evidence).about(Some(u)))
}

pub(super) fn tls(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let next = NextStep::new(
        "check the upstream's certificate and protocols, and proxy_ssl_server_name, \
         proxy_ssl_verify, proxy_ssl_trusted_certificate, proxy_ssl_protocols",
    );
    let tls_probe = |u: &UpstreamInput| u.is_down() && u.outcome == Some(Outcome::Tls);
    if let Some(c) = from_probe(inputs, span, tls_probe, &[LogCause::Tls], |u, evidence| {
        Verdict::new(
            Cause::Tls,
            Status::Critical,
            format!("the TLS handshake with upstream {} fails", u.display()),
            evidence,
            next.clone(),
        )
    }) {
        return Some(c);
    }
    let (who, ours) = blamed(inputs, &[LogCause::Tls], span);
    from_lines(inputs, span, &[LogCause::Tls], |status, evidence| {
        Verdict::new(
            Cause::Tls,
            status,
            format!("the TLS handshake with {who} fails"),
            evidence,
            next,
        )
        .about(ours)
    })
}

pub(super) fn proxy_config(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let big = cause_total(inputs, &[LogCause::TooBigHeader], span);
    let invalid = cause_total(inputs, &[LogCause::InvalidHeader], span);
    if big >= invalid {
        let (who, ours) = blamed(inputs, &[LogCause::TooBigHeader], span);
        return from_lines(
            inputs,
            span,
            &[LogCause::TooBigHeader],
            |status, evidence| {
                Verdict::new(
                    Cause::ProxyConfig,
                    status,
                    format!("{who}'s response headers do not fit the proxy's buffers"),
                    evidence,
                    reload_hint(
                        inputs,
                        "raise proxy_buffer_size (e.g. 16k) and proxy_buffers (fastcgi_buffer_size \
                     for PHP), then ",
                        "",
                    ),
                )
                .about(ours)
            },
        );
    }
    let (who, ours) = blamed(inputs, &[LogCause::InvalidHeader], span);
    from_lines(
        inputs,
        span,
        &[LogCause::InvalidHeader],
        |status, evidence| {
            Verdict::new(
                Cause::ProxyConfig,
                status,
                format!("{who} sends an invalid HTTP response"),
                evidence,
                NextStep::new(
                    "check that proxy_pass/fastcgi_pass speaks the upstream's protocol, and read \
                 the upstream's own log",
                ),
            )
            .about(ours)
        },
    )
}

pub(super) fn backlog(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let next = NextStep::new(
        "its pool is saturated: raise pm.max_children (if memory allows) or listen.backlog, \
         and find the slow requests (php-fpm slowlog)",
    );
    let busy = |u: &UpstreamInput| u.outcome == Some(Outcome::Busy);
    if let Some(c) = from_probe(
        inputs,
        span,
        busy,
        &[LogCause::Unavailable],
        |u, evidence| {
            Verdict::new(
                Cause::Backlog,
                Status::Critical,
                format!("upstream {}'s listen backlog is full", u.display()),
                evidence,
                next.clone(),
            )
        },
    ) {
        return Some(c);
    }
    let (who, ours) = blamed(inputs, &[LogCause::Unavailable], span);
    from_lines(
        inputs,
        span,
        &[LogCause::Unavailable],
        |status, evidence| {
            Verdict::new(
                Cause::Backlog,
                status,
                format!("{who}'s listen backlog is full"),
                evidence,
                next,
            )
            .about(ours)
        },
    )
}

pub(super) fn permission(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let (who, ours) = blamed(inputs, &[LogCause::Permission], span);
    from_lines(inputs, span, &[LogCause::Permission], |status, evidence| {
        Verdict::new(
            Cause::Permission,
            status,
            format!("the proxy is denied access to {who}"),
            evidence,
            NextStep::new(
                "check the socket's owner and mode (php-fpm listen.owner, listen.mode) or \
                 SELinux (setsebool -P httpd_can_network_connect 1)",
            ),
        )
        .about(ours)
    })
}

pub(super) fn upstream_crash(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let causes = [LogCause::PrematureClose, LogCause::Reset];
    let (who, ours) = blamed(inputs, &causes, span);
    // Fresh connections (the probes) pass while the proxy's fail: the proxy reuses kept-alive
    // connections the upstream has already closed.
    let fresh_pass = ours.is_some_and(|u| u.state == Some(State::Up));
    let next = if fresh_pass {
        NextStep::new(
            "fresh connections succeed: make the upstream's keepalive timeout longer than the \
             proxy's (nginx keepalive_timeout in the upstream block), or look for worker \
             recycling",
        )
    } else {
        NextStep::new(
            "look for crashes, OOM kills or worker recycling in its logs (journalctl, dmesg)",
        )
    };
    from_lines(inputs, span, &causes, |status, mut evidence| {
        if let Some(u) = ours.filter(|_| fresh_pass) {
            evidence.push(Evidence::new(
                "probe",
                format!("{} answers fresh connections", u.display()),
            ));
        }
        Verdict::new(
            Cause::UpstreamCrash,
            status,
            format!("{who} closes connections mid-response"),
            evidence,
            next,
        )
        .about(ours)
    })
}

pub(super) fn upstream_slow(inputs: &Inputs, span: Span) -> Option<Candidate> {
    if let Some(u) = inputs.upstreams.iter().find(|u| u.flapping) {
        return Candidate::now(
            Verdict::new(
                Cause::UpstreamSlow,
                Status::Warning,
                format!("upstream {} is flapping", u.display()),
                vec![Evidence::new("probe", u.detail.clone())],
                NextStep::new(
                    "it fails every few requests: look for restarts, OOM kills or one bad instance \
                 behind a balancer",
                ),
            )
            .about(Some(u)),
        );
    }
    let (who, ours) = blamed(inputs, &[LogCause::Timeout], span);
    let logged = from_lines(inputs, span, &[LogCause::Timeout], |status, evidence| {
        Verdict::new(
            Cause::UpstreamSlow,
            status,
            format!("{who} is too slow for some requests"),
            evidence,
            NextStep::new(
                "find the slow requests in its log; raise proxy_read_timeout only if they are \
                 expected to be slow",
            ),
        )
        .about(ours)
    });
    if logged.is_some() {
        return logged;
    }
    let slow = inputs
        .upstreams
        .iter()
        .find(|u| u.state == Some(State::Degraded))?;
    Candidate::now(
        Verdict::new(
            Cause::UpstreamSlow,
            Status::Warning,
            format!("upstream {} is slow", slow.display()),
            vec![Evidence::new(
                "probe",
                slow.latency
                    .map(|l| format!("answers in {} ms", l.as_millis()))
                    .unwrap_or_default(),
            )],
            NextStep::new("requests may start timing out: check its load"),
        )
        .about(Some(slow)),
    )
}

pub(super) fn unexplained_502(inputs: &Inputs, span: Span) -> Option<Candidate> {
    let access: Vec<_> = inputs
        .logs
        .iter()
        .filter(|l| l.counts_in(span).status_502 > 0)
        .collect();
    let total: u64 = access.iter().map(|l| l.counts_in(span).status_502).sum();
    let gateway = inputs.gateway.as_ref().filter(|g| {
        g.outcome == Some(Outcome::BadStatus) && g.status_code.is_some_and(|c| c >= 500)
    });
    if total == 0 && gateway.is_none() {
        return None;
    }
    let mut evidence = Vec::new();
    if let Some(l) = access.first() {
        evidence.push(Evidence::new(
            l.short_name(),
            format!("{total} × 502 in {}, {}", l.short_name(), l.span_text(span)),
        ));
    }
    if let Some(g) = gateway {
        evidence.push(Evidence::new(
            "probe",
            format!("{} answers {}", g.url, g.status_code.unwrap_or_default()),
        ));
    }
    let error_log = inputs
        .logs
        .iter()
        .any(|l| l.format.is_some_and(crate::logs::Format::is_error_log));
    let next = if error_log {
        NextStep::new("read the error log around those requests").key("/")
    } else {
        NextStep::new(
            "follow the proxy's error log too ([[log]] with kind = \"error\"): it says why",
        )
    };
    let verdict = Verdict::new(
        Cause::Unexplained502,
        if gateway.is_some() {
            Status::Critical
        } else {
            super::severity_of(
                inputs,
                inputs.logs.iter().map(|l| l.counts.status_502).sum(),
            )
        },
        "the gateway answers 502 but no cause is visible".into(),
        evidence,
        next,
    );
    // 502s are the symptom, not a cause: any rule that names one outweighs them.
    Candidate::lines(0, verdict)
}
