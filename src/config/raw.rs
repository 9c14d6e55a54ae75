//! The config file's shape as serde sees it, with spans, and its validation into `Config`.

use std::collections::HashMap;
use std::ops::{Range, RangeInclusive};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::values::InvalidValue;
use super::{
    Argv, Config, Dns, LogSource, LogStream, ProxyApi, Service, StatusRange, Timeline, Upstream,
};

/// A value whose type we check ourselves, so the message can name the key and the value.
type Item = Spanned<Value>;

// Field order matters: serde lists the expected keys in this order in "unknown field" errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawConfig {
    refresh: Option<Item>,
    theme: Option<Spanned<String>>,
    discover: Option<bool>,
    #[serde(default)]
    upstream: Vec<RawUpstream>,
    dns: Option<RawDns>,
    #[serde(default)]
    log: Vec<Spanned<RawLog>>,
    #[serde(default)]
    service: Vec<RawService>,
    gateway: Option<RawGateway>,
    #[serde(default)]
    proxy_api: Vec<RawProxyApi>,
    timeline: Option<RawTimeline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTimeline {
    span: Option<Item>,
    kernel: Option<Spanned<String>>,
    packages: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProxyApi {
    kind: Spanned<String>,
    at: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawUpstream {
    name: Spanned<String>,
    url: Spanned<String>,
    timeout: Option<Item>,
    interval: Option<Item>,
    expect: Option<Item>,
    method: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    tls_verify: Option<bool>,
    slow: Option<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDns {
    #[serde(default)]
    names: Vec<Spanned<String>>,
    nameservers: Option<Spanned<Vec<Spanned<String>>>>,
    timeout: Option<Item>,
    interval: Option<Item>,
    hosts_file: Option<Spanned<String>>,
    resolv_conf: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLog {
    path: Option<Spanned<String>>,
    command: Option<Item>,
    journal: Option<Spanned<String>>,
    container: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawService {
    name: Spanned<String>,
    status: Option<Item>,
    test: Option<Item>,
    reload: Option<Item>,
    restart: Option<Item>,
    sudo: Option<bool>,
    timeout: Option<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawGateway {
    url: Spanned<String>,
    timeout: Option<Item>,
    interval: Option<Item>,
    expect: Option<Item>,
    host: Option<Spanned<String>>,
    tls_verify: Option<bool>,
}

/// A validation failure at a place in the file.
pub(super) struct Invalid {
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl Invalid {
    fn at<T>(value: &Spanned<T>, message: impl Into<String>) -> Self {
        Invalid {
            span: Some(value.span()),
            message: message.into(),
        }
    }
}

const REFRESH: RangeInclusive<Duration> = ms(250)..=ms(3_600_000);
const TIMEOUT: RangeInclusive<Duration> = ms(1)..=ms(300_000);
const INTERVAL: RangeInclusive<Duration> = ms(100)..=ms(3_600_000);
/// A restart can legitimately take minutes (a JVM, a drain), but never forever.
/// The timeline's span: at least the checklist's 10-minute window, at most a day.
const SPAN: RangeInclusive<Duration> = ms(600_000)..=ms(86_400_000);
const COMMAND_TIMEOUT: RangeInclusive<Duration> = ms(100)..=ms(3_600_000);

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl RawConfig {
    /// `text` is the file the spans point into, for messages that refer to another line.
    pub(super) fn validate(self, text: &str) -> Result<Config, Invalid> {
        let defaults = Config::default();
        let theme = match self.theme {
            None => defaults.theme,
            Some(theme) if super::is_valid_theme_name(theme.get_ref()) => theme.into_inner(),
            Some(theme) => {
                return Err(Invalid::at(
                    &theme,
                    format!(
                        "invalid theme name {:?}: use letters, digits, '-' and '_'",
                        theme.get_ref()
                    ),
                ));
            }
        };
        let upstreams = self
            .upstream
            .into_iter()
            .map(RawUpstream::validate)
            .collect::<Result<Vec<_>, _>>()?;
        unique(text, "upstream", upstreams.iter().map(|(_, name)| name))?;
        let services = self
            .service
            .into_iter()
            .map(RawService::validate)
            .collect::<Result<Vec<_>, _>>()?;
        unique(text, "service", services.iter().map(|(_, name)| name))?;
        Ok(Config {
            refresh: duration(self.refresh.as_ref(), "refresh", REFRESH, defaults.refresh)?,
            theme,
            discover: self.discover.unwrap_or(defaults.discover),
            upstreams: upstreams
                .into_iter()
                .map(|(upstream, _)| upstream)
                .collect(),
            dns: self
                .dns
                .map_or_else(|| Ok(Dns::default()), RawDns::validate)?,
            logs: self
                .log
                .into_iter()
                .map(validate_log)
                .collect::<Result<_, _>>()?,
            services: services.into_iter().map(|(service, _)| service).collect(),
            gateway: self.gateway.map(RawGateway::validate).transpose()?,
            proxy_apis: self
                .proxy_api
                .into_iter()
                .map(|api| api.validate(text))
                .collect::<Result<_, _>>()?,
            timeline: self
                .timeline
                .map_or_else(|| Ok(Timeline::default()), RawTimeline::validate)?,
        })
    }
}

impl RawProxyApi {
    /// `kind` is haproxy, caddy or envoy; `at` a `host:port` on loopback or a unix socket
    /// (`unix:/run/haproxy.sock` or an absolute path).
    fn validate(self, text: &str) -> Result<ProxyApi, Invalid> {
        use crate::discover::ApiKind;
        let kind = match self.kind.get_ref().as_str() {
            "haproxy" => ApiKind::HaproxyStats,
            "caddy" => ApiKind::CaddyAdmin,
            "envoy" => ApiKind::EnvoyAdmin,
            other => {
                return Err(Invalid::at(
                    &self.kind,
                    format!("unknown proxy API kind {other:?}: expected haproxy, caddy or envoy"),
                ));
            }
        };
        let written = self.at.get_ref();
        let as_url = if written.starts_with('/') {
            format!("unix:{written}")
        } else if written.starts_with("unix:") {
            written.clone()
        } else {
            format!("tcp://{written}")
        };
        let at: super::Target = as_url.parse().map_err(|_| {
            Invalid::at(
                &self.at,
                format!("invalid proxy API address {written:?}: expected host:port or unix:/path"),
            )
        })?;
        if let Some(host) = at.host() {
            let local = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !local {
                return Err(Invalid::at(
                    &self.at,
                    format!(
                        "proxy API address {written:?} is not on loopback: only 127.0.0.0/8, ::1, localhost and unix sockets are asked"
                    ),
                ));
            }
        }
        let line = text[..self.at.span().start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        Ok(ProxyApi { kind, at, line })
    }
}

impl RawUpstream {
    /// Returns the name's span too, for the duplicate check.
    fn validate(self) -> Result<(Upstream, Spanned<String>), Invalid> {
        non_empty(&self.name, "upstream name")?;
        let url = parsed(&self.url)?;
        let upstream = Upstream {
            // Shown on the terminal everywhere: made safe once, here where it enters.
            name: crate::sanitize::sanitize(self.name.get_ref()).into_owned(),
            url,
            timeout: duration(self.timeout.as_ref(), "timeout", TIMEOUT, ms(2000))?,
            interval: duration(self.interval.as_ref(), "interval", INTERVAL, ms(2000))?,
            expect: self
                .expect
                .as_ref()
                .map_or(Ok(StatusRange::DEFAULT), status_range)?,
            method: self
                .method
                .as_ref()
                .map_or(Ok(Default::default()), parsed)?,
            host: self.host.map(host_header).transpose()?,
            tls_verify: self.tls_verify.unwrap_or(true),
            slow: duration(self.slow.as_ref(), "slow", TIMEOUT, ms(1000))?,
            from: None,
        };
        Ok((upstream, self.name))
    }
}

impl RawGateway {
    /// The gateway is probed like an upstream named "gateway"; any answer below 500 shows it is
    /// not failing the way a 502 is about, so that is the default `expect`.
    fn validate(self) -> Result<Upstream, Invalid> {
        let url: super::Target = parsed(&self.url)?;
        if url.kind() != "http" {
            return Err(Invalid::at(
                &self.url,
                format!(
                    "invalid gateway url {:?}: the gateway is probed over http:// or https://",
                    self.url.get_ref()
                ),
            ));
        }
        Ok(Upstream {
            name: "gateway".into(),
            url,
            timeout: duration(self.timeout.as_ref(), "timeout", TIMEOUT, ms(2000))?,
            interval: duration(self.interval.as_ref(), "interval", INTERVAL, ms(5000))?,
            expect: self
                .expect
                .as_ref()
                .map_or(Ok(super::GATEWAY_EXPECT), status_range)?,
            method: Default::default(),
            host: self.host.map(host_header).transpose()?,
            tls_verify: self.tls_verify.unwrap_or(true),
            slow: ms(1000),
            from: None,
        })
    }
}

impl RawTimeline {
    fn validate(self) -> Result<Timeline, Invalid> {
        let defaults = Timeline::default();
        let packages = match self.packages {
            None => defaults.packages,
            Some(list) => list
                .into_iter()
                .map(|p| path(Some(p), "packages", PathBuf::new()))
                .collect::<Result<_, _>>()?,
        };
        Ok(Timeline {
            span: duration(self.span.as_ref(), "span", SPAN, defaults.span)?,
            kernel: path(self.kernel, "kernel", defaults.kernel)?,
            packages,
        })
    }
}

impl RawDns {
    fn validate(self) -> Result<Dns, Invalid> {
        let defaults = Dns::default();
        let mut names = Vec::with_capacity(self.names.len());
        for name in self.names {
            if !super::target::is_host_name(name.get_ref()) {
                return Err(Invalid::at(
                    &name,
                    format!(
                        "invalid DNS name {:?}: expected a host name like \"api.internal\"",
                        name.get_ref()
                    ),
                ));
            }
            names.push(name.into_inner());
        }
        let nameservers = match self.nameservers {
            None => defaults.nameservers,
            Some(list) if list.get_ref().is_empty() => {
                return Err(Invalid::at(
                    &list,
                    "`nameservers` must not be empty: use [\"system\"] for the system resolver",
                ));
            }
            Some(list) => list
                .get_ref()
                .iter()
                .map(parsed)
                .collect::<Result<_, _>>()?,
        };
        Ok(Dns {
            names,
            nameservers,
            timeout: duration(self.timeout.as_ref(), "timeout", TIMEOUT, defaults.timeout)?,
            interval: duration(
                self.interval.as_ref(),
                "interval",
                INTERVAL,
                defaults.interval,
            )?,
            hosts_file: path(self.hosts_file, "hosts-file", defaults.hosts_file)?,
            resolv_conf: path(self.resolv_conf, "resolv-conf", defaults.resolv_conf)?,
        })
    }
}

/// Accepts `expect = 204` as well as the string forms.
fn status_range(item: &Item) -> Result<StatusRange, Invalid> {
    let text = match item.get_ref() {
        Value::String(s) => s.clone(),
        Value::Integer(code) => code.to_string(),
        other => other.to_string(),
    };
    text.parse()
        .map_err(|e: InvalidValue| Invalid::at(item, e.0))
}

/// The header is sent as given, so anything that could split or corrupt it is refused.
fn host_header(host: Spanned<String>) -> Result<String, Invalid> {
    let value = host.get_ref();
    if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(Invalid::at(
            &host,
            format!("invalid host {value:?}: a Host header needs a non-empty name without spaces"),
        ));
    }
    Ok(host.into_inner())
}

fn validate_log(log: Spanned<RawLog>) -> Result<LogSource, Invalid> {
    let span = log.span();
    let log = log.into_inner();
    let kind = log.kind.as_ref().map(parsed).transpose()?;
    let stream = match (log.journal, log.container) {
        (Some(_), Some(container)) => {
            return Err(Invalid::at(
                &container,
                "a [[log]] takes one of `path`, `command`, `journal` and `container`",
            ));
        }
        (Some(unit), None) => Some(
            LogStream::check_unit(unit.get_ref())
                .map(|()| LogStream::Journal(unit.get_ref().clone()))
                .map_err(|e| Invalid::at(&unit, e))?,
        ),
        (None, Some(name)) => Some(
            LogStream::check_container(name.get_ref())
                .map(|()| LogStream::Container(name.get_ref().clone()))
                .map_err(|e| Invalid::at(&name, e))?,
        ),
        (None, None) => None,
    };
    if let Some(stream) = stream {
        if log.path.is_some() || log.command.is_some() {
            return Err(Invalid {
                span: Some(span),
                message: "a [[log]] takes one of `path`, `command`, `journal` and `container`"
                    .into(),
            });
        }
        return Ok(LogSource {
            stream: Some(stream),
            kind,
            ..LogSource::default()
        });
    }
    match (log.path, log.command) {
        (Some(_), Some(command)) => Err(Invalid::at(
            &command,
            "a [[log]] takes `path` or `command`, not both",
        )),
        (None, None) => Err(Invalid {
            span: Some(span),
            message: "a [[log]] needs `path` (a file or glob), `command` (an argv), `journal` (a \
                      systemd unit) or `container` (a container name)"
                .into(),
        }),
        (Some(path), None) => {
            non_empty(&path, "log path")?;
            glob::Pattern::new(path.get_ref()).map_err(|e| {
                Invalid::at(&path, format!("invalid log path {:?}: {e}", path.get_ref()))
            })?;
            Ok(LogSource {
                path: Some(path.into_inner()),
                kind,
                ..LogSource::default()
            })
        }
        (None, Some(command)) => Ok(LogSource {
            command: Some(argv(&command, "command")?.0),
            kind,
            ..LogSource::default()
        }),
    }
}

impl RawService {
    fn validate(self) -> Result<(Service, Spanned<String>), Invalid> {
        non_empty(&self.name, "service name")?;
        let command = |item: Option<Item>, key| item.map(|item| argv(&item, key)).transpose();
        let service = Service {
            name: crate::sanitize::sanitize(self.name.get_ref()).into_owned(),
            status: command(self.status, "status")?,
            test: command(self.test, "test")?,
            reload: command(self.reload, "reload")?,
            restart: command(self.restart, "restart")?,
            sudo: self.sudo.unwrap_or(false),
            timeout: duration(
                self.timeout.as_ref(),
                "timeout",
                COMMAND_TIMEOUT,
                Duration::from_secs(30),
            )?,
        };
        Ok((service, self.name))
    }
}

fn parsed<T: FromStr<Err = InvalidValue>>(value: &Spanned<String>) -> Result<T, Invalid> {
    value
        .get_ref()
        .parse()
        .map_err(|e: InvalidValue| Invalid::at(value, e.0))
}

fn non_empty(value: &Spanned<String>, what: &str) -> Result<(), Invalid> {
    if value.get_ref().trim().is_empty() {
        return Err(Invalid::at(value, format!("{what} must not be empty")));
    }
    Ok(())
}

fn path(value: Option<Spanned<String>>, key: &str, default: PathBuf) -> Result<PathBuf, Invalid> {
    match value {
        None => Ok(default),
        Some(value) => {
            non_empty(&value, &format!("`{key}`"))?;
            Ok(PathBuf::from(value.into_inner()))
        }
    }
}

/// Rejects a name already used by an earlier entry, pointing at the later one.
fn unique<'a>(
    text: &str,
    what: &str,
    names: impl Iterator<Item = &'a Spanned<String>>,
) -> Result<(), Invalid> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for name in names {
        if let Some(&first) = seen.get(name.get_ref().as_str()) {
            let line = text
                .get(..first)
                .map_or(0, |before| before.matches('\n').count())
                + 1;
            return Err(Invalid::at(
                name,
                format!(
                    "duplicate {what} name {:?}: it is already used on line {line}",
                    name.get_ref()
                ),
            ));
        }
        seen.insert(name.get_ref(), name.span().start);
    }
    Ok(())
}

/// How a value is shown in a message: strings quoted, anything else as TOML.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn duration(
    item: Option<&Item>,
    key: &str,
    bounds: RangeInclusive<Duration>,
    default: Duration,
) -> Result<Duration, Invalid> {
    let Some(item) = item else {
        return Ok(default);
    };
    let fail = |reason: String| {
        Invalid::at(
            item,
            format!(
                "invalid duration {} for `{key}`: {reason}",
                shown(item.get_ref())
            ),
        )
    };
    let Value::String(text) = item.get_ref() else {
        return Err(fail(
            "expected a string with a unit, like \"2s\" or \"500ms\"".into(),
        ));
    };
    let value = humantime::parse_duration(text).map_err(|e| fail(e.to_string()))?;
    if !bounds.contains(&value) {
        return Err(fail(format!(
            "must be between {} and {}",
            humantime::format_duration(*bounds.start()),
            humantime::format_duration(*bounds.end())
        )));
    }
    Ok(value)
}

/// Commands are argv arrays so that nothing is ever passed through a shell.
fn argv(item: &Item, key: &str) -> Result<Argv, Invalid> {
    let example = "like [\"systemctl\", \"reload\", \"nginx\"]";
    let words = match item.get_ref() {
        Value::Array(words) => words,
        Value::String(line) => {
            return Err(Invalid::at(
                item,
                format!(
                    "invalid command {line:?} for `{key}`: expected an array of strings (argv), \
                     not a shell command line{}",
                    suggestion(line)
                ),
            ));
        }
        other => {
            return Err(Invalid::at(
                item,
                format!(
                    "invalid command {other} for `{key}`: expected an array of strings (argv), {example}"
                ),
            ));
        }
    };
    let mut argv = Vec::with_capacity(words.len());
    for word in words {
        let Value::String(word) = word else {
            return Err(Invalid::at(
                item,
                format!(
                    "invalid command for `{key}`: {word} is not a string; every element must be a string"
                ),
            ));
        };
        argv.push(word.clone());
    }
    match argv.first() {
        None => Err(Invalid::at(
            item,
            format!("`{key}` must not be empty: give the program and its arguments, {example}"),
        )),
        Some(program) if program.is_empty() => Err(Invalid::at(
            item,
            format!("invalid command for `{key}`: the program (first element) must not be empty"),
        )),
        Some(_) => Ok(Argv(argv)),
    }
}

/// The array form of a simple shell line; none when quoting or expansion would make a guess wrong.
fn suggestion(line: &str) -> String {
    let simple = line
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " -_./=:,+@%".contains(c));
    let words: Vec<String> = line.split_whitespace().map(|w| format!("{w:?}")).collect();
    if !simple || words.is_empty() {
        return String::new();
    }
    format!(": write [{}]", words.join(", "))
}

/// The keys serde accepts, table by table, as the file writes the tables: what
/// `keys::KEYS` is checked against.
#[cfg(test)]
pub(super) fn fields() -> Vec<(&'static str, &'static [&'static str])> {
    use super::keys::fields_of;
    vec![
        ("", fields_of::<RawConfig>()),
        ("[[upstream]]", fields_of::<RawUpstream>()),
        ("[dns]", fields_of::<RawDns>()),
        ("[[log]]", fields_of::<RawLog>()),
        ("[[service]]", fields_of::<RawService>()),
        ("[gateway]", fields_of::<RawGateway>()),
        ("[[proxy-api]]", fields_of::<RawProxyApi>()),
        ("[timeline]", fields_of::<RawTimeline>()),
    ]
}
