//! One probe of one upstream: picks the kind (http, tcp, unix), bounds it by the upstream's
//! timeout and stamps the result.

use std::error::Error;
use std::slice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, timeout_at};

use super::http::Clients;
use super::outcome::{self, Outcome, clean};
use super::resolve::Names;
use super::{Phases, ProbeResult, http, socket};
use crate::config::{ProbeFrom, Target, Upstream};

/// Extra time past the upstream's timeout before the outer guard gives up. Each probe kind already
/// stops at the timeout; the guard only catches a layer that does not.
const GUARD_GRACE: Duration = Duration::from_millis(100);

/// Process-wide, so results from a replaced prober (after a config reload) still sort as older.
static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_seq() -> u64 {
    NEXT_SEQ.fetch_add(1, Ordering::Relaxed)
}

/// What a probe kind found, before it is stamped with index, seq and times.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub latency: Option<Duration>,
    pub detail: String,
    pub addr: Option<String>,
    /// The https upstream's leaf certificate's notAfter (unix seconds), when it was seen.
    pub cert_not_after: Option<i64>,
    /// Filled by the probe kind; `total` is set when the result is stamped.
    pub phases: Phases,
}

impl Attempt {
    pub fn ok(latency: Duration, detail: String, addr: Option<String>) -> Self {
        Attempt {
            outcome: Outcome::Ok,
            status_code: None,
            latency: Some(latency),
            detail,
            addr,
            cert_not_after: None,
            phases: Phases::default(),
        }
    }

    /// A failure whose detail we wrote ourselves (no error chain to show).
    pub fn failed(outcome: Outcome, detail: impl AsRef<str>, addr: Option<String>) -> Self {
        Attempt {
            outcome,
            status_code: None,
            latency: None,
            detail: clean(detail.as_ref()),
            addr,
            cert_not_after: None,
            phases: Phases::default(),
        }
    }

    /// A failure classified from its error chain.
    pub fn error(err: &(dyn Error + 'static), addr: Option<String>) -> Self {
        let verdict = outcome::classify(err);
        Attempt {
            outcome: verdict.outcome,
            status_code: None,
            latency: None,
            detail: outcome::detail(verdict, err),
            addr,
            // A verified handshake that failed on an expired certificate still tells when.
            cert_not_after: outcome::expired_not_after(err),
            phases: Phases::default(),
        }
    }
}

/// Probes upstreams; owns the HTTP clients so they are built once per distinct setting.
pub(crate) struct Prober {
    clients: Clients,
    names: Names,
    /// The container namespaces probed from ([`Upstream::from`]), one runner each.
    places: crate::netns::Places,
}

impl Prober {
    pub fn new(upstreams: &[Upstream]) -> Self {
        Self::with_names(upstreams, Names::System)
    }

    /// Resolving host names through `names` rather than the system resolver.
    pub fn with_names(upstreams: &[Upstream], names: Names) -> Self {
        Prober {
            clients: Clients::for_upstreams(upstreams, &names),
            names,
            places: crate::netns::Places::default(),
        }
    }

    pub async fn probe(&self, target_index: usize, upstream: &Upstream) -> ProbeResult {
        if let Some(from) = &upstream.from {
            return self.probe_from(target_index, upstream, from).await;
        }
        let seq = next_seq();
        let at = SystemTime::now();
        let started = Instant::now();
        let deadline = started + upstream.timeout;
        let attempt = timeout_at(deadline + GUARD_GRACE, self.attempt(upstream, deadline))
            .await
            .unwrap_or_else(|_| {
                Attempt::failed(
                    Outcome::Timeout,
                    format!("no answer within {}", show(upstream.timeout)),
                    None,
                )
            });
        let elapsed = started.elapsed();
        ProbeResult {
            target_index,
            seq,
            at,
            outcome: attempt.outcome,
            status_code: attempt.status_code,
            latency: attempt.latency,
            elapsed,
            phases: Phases {
                total: Some(elapsed),
                ..attempt.phases
            },
            detail: attempt.detail,
            addr: attempt.addr,
            cert_not_after: attempt.cert_not_after,
        }
    }

    /// The probe from inside the container `from` names, as its proxy would connect.
    async fn probe_from(
        &self,
        target_index: usize,
        upstream: &Upstream,
        from: &ProbeFrom,
    ) -> ProbeResult {
        let runner = match self.places.runner(&from.netns, from.netns_id) {
            Ok(runner) => runner,
            Err(e) => {
                let detail = format!("cannot probe from inside container {}: {e}", from.container);
                return not_run(target_index, &detail);
            }
        };
        let inside = Upstream {
            from: None,
            ..upstream.clone()
        };
        let mut result =
            crate::netns::probe_in_with_hosts(&runner, &inside, &from.nameservers, &from.hosts)
                .await;
        result.target_index = target_index;
        result
    }

    async fn attempt(&self, upstream: &Upstream, deadline: Instant) -> Attempt {
        match &upstream.url {
            Target::Http {
                url, host, port, ..
            } => match self.clients.get(upstream) {
                Ok(client) => http::probe(client, upstream, url, host, *port, deadline).await,
                Err(reason) => Attempt::failed(Outcome::Error, reason, None),
            },
            Target::Tcp { host, port } => {
                socket::tcp(&self.names, host, *port, upstream.timeout, deadline).await
            }
            Target::Unix { path } => socket::unix(path, upstream.timeout, deadline).await,
        }
    }
}

/// Probes one upstream once, with a client of its own: for `gatewatch check` and tests.
/// `target_index` is 0.
pub async fn probe_once(upstream: &Upstream) -> ProbeResult {
    Prober::new(slice::from_ref(upstream))
        .probe(0, upstream)
        .await
}

/// A probe that never ran (its network namespace is gone): a result with the reason, like any
/// failure, so the caller handles one kind of value.
pub(crate) fn not_run(target_index: usize, detail: &str) -> ProbeResult {
    ProbeResult {
        target_index,
        seq: next_seq(),
        at: SystemTime::now(),
        outcome: Outcome::Error,
        status_code: None,
        latency: None,
        elapsed: Duration::ZERO,
        phases: Phases::default(),
        detail: clean(detail),
        addr: None,
        cert_not_after: None,
    }
}

/// At most this many probes of [`probe_all`] are in flight at once (each holds a socket).
pub const MAX_PARALLEL: usize = 256;

/// Probes every upstream once, in parallel (at most [`MAX_PARALLEL`] at a time); results are in
/// the order of `upstreams`, `target_index` being the position there.
pub async fn probe_all(upstreams: &[Upstream]) -> Vec<ProbeResult> {
    probe_all_with(upstreams, Names::System).await
}

/// [`probe_all`], resolving host names through `names`.
pub(crate) async fn probe_all_with(upstreams: &[Upstream], names: Names) -> Vec<ProbeResult> {
    use futures_util::stream::{self, StreamExt};
    let prober = Prober::with_names(upstreams, names);
    stream::iter(upstreams.iter().enumerate())
        .map(|(index, upstream)| prober.probe(index, upstream))
        .buffered(MAX_PARALLEL)
        .collect()
        .await
}

/// Probes every upstream once, like [`probe_all`], until `deadline`: each upstream's result if
/// its probe finished by then, else `None` (its turn never came, or its probe was still waiting
/// for an answer), in the order of `upstreams`. Results are kept as they finish, so one slow
/// upstream holds back neither the others nor the report.
pub async fn probe_all_by(upstreams: &[Upstream], deadline: Instant) -> Vec<Option<ProbeResult>> {
    use futures_util::stream::{self, StreamExt};
    let prober = Prober::new(upstreams);
    let mut results: Vec<Option<ProbeResult>> = std::iter::repeat_with(|| None)
        .take(upstreams.len())
        .collect();
    let mut probes = stream::iter(upstreams.iter().enumerate())
        .map(|(index, upstream)| prober.probe(index, upstream))
        .buffer_unordered(MAX_PARALLEL);
    while let Ok(Some(result)) = timeout_at(deadline, probes.next()).await {
        if let Some(slot) = results.get_mut(result.target_index) {
            *slot = Some(result);
        }
    }
    results
}

/// A duration as a person writes it: "2s", "500ms".
pub(crate) fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
