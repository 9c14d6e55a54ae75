//! What nginx would write for a proxied request: an access line in the combined format with the
//! upstream fields many configs add (`us=$upstream_status ua=$upstream_addr rt=...`), and for a
//! failed exchange the error line nginx writes, word for word.

use std::net::SocketAddr;
use std::time::Duration;

use super::traffic::{Exchange, Failure};

/// One proxied request as the client made it.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub client: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// `server_name` of the virtual host and the client's Host header.
    pub host: &'a str,
    pub user_agent: &'a str,
}

/// Who writes: nginx's worker pid and its connection counter (`*N`).
#[derive(Clone, Copy, Debug)]
pub struct Worker {
    pub pid: u32,
    pub connection: u64,
}

/// Body sizes of nginx's built-in error pages, as `$body_bytes_sent` shows them.
const BAD_GATEWAY_PAGE: u64 = 157;
const GATEWAY_TIMEOUT_PAGE: u64 = 167;

/// The status nginx answers the client with, and the body size it sends.
pub fn client_status(exchange: &Exchange) -> (u16, u64) {
    match &exchange.result {
        Ok(answer) => (answer.status, answer.body_bytes),
        Err(Failure::ReadTimeout | Failure::ConnectTimeout) => (504, GATEWAY_TIMEOUT_PAGE),
        Err(_) => (502, BAD_GATEWAY_PAGE),
    }
}

/// nginx's message for a failure (what follows `*N ` up to `, client:`).
pub fn failure_message(failure: &Failure) -> &'static str {
    match failure {
        Failure::Refused => {
            "connect() failed (111: Connection refused) while connecting to upstream"
        }
        Failure::ConnectTimeout => {
            "upstream timed out (110: Connection timed out) while connecting to upstream"
        }
        Failure::ReadTimeout => {
            "upstream timed out (110: Connection timed out) while reading response header from upstream"
        }
        Failure::ResetReading => {
            "recv() failed (104: Connection reset by peer) while reading response header from upstream"
        }
        Failure::ResetSending => {
            "writev() failed (32: Broken pipe) while sending request to upstream"
        }
        Failure::PrematureClose => {
            "upstream prematurely closed connection while reading response header from upstream"
        }
        Failure::InvalidHeader => {
            "upstream sent invalid header while reading response header from upstream"
        }
    }
}

/// `2024/05/01 12:00:00 [error] 1234#1234: *56 connect() failed ... host: "shop"`, or `None`
/// when the exchange succeeded (nginx logs nothing then, even for an upstream's own 502).
pub fn error_line(
    now: &jiff::Zoned,
    worker: Worker,
    req: &Request<'_>,
    upstream: SocketAddr,
    exchange: &Exchange,
) -> Option<String> {
    let failure = exchange.result.as_ref().err()?;
    Some(format!(
        "{} [error] {pid}#{pid}: *{} {}, client: {}, server: {}, request: \"{} {} HTTP/1.1\", \
         upstream: \"http://{upstream}{}\", host: \"{}\"",
        now.strftime("%Y/%m/%d %H:%M:%S"),
        worker.connection,
        failure_message(failure),
        req.client,
        req.host,
        req.method,
        req.path,
        req.path,
        req.host,
        pid = worker.pid,
    ))
}

/// `203.0.113.7 - - [01/May/2024:12:00:00 +0000] "GET /cart HTTP/1.1" 502 157 "-" "curl/8.5.0"
/// us=502 ua=127.0.0.1:8080 rt=0.002 urt=0.002`.
pub fn access_line(
    now: &jiff::Zoned,
    req: &Request<'_>,
    upstream: SocketAddr,
    exchange: &Exchange,
) -> String {
    let (status, bytes) = client_status(exchange);
    // $upstream_status is what the upstream said, or what nginx made of its silence.
    let upstream_status = match &exchange.result {
        Ok(answer) => answer.status,
        Err(_) => status,
    };
    let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
    // $upstream_response_time is "-" when no connection was made.
    let upstream_time = match exchange.result {
        Err(Failure::Refused | Failure::ConnectTimeout) => "-".to_string(),
        _ => secs(exchange.elapsed),
    };
    format!(
        "{} - - [{}] \"{} {} HTTP/1.1\" {status} {bytes} \"-\" \"{}\" us={upstream_status} \
         ua={upstream} rt={} urt={upstream_time}",
        req.client,
        now.strftime("%d/%b/%Y:%H:%M:%S %z"),
        req.method,
        req.path,
        req.user_agent,
        secs(exchange.elapsed),
    )
}

/// What nginx writes to its error log when it starts.
pub fn startup_lines(now: &jiff::Zoned, master_pid: u32, worker_pid: u32) -> Vec<String> {
    let t = now.strftime("%Y/%m/%d %H:%M:%S");
    let m = master_pid;
    vec![
        format!("{t} [notice] {m}#{m}: using the \"epoll\" event method"),
        format!("{t} [notice] {m}#{m}: nginx/1.24.0"),
        format!("{t} [notice] {m}#{m}: OS: Linux"),
        format!("{t} [notice] {m}#{m}: getrlimit(RLIMIT_NOFILE): 1024:524288"),
        format!("{t} [notice] {m}#{m}: start worker processes"),
        format!("{t} [notice] {m}#{m}: start worker process {worker_pid}"),
    ]
}

/// How long the scene's nginx has been serving before the demo starts, and how long before the
/// start it was reloaded: the incident timeline then has a quiet past and a change to name.
pub const SERVING_FOR: Duration = Duration::from_secs(30 * 60);
pub const RELOADED_BEFORE: Duration = Duration::from_secs(15);

/// The scene's past, written when it starts: nginx started [`SERVING_FOR`] ago and answered
/// `upstream` fine every 15 s since, then was reloaded [`RELOADED_BEFORE`] ago. The error
/// log's lines, then the access log's, oldest first.
pub fn past_lines(now: &jiff::Zoned, pid: u32, upstream: SocketAddr) -> (Vec<String>, Vec<String>) {
    let ago = |d: Duration| now.checked_sub(d).unwrap_or_else(|_| now.clone());
    let mut errors = startup_lines(&ago(SERVING_FOR), pid, pid);
    let reload = ago(RELOADED_BEFORE)
        .strftime("%Y/%m/%d %H:%M:%S")
        .to_string();
    for message in [
        format!("signal 1 (SIGHUP) received from {pid}, reconfiguring"),
        "reconfiguring".to_owned(),
        "using the \"epoll\" event method".to_owned(),
        "start worker processes".to_owned(),
        format!("start worker process {pid}"),
    ] {
        errors.push(format!("{reload} [notice] {pid}#{pid}: {message}"));
    }
    let step = Duration::from_secs(15);
    let served = (1..SERVING_FOR.as_secs() / step.as_secs()).map(|i| {
        let at = ago(SERVING_FOR - step * u32::try_from(i).unwrap_or(0));
        format!(
            "198.51.100.23 - - [{}] \"GET / HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0\" us=200 \
             ua={upstream} rt=0.004 urt=0.004",
            at.strftime("%d/%b/%Y:%H:%M:%S %z")
        )
    });
    (errors, served.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::traffic::Answer;
    use crate::logs::{Cause, classify};

    fn now() -> jiff::Zoned {
        jiff::Timestamp::from_second(1_800_000_000)
            .expect("timestamp")
            .to_zoned(jiff::tz::TimeZone::UTC)
    }

    fn req() -> Request<'static> {
        Request {
            client: "203.0.113.7",
            method: "GET",
            path: "/api/stock?sku=1042",
            host: "shop.demo.internal",
            user_agent: "curl/8.5.0",
        }
    }

    fn exchange(result: Result<Answer, Failure>) -> Exchange {
        Exchange {
            result,
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn every_failure_is_written_the_way_the_classifier_knows_nginx_writes_it() {
        let upstream: SocketAddr = "127.0.0.1:40123".parse().expect("addr");
        let worker = Worker {
            pid: 4242,
            connection: 56,
        };
        for (failure, cause) in [
            (Failure::Refused, Cause::Refused),
            (Failure::ConnectTimeout, Cause::Timeout),
            (Failure::ReadTimeout, Cause::Timeout),
            (Failure::ResetReading, Cause::Reset),
            (Failure::ResetSending, Cause::Reset),
            (Failure::PrematureClose, Cause::PrematureClose),
            (Failure::InvalidHeader, Cause::InvalidHeader),
        ] {
            let ex = exchange(Err(failure.clone()));
            let line = error_line(&now(), worker, &req(), upstream, &ex).expect("a failure");
            let c = classify(&line, Some(crate::config::LogKind::Error));
            assert_eq!(c.cause, Some(cause), "{line}");
            assert_eq!(c.upstream, Some("http://127.0.0.1:40123"), "{line}");
            assert!(line.starts_with("2027/01/15 08:00:00 [error] 4242#4242: *56 "));

            let access = access_line(&now(), &req(), upstream, &ex);
            let parsed = crate::logs::parse_access(&access).expect(&access);
            let (status, _) = client_status(&ex);
            assert_eq!(parsed.status, status);
            assert_eq!(parsed.last_upstream(), Some("127.0.0.1:40123"));
            assert_eq!(parsed.request, "GET /api/stock?sku=1042 HTTP/1.1");
        }
    }

    #[test]
    fn an_answer_is_an_access_line_only_and_keeps_the_upstreams_own_status() {
        let upstream: SocketAddr = "127.0.0.1:40124".parse().expect("addr");
        let ex = exchange(Ok(Answer {
            status: 502,
            body_bytes: 21,
        }));
        let worker = Worker {
            pid: 1,
            connection: 1,
        };
        assert!(error_line(&now(), worker, &req(), upstream, &ex).is_none());
        let line = access_line(&now(), &req(), upstream, &ex);
        assert_eq!(
            line,
            "203.0.113.7 - - [15/Jan/2027:08:00:00 +0000] \"GET /api/stock?sku=1042 HTTP/1.1\" 502 21 \
             \"-\" \"curl/8.5.0\" us=502 ua=127.0.0.1:40124 rt=0.003 urt=0.003"
        );
    }
}
