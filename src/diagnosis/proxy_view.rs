//! The proxy's own view beside gatewatch's probe: agreement confirms a verdict, disagreement
//! is evidence of its own (a health check that asks something else, a path only one of them
//! takes). A proxy's view alone never makes a verdict.

use crate::proxy_view::{ProxySays, ViewState};
use crate::status::{Finding, Status};
use crate::upstream::{State, format_age};

use super::{Evidence, Inputs, UpstreamInput};

/// "haproxy marks shop/s1 DOWN (L7STS 502, since 40s)".
fn marks(p: &ProxySays) -> String {
    let details: Vec<String> = p
        .view
        .check
        .iter()
        .cloned()
        .chain(p.view.since.map(|d| format!("since {}", format_age(d))))
        .collect();
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join(", "))
    };
    match (&p.view.state, p.proxy) {
        (ViewState::Up, "caddy") => {
            format!("caddy counts no recent failures for {}{details}", p.server)
        }
        (state, _) => format!("{} marks {} {}{details}", p.proxy, p.server, state.label()),
    }
}

fn says_down(state: &ViewState) -> bool {
    matches!(state, ViewState::Down | ViewState::Maint | ViewState::Drain)
}

/// What the proxy says of an upstream the verdict finds down: the same, or the opposite.
pub(super) fn for_down_upstream(u: &UpstreamInput) -> Option<Evidence> {
    let p = u.proxy.as_ref()?;
    let text = match &p.view.state {
        s if says_down(s) => format!("{} too", marks(p)),
        ViewState::Up => format!(
            "{} though gatewatch's probe fails: the proxy may reach it by another path or \
             address, or a firewall stops only gatewatch's probe",
            marks(p)
        ),
        _ => marks(p),
    };
    Some(Evidence::new(p.proxy, text))
}

/// One finding per upstream on which the proxy and the probe disagree.
pub(super) fn findings(inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &inputs.upstreams {
        let Some(p) = &u.proxy else {
            continue;
        };
        match (u.state, &p.view.state) {
            (Some(State::Up | State::Degraded), ViewState::Maint) => out.push(Finding::new(
                Status::Warning,
                format!(
                    "{}, in maintenance (disabled by an operator): it answers gatewatch's \
                     probe but {} sends it no traffic",
                    marks(p),
                    p.proxy
                ),
            )),
            (Some(State::Up | State::Degraded), s) if says_down(s) => out.push(Finding::new(
                Status::Warning,
                format!(
                    "{} though it answers gatewatch's probe: its health check differs \
                     (check the check's path/port)",
                    marks(p)
                ),
            )),
            (Some(State::Down), ViewState::Up) => out.push(Finding::new(
                Status::Warning,
                format!(
                    "{} though gatewatch's probe of {} fails: a path or firewall difference \
                     for gatewatch's probe?",
                    marks(p),
                    u.display()
                ),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;
    use crate::proxy_view::ServerView;
    use std::time::{Duration, SystemTime};

    fn upstream(
        state: State,
        proxy: &'static str,
        view: ViewState,
        check: Option<&str>,
    ) -> UpstreamInput {
        let url: Target = "http://127.0.0.1:8080/".parse().expect("url");
        let mut u = UpstreamInput::new("shop/s1", &url, Duration::from_secs(1));
        u.state = Some(state);
        u.proxy = Some(ProxySays {
            proxy,
            server: "shop/s1".into(),
            view: ServerView {
                group: "shop".into(),
                server: "s1".into(),
                address: "127.0.0.1:8080".into(),
                state: view,
                check: check.map(str::to_owned),
                since: Some(Duration::from_secs(40)),
                requests: None,
                fails: None,
            },
            taken: SystemTime::UNIX_EPOCH,
        });
        u
    }

    fn findings_of(u: UpstreamInput) -> Vec<String> {
        let inputs = Inputs {
            upstreams: vec![u],
            ..Inputs::default()
        };
        findings(&inputs).into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn down_by_the_proxy_though_the_probe_answers() {
        let f = findings_of(upstream(
            State::Up,
            "haproxy",
            ViewState::Down,
            Some("L7STS 502"),
        ));
        assert_eq!(
            f,
            [
                "haproxy marks shop/s1 DOWN (L7STS 502, since 40s) though it answers gatewatch's \
              probe: its health check differs (check the check's path/port)"
            ]
        );
        let f = findings_of(upstream(State::Up, "haproxy", ViewState::Maint, None));
        assert_eq!(
            f,
            [
                "haproxy marks shop/s1 MAINT (since 40s), in maintenance (disabled by an operator): \
              it answers gatewatch's probe but haproxy sends it no traffic"
            ]
        );
    }

    #[test]
    fn up_by_the_proxy_though_the_probe_fails() {
        let u = upstream(State::Down, "envoy", ViewState::Up, None);
        let e = for_down_upstream(&u).expect("evidence");
        assert_eq!(e.source, "envoy");
        assert!(
            e.text
                .starts_with("envoy marks shop/s1 UP (since 40s) though gatewatch's probe fails"),
            "{}",
            e.text
        );
        let f = findings_of(u);
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("a path or firewall difference"), "{f:?}");
    }

    #[test]
    fn agreement_is_evidence_but_no_finding() {
        let u = upstream(
            State::Down,
            "haproxy",
            ViewState::Down,
            Some("L4CON Connection refused"),
        );
        let e = for_down_upstream(&u).expect("evidence");
        assert_eq!(
            e.text,
            "haproxy marks shop/s1 DOWN (L4CON Connection refused, since 40s) too"
        );
        assert!(findings_of(u).is_empty());
        assert!(findings_of(upstream(State::Up, "haproxy", ViewState::Up, None)).is_empty());
        assert!(findings_of(upstream(State::Up, "haproxy", ViewState::NoCheck, None)).is_empty());
    }
}
