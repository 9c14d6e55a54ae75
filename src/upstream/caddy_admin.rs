//! Caddy's running config, from its admin endpoint's `GET /config/`: the truth when the file on
//! disk was edited and not loaded, or when the config was loaded through the API.
//!
//! Asked only on loopback or a unix socket, never another host: the admin API can change the
//! server, and its address came from a config file. One short HTTP/1.1 exchange, bounded in time
//! and size; any failure just means the file's view is used.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::Target;
use crate::discover::{ApiKind, Discovery, caddy_json, host_port_text};
use crate::local_api;

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
        Target::Tcp { host, port } | Target::Http { host, port, .. } => host_port_text(host, *port),
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
    // Both sorted: what `a` has and `b` lacks, by binary search.
    fn only<'a>(a: &'a [String], b: &[String]) -> Vec<&'a str> {
        a.iter()
            .filter(|n| b.binary_search(n).is_err())
            .map(String::as_str)
            .collect()
    }
    let (in_file, running) = (names(file), names(&discovery));
    let (only_file, only_running) = (only(&in_file, &running), only(&running, &in_file));
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
    local_api::http_get(at, "/config/", deadline, MAX_CONFIG_BYTES)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::io::{Read, Write};

    use super::*;

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
