//! A proxy's own lifecycle notices in its error log: started, reloaded, stopped, lost a worker.
//!
//! Only the proxy's own message is looked at, and it must be the whole message (or start the
//! message, for those with a variable tail): a request path or an upstream name in a line can
//! carry any word ("exiting", "reconfiguring") and must not make an event.
//!
//! Some notices are left out on purpose, because they follow every reload and would read as
//! something else: nginx's workers write `gracefully shutting down`, `exiting` and `exit` each
//! time a reload retires them, `start worker process(es)` and `using the "epoll" event method`
//! come at start and at every reload, and `signal process started` is written by `nginx -s
//! anything` (to its stderr, not the log) without saying which signal. The master's own line
//! says which: `signal 15 (SIGTERM) received from 42, exiting`, `reconfiguring`. Likewise
//! HAProxy's old workers' `Proxy fe stopped (cumulated conns: ...)` on each reload, and a
//! `Former worker (42) exited with code 0`; its `Loading success.` follows a start and every
//! reload, so a reload reads as `proxy_reload` then `proxy_start` (the new worker is up).

use crate::logs::{Format, TimeParser, parse_apache_error, parse_nginx_error, peel};

use super::event::{Event, EventKind};

/// Reads notices from one log, with its time parser (lines of one log share their seconds).
pub struct NoticeReader {
    times: TimeParser,
}

impl Default for NoticeReader {
    fn default() -> Self {
        NoticeReader::new(TimeParser::default())
    }
}

impl NoticeReader {
    pub fn new(times: TimeParser) -> NoticeReader {
        NoticeReader { times }
    }

    /// The events of a log's text (e.g. from [`super::read_tail`]), in the order of its lines.
    pub fn events(&mut self, text: &str, source: &str) -> Vec<Event> {
        text.lines()
            .filter_map(|line| self.notice(line, source))
            .collect()
    }

    /// The lifecycle event `line` records, if any; `source` names the log it came from. Lines
    /// bare as the proxy writes them, or under a syslog / journal / Docker prefix (whose stamp is
    /// used when the line has none of its own, as HAProxy's stderr lines).
    pub fn notice(&mut self, line: &str, source: &str) -> Option<Event> {
        if let Some((kind, text, time)) = nginx(line) {
            let at = self.times.parse(Format::NginxError, time)?;
            return Some(Event::new(at, kind, source, &format!("nginx: {text}")));
        }
        if let Some((kind, text, time)) = apache(line) {
            let at = self.times.parse(Format::ApacheError, time)?;
            return Some(Event::new(at, kind, source, &format!("apache: {text}")));
        }
        let peeled = peel(line, |body| {
            nginx(body).is_some() || apache(body).is_some() || haproxy(body).is_some()
        })?;
        let (kind, text, who) = if let Some((kind, text, time)) = nginx(peeled.body) {
            let at = self.times.parse(Format::NginxError, time)?;
            return Some(Event::new(at, kind, source, &format!("nginx: {text}")));
        } else if let Some((kind, text, time)) = apache(peeled.body) {
            let at = self.times.parse(Format::ApacheError, time)?;
            return Some(Event::new(at, kind, source, &format!("apache: {text}")));
        } else {
            let (kind, text) = haproxy(peeled.body)?;
            (kind, text, "haproxy")
        };
        let (clock, stamp) = peeled.stamp?;
        let at = self.times.parse(clock, stamp)?;
        Some(Event::new(at, kind, source, &format!("{who}: {text}")))
    }
}

/// nginx's notice, its text, and the line's time field.
fn nginx(line: &str) -> Option<(EventKind, &str, &str)> {
    let e = parse_nginx_error(line)?;
    if e.time.is_empty() || e.connection.is_some() || e.client.is_some() {
        return None;
    }
    let m = e.message.trim_end();
    let kind = match e.level {
        "notice" => nginx_notice(m)?,
        // `worker process 42 exited on signal 9` (`(core dumped)` may follow), and a worker that
        // cannot be respawned: `worker process 42 exited with fatal code 2 and cannot be respawned`.
        "alert"
            if worker_line(m).is_some_and(|rest| {
                rest.starts_with("exited on signal ") || rest.starts_with("exited with fatal code ")
            }) =>
        {
            EventKind::WorkerCrash
        }
        _ => return None,
    };
    Some((kind, m, e.time))
}

fn nginx_notice(m: &str) -> Option<EventKind> {
    if m == "reconfiguring" {
        return Some(EventKind::ProxyReload);
    }
    // The master's banner, once per start: `nginx/1.22.1`.
    if let Some(version) = m.strip_prefix("nginx/")
        && version.starts_with(|c: char| c.is_ascii_digit())
        && !version.contains(' ')
    {
        return Some(EventKind::ProxyStart);
    }
    // `signal 15 (SIGTERM) received from 42, exiting`, `signal 3 (SIGQUIT) received, shutting
    // down` (the sender is named since 1.19.x); the master's, so a stop of the whole server.
    let rest = m.strip_prefix("signal ")?;
    let (number, rest) = rest.split_once(' ')?;
    if !number.bytes().all(|b| b.is_ascii_digit()) || !rest.starts_with('(') {
        return None;
    }
    let (_, action) = rest.split_once(" received")?;
    let action = action.rsplit_once(", ").map_or("", |(_, a)| a);
    matches!(action, "exiting" | "shutting down").then_some(EventKind::ProxyStop)
}

/// What follows `worker process 42 `.
fn worker_line(m: &str) -> Option<&str> {
    let rest = m.strip_prefix("worker process ")?;
    let (pid, rest) = rest.split_once(' ')?;
    pid.bytes().all(|b| b.is_ascii_digit()).then_some(rest)
}

/// Apache's notice, its text (without the AH number), and the line's time field.
fn apache(line: &str) -> Option<(EventKind, &str, &str)> {
    let e = parse_apache_error(line)?;
    if e.client.is_some() {
        return None;
    }
    let m = match e.code {
        Some(code) => e.message.strip_prefix(code)?.strip_prefix(':')?.trim(),
        None => e.message.trim(),
    };
    let kind = match e.level {
        // AH00489 / AH00163: `Apache/2.4.62 (Debian) configured -- resuming normal operations`,
        // after a start and after every restart.
        "notice" if m.starts_with("Apache/") && m.ends_with("resuming normal operations") => {
            EventKind::ProxyStart
        }
        // AH00493 / AH00494 / AH00171: `SIGUSR1 received.  Doing graceful restart`,
        // `SIGHUP received.  Attempting to restart`, `Graceful restart requested, doing restart`.
        "notice"
            if (m.starts_with("SIGUSR1 received.") || m.starts_with("SIGHUP received."))
                && m.ends_with("restart")
                || m == "Graceful restart requested, doing restart" =>
        {
            EventKind::ProxyReload
        }
        // AH00491 / AH00169 / AH00492: `caught SIGTERM, shutting down`, `caught SIGWINCH,
        // shutting down gracefully`.
        "notice" if m.starts_with("caught SIG") && m.contains(", shutting down") => {
            EventKind::ProxyStop
        }
        // AH00052: `child pid 42 exit signal Segmentation fault (11)`.
        "notice" | "error" | "alert" | "crit"
            if m.strip_prefix("child pid ").is_some_and(|rest| {
                rest.split_once(' ').is_some_and(|(pid, after)| {
                    pid.bytes().all(|b| b.is_ascii_digit()) && after.starts_with("exit signal ")
                })
            }) =>
        {
            EventKind::WorkerCrash
        }
        _ => return None,
    };
    Some((kind, m, e.time))
}

/// HAProxy's notice and its text, from the message as syslog or stderr carries it: bare
/// (`Proxy web started.`, after the syslog tag) or `[NOTICE]   (42) : Loading success.`.
fn haproxy(body: &str) -> Option<(EventKind, &str)> {
    let m = strip_haproxy_level(body).unwrap_or(body).trim_end();
    if let Some(name) = m
        .strip_prefix("Proxy ")
        .and_then(|r| r.strip_suffix(" started."))
        && !name.is_empty()
        && !name.contains(' ')
    {
        return Some((EventKind::ProxyStart, m));
    }
    let kind = match m {
        // After a start, and again after each reload (a new worker loaded the config).
        "Loading success." => EventKind::ProxyStart,
        // 2.6's master on SIGUSR2 / `reload`; older masters' re-exec.
        "Reloading HAProxy" | "Reexecuting Master process" => EventKind::ProxyReload,
        "Exiting Master process..." => EventKind::ProxyStop,
        // `All workers exited. Exiting... (137)`: the master gives up after its workers.
        _ if m.starts_with("All workers exited. Exiting...") => EventKind::ProxyStop,
        _ => {
            // `Current worker (42) exited with code 139 (Segmentation fault)`, `Former worker
            // ...`, older `Process 42 exited with code 139 (...)`: code 0 is a normal exit (old
            // workers after a reload).
            let rest = ["Current worker (", "Former worker (", "Process "]
                .iter()
                .find_map(|p| m.strip_prefix(p))?;
            let (pid, rest) = rest.split_once(' ')?;
            let code = rest.strip_prefix("exited with code ")?;
            let code = code.split(' ').next()?.parse::<i32>().ok()?;
            if !pid
                .trim_end_matches(')')
                .bytes()
                .all(|b| b.is_ascii_digit())
                || code == 0
            {
                return None;
            }
            EventKind::WorkerCrash
        }
    };
    Some((kind, m))
}

/// `[NOTICE]   (42) : rest` -> `rest`.
fn strip_haproxy_level(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let (level, rest) = rest.split_once(']')?;
    if !level.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('(')?;
    let (pid, rest) = rest.split_once(')')?;
    if !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.trim_start().strip_prefix(':').map(str::trim_start)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    /// 2026-12-01 14:02:03 UTC.
    const T: i64 = 1_796_133_723;

    fn read(line: &str) -> Option<Event> {
        NoticeReader::new(TimeParser::at(TimeZone::UTC, T + 3600)).notice(line, "error.log")
    }

    fn kind(line: &str) -> Option<EventKind> {
        read(line).map(|e| e.kind)
    }

    #[test]
    fn nginx_lifecycle_in_its_own_words() {
        let p = "2026/12/01 14:02:03 [notice] 700#700: ";
        let reload = read(&format!("{p}reconfiguring")).unwrap();
        assert_eq!(reload.at, T);
        assert_eq!(reload.kind, EventKind::ProxyReload);
        assert_eq!(reload.text, "nginx: reconfiguring");
        assert_eq!(reload.source, "error.log");
        assert_eq!(
            kind(&format!("{p}nginx/1.22.1")),
            Some(EventKind::ProxyStart)
        );
        assert_eq!(
            kind(&format!(
                "{p}signal 15 (SIGTERM) received from 901, exiting"
            )),
            Some(EventKind::ProxyStop)
        );
        assert_eq!(
            kind(&format!("{p}signal 3 (SIGQUIT) received, shutting down")),
            Some(EventKind::ProxyStop)
        );
        for crash in [
            "worker process 812 exited on signal 9",
            "worker process 812 exited on signal 11 (core dumped)",
            "worker process 812 exited on signal 6",
            "worker process 812 exited with fatal code 2 and cannot be respawned",
        ] {
            let line = format!("2026/12/01 14:02:03 [alert] 700#700: {crash}");
            assert_eq!(kind(&line), Some(EventKind::WorkerCrash), "{crash}");
        }
    }

    #[test]
    fn nginx_notices_that_follow_every_reload_are_not_events() {
        for m in [
            "signal 1 (SIGHUP) received from 901, reconfiguring",
            "signal process started",
            "start worker processes",
            "start worker process 813",
            "using the \"epoll\" event method",
            "gracefully shutting down",
            "exiting",
            "exit",
            "worker process 812 exited with code 0",
            "signal 17 (SIGCHLD) received from 812",
        ] {
            let line = format!("2026/12/01 14:02:03 [notice] 700#700: {m}");
            assert_eq!(kind(&line), None, "{m}");
        }
    }

    #[test]
    fn nginx_near_misses_are_not_events() {
        for line in [
            // A request for a path named like a notice.
            "2026/12/01 14:02:03 [error] 701#701: *9 open() \"/srv/www/exiting\" failed (2: No such file or directory), client: 10.0.0.1, server: a, request: \"GET /exiting HTTP/1.1\", host: \"a\"",
            // An upstream named `reconfiguring`.
            "2026/12/01 14:02:03 [error] 701#701: *9 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://reconfiguring:80/\", host: \"a\"",
            "2026/12/01 14:02:03 [notice] 701#701: *9 reconfiguring, client: 10.0.0.1, server: a",
            // The right words at the wrong level.
            "2026/12/01 14:02:03 [error] 700#700: reconfiguring",
            "2026/12/01 14:02:03 [notice] 700#700: worker process 812 exited on signal 9",
            "2026/12/01 14:02:03 [notice] 700#700: nginx/ is great",
            "2026/12/01 14:02:03 [notice] 700#700: reconfiguring now",
            "reconfiguring",
            "nginx: [notice] reconfiguring",
        ] {
            assert_eq!(kind(line), None, "{line}");
        }
    }

    #[test]
    fn apache_lifecycle_in_its_own_words() {
        let p = "[Tue Dec 01 14:02:03.123456 2026] [mpm_event:notice] [pid 700:tid 700] ";
        let start = read(&format!(
            "{p}AH00489: Apache/2.4.62 (Debian) configured -- resuming normal operations"
        ))
        .unwrap();
        assert_eq!((start.at, start.kind), (T, EventKind::ProxyStart));
        assert_eq!(
            start.text,
            "apache: Apache/2.4.62 (Debian) configured -- resuming normal operations"
        );
        assert_eq!(
            kind(&format!(
                "{p}AH00493: SIGUSR1 received.  Doing graceful restart"
            )),
            Some(EventKind::ProxyReload)
        );
        assert_eq!(
            kind(&format!("{p}AH00491: caught SIGTERM, shutting down")),
            Some(EventKind::ProxyStop)
        );
        assert_eq!(
            kind(
                "[Tue Dec 01 14:02:03.123456 2026] [core:notice] [pid 700:tid 700] AH00052: child pid 812 exit signal Segmentation fault (11)"
            ),
            Some(EventKind::WorkerCrash)
        );
        // 2.2's form, without the module or message number.
        assert_eq!(
            kind("[Tue Dec 01 14:02:03 2026] [notice] caught SIGTERM, shutting down"),
            Some(EventKind::ProxyStop)
        );
    }

    #[test]
    fn apache_near_misses_are_not_events() {
        for line in [
            "[Tue Dec 01 14:02:03.1 2026] [core:error] [pid 7:tid 7] [client 10.0.0.1:5] AH00128: File does not exist: /srv/caught SIGTERM, shutting down",
            "[Tue Dec 01 14:02:03.1 2026] [proxy:error] [pid 7:tid 7] AH00957: resuming normal operations",
            "[Tue Dec 01 14:02:03.1 2026] [core:notice] [pid 7:tid 7] AH00094: Command line: '/usr/sbin/apache2'",
            "[Tue Dec 01 14:02:03.1 2026] [core:notice] [pid 7:tid 7] AH00052: child pid x exit signal 11",
        ] {
            assert_eq!(kind(line), None, "{line}");
        }
    }

    #[test]
    fn haproxy_lifecycle_under_syslog_and_journal_prefixes() {
        let start = read("Dec  1 14:02:03 web1 haproxy[700]: Proxy shop started.").unwrap();
        assert_eq!((start.at, start.kind), (T, EventKind::ProxyStart));
        assert_eq!(start.text, "haproxy: Proxy shop started.");
        for (line, want) in [
            (
                "2026-12-01T14:02:03+00:00 web1 haproxy[700]: [NOTICE]   (700) : Loading success.",
                EventKind::ProxyStart,
            ),
            (
                "2026-12-01T14:02:03Z web1 haproxy[700]: [WARNING]  (700) : Reexecuting Master process",
                EventKind::ProxyReload,
            ),
            (
                "Dec  1 14:02:03 web1 haproxy[700]: [WARNING]  (700) : Exiting Master process...",
                EventKind::ProxyStop,
            ),
            (
                "Dec  1 14:02:03 web1 haproxy[700]: [NOTICE]   (700) : Reloading HAProxy",
                EventKind::ProxyReload,
            ),
            (
                "2026-12-01T14:02:03Z web1 haproxy[700]: [WARNING]  (700) : All workers exited. Exiting... (137)",
                EventKind::ProxyStop,
            ),
            (
                "Dec  1 14:02:03 web1 haproxy[700]: [ALERT]    (700) : Current worker (812) exited with code 139 (Segmentation fault)",
                EventKind::WorkerCrash,
            ),
        ] {
            let e = read(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((e.at, e.kind), (T, want), "{line}");
        }
    }

    #[test]
    fn haproxy_near_misses_are_not_events() {
        for line in [
            // A normal exit of an old worker after a reload.
            "Dec  1 14:02:03 web1 haproxy[700]: [WARNING]  (700) : Former worker (811) exited with code 0 (Exit)",
            // A traffic line whose request names a notice.
            "Dec  1 14:02:03 web1 haproxy[700]: 10.0.0.1:5 [01/Dec/2026:14:02:03.100] fe be/s1 0/0/1/2/3 200 10 - - ---- 1/1/0/0/0 0/0 \"GET /Loading%20success. HTTP/1.1\"",
            "Dec  1 14:02:03 web1 haproxy[700]: Proxy a b started.",
            // An old worker retiring on reload.
            "Dec  1 14:02:03 web1 haproxy[701]: [WARNING]  (701) : Proxy fe stopped (cumulated conns: FE: 0, BE: 0).",
            "Dec  1 14:02:03 web1 haproxy[700]: [NOTICE]   (700) : New worker (702) forked",
            // No time at all: bare stderr.
            "[NOTICE]   (700) : Loading success.",
        ] {
            assert_eq!(kind(line), None, "{line}");
        }
    }

    #[test]
    fn hostile_bytes_long_and_truncated_lines_do_not_panic() {
        let p = "2026/12/01 14:02:03 [notice] 700#700: ";
        let long = format!("{p}nginx/{}", "9".repeat(16 * 1024));
        let e = read(&long).unwrap();
        assert!(e.text.chars().count() < 400);
        let escape =
            read("Dec  1 14:02:03 web1 haproxy[700]: Proxy \x1b]0;x\x07 started.").unwrap();
        assert!(
            !escape.text.chars().any(char::is_control),
            "{}",
            escape.text
        );
        let invalid =
            String::from_utf8_lossy(b"2026/12/01 14:02:03 [notice] 700#700: nginx/1.\xff\xfe")
                .into_owned();
        assert_eq!(kind(&invalid), Some(EventKind::ProxyStart));
        let line = format!("{p}signal 15 (SIGTERM) received from 901, exiting");
        for cut in 0..line.len() {
            let _ = read(&line[..cut]);
        }
        let apache = "[Tue Dec 01 14:02:03.123456 2026] [core:notice] [pid 700:tid 700] AH00052: child pid 812 exit signal Segmentation fault (11)";
        for cut in 0..apache.len() {
            let _ = read(&apache[..cut]);
        }
        let haproxy = "2026-12-01T14:02:03+00:00 web1 haproxy[700]: [ALERT]    (700) : Current worker (812) exited with code 139";
        for cut in 0..haproxy.len() {
            let _ = read(&haproxy[..cut]);
        }
    }
}
