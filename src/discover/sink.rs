//! Collects results while enforcing the entry caps and deduplicating as it goes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::limits::{MAX_ENTRIES, MAX_ERRORS};
use super::model::{
    ApiKind, DiscoveredApi, DiscoveredLog, DiscoveredTarget, Discovery, DiscoveryError,
    DiscoveryErrorKind, LogElsewhere, LogKindHint, SourceLoc, Unprobeable, UnusedGroup,
};
use super::target::Target;
use crate::sanitize::sanitize;

/// Names and messages come from hostile config files and end up on a terminal: every string that
/// leaves discovery goes through here, so the model never holds a control character.
fn clean(s: &str) -> String {
    sanitize(s).into_owned()
}

fn clean_kind(kind: DiscoveryErrorKind) -> DiscoveryErrorKind {
    use DiscoveryErrorKind as K;
    match kind {
        K::Syntax(m) => K::Syntax(clean(&m)),
        K::Invalid(m) => K::Invalid(clean(&m)),
        K::BadPattern { pattern, reason } => K::BadPattern {
            pattern: clean(&pattern),
            reason: clean(&reason),
        },
        K::IncludeCycle { chain } => K::IncludeCycle {
            chain: clean(&chain),
        },
        K::Read { path, reason } => K::Read {
            path,
            reason: clean(&reason),
        },
        other => other,
    }
}

#[derive(Default)]
pub(crate) struct Sink {
    out: Discovery,
    target_keys: HashSet<(Target, Option<String>)>,
    /// With the place: the same value in two locations is listed twice.
    unprobeable_keys: HashSet<(String, String, SourceLoc)>,
    log_keys: HashSet<(PathBuf, bool)>,
    elsewhere_keys: HashSet<(LogKindHint, String, String)>,
    api_keys: HashSet<(ApiKind, Target)>,
    file_keys: HashSet<PathBuf>,
    errors_full: bool,
    full: HashSet<&'static str>,
}

impl Sink {
    pub(crate) fn error(&mut self, file: &Path, line: Option<usize>, kind: DiscoveryErrorKind) {
        let kind = clean_kind(kind);
        if self.out.errors.len() < MAX_ERRORS {
            self.out.errors.push(DiscoveryError {
                file: file.to_path_buf(),
                line,
                kind,
            });
        } else if !self.errors_full {
            self.errors_full = true;
            self.out.errors.push(DiscoveryError {
                file: file.to_path_buf(),
                line,
                kind: DiscoveryErrorKind::TooMany {
                    what: "errors",
                    limit: MAX_ERRORS,
                },
            });
        }
    }

    pub(crate) fn error_at(&mut self, at: &SourceLoc, kind: DiscoveryErrorKind) {
        self.error(&at.file, Some(at.line), kind);
    }

    /// True when a list may take one more entry; reports the cap once when it may not.
    fn room(&mut self, len: usize, what: &'static str, at: &SourceLoc) -> bool {
        if len < MAX_ENTRIES {
            return true;
        }
        if self.full.insert(what) {
            self.error_at(
                at,
                DiscoveryErrorKind::TooMany {
                    what,
                    limit: MAX_ENTRIES,
                },
            );
        }
        false
    }

    pub(crate) fn target(&mut self, mut t: DiscoveredTarget) {
        t.name = clean(&t.name);
        t.group = t.group.as_deref().map(clean);
        t.flags.other = t.flags.other.iter().map(|o| clean(o)).collect();
        t.flags.notes = t.flags.notes.iter().map(|o| clean(o)).collect();
        let key = (t.target.clone(), t.group.clone());
        if self.target_keys.contains(&key)
            || !self.room(self.out.targets.len(), "targets", &t.source)
        {
            return;
        }
        self.target_keys.insert(key);
        self.out.targets.push(t);
    }

    pub(crate) fn unprobeable(&mut self, mut u: Unprobeable) {
        u.name = clean(&u.name);
        u.directive = clean(&u.directive);
        u.reason = clean(&u.reason);
        let key = (u.directive.clone(), u.name.clone(), u.source.clone());
        if self.unprobeable_keys.contains(&key)
            || !self.room(
                self.out.unprobeable.len(),
                "unprobeable upstreams",
                &u.source,
            )
        {
            return;
        }
        self.unprobeable_keys.insert(key);
        self.out.unprobeable.push(u);
    }

    pub(crate) fn unused(&mut self, mut u: UnusedGroup) {
        u.name = clean(&u.name);
        if self.room(self.out.unused.len(), "unused upstream groups", &u.source) {
            self.out.unused.push(u);
        }
    }

    pub(crate) fn elsewhere(&mut self, mut e: LogElsewhere) {
        e.to = clean(&e.to);
        e.detail = clean(&e.detail);
        let key = (e.kind, e.to.clone(), e.detail.clone());
        if self.elsewhere_keys.contains(&key)
            || !self.room(self.out.elsewhere.len(), "logs sent elsewhere", &e.source)
        {
            return;
        }
        self.elsewhere_keys.insert(key);
        self.out.elsewhere.push(e);
    }

    pub(crate) fn log(&mut self, path: PathBuf, kind: LogKindHint, source: SourceLoc) {
        let key = (path.clone(), kind == LogKindHint::Error);
        if self.log_keys.contains(&key) || !self.room(self.out.logs.len(), "log files", &source) {
            return;
        }
        self.log_keys.insert(key);
        self.out.logs.push(DiscoveredLog {
            path,
            kind,
            source,
            in_root: None,
        });
    }

    pub(crate) fn resolver(&mut self, addr: SocketAddr, at: &SourceLoc) {
        if self.out.resolvers.contains(&addr)
            || !self.room(self.out.resolvers.len(), "resolvers", at)
        {
            return;
        }
        self.out.resolvers.push(addr);
    }

    /// A proxy's own API; the same kind at the same place is listed once.
    pub(crate) fn api(&mut self, api: DiscoveredApi) {
        let key = (api.kind, api.at.clone());
        if self.api_keys.contains(&key) || !self.room(self.out.apis.len(), "APIs", &api.source) {
            return;
        }
        self.api_keys.insert(key);
        self.out.apis.push(api);
    }

    pub(crate) fn file_read(&mut self, path: &Path) {
        if self.file_keys.insert(path.to_path_buf()) {
            self.out.files_read.push(path.to_path_buf());
        }
    }

    pub(crate) fn finish(self) -> Discovery {
        self.out
    }
}
