//! Which logs to follow: the config's `[[log]]` entries plus the paths found in the proxy's
//! config, globs expanded, duplicates dropped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::command::Output;
use crate::config::{Argv, LogKind, LogSource, LogStream};
use crate::sanitize::sanitize;

/// The program run for a journal source, unless this environment variable names another.
pub const JOURNALCTL_ENV: &str = "GATEWATCH_JOURNALCTL";
/// The program run for a container source, unless this environment variable names another.
pub const DOCKER_ENV: &str = "GATEWATCH_DOCKER";
/// Entries or lines of history a journal or container source starts with.
pub const STREAM_HISTORY: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    /// A glob that matched nothing when the sources were built; the follower keeps looking and
    /// follows its first match.
    Glob(String),
    /// An argv run without a shell; its stdout is the log.
    Command(Vec<String>),
    /// A systemd unit's journal, read as JSON entries from `program` (`journalctl`).
    Journal {
        unit: String,
        program: String,
    },
    /// A container's log, stdout and stderr, with `-t` stamps: from `program` (`docker logs`),
    /// or, with `socket`, from gatewatch's own API reader (`program` is gatewatch).
    Container {
        name: String,
        program: String,
        socket: Option<PathBuf>,
    },
}

impl Origin {
    /// How the program of a journal or container source writes its log; `None` for others.
    pub(super) fn stream_output(&self) -> Option<Output> {
        match self {
            Origin::Journal { .. } => Some(Output::Journal),
            Origin::Container { .. } => Some(Output::Both),
            Origin::File(_) | Origin::Glob(_) | Origin::Command(_) => None,
        }
    }

    /// The argv a journal or container source runs (never through a shell); `None` for others.
    /// `resume` is where an earlier run's lines ended (see [`super::restart`]): the last
    /// journal cursor, or the last `docker logs -t` stamp; without it, the run starts with
    /// [`STREAM_HISTORY`] lines of history.
    pub fn stream_argv(&self, resume: Option<&str>) -> Option<Vec<String>> {
        let history = STREAM_HISTORY.to_string();
        let since: String;
        let host: Vec<String>;
        let argv: Vec<&str> = match self {
            Origin::Journal { unit, program } => {
                let from = match resume {
                    Some(cursor) => ["--after-cursor", cursor],
                    None => ["-n", &history],
                };
                [program.as_str(), "-f", "-o", "json"]
                    .into_iter()
                    .chain(from)
                    .chain(["-u", unit, "--no-pager"])
                    .collect()
            }
            Origin::Container {
                name,
                program,
                socket,
            } => {
                let from = match resume {
                    Some(stamp) => {
                        since = just_after(stamp);
                        ["--since", since.as_str()]
                    }
                    None => ["--tail", history.as_str()],
                };
                host = reader_args(socket.as_deref());
                [program.as_str()]
                    .into_iter()
                    .chain(host.iter().map(String::as_str))
                    .chain(["-f", "-t"])
                    .chain(from)
                    .chain([name.as_str()])
                    .collect()
            }
            Origin::File(_) | Origin::Glob(_) | Origin::Command(_) => return None,
        };
        Some(argv.into_iter().map(str::to_owned).collect())
    }
}

impl Origin {
    /// The argv `check` runs for a journal or container source: no `-f`, only what was written
    /// since `cutoff` (unix seconds); `None` for other sources.
    pub fn scan_argv(&self, cutoff: i64) -> Option<Vec<String>> {
        let argv = match self {
            Origin::Journal { unit, program } => vec![
                program.clone(),
                "-o".into(),
                "json".into(),
                "--since".into(),
                format!("@{cutoff}"),
                "-n".into(),
                super::DEFAULT_MAX_LINES.to_string(),
                "-u".into(),
                unit.clone(),
                "--no-pager".into(),
            ],
            Origin::Container {
                name,
                program,
                socket,
            } => [program.clone()]
                .into_iter()
                .chain(reader_args(socket.as_deref()))
                .chain([
                    "-t".into(),
                    "--since".into(),
                    cutoff.to_string(),
                    "--tail".into(),
                    super::DEFAULT_MAX_LINES.to_string(),
                    name.clone(),
                ])
                .collect(),
            Origin::File(_) | Origin::Glob(_) | Origin::Command(_) => return None,
        };
        Some(argv)
    }
}

/// The instant a nanosecond after an RFC 3339 `stamp`, for `docker logs --since` (which
/// includes lines at the instant it is given); the stamp itself when it does not parse.
fn just_after(stamp: &str) -> String {
    stamp
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| t.checked_add(jiff::SignedDuration::from_nanos(1)).ok())
        .map_or_else(|| stamp.to_owned(), |t| t.to_string())
}

/// A unit's journal as a log source (`journalctl -f -o json -n 1000 -u UNIT --no-pager`), for
/// discovery to add when the proxy logs to syslog or stderr under systemd. `journalctl` is the
/// program unless [`JOURNALCTL_ENV`] names another. Errs when `unit` is no unit name.
pub fn journal_source(unit: &str) -> Result<SourceSpec, String> {
    LogStream::check_unit(unit)?;
    Ok(SourceSpec {
        origin: Origin::Journal {
            unit: unit.to_owned(),
            program: program(JOURNALCTL_ENV, "journalctl"),
        },
        kind: None,
    })
}

/// A container's log as a log source (`docker logs -f -t --tail 1000 NAME`, stdout and
/// stderr), for discovery to add when the proxy runs in a container. `docker` is the program
/// unless [`DOCKER_ENV`] names another. Errs when `name` is no container name.
pub fn container_source(name: &str) -> Result<SourceSpec, String> {
    LogStream::check_container(name)?;
    Ok(SourceSpec {
        origin: Origin::Container {
            name: name.to_owned(),
            program: program(DOCKER_ENV, "docker"),
            socket: None,
        },
        kind: None,
    })
}

/// [`container_source`] read through the engine's API at `socket` by gatewatch's own
/// `container-logs`, which writes what `docker logs -t` would: no docker CLI needed.
pub fn container_source_at(name: &str, socket: Option<&Path>) -> Result<SourceSpec, String> {
    LogStream::check_container(name)?;
    let Some(socket) = socket else {
        return container_source(name);
    };
    let own = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "gatewatch".to_owned());
    Ok(SourceSpec {
        origin: Origin::Container {
            name: name.to_owned(),
            program: own,
            socket: Some(socket.to_path_buf()),
        },
        kind: None,
    })
}

/// The words after the program that ask for a container's log: `docker logs`, or gatewatch's
/// own API reader at `socket`.
fn reader_args(socket: Option<&Path>) -> Vec<String> {
    match socket {
        Some(socket) => vec![
            "container-logs".into(),
            "--socket".into(),
            socket.display().to_string(),
        ],
        None => vec!["logs".into()],
    }
}

pub(crate) fn program(env: &str, default: &str) -> String {
    std::env::var(env)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    pub origin: Origin,
    /// From the config; `None` means detect each line's format.
    pub kind: Option<LogKind>,
}

impl SourceSpec {
    pub fn file(path: impl Into<PathBuf>, kind: Option<LogKind>) -> Self {
        SourceSpec {
            origin: Origin::File(path.into()),
            kind,
        }
    }

    pub fn command(argv: Vec<String>, kind: Option<LogKind>) -> Self {
        SourceSpec {
            origin: Origin::Command(argv),
            kind,
        }
    }

    /// A name for the pane, safe for a terminal (paths can hold anything).
    pub fn label(&self) -> String {
        let raw = match &self.origin {
            Origin::File(path) => path.display().to_string(),
            Origin::Glob(pattern) => pattern.clone(),
            Origin::Command(argv) => Argv(argv.clone()).to_string(),
            Origin::Journal { unit, .. } => format!("journal of {unit}"),
            Origin::Container { name, .. } => format!("container {name}"),
        };
        sanitize(&raw).into_owned()
    }
}

/// Compressed rotations that a broad glob (`access.log*`) would otherwise pick up.
const COMPRESSED: [&str; 5] = [".gz", ".xz", ".bz2", ".zst", ".lz4"];

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The sources to follow: config entries first (their `kind` wins), then discovered paths not
/// already listed. A glob is expanded now, one source per matching file, sorted.
pub fn sources(config: &[LogSource], discovered: &[(PathBuf, Option<LogKind>)]) -> Vec<SourceSpec> {
    let mut out = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut add_file = |out: &mut Vec<SourceSpec>, path: PathBuf, kind| {
        if seen.insert(path.clone()) {
            out.push(SourceSpec::file(path, kind));
        }
    };
    let mut streams = HashSet::new();
    for log in config {
        if let Some(stream) = &log.stream {
            if !streams.insert(stream) {
                continue;
            }
            // Checked when the config was read; an invalid one cannot get here.
            let spec = match stream {
                LogStream::Journal(unit) => journal_source(unit),
                LogStream::Container(name) => container_source(name),
            };
            if let Ok(spec) = spec {
                out.push(SourceSpec {
                    kind: log.kind,
                    ..spec
                });
            }
            continue;
        }
        match (&log.path, &log.command) {
            (Some(path), _) if is_glob(path) => {
                let mut matches: Vec<PathBuf> = glob::glob(path)
                    .map(|paths| paths.filter_map(Result::ok).collect())
                    .unwrap_or_default();
                matches.retain(|p| {
                    let name = p.to_string_lossy();
                    p.is_file() && !COMPRESSED.iter().any(|ext| name.ends_with(ext))
                });
                matches.sort();
                if matches.is_empty() {
                    out.push(SourceSpec {
                        origin: Origin::Glob(path.clone()),
                        kind: log.kind,
                    });
                }
                for path in matches {
                    add_file(&mut out, path, log.kind);
                }
            }
            (Some(path), _) => add_file(&mut out, PathBuf::from(path), log.kind),
            (None, Some(argv)) if !argv.is_empty() => {
                out.push(SourceSpec::command(argv.clone(), log.kind));
            }
            (None, _) => {}
        }
    }
    for (path, kind) in discovered {
        add_file(&mut out, path.clone(), *kind);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_duplicates_drop_and_config_kind_wins() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.log", "b.log", "b.log.1.gz"] {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let glob = format!("{}/*.log*", dir.path().display());
        let config = vec![
            LogSource {
                path: Some(glob),
                kind: Some(LogKind::Access),
                ..LogSource::default()
            },
            LogSource {
                command: Some(vec!["journalctl".into(), "-f".into()]),
                ..LogSource::default()
            },
            LogSource {
                path: Some(format!("{}/none-*.log", dir.path().display())),
                ..LogSource::default()
            },
        ];
        let discovered = vec![
            (dir.path().join("a.log"), Some(LogKind::Error)),
            (
                PathBuf::from("/var/log/nginx/error.log"),
                Some(LogKind::Error),
            ),
        ];
        let got = sources(&config, &discovered);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(
            got[0],
            SourceSpec::file(dir.path().join("a.log"), Some(LogKind::Access))
        );
        assert_eq!(
            got[1],
            SourceSpec::file(dir.path().join("b.log"), Some(LogKind::Access))
        );
        assert!(matches!(got[2].origin, Origin::Command(_)));
        assert!(matches!(got[3].origin, Origin::Glob(_)));
        assert_eq!(got[4].label(), "/var/log/nginx/error.log");
    }

    #[test]
    fn journal_and_container_sources_run_fixed_argvs() {
        let stream = |stream, kind| LogSource {
            stream: Some(stream),
            kind,
            ..LogSource::default()
        };
        let config = vec![
            stream(LogStream::Journal("nginx.service".into()), None),
            stream(LogStream::Container("web-1".into()), Some(LogKind::Error)),
            stream(LogStream::Journal("nginx.service".into()), None),
        ];
        let got = sources(&config, &[]);
        assert_eq!(got.len(), 2, "the duplicate is dropped: {got:?}");
        let journal = got[0].origin.stream_argv(None).unwrap();
        assert_eq!(
            journal[1..],
            [
                "-f",
                "-o",
                "json",
                "-n",
                "1000",
                "-u",
                "nginx.service",
                "--no-pager"
            ]
        );
        let docker = got[1].origin.stream_argv(None).unwrap();
        assert_eq!(docker[1..], ["logs", "-f", "-t", "--tail", "1000", "web-1"]);
        let resumed = got[0].origin.stream_argv(Some("s=1;i=2")).unwrap();
        assert_eq!(
            resumed[1..],
            [
                "-f",
                "-o",
                "json",
                "--after-cursor",
                "s=1;i=2",
                "-u",
                "nginx.service",
                "--no-pager"
            ]
        );
        let resumed = got[1]
            .origin
            .stream_argv(Some("2024-09-27T02:33:25.999999999Z"))
            .unwrap();
        assert_eq!(
            resumed[1..],
            [
                "logs",
                "-f",
                "-t",
                "--since",
                "2024-09-27T02:33:26Z",
                "web-1"
            ]
        );
        assert_eq!(got[1].kind, Some(LogKind::Error));
        assert_eq!(got[0].label(), "journal of nginx.service");
        assert_eq!(got[1].label(), "container web-1");
        assert!(journal_source("-o").is_err());
        assert!(journal_source("").is_err());
        assert!(container_source("--privileged").is_err());
        assert!(container_source("a b").is_err());
        assert!(journal_source("nginx@x.service").is_ok());
    }
}
