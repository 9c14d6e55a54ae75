//! Whole-screen snapshots from a fixed host sample and a pinned clock, at the sizes people use and
//! at sizes nobody should, where the layout must degrade rather than panic.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::modal::ModalKind;
use crate::app::{App, Event};
use crate::host::{EphemeralPorts, FileHandles, HostSample, ProcessRow, TcpState, TcpStates};
use crate::theme::{self, ColorDepth, Theme};

pub(super) fn theme() -> Theme {
    theme::load("default", None, ColorDepth::TrueColor).expect("the default theme is embedded")
}

pub(super) fn clock() -> jiff::Zoned {
    jiff::Timestamp::from_second(1_800_000_000)
        .expect("valid timestamp")
        .to_zoned(jiff::tz::TimeZone::UTC)
}

fn sample() -> HostSample {
    let procs = [
        (1, "root", 0.0, 12 << 20, "/sbin/init"),
        (
            812,
            "root",
            0.3,
            9 << 20,
            "nginx: master process /usr/sbin/nginx -g daemon on;",
        ),
        (813, "www-data", 41.5, 48 << 20, "nginx: worker process"),
        (814, "www-data", 38.0, 47 << 20, "nginx: worker process"),
        (901, "www-data", 12.2, 310 << 20, "php-fpm: pool www"),
        (902, "www-data", 11.9, 305 << 20, "php-fpm: pool www"),
        (
            1203,
            "postgres",
            3.1,
            1200 << 20,
            "postgres: 15/main: checkpointer",
        ),
        (
            2210,
            "gatewatch-user",
            0.7,
            11 << 20,
            "gatewatch --config /etc/gatewatch/config.toml",
        ),
        (3001, "root", 0.0, 0, "[kworker/0:1-events]"),
    ];
    HostSample {
        hostname: "proxy-eu-1".into(),
        uptime: Duration::from_secs(3 * 86_400 + 4 * 3600 + 12 * 60),
        cores: 4,
        cpu_total: 53.7,
        cpu_per_core: vec![61.0, 48.5, 95.0, 10.2],
        load: [5.12, 3.40, 2.01],
        mem_used: 6 << 30,
        mem_total: 16 << 30,
        swap_used: 256 << 20,
        swap_total: 2 << 30,
        processes: procs
            .iter()
            .map(|&(pid, user, cpu, mem, cmd)| ProcessRow {
                pid,
                user: user.into(),
                cpu,
                mem,
                command: cmd.into(),
            })
            .collect(),
        sockets: Ok(TcpStates {
            counts: [
                (TcpState::Established, 1412),
                (TcpState::TimeWait, 20_391),
                (TcpState::CloseWait, 3),
                (TcpState::Listen, 7),
                (TcpState::FinWait2, 12),
            ]
            .into_iter()
            .collect(),
            malformed_lines: 0,
        }),
        ports: Ok(EphemeralPorts {
            low: 32768,
            high: 60999,
            in_use: 20_950,
            ..Default::default()
        }),
        sockets_age: std::time::Duration::ZERO,
        files: Ok(FileHandles {
            used: 5184,
            max: 9_223_372_036_854_775_807,
        }),
    }
}

pub(super) fn app(size: (u16, u16)) -> App {
    let mut app = App::new(clock(), size);
    app.update(Event::Host(Box::new(sample())));
    app
}

/// Draws a frame as the event loop does: the judgement settled first, then a pure draw.
pub(super) fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    app.settle();
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| super::draw(f, app, &theme())).expect("draw");
    term
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn overview_120x40() {
    insta::assert_snapshot!(render(&mut app((120, 40)), 120, 40).backend());
}

#[test]
fn overview_80x24() {
    insta::assert_snapshot!(render(&mut app((80, 24)), 80, 24).backend());
}

#[test]
fn single_pane_40x12() {
    insta::assert_snapshot!(render(&mut app((40, 12)), 40, 12).backend());
}

#[test]
fn before_the_first_sample() {
    let mut a = App::new(clock(), (80, 24));
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

#[test]
fn help_lists_every_binding() {
    let mut a = app((120, 40));
    key(&mut a, KeyCode::Char('?'));
    let term = render(&mut a, 120, 40);
    // The popups' keys make it longer than the screen: read it all by scrolling.
    let mut screen = term.backend().to_string();
    for _ in 0..140 {
        key(&mut a, KeyCode::Char('j'));
        screen.push_str(&render(&mut a, 120, 40).backend().to_string());
    }
    for b in crate::keymap::BINDINGS {
        assert!(screen.contains(b.help), "help is missing {:?}", b.help);
    }
    insta::assert_snapshot!(term.backend());
}

#[test]
fn zoomed_host_sorted_by_memory_and_filtered() {
    let mut a = app((120, 40));
    key(&mut a, KeyCode::Char('z'));
    key(&mut a, KeyCode::Char('s'));
    key(&mut a, KeyCode::Char('/'));
    for c in "www".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
}

#[test]
fn empty_panes_say_what_to_do() {
    let mut a = app((120, 40));
    key(&mut a, KeyCode::Char('2'));
    let screen = render(&mut a, 120, 40).backend().to_string();
    assert!(screen.contains("no upstreams configured"), "{screen}");
    assert!(screen.contains("no logs configured"), "{screen}");
}

#[test]
fn an_empty_logs_pane_says_where_syslog_and_stderr_lines_go() {
    let mut a = app((120, 40));
    a.model.upstreams.log_elsewhere =
        vec!["error_log goes to stderr: in the journal (systemd) or the container's log (/etc/nginx/nginx.conf:2)".into()];
    key(&mut a, KeyCode::Char('2'));
    let screen = render(&mut a, 120, 40).backend().to_string();
    assert!(
        screen.contains("error_log goes to stderr: in the journal"),
        "{screen}"
    );
}

#[test]
fn tiny_and_degenerate_sizes_never_panic() {
    for (w, h) in [
        (1, 1),
        (2, 1),
        (10, 3),
        (19, 5),
        (20, 6),
        (30, 8),
        (79, 19),
        (80, 20),
        (300, 100),
    ] {
        let mut a = app((w, h));
        render(&mut a, w, h);
        key(&mut a, KeyCode::Char('?'));
        render(&mut a, w, h);
        key(&mut a, KeyCode::Esc);
        key(&mut a, KeyCode::Char('z'));
        render(&mut a, w, h);
    }
    let screen = render(&mut app((10, 3)), 10, 3).backend().to_string();
    assert!(screen.contains("terminal"), "{screen}");
}

#[test]
fn many_cores_fall_back_to_one_glyph_per_core() {
    let mut s = sample();
    s.cores = 64;
    s.cpu_per_core = (0..64).map(|i| (i * 3 % 100) as f32).collect();
    let mut a = App::new(clock(), (120, 40));
    a.update(Event::Host(Box::new(s)));
    let screen = render(&mut a, 120, 40).backend().to_string();
    assert!(screen.contains("cores ▁"), "{screen}");
}

pub(super) fn upstream_app(size: (u16, u16)) -> App {
    use crate::config::{HttpMethod, StatusRange, Target, Upstream};
    use crate::model::upstreams::Upstreams;
    use crate::upstream::catalog::{Catalog, Entry};
    use crate::upstream::{Outcome, ProbeResult};
    use std::time::SystemTime;

    let mk = |name: &str, url: &str| Entry {
        upstream: Upstream {
            name: name.into(),
            url: url.parse::<Target>().expect("url"),
            timeout: Duration::from_secs(2),
            interval: Duration::from_secs(2),
            expect: StatusRange::DEFAULT,
            method: HttpMethod::Get,
            host: None,
            tls_verify: true,
            slow: Duration::from_millis(500),
            from: None,
        },
        group: Some("backend".into()),
        source: "/etc/nginx/sites-enabled/shop:12".into(),
        flags: vec!["max_fails=3".into()],
        notes: vec![],
        limits: None,
    };
    let catalog = Catalog {
        entries: vec![
            mk("shop", "http://10.0.0.5:8080/health"),
            mk("api", "https://api.internal:8443/"),
            mk("php-fpm", "unix:/run/php/php8.2-fpm.sock"),
            mk("db", "tcp://10.0.0.9:5432"),
            mk("cache", "tcp://10.0.0.10:6379"),
        ],
        unprobeable: vec!["proxy_pass http://$backend at /etc/nginx/sites-enabled/app:7: target contains a variable ($backend): resolved per request".into()],
        read_from: vec!["nginx /etc/nginx/nginx.conf (4 files)".into()],
        ..Catalog::default()
    };
    let mut view = Upstreams::new(&catalog);
    let base = 1_800_000_000 - 60;
    let mut seq = 0;
    let mut push = |view: &mut Upstreams,
                    i: usize,
                    t: u64,
                    outcome: Outcome,
                    code: Option<u16>,
                    ms: u64,
                    detail: &str| {
        seq += 1;
        view.apply(ProbeResult {
            target_index: i,
            seq,
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(base + t),
            outcome,
            status_code: code,
            latency: (ms > 0).then(|| Duration::from_millis(ms)),
            elapsed: Duration::from_millis(ms.max(1)),
            detail: detail.into(),
            addr: Some(
                [
                    "10.0.0.5:8080",
                    "10.0.0.7:8443",
                    "/run/php/php8.2-fpm.sock",
                    "10.0.0.9:5432",
                ][i]
                    .into(),
            ),
            cert_not_after: None,
            phases: crate::upstream::Phases::default(),
        });
    };
    for t in 0..20u64 {
        let fail = t >= 12;
        let (o, c, ms, d) = if fail {
            (
                Outcome::Refused,
                None,
                0,
                "connection refused: tcp connect error: Connection refused (os error 111)",
            )
        } else {
            (Outcome::Ok, Some(200), 3 + t % 4, "HTTP 200 OK")
        };
        push(&mut view, 0, t * 2, o, c, ms, d);
        push(
            &mut view,
            1,
            t * 2,
            Outcome::Ok,
            Some(200),
            200 + t * 40,
            "HTTP 200 OK",
        );
        push(&mut view, 2, t * 2, Outcome::Ok, None, 1, "connected");
        push(
            &mut view,
            3,
            t * 2,
            Outcome::Ok,
            None,
            1 + t % 2,
            "connected",
        );
    }
    let mut app = App::new(clock(), size);
    app.update(Event::Host(Box::new(sample())));
    app.set_upstreams(view);
    app
}

#[test]
fn upstreams_failing_first_120x40() {
    let mut a = upstream_app((120, 40));
    key(&mut a, KeyCode::Char('2'));
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
}

#[test]
fn upstreams_zoomed_80x24() {
    let mut a = upstream_app((80, 24));
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('z'));
    insta::assert_snapshot!(render(&mut a, 80, 24).backend());
}

/// Typed live: the border says how many of how many match, under which sort, and the filter as
/// typed; the footer says Enter keeps it.
#[test]
fn upstreams_filtered_by_target_and_sorted_by_latency() {
    let mut a = upstream_app((100, 16));
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('z'));
    key(&mut a, KeyCode::Char('s'));
    key(&mut a, KeyCode::Char('s'));
    key(&mut a, KeyCode::Char('/'));
    for c in "10.0.0".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let term = render(&mut a, 100, 16);
    let screen = term.backend().to_string();
    assert!(screen.contains("3 of 5 upstreams"), "{screen}");
    assert!(
        screen.contains("sort: latency · filter: 10.0.0█"),
        "{screen}"
    );
    assert!(!screen.contains("php-fpm"), "{screen}");
    insta::assert_snapshot!(term.backend());
    // Kept, and nothing matching says so.
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Char('/'));
    key(&mut a, KeyCode::Char('x'));
    let screen = render(&mut a, 100, 16).backend().to_string();
    assert!(
        screen.contains("no upstream matches the filter"),
        "{screen}"
    );
    assert!(screen.contains("0 of 5 upstreams"), "{screen}");
}

#[test]
fn upstream_detail_shows_the_full_error_and_last_results() {
    let mut a = upstream_app((120, 40));
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('z'));
    key(&mut a, KeyCode::Enter);
    let term = render(&mut a, 120, 40);
    let screen = term.backend().to_string();
    assert!(
        screen.contains("Connection refused (os error 111)"),
        "{screen}"
    );
    insta::assert_snapshot!(term.backend());
}

/// The last probe's phases, and nginx's own timeouts for the upstream's location beside them: a
/// first byte close to `proxy_read_timeout` is where the proxy gives up.
#[test]
fn upstream_detail_shows_phases_beside_the_proxys_limits() {
    use crate::config::{HttpMethod, StatusRange, Target, Upstream};
    use crate::discover::{Limit, ProxyLimits, SourceLoc};
    use crate::model::upstreams::Upstreams;
    use crate::upstream::catalog::{Catalog, Entry};
    use crate::upstream::{Outcome, Phases, ProbeResult};
    use std::time::SystemTime;

    let ms = Duration::from_micros;
    let entry = Entry {
        upstream: Upstream {
            name: "reports".into(),
            url: "https://reports.internal:8443/"
                .parse::<Target>()
                .expect("url"),
            timeout: Duration::from_secs(5),
            interval: Duration::from_secs(2),
            expect: StatusRange::DEFAULT,
            method: HttpMethod::Get,
            host: None,
            tls_verify: false,
            slow: Duration::from_millis(500),
            from: None,
        },
        group: None,
        source: "/etc/nginx/sites-enabled/reports:14".into(),
        flags: vec![],
        notes: vec![],
        limits: Some(ProxyLimits {
            connect_timeout: Limit {
                value: Duration::from_secs(60),
                from: None,
            },
            read_timeout: Limit {
                value: Duration::from_secs(3),
                from: Some(SourceLoc {
                    file: "/etc/nginx/sites-enabled/reports".into(),
                    line: 15,
                }),
            },
        }),
    };
    let catalog = Catalog {
        entries: vec![entry],
        ..Catalog::default()
    };
    let mut view = Upstreams::new(&catalog);
    view.apply(ProbeResult {
        target_index: 0,
        seq: 1,
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 5),
        outcome: Outcome::Ok,
        status_code: Some(200),
        latency: Some(ms(2_113_400)),
        elapsed: ms(2_114_000),
        detail: "HTTP 200 OK".into(),
        addr: Some("10.0.0.7:8443".into()),
        cert_not_after: None,
        phases: Phases {
            resolve: Some(ms(1_000)),
            connect: Some(ms(400)),
            tls: Some(ms(12_000)),
            first_byte: Some(ms(2_100_000)),
            total: Some(ms(2_114_000)),
        },
    });
    let mut a = App::new(clock(), (120, 16));
    a.update(Event::Host(Box::new(sample())));
    a.set_upstreams(view);
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('z'));
    key(&mut a, KeyCode::Enter);
    let term = render(&mut a, 120, 16);
    let screen = term.backend().to_string();
    assert!(
        screen.contains("resolve 1 ms  connect 0.4 ms  tls 12 ms  first byte 2.1 s  total 2.1 s"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "proxy_connect_timeout 60s, proxy_read_timeout 3s (/etc/nginx/sites-enabled/reports:15)"
        ),
        "{screen}"
    );
    insta::assert_snapshot!(term.backend());
}

/// The proxy's own view of the selected upstream in its detail, and an API that did not answer
/// under the table.
#[test]
fn the_proxys_own_view_beside_the_probe() {
    use crate::discover::ApiKind;
    use crate::proxy_view::{ProxyView, ServerView, ViewState};
    let mut a = upstream_app((120, 40));
    let server = ServerView {
        group: "shop".into(),
        server: "s1".into(),
        address: "10.0.0.5:8080".into(),
        state: ViewState::Down,
        check: Some("L4CON Connection refused".into()),
        since: Some(Duration::from_secs(12)),
        requests: Some(40),
        fails: Some(3),
    };
    let views = vec![
        ProxyView {
            api: ApiKind::HaproxyStats,
            at: "unix:/run/haproxy/admin.sock".into(),
            taken: std::time::SystemTime::UNIX_EPOCH,
            servers: vec![server],
            error: None,
        },
        ProxyView {
            api: ApiKind::EnvoyAdmin,
            at: "127.0.0.1:9901".into(),
            taken: std::time::SystemTime::UNIX_EPOCH,
            servers: vec![],
            error: Some("connection refused".into()),
        },
    ];
    assert!(a.update(Event::ProxyViews(views.clone())).0);
    assert!(
        !a.update(Event::ProxyViews(views)).0,
        "the same views again draw nothing new"
    );
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('z'));
    let table = render(&mut a, 120, 40).backend().to_string();
    assert!(table.contains("PROXY'S VIEW"), "{table}");
    assert!(table.contains("haproxy DOWN L4CON 12s"), "{table}");
    assert!(
        table.contains("· envoy admin 127.0.0.1:9901: connection refused"),
        "{table}"
    );
    key(&mut a, KeyCode::Enter);
    let detail = render(&mut a, 120, 40).backend().to_string();
    assert!(
        detail.contains("haproxy: DOWN L4CON Connection refused 12s, 40 req 3 fails"),
        "{detail}"
    );
}

#[test]
fn dns_failing_first_with_a_mark_per_nameserver() {
    use crate::dns::{Answer, DnsResult, DnsRound, Nameserver, Rcode, Source};
    use std::time::SystemTime;
    let ns2 = Nameserver::Addr("10.0.0.2:53".parse().expect("addr"));
    let r =
        |name: &str, ns: Nameserver, addrs: &[&str], rcode: Rcode, err: Option<&str>| DnsResult {
            name: name.into(),
            nameserver: ns,
            answers: addrs
                .iter()
                .map(|a| Answer {
                    addr: a.parse().expect("ip"),
                    ttl: Some(300),
                })
                .collect(),
            cname_chain: vec![],
            rcode: Some(rcode),
            latency: Duration::from_millis(4),
            error: err.map(str::to_string),
            source: Source::Dns,
        };
    let round = DnsRound {
        seq: 1,
        finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 100),
        elapsed: Duration::from_millis(9),
        nameservers: vec![Nameserver::System, ns2],
        results: vec![
            r(
                "shop.internal",
                Nameserver::System,
                &["10.0.0.5"],
                Rcode::NoError,
                None,
            ),
            r("shop.internal", ns2, &["10.0.0.6"], Rcode::NoError, None),
            r(
                "api.internal",
                Nameserver::System,
                &[],
                Rcode::NxDomain,
                Some("NXDOMAIN: no such name"),
            ),
            r(
                "api.internal",
                ns2,
                &[],
                Rcode::NxDomain,
                Some("NXDOMAIN: no such name"),
            ),
        ],
        problems: vec![],
        family: vec![],
    };
    let mut a = app((120, 40));
    a.model.dns = crate::model::dns::Dns::new(
        vec!["shop.internal".into(), "api.internal".into()],
        &Default::default(),
    );
    a.update(Event::Dns(Box::new(round)));
    key(&mut a, KeyCode::Char('3'));
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
}

fn logs_app() -> App {
    use crate::logs::{Cause, Format, LogBatch, LogLine, SourceSpec};
    let mut a = app((120, 40));
    a.model.logs = crate::logs::LogBook::new(
        &[
            SourceSpec::file("/var/log/nginx/error.log", None),
            SourceSpec::file("/var/log/nginx/access.log", None),
        ],
        crate::logs::RingLimits::default(),
    );
    let t = 1_800_000_000 - 120;
    let line = |text: &str, cause: Option<Cause>, up: Option<&str>| LogLine {
        text: crate::sanitize::sanitize(text).into_owned(),
        format: Some(Format::NginxError),
        cause,
        status: None,
        upstream: up.map(str::to_string),
        time: Some(t),
    };
    let batch = LogBatch::following(
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
            line(
                "2027/01/15 07:58:02 [error] 12#12: GET /\x1b]0;pwned\x07\x1b[2J\u{9b}31m evil",
                None,
                None,
            ),
            line(
                "2027/01/15 07:58:03 [error] 12#12: *9 upstream prematurely closed connection while reading response header from upstream",
                Some(Cause::PrematureClose),
                Some("http://10.0.0.6:8080"),
            ),
        ],
    );
    a.update(Event::Log(Box::new(batch)));
    key(&mut a, KeyCode::Char('4'));
    key(&mut a, KeyCode::Char('z'));
    a
}

#[test]
fn logs_strip_lines_and_no_control_character_in_the_buffer() {
    let mut a = logs_app();
    key(&mut a, KeyCode::Char('/'));
    for c in "evil".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    let term = render(&mut a, 120, 40);
    for cell in term.backend().buffer().content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || ('\u{80}'..='\u{9f}').contains(&c)),
            "control character {:?} in the rendered buffer",
            cell.symbol()
        );
    }
    insta::assert_snapshot!(term.backend());
}

pub(super) fn services() -> Vec<crate::actions::ServiceSpec> {
    use crate::config::Argv;
    let argv = |w: &[&str]| Some(Argv(w.iter().map(|s| (*s).to_owned()).collect()));
    vec![
        crate::actions::ServiceSpec {
            name: "nginx".into(),
            status: argv(&["systemctl", "is-active", "nginx"]),
            test: argv(&["nginx", "-t"]),
            reload: argv(&["systemctl", "reload", "nginx"]),
            restart: argv(&["systemctl", "restart", "nginx"]),
            timeout: Duration::from_secs(30),
            origin: "config".into(),
        },
        crate::actions::ServiceSpec {
            name: "shop".into(),
            status: argv(&["systemctl", "is-active", "shop"]),
            test: None,
            reload: None,
            restart: argv(&["sudo", "-n", "systemctl", "restart", "shop"]),
            timeout: Duration::from_secs(60),
            origin: "config".into(),
        },
    ]
}

fn actions_app(read_only: bool) -> App {
    use crate::actions::{ActionEvent, ServiceState, ServiceStatus};
    let mut a = app((120, 40));
    a.actions = crate::app::actions::ActionsView::new(&services(), read_only);
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
            at: std::time::SystemTime::UNIX_EPOCH,
        };
        a.update(Event::Action(Box::new(ActionEvent::Status(Box::new(
            status,
        )))));
    }
    a
}

#[test]
fn services_show_in_the_host_pane_and_a_stopped_one_is_critical() {
    let mut a = actions_app(false);
    let screen = format!("{:?}", render(&mut a, 120, 40).backend());
    assert!(screen.contains("services  nginx ● running"), "{screen}");
    assert!(
        screen.contains("shop ✖ stopped (failed (exit 3))"),
        "{screen}"
    );
    // The header tells the verdict's story.
    assert!(
        screen.contains("CRITICAL  service shop is not running (+"),
        "{screen}"
    );
    assert!(screen.contains("✖ service shop is not running"), "{screen}");
    assert_eq!(a.judged.status, crate::status::Status::Critical);
}

#[test]
fn actions_menu_lists_every_command_with_its_argv() {
    let mut a = actions_app(false);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
}

#[test]
fn read_only_greys_the_menu_and_refuses_to_confirm() {
    let mut a = actions_app(true);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.confirm(), None);
    assert_eq!(
        a.message.as_deref(),
        Some("read-only: actions are disabled (--read-only)")
    );
    let screen = format!("{:?}", render(&mut a, 120, 40).backend());
    assert!(screen.contains("Actions (read-only: --read-only)"));
}

fn confirm_restart(a: &mut App) {
    key(a, KeyCode::Char('a'));
    key(a, KeyCode::End);
    key(a, KeyCode::Enter);
}

#[test]
fn the_confirm_dialog_shows_the_exact_command_and_defaults_to_cancel() {
    let mut a = actions_app(false);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
    // Enter alone presses Cancel.
    let (_, effects) = a.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    assert!(effects.is_empty());
    assert_eq!(a.confirm(), None);
    assert_eq!(a.message.as_deref(), Some("cancelled: nothing was run"));
    assert!(a.menu_row().is_some(), "the menu stays open after a cancel");
}

#[test]
fn n_and_esc_cancel_y_runs_and_enter_runs_only_once_moved_to_run() {
    use crate::app::Effect;
    for cancel in [KeyCode::Char('n'), KeyCode::Esc] {
        let mut a = actions_app(false);
        confirm_restart(&mut a);
        let (_, effects) = a.update(Event::Key(KeyEvent::new(cancel, KeyModifiers::NONE)));
        assert!(effects.is_empty(), "{cancel:?}");
        assert_eq!(a.actions.running, None);
    }
    let mut a = actions_app(false);
    confirm_restart(&mut a);
    let (_, effects) = a.update(Event::Key(KeyEvent::new(
        KeyCode::Char('y'),
        KeyModifiers::NONE,
    )));
    let [Effect::RunAction(request)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(request.service, 1);
    assert_eq!(request.verb, crate::actions::Verb::Restart);
    assert!(a.output_open());

    let mut a = actions_app(false);
    confirm_restart(&mut a);
    key(&mut a, KeyCode::Right);
    let (_, effects) = a.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    assert_eq!(effects.len(), 1, "{effects:?}");
}

#[test]
fn the_output_view_streams_lines_and_ends_with_the_result() {
    use crate::actions::{ActionEvent, ActionResult, Exit, Outcome, Verb};
    let mut a = actions_app(false);
    key(&mut a, KeyCode::Char('a'));
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Char('y'));
    let id = a.actions.running.as_ref().map(|r| r.id).unwrap();
    let events = [
        ActionEvent::Started {
            id,
            command: "nginx -t".into(),
        },
        ActionEvent::Output {
            id,
            lines: vec![
                "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok".into(),
                "nginx: configuration file /etc/nginx/nginx.conf test is successful".into(),
            ],
        },
        ActionEvent::Started {
            id,
            command: "systemctl reload nginx".into(),
        },
        // A stale event from an earlier action is ignored.
        ActionEvent::Output {
            id: id + 100,
            lines: vec!["stale".into()],
        },
        ActionEvent::Finished(Box::new(ActionResult {
            id,
            service: "nginx".into(),
            verb: Verb::Reload,
            outcome: Outcome::Ran(Exit::Code(0)),
            started: std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            elapsed: Duration::from_millis(1234),
            audit_error: None,
        })),
    ];
    for ev in events {
        a.update(Event::Action(Box::new(ev)));
    }
    assert_eq!(a.message.as_deref(), Some("reload nginx: exit 0 in 1.2 s"));
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
    // Esc closes the output; the history shows in the menu.
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('a'));
    let screen = format!("{:?}", render(&mut a, 120, 40).backend());
    assert!(
        screen.contains("08:00:00 ✓ reload nginx: exit 0 in 1.2 s"),
        "{screen}"
    );
}

#[test]
fn quitting_while_an_action_runs_takes_a_second_q() {
    use crate::app::Effect;
    let mut a = actions_app(false);
    confirm_restart(&mut a);
    key(&mut a, KeyCode::Char('y'));
    key(&mut a, KeyCode::Esc);
    let q = || Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
    let (_, effects) = a.update(q());
    assert!(effects.is_empty());
    assert_eq!(
        a.message.as_deref(),
        Some("restart shop is still running: q again quits and kills it")
    );
    // Any other key disarms it.
    key(&mut a, KeyCode::Char('j'));
    let (_, effects) = a.update(q());
    assert!(effects.is_empty());
    let (_, effects) = a.update(q());
    assert_eq!(effects, [Effect::Quit]);
}

#[test]
fn the_checklist_view_shows_the_verdict_and_every_steps_evidence() {
    let mut a = upstream_app((120, 40));
    key(&mut a, KeyCode::Char('v'));
    assert_eq!(a.modal_kind(), Some(ModalKind::Checklist));
    insta::assert_snapshot!(render(&mut a, 120, 40).backend());
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.modal, None);
}

/// A quiet host sampled every 2 s for 30 s: uptime ticking, the TCP figures aging until the
/// quiet-host rescan, and a timer process waking for one tick every other sample. What a person
/// would notice did not change, so each frame may repaint only the waking process's CPU figure;
/// the cells that differ between frames are what the terminal is sent.
#[test]
fn an_idle_host_repaints_only_the_figure_that_moved() {
    let quiet = |round: u64| {
        let mut s = sample();
        s.uptime = Duration::from_secs(5 * 3600 + 52 * 60 + 2 * round);
        s.sockets_age = Duration::from_secs(2 * round % 30);
        s.load = [0.08, 0.03, 0.01];
        s.cpu_total = 0.5;
        s.cpu_per_core = vec![0.0; 4];
        s.processes = (1..=40)
            .map(|n| ProcessRow {
                pid: n * 10,
                user: "root".into(),
                cpu: if n == 30 && round % 2 == 1 { 0.5 } else { 0.0 },
                mem: 4 << 20,
                command: format!("/usr/sbin/daemon-{n} --foreground"),
            })
            .collect();
        s
    };
    let (w, h) = (200, 50);
    let mut a = App::new(clock(), (w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut frame = |a: &mut App, round| {
        a.update(Event::Host(Box::new(quiet(round))));
        a.settle();
        term.draw(|f| super::draw(f, a, &theme())).expect("draw");
        term.backend().buffer().clone()
    };
    // The first wake-up moves the timer process up among the busy ones; from then on it stays.
    frame(&mut a, 0);
    let mut last = frame(&mut a, 1);
    for round in 2..15 {
        let next = frame(&mut a, round);
        let changed: Vec<String> = last
            .diff(&next)
            .iter()
            .map(|(x, y, c)| format!("({x},{y})={:?}", c.symbol()))
            .collect();
        // "0.5" <-> "0.0": one cell.
        assert!(
            changed.len() <= 1,
            "round {round}: {} cells repainted: {changed:?}",
            changed.len()
        );
        last = next;
    }
}
