//! Which logs to follow: the config's `[[log]]` entries plus the paths found in the proxy's
//! config, globs expanded, duplicates dropped.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::config::{Argv, LogKind, LogSource};
use crate::sanitize::sanitize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    /// A glob that matched nothing when the sources were built; the follower keeps looking and
    /// follows its first match.
    Glob(String),
    /// An argv run without a shell; its stdout is the log.
    Command(Vec<String>),
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
    for log in config {
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
                command: None,
                kind: Some(LogKind::Access),
            },
            LogSource {
                path: None,
                command: Some(vec!["journalctl".into(), "-f".into()]),
                kind: None,
            },
            LogSource {
                path: Some(format!("{}/none-*.log", dir.path().display())),
                command: None,
                kind: None,
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
}
