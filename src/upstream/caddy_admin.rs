//! Caddy's running config, from its admin endpoint's `GET /config/`: the truth when the file on
//! disk was edited and not loaded, or when the config was loaded through the API.
//!
//! Asked only on loopback or a unix socket, never another host: the admin API can change the
//! server, and its address came from a config file. One short HTTP/1.1 exchange, bounded in time
//! and size; any failure just means the file's view is used.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::Target;
use crate::discover::{ApiKind, Discovery, caddy_json};

/// The whole exchange, connect to last byte.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest config read; a bigger answer is not used.
pub const MAX_CONFIG_BYTES: usize = 8 * 1024 * 1024;

/// What the running config says, and how it compares with the file.
#[derive(Debug)]
pub struct Running {
    pub discovery: Discovery,
    /// "caddy running config from the admin API at localhost:2019", for "discovered from".
    pub from: String,
    /// Set when its upstreams are not the file's: which only the file, which only Caddy has.
    pub differs: Option<String>,
}

/// Asks the first Caddy admin endpoint `file` names, when it is local, for the running config.
pub fn running(file_path: &Path, file: &Discovery) -> Option<Running> {
    let api = file.apis.iter().find(|a| a.kind == ApiKind::CaddyAdmin)?;
    let place = match &api.at {
        Target::Unix { path } => format!("unix/{}", path.display()),
        other => format!("{}:{}", other.host()?, other.port()?),
    };
    let body = match get_config(&api.at) {
        Ok(body) => body,
        Err(reason) => {
            tracing::debug!(%place, %reason, "caddy admin endpoint not read");
            return None;
        }
    };
    if !looks_like_caddy_config(&body) {
        tracing::debug!(%place, "the admin endpoint's answer is no Caddy config");
        return None;
    }
    let origin = format!("caddy admin API {place}/config/");
    let discovery = caddy_json(Path::new(&origin), &body);
    if !discovery.errors.is_empty() {
        tracing::debug!(%place, errors = ?discovery.errors, "caddy running config not understood");
        return None;
    }
    let names = |d: &Discovery| {
        let mut n: Vec<String> = d.targets.iter().map(|t| t.name.clone()).collect();
        n.sort();
        n.dedup();
        n
    };
    let (in_file, running) = (names(file), names(&discovery));
    let only_file: Vec<&str> = in_file
        .iter()
        .filter(|n| !running.contains(n))
        .map(String::as_str)
        .collect();
    let only_running: Vec<&str> = running
        .iter()
        .filter(|n| !in_file.contains(n))
        .map(String::as_str)
        .collect();
    let differs = (!only_file.is_empty() || !only_running.is_empty()).then(|| {
        let list = |v: &[&str]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        format!(
            "caddy is running another config than {}: upstreams only in the file: {}; only in the running config: {}. The running config's upstreams are probed; reload caddy to apply the file",
            file_path.display(),
            list(&only_file),
            list(&only_running)
        )
    });
    Some(Running {
        discovery,
        from: format!("caddy running config from the admin API at {place}"),
        differs,
    })
}

/// Something else may answer on the port a Caddyfile names: Caddy's config is `null` (none
/// loaded) or an object of its own top-level keys only.
pub fn looks_like_caddy_config(body: &[u8]) -> bool {
    const KEYS: [&str; 4] = ["admin", "logging", "storage", "apps"];
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Null) => true,
        Ok(serde_json::Value::Object(map)) => map.keys().all(|k| KEYS.contains(&k.as_str())),
        _ => false,
    }
}

/// `GET /config/` on the admin endpoint: the body of a 200 answer.
pub fn get_config(at: &Target) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + ADMIN_TIMEOUT;
    match at {
        Target::Unix { path } => {
            let stream = UnixStream::connect(path).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(ADMIN_TIMEOUT))
                .map_err(|e| e.to_string())?;
            stream
                .set_write_timeout(Some(ADMIN_TIMEOUT))
                .map_err(|e| e.to_string())?;
            // Over a socket Caddy accepts any Host; curl's "localhost" is the documented one.
            exchange(stream, "localhost", deadline)
        }
        Target::Tcp { host, port } | Target::Http { host, port, .. } => {
            let addrs = loopback(host)?;
            let mut last = String::from("no address");
            for ip in addrs {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match TcpStream::connect_timeout(&SocketAddr::new(ip, *port), left) {
                    Ok(stream) => {
                        stream
                            .set_read_timeout(Some(left))
                            .map_err(|e| e.to_string())?;
                        stream
                            .set_write_timeout(Some(left))
                            .map_err(|e| e.to_string())?;
                        // Caddy checks Host against its listen address (any loopback form).
                        let host = if host.contains(':') {
                            format!("[{host}]:{port}")
                        } else {
                            format!("{host}:{port}")
                        };
                        return exchange(stream, &host, deadline);
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Err(last)
        }
    }
}

/// The addresses to try for an admin host; anything not on this machine is refused.
fn loopback(host: &str) -> Result<Vec<IpAddr>, String> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(vec![ip]),
        // Listening on every interface includes loopback.
        Ok(ip) if ip.is_unspecified() => Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        _ => Err(format!("{host} is not a loopback address: not asked")),
    }
}

fn exchange(
    mut stream: impl Read + Write,
    host: &str,
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    let request = format!(
        "GET /config/ HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() >= deadline {
            return Err("no complete answer within 2s".into());
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_CONFIG_BYTES + 64 * 1024 {
                    return Err(format!("config over {MAX_CONFIG_BYTES} bytes"));
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    parse_response(&raw)
}

/// The body of a complete `200` HTTP/1.1 answer (plain, `Content-Length` or chunked).
pub fn parse_response(raw: &[u8]) -> Result<Vec<u8>, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP header")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let code = status.split(' ').nth(1).unwrap_or("");
    if !status.starts_with("HTTP/1.") || code != "200" {
        return Err(format!(
            "answered \"{}\"",
            crate::sanitize::sanitize(status)
        ));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body);
    }
    match header("content-length").map(|v| v.parse::<usize>()) {
        Some(Ok(n)) if n <= body.len() => Ok(body[..n].to_vec()),
        Some(Ok(_)) => Err("answer shorter than its Content-Length".into()),
        Some(Err(_)) => Err("invalid Content-Length".into()),
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&body[..end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "invalid chunk size")?;
        body = &body[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_CONFIG_BYTES || body.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plain_sized_or_chunked() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}xx").unwrap(),
            b"{}"
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x\r\n\":1}\r\n0\r\n\r\n")
                .unwrap(),
            b"{\"a\":1}"
        );
        assert!(
            parse_response(b"HTTP/1.1 403 Forbidden\r\n\r\nno")
                .unwrap_err()
                .contains("403")
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn only_a_caddy_config_is_taken_for_one() {
        assert!(looks_like_caddy_config(b"null\n"));
        assert!(looks_like_caddy_config(
            br#"{"admin":{"listen":"127.0.0.1:2019"},"apps":{}}"#
        ));
        assert!(!looks_like_caddy_config(br#"{"status":"ok"}"#));
        assert!(!looks_like_caddy_config(b"[1]"));
        assert!(!looks_like_caddy_config(b"<html>"));
    }

    #[test]
    fn only_loopback_is_asked() {
        assert!(loopback("10.0.0.1").is_err());
        assert!(loopback("admin.example").is_err());
        assert_eq!(
            loopback("127.0.0.2").unwrap(),
            vec![IpAddr::from([127, 0, 0, 2])]
        );
        assert_eq!(loopback("LOCALHOST").unwrap().len(), 2);
        let err = get_config(&Target::Tcp {
            host: "192.0.2.1".into(),
            port: 2019,
        })
        .unwrap_err();
        assert!(err.contains("not a loopback address"), "{err}");
    }

    #[test]
    fn a_local_admin_endpoint_is_read() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 1024];
            let n = s.read(&mut req).unwrap();
            let body = r#"{"apps":{"http":{"servers":{"s":{"routes":[{"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:7001"}]}]}]}}}}}"#;
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            String::from_utf8_lossy(&req[..n]).into_owned()
        });
        let body = get_config(&Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        })
        .unwrap();
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /config/ HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
        let d = caddy_json(Path::new("api"), &body);
        assert_eq!(d.targets[0].name, "127.0.0.1:7001");
    }
}
