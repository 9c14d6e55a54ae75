//! 80x24, the terminal an on-call engineer opens by default: every pane focused and zoomed and
//! every popup, from one incident with every pane filled. Panes give up columns, not content;
//! the footer keeps the keys that act on the diagnosis; popups stand clear of the panes.

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::tests::{app, render, services, upstream_app};
use crate::app::{App, Effect, Event};
use crate::pane::PaneId;
use crate::popup::ModalKind;

const W: u16 = 80;
const H: u16 = 24;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .1
}

fn dns_round() -> crate::dns::DnsRound {
    use crate::dns::{Answer, DnsResult, DnsRound, Nameserver, Rcode, Source};
    let ns2 = Nameserver::Addr("10.0.0.2:53".parse().expect("addr"));
    let ns3 = Nameserver::Addr("127.0.0.53:53".parse().expect("addr"));
    let r = |name: &str, ns: &Nameserver, addrs: &[&str], err: Option<&str>| DnsResult {
        name: name.into(),
        nameserver: *ns,
        answers: addrs
            .iter()
            .map(|a| Answer {
                addr: a.parse().expect("ip"),
                ttl: Some(300),
            })
            .collect(),
        cname_chain: vec![],
        rcode: Some(if err.is_some() {
            Rcode::NxDomain
        } else {
            Rcode::NoError
        }),
        latency: Duration::from_millis(4),
        error: err.map(str::to_string),
        source: Source::Dns,
    };
    let payments = ["172.18.0.12", "172.18.0.13"];
    let nx = Some("NXDOMAIN: no such name");
    DnsRound {
        seq: 1,
        finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 100),
        elapsed: Duration::from_millis(9),
        nameservers: vec![Nameserver::System, ns2, ns3],
        results: vec![
            r("payments.internal", &Nameserver::System, &payments, None),
            r("payments.internal", &ns2, &payments, None),
            r("payments.internal", &ns3, &["172.18.0.99"], None),
            r("api.internal", &Nameserver::System, &[], nx),
            r("api.internal", &ns2, &[], nx),
            r("api.internal", &ns3, &[], nx),
            r("shop.internal", &Nameserver::System, &["10.0.0.5"], None),
            r("shop.internal", &ns2, &["10.0.0.5"], None),
            r("shop.internal", &ns3, &["10.0.0.5"], None),
        ],
        problems: vec![],
        family: vec![],
    }
}

fn log_batch() -> crate::logs::LogBatch {
    use crate::logs::{Cause, Format, LogBatch, LogLine};
    let line = |text: &str, cause: Option<Cause>, up: Option<&str>| LogLine {
        text: text.into(),
        format: Some(Format::NginxError),
        cause,
        status: None,
        upstream: up.map(str::to_string),
        time: Some(1_800_000_000 - 120),
    };
    LogBatch::following(
        0,
        vec![
            line(
                "2027/01/15 07:58:00 [notice] 1#1: start worker processes",
                None,
                None,
            ),
            line(
                "2027/01/15 07:58:01 [error] 12#12: *3 connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://10.0.0.5:8080/\"",
                Some(Cause::Refused),
                Some("http://10.0.0.5:8080"),
            ),
        ],
    )
}

/// Every pane filled: the host, failing upstreams, DNS through three nameservers with two
/// addresses for one name, an nginx error log, and two services, one stopped.
fn incident() -> App {
    use crate::actions::{ActionEvent, ServiceState, ServiceStatus};
    use crate::logs::{LogBook, RingLimits, SourceSpec};
    let mut a = upstream_app((W, H));
    a.model.dns = crate::model::dns::Dns::new(
        vec![
            "payments.internal".into(),
            "api.internal".into(),
            "shop.internal".into(),
        ],
        &Default::default(),
    );
    a.update(Event::Dns(Box::new(dns_round())));
    a.model.logs = LogBook::new(
        &[SourceSpec::file("/var/log/nginx/error.log", None)],
        RingLimits::default(),
    );
    a.update(Event::Log(Box::new(log_batch())));
    a.actions = crate::app::actions::ActionsView::new(&services(), false);
    a.model.services = crate::model::services::Services::new(&services());
    for (i, state, detail) in [
        (0, ServiceState::Running, "active"),
        (1, ServiceState::Stopped, "failed (exit 3)"),
    ] {
        let status = ServiceStatus {
            service: i,
            name: String::new(),
            state,
            detail: detail.into(),
            command: None,
            at: SystemTime::UNIX_EPOCH,
        };
        a.update(Event::Action(Box::new(ActionEvent::Status(Box::new(
            status,
        )))));
    }
    a
}

fn screen(a: &mut App) -> Terminal<TestBackend> {
    render(a, W, H)
}

fn row(term: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = term.backend().buffer();
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol().to_string())
        .collect()
}

fn text(term: &Terminal<TestBackend>) -> String {
    (0..term.backend().buffer().area.height)
        .map(|y| row(term, y))
        .collect::<Vec<_>>()
        .join("\n")
}

fn focused(pane: PaneId) -> App {
    let mut a = incident();
    let digit = char::from_digit(pane.index() as u32 + 1, 10).expect("digit");
    key(&mut a, KeyCode::Char(digit));
    a
}

#[test]
fn each_pane_focused_80x24() {
    for pane in PaneId::ALL {
        let mut a = focused(pane);
        insta::assert_snapshot!(
            format!("focused_{}", pane.title().to_lowercase()),
            screen(&mut a).backend()
        );
    }
}

#[test]
fn each_pane_zoomed_80x24() {
    for pane in PaneId::ALL {
        let mut a = focused(pane);
        key(&mut a, KeyCode::Char('z'));
        insta::assert_snapshot!(
            format!("zoomed_{}", pane.title().to_lowercase()),
            screen(&mut a).backend()
        );
    }
}

/// The same incident at 120x40, where the Host pane is 58 columns: every TCP state that tells
/// a 502 story (CLOSE_WAIT among them) and the whole summary, nothing left out.
#[test]
fn the_incident_at_120x40() {
    let mut a = incident();
    let term = render(&mut a, 120, 40);
    let shown = text(&term);
    assert!(shown.contains("CLOSE_WAIT 3"), "{shown}");
    assert!(!shown.contains("z: all"), "{shown}");
    insta::assert_snapshot!("incident_120x40", term.backend());
}

#[test]
fn the_footer_keeps_quit_help_verdict_actions_and_rerun_in_every_pane() {
    for pane in PaneId::ALL {
        let mut a = focused(pane);
        let footer = row(&screen(&mut a), H - 1);
        for hint in ["q/^C quit", "? help", "v verdict", "a actions", "r rerun"] {
            assert!(footer.contains(hint), "{pane:?}: {footer:?}");
        }
    }
}

#[test]
fn the_host_pane_keeps_processes_and_close_wait() {
    let mut a = incident();
    let shown = text(&screen(&mut a));
    assert!(shown.contains("COMMAND"), "{shown}");
    for process in ["nginx: worker process", "php-fpm: pool www"] {
        assert!(
            shown.contains(process),
            "{process:?} cut or missing:\n{shown}"
        );
    }
    // CLOSE_WAIT is what an upstream that hung up leaves: shown even at zero, at any width.
    let mut idle = app((120, 40));
    if let Some(host) = &mut idle.model.host
        && let Ok(sockets) = &mut host.sockets
    {
        sockets.counts.clear();
    }
    for (w, h) in [(120, 40), (80, 24)] {
        let shown = text(&render(&mut idle, w, h));
        assert!(shown.contains("CLOSE_WAIT 0"), "{w}x{h}:\n{shown}");
    }
}

#[test]
fn a_stopped_services_reason_wraps_instead_of_being_cut() {
    use crate::actions::{ActionEvent, ServiceState, ServiceStatus};
    let mut a = incident();
    let reason = "Main process exited, code=exited, status=203/EXEC";
    let status = ServiceStatus {
        service: 1,
        name: String::new(),
        state: ServiceState::Stopped,
        detail: reason.into(),
        command: None,
        at: SystemTime::UNIX_EPOCH,
    };
    a.update(Event::Action(Box::new(ActionEvent::Status(Box::new(
        status,
    )))));
    let shown = text(&screen(&mut a));
    let host: String = shown
        .lines()
        .filter_map(|l| l.split("││").next())
        .collect::<Vec<_>>()
        .join(" ");
    for word in reason.split(' ') {
        assert!(host.contains(word), "{word:?} cut:\n{shown}");
    }
}

#[test]
fn dns_addresses_are_whole_at_80_columns() {
    let mut a = focused(PaneId::Dns);
    let shown = text(&screen(&mut a));
    // Two addresses do not fit beside the name: the second goes on under the first.
    for address in ["172.18.0.12 ", "172.18.0.13 "] {
        assert!(
            shown.contains(address),
            "{address:?} cut or missing:\n{shown}"
        );
    }
    assert!(!shown.contains("172.18.…"), "{shown}");
    // The marks of all three nameservers, one of them disagreeing.
    assert!(shown.contains("✓✓≠"), "{shown}");
}

#[test]
fn the_tcp_age_appearing_moves_no_row() {
    let mut a = incident();
    let before = text(&screen(&mut a));
    if let Some(host) = &a.model.host {
        let mut older = host.clone();
        older.sockets_age = Duration::from_secs(45);
        a.update(Event::Host(Box::new(older)));
    }
    let after = text(&screen(&mut a));
    assert!(after.contains("TCP counts 30s old"), "{after}");
    let rows = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
    let (before, after) = (rows(&before), rows(&after));
    let moved: Vec<usize> = (0..before.len())
        .filter(|&y| before[y] != after[y])
        .collect();
    // Only the Host pane's bottom border (row 13 in the 80x24 grid) tells the age.
    assert_eq!(moved, vec![13], "{after:?}");
}

/// Every popup the dashboard has, opened from the keys a person presses.
fn popups() -> Vec<(&'static str, App)> {
    let open = |pane: Option<PaneId>, keys: &[KeyCode]| {
        let mut a = match pane {
            Some(p) => focused(p),
            None => incident(),
        };
        for k in keys {
            key(&mut a, *k);
        }
        a
    };
    let ch = KeyCode::Char;
    let mut output = open(None, &[ch('a'), KeyCode::Down, KeyCode::Enter, ch('y')]);
    if let Some(id) = output.actions.running.as_ref().map(|r| r.id) {
        output.update(Event::Action(Box::new(
            crate::actions::ActionEvent::Output {
                id,
                lines: vec![
                    "nginx: configuration file /etc/nginx/nginx.conf test is successful".into(),
                ],
            },
        )));
    }
    vec![
        ("help", open(None, &[KeyCode::F(1)])),
        ("actions_menu", open(None, &[ch('a')])),
        (
            "confirm",
            open(None, &[ch('a'), KeyCode::End, KeyCode::Enter]),
        ),
        ("output", output),
        ("checklist", open(None, &[ch('v')])),
        ("timeline", open(None, &[ch('t')])),
        (
            "filter_prompt",
            open(Some(PaneId::Host), &[ch('/'), ch('n'), ch('g')]),
        ),
        (
            "search_prompt",
            open(Some(PaneId::Logs), &[KeyCode::F(3), ch('1'), ch('1')]),
        ),
        (
            "upstream_detail",
            open(Some(PaneId::Upstreams), &[KeyCode::Enter]),
        ),
        ("dns_detail", open(Some(PaneId::Dns), &[KeyCode::Enter])),
        ("log_detail", open(Some(PaneId::Logs), &[KeyCode::Enter])),
    ]
}

#[test]
fn every_popup_80x24() {
    for (name, mut a) in popups() {
        insta::assert_snapshot!(format!("popup_{name}"), screen(&mut a).backend());
    }
}

/// The popups' titles, by which their frame is found on the screen.
fn title_of(kind: ModalKind) -> Option<&'static str> {
    match kind {
        ModalKind::Help => Some(" Keys "),
        ModalKind::Menu => Some(" Actions "),
        ModalKind::Confirm => Some(" Confirm: "),
        ModalKind::Output => Some(" Output: "),
        ModalKind::Checklist => Some(" Checklist "),
        ModalKind::Timeline => Some(" Timeline "),
        ModalKind::LogDetail => Some(" Log line "),
        // Typed in the footer and the pane's border: no frame.
        ModalKind::Filter | ModalKind::Search => None,
    }
}

#[test]
fn popups_stand_clear_of_the_panes_behind_them() {
    let mut checked = 0;
    for (name, mut a) in popups() {
        let Some(title) = a.modal_kind().and_then(title_of) else {
            continue;
        };
        let term = screen(&mut a);
        let rows: Vec<Vec<String>> = (0..H)
            .map(|y| {
                (0..W)
                    .map(|x| term.backend().buffer()[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect();
        let joined: Vec<String> = rows.iter().map(|r| r.concat()).collect();
        let top = joined.iter().position(|r| r.contains(title));
        let Some(top) = top else {
            panic!("{name}: no {title:?} on screen:\n{}", joined.join("\n"));
        };
        let at = joined[top]
            .find(title)
            .map_or(0, |b| joined[top][..b].chars().count());
        let left = rows[top][..at].iter().rposition(|c| c == "┌");
        let right = rows[top][at..]
            .iter()
            .position(|c| c == "┐")
            .map(|x| x + at);
        let (Some(left), Some(right)) = (left, right) else {
            panic!("{name}: no frame around {title:?}: {:?}", joined[top]);
        };
        let bottom = (top + 1..rows.len())
            .find(|&y| rows[y][left] == "└")
            .unwrap_or(rows.len() - 1);
        // Every row beside the popup, and the rows above and below it within the body: blank.
        for y in top.saturating_sub(1).max(1)..=(bottom + 1).min(usize::from(H) - 2) {
            let beside = left.saturating_sub(2)..left;
            let after = right + 1..(right + 3).min(usize::from(W));
            for x in beside.chain(after) {
                assert_eq!(
                    rows[y][x], " ",
                    "{name}: pane text beside the popup, row {y}: {:?}",
                    joined[y]
                );
            }
        }
        for y in [top.wrapping_sub(1), bottom + 1] {
            if (1..usize::from(H) - 1).contains(&y) {
                for cell in &rows[y][left..=right] {
                    assert_eq!(
                        cell, " ",
                        "{name}: pane text next to the popup, row {y}: {:?}",
                        joined[y]
                    );
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 7, "every framed popup was looked at");
}

#[test]
fn f_keys_work_as_in_htop() {
    let mut a = incident();
    key(&mut a, KeyCode::F(1));
    assert_eq!(a.modal_kind(), Some(ModalKind::Help));
    key(&mut a, KeyCode::F(1));
    assert_eq!(a.modal_kind(), None, "F1 again closes the help");
    key(&mut a, KeyCode::F(4));
    assert_eq!(
        a.modal_kind(),
        Some(ModalKind::Filter),
        "F4 filters the Host pane"
    );
    key(&mut a, KeyCode::Esc);
    let sort = a.host.sort();
    key(&mut a, KeyCode::F(6));
    assert_ne!(a.host.sort(), sort, "F6 sorts");
    key(&mut a, KeyCode::Char('4'));
    key(&mut a, KeyCode::F(3));
    assert_eq!(
        a.modal_kind(),
        Some(ModalKind::Search),
        "F3 searches the logs"
    );
    key(&mut a, KeyCode::Esc);
    assert_eq!(key(&mut a, KeyCode::F(10)), vec![Effect::Quit]);
    // The help names them, the footer does not spend room on them.
    let mut help = incident();
    key(&mut help, KeyCode::Char('?'));
    let shown = text(&render(&mut help, 120, 40));
    assert!(shown.contains("?/F1"), "{shown}");
    let footer = row(&screen(&mut incident()), H - 1);
    assert!(
        !footer.contains("F1") && !footer.contains("F10"),
        "{footer:?}"
    );
}

#[test]
fn a_frozen_screen_says_so_and_stops_changing_until_thawed() {
    let mut a = focused(PaneId::Logs);
    key(&mut a, KeyCode::Char('Z'));
    let frozen = text(&screen(&mut a));
    assert!(row(&screen(&mut a), 0).contains("FROZEN"), "{frozen}");
    let mut more = log_batch();
    more.lines.truncate(1);
    more.lines[0].text = "2027/01/15 07:59:00 [error] 12#12: a new line".into();
    a.update(Event::Log(Box::new(more)));
    a.update(Event::Tick(
        super::tests::clock()
            .checked_add(jiff::SignedDuration::from_secs(300))
            .expect("in range"),
    ));
    assert_eq!(text(&screen(&mut a)), frozen, "nothing drawn changed");
    insta::assert_snapshot!("frozen", screen(&mut a).backend());
    // Narrower, the word takes the name's place and the status still shows.
    let narrow = row(&render(&mut a, 40, 12), 0);
    assert!(
        narrow.contains("FROZEN") && narrow.contains("CRITICAL"),
        "{narrow:?}"
    );
    key(&mut a, KeyCode::Char('Z'));
    let thawed = text(&screen(&mut a));
    assert!(!thawed.contains("FROZEN"), "{thawed}");
    assert!(thawed.contains("07:59:00 [error]"), "{thawed}");
}

#[test]
fn a_narrow_logs_pane_shows_the_message_not_the_date_and_ids() {
    let mut a = focused(PaneId::Logs);
    let shown = text(&screen(&mut a));
    // 38 columns: "2027/01/15 07:58:01 [error] 12#12: *3 " would leave only "[error]".
    assert!(shown.contains("07:58:01 [error] connect() f"), "{shown}");
    assert!(!shown.contains("2027/01/15 07:58:01"), "{shown}");
    // Zoomed on a 120-column terminal the pane is wide enough for the line as written.
    key(&mut a, KeyCode::Char('z'));
    let shown = text(&render(&mut a, 120, 40));
    assert!(
        shown.contains("2027/01/15 07:58:01 [error] 12#12: *3 connect()"),
        "{shown}"
    );
}
