//! nginx's compiled-in defaults, from `nginx -V`: where it logs when the config names no log,
//! and the prefix relative paths are taken against.
//!
//! The output is read like any other hostile input: capped in size and time, and a value holding
//! a control character is dropped rather than carried into paths shown on a terminal.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// More than any real `nginx -V` (a few KiB of configure arguments).
const MAX_OUTPUT: u64 = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(2);
/// A path longer than this is no path nginx was built with.
const MAX_VALUE: usize = 4096;

/// What `nginx -V` says about where nginx writes when not told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompiledDefaults {
    /// The command that told, e.g. "/usr/sbin/nginx -V": where these defaults come from.
    pub from: PathBuf,
    /// The output line holding the configure arguments.
    pub line: usize,
    /// `--prefix=`: relative paths in the config and below are taken against it.
    pub prefix: Option<PathBuf>,
    /// `--error-log-path=`: a path, or "stderr" / "syslog:..." as in `error_log`.
    pub error_log: Option<String>,
    /// `--http-log-path=`: the access log of a server with no `access_log`.
    pub http_log: Option<String>,
}

/// Reads the `configure arguments:` line of `nginx -V` output. Pure, for any text.
pub fn parse_version_output(text: &str) -> CompiledDefaults {
    let mut out = CompiledDefaults::default();
    let Some((index, args)) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.strip_prefix("configure arguments:").map(|a| (i, a)))
    else {
        return out;
    };
    out.line = index + 1;
    // Options with spaces are quoted ('--with-cc-opt=-g -O2'); the paths read here never are,
    // so splitting on whitespace and taking whole `--name=value` words is enough.
    for word in args.split_whitespace() {
        let Some((name, value)) = word.split_once('=') else {
            continue;
        };
        let usable = !value.is_empty()
            && value.len() <= MAX_VALUE
            && !value.chars().any(char::is_control)
            && !value.starts_with('\'');
        if !usable {
            continue;
        }
        match name {
            "--prefix" => out.prefix = Some(PathBuf::from(value)),
            "--error-log-path" => out.error_log = Some(value.to_string()),
            "--http-log-path" => out.http_log = Some(value.to_string()),
            _ => {}
        }
    }
    out
}

/// The nginx binary on PATH, else /usr/sbin/nginx (not on a user's PATH on Debian).
pub fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// Runs `binary -V` (no shell) for at most 2 s and reads its stderr, capped.
pub fn read_compiled_defaults(binary: &Path) -> Result<CompiledDefaults, String> {
    let what = format!("{} -V", binary.display());
    let mut child = Command::new(binary)
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let stderr = child.stderr.take();
    // Read on a thread so the wait below can give up; past the cap the child blocks on a full
    // pipe and is killed when the time is up.
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(MAX_OUTPUT).read_to_end(&mut bytes);
        }
        bytes
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // The pipe closes once the child is gone, unless something it started still holds it: that
    // is not waited for past the deadline (the reading thread is then left to end with it).
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some(status) = status else {
        return Err(format!(
            "{what} did not finish within {}s",
            TIMEOUT.as_secs()
        ));
    };
    if !reader.is_finished() {
        return Err(format!(
            "{what}: its output did not end within {}s",
            TIMEOUT.as_secs()
        ));
    }
    let bytes = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{what} failed ({status})"));
    }
    let mut out = parse_version_output(&String::from_utf8_lossy(&bytes));
    out.from = PathBuf::from(what);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "nginx version: nginx/1.22.1\n\
        built with OpenSSL 3.0.9 30 May 2023\n\
        TLS SNI support enabled\n\
        configure arguments: --with-cc-opt='-g -O2 -ffile-prefix-map=/build/nginx=. -fPIC' \
        --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf \
        --http-log-path=/var/log/nginx/access.log --error-log-path=stderr \
        --lock-path=/var/lock/nginx.lock --with-debug\n";

    #[test]
    fn debian_output() {
        let d = parse_version_output(DEBIAN);
        assert_eq!(d.line, 4);
        assert_eq!(d.prefix, Some(PathBuf::from("/usr/share/nginx")));
        assert_eq!(d.error_log.as_deref(), Some("stderr"));
        assert_eq!(d.http_log.as_deref(), Some("/var/log/nginx/access.log"));
    }

    #[test]
    fn source_build_defaults_are_relative_and_missing_ones_stay_none() {
        let text = "nginx version: nginx/1.27.0\nconfigure arguments: --prefix=/opt/nginx --error-log-path=logs/error.log\n";
        let d = parse_version_output(text);
        assert_eq!(d.error_log.as_deref(), Some("logs/error.log"));
        assert_eq!(d.http_log, None);
        assert_eq!(
            parse_version_output("nginx version: nginx/1.0\n"),
            CompiledDefaults::default()
        );
    }

    #[test]
    fn hostile_values_are_dropped() {
        let text = format!(
            "configure arguments: --error-log-path=/tmp/\x1b]0;x\x07 --http-log-path=/{} --prefix=\n",
            "a".repeat(MAX_VALUE + 1)
        );
        assert_eq!(parse_version_output(&text).error_log, None);
        assert_eq!(parse_version_output(&text).http_log, None);
        assert_eq!(parse_version_output(&text).prefix, None);
    }
}
