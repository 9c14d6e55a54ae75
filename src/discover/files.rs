//! Bounded reading of config files and include globs.
//!
//! Every open goes through [`Loader`], which enforces the file, byte and depth limits and refuses a
//! file already on the include chain, so include loops end with an error instead of recursion.
//! A loader reads the host's files, or those inside a [`Root`] (a container's filesystem): then
//! every open, directory listing and glob is resolved inside that root.

use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use glob::{MatchOptions, Pattern};

use crate::regular_file::{not_regular, open_regular};
use crate::rootfs::{Root, TooManyEntries};

use super::limits::{
    MAX_FILE_BYTES, MAX_FILES, MAX_GLOB_ENTRIES, MAX_INCLUDE_DEPTH, MAX_TOTAL_BYTES,
};
use super::model::DiscoveryErrorKind;

/// Identity of an open file; the same file reached by another path (symlink) is still the same.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
}

/// Why a file was not read. `Quiet` means a limit already reported once stopped it.
pub(crate) enum LoadError {
    Report(DiscoveryErrorKind),
    Quiet,
}

impl From<DiscoveryErrorKind> for LoadError {
    fn from(kind: DiscoveryErrorKind) -> Self {
        LoadError::Report(kind)
    }
}

#[derive(Default)]
pub(crate) struct Loader {
    /// Where paths are: `None` for the host, else inside this root.
    root: Option<Root>,
    opened: usize,
    total_bytes: u64,
    chain: Vec<(FileKey, PathBuf)>,
    exhausted: bool,
    glob_entries: usize,
}

impl Loader {
    /// A loader for the files inside `root`: paths given to it are the proxy's own.
    pub(crate) fn in_root(root: Root) -> Self {
        Loader {
            root: Some(root),
            ..Loader::default()
        }
    }

    /// A new loader, limits and chain reset, reading from the same place as this one.
    pub(crate) fn fresh(&self) -> Self {
        Loader {
            root: self.root.clone(),
            ..Loader::default()
        }
    }

    fn open(&self, path: &Path) -> io::Result<File> {
        match &self.root {
            Some(root) => root.open_file(path),
            None => open_regular(path),
        }
    }

    fn metadata(&self, path: &Path, follow: bool) -> io::Result<Metadata> {
        match (&self.root, follow) {
            (Some(root), _) => root.metadata(path, follow),
            (None, true) => fs::metadata(path),
            (None, false) => fs::symlink_metadata(path),
        }
    }

    /// Whether `path` is a directory, links followed (`Path::is_dir`).
    pub(crate) fn is_dir(&self, path: &Path) -> bool {
        self.metadata(path, true).is_ok_and(|m| m.is_dir())
    }

    /// Whether `path` is a regular file, links followed (`Path::is_file`).
    pub(crate) fn is_file(&self, path: &Path) -> bool {
        self.metadata(path, true).is_ok_and(|m| m.is_file())
    }

    /// Whether anything is at `path`, a dangling link included (`fs::symlink_metadata`).
    pub(crate) fn exists(&self, path: &Path) -> bool {
        self.metadata(path, false).is_ok()
    }

    /// The names in `dir`; more than `limit` is an error carrying [`TooManyEntries`].
    fn list(&self, dir: &Path, limit: usize) -> io::Result<Vec<OsString>> {
        if let Some(root) = &self.root {
            return root.read_dir(dir, limit);
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)?.flatten() {
            if names.len() >= limit {
                return Err(io::Error::other(TooManyEntries { limit }));
            }
            names.push(entry.file_name());
        }
        Ok(names)
    }

    /// Reads `path` and pushes it on the include chain; call [`Loader::leave`] when done with it.
    pub(crate) fn enter(&mut self, path: &Path) -> Result<Vec<u8>, LoadError> {
        if self.exhausted {
            return Err(LoadError::Quiet);
        }
        if self.chain.len() > MAX_INCLUDE_DEPTH {
            return Err(DiscoveryErrorKind::IncludeTooDeep {
                path: path.to_path_buf(),
                limit: MAX_INCLUDE_DEPTH,
            }
            .into());
        }
        if self.opened >= MAX_FILES {
            self.exhausted = true;
            return Err(DiscoveryErrorKind::TooManyFiles {
                path: path.to_path_buf(),
                limit: MAX_FILES,
            }
            .into());
        }
        if self.total_bytes >= MAX_TOTAL_BYTES {
            self.exhausted = true;
            return Err(DiscoveryErrorKind::TotalTooLarge {
                path: path.to_path_buf(),
                limit: MAX_TOTAL_BYTES,
            }
            .into());
        }
        self.opened += 1;
        let read_err = |e: std::io::Error| DiscoveryErrorKind::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let file = self.open(path).map_err(|e| match not_regular(&e) {
            Some(not) => DiscoveryErrorKind::NotAFile {
                path: path.to_path_buf(),
                what: not.what,
            },
            None => read_err(e),
        })?;
        let meta = file.metadata().map_err(read_err)?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(DiscoveryErrorKind::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: MAX_FILE_BYTES,
            }
            .into());
        }
        let key = file_key(&meta);
        if self.chain.iter().any(|(k, _)| *k == key) {
            let mut chain: Vec<String> = self
                .chain
                .iter()
                .skip_while(|(k, _)| *k != key)
                .map(|(_, p)| p.display().to_string())
                .collect();
            chain.push(path.display().to_string());
            return Err(DiscoveryErrorKind::IncludeCycle {
                chain: chain.join(" -> "),
            }
            .into());
        }
        // The size can change under us (or lie, for /proc files): never read past the limit.
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        let size = bytes.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(DiscoveryErrorKind::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: MAX_FILE_BYTES,
            }
            .into());
        }
        self.total_bytes += size;
        self.chain.push((key, path.to_path_buf()));
        Ok(bytes)
    }

    pub(crate) fn leave(&mut self) {
        self.chain.pop();
    }

    /// Expands an include pattern like glob(3) does: sorted, `*` never crossing "/", hidden files
    /// only when the pattern starts with ".". Paths without wildcards are returned as they are.
    pub(crate) fn expand(&mut self, pattern: &Path) -> Result<Vec<PathBuf>, DiscoveryErrorKind> {
        if !has_wildcard(&pattern.to_string_lossy()) {
            return Ok(vec![pattern.to_path_buf()]);
        }
        let bad = |reason: String| DiscoveryErrorKind::BadPattern {
            pattern: pattern.display().to_string(),
            reason,
        };
        let options = MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let mut found = vec![PathBuf::new()];
        for component in pattern.components() {
            let Component::Normal(name) = component else {
                found.iter_mut().for_each(|p| p.push(component));
                continue;
            };
            let name = name.to_string_lossy();
            if !has_wildcard(&name) {
                found.iter_mut().for_each(|p| p.push(&*name));
                continue;
            }
            // glob(3) has no recursive "**": it is just "*".
            let matcher =
                Pattern::new(&collapse_stars(&name)).map_err(|e| bad(e.msg.to_string()))?;
            let mut next = Vec::new();
            for dir in &found {
                let listing = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir.as_path()
                };
                let names = match self.list(listing, MAX_GLOB_ENTRIES - self.glob_entries) {
                    Ok(names) => names,
                    Err(e) if e.get_ref().is_some_and(|e| e.is::<TooManyEntries>()) => {
                        return Err(bad(format!(
                            "matches more than {MAX_GLOB_ENTRIES} directory entries"
                        )));
                    }
                    Err(_) => continue,
                };
                self.glob_entries += names.len();
                for entry_name in names {
                    if matcher.matches_with(&entry_name.to_string_lossy(), options) {
                        next.push(dir.join(entry_name));
                    }
                }
            }
            found = next;
        }
        found.retain(|p| self.exists(p));
        found.sort();
        Ok(found)
    }
}

/// Whether a path is a pattern. nginx and Apache both glob only when one of these appears.
pub(crate) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn collapse_stars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == '*' && out.ends_with('*')) {
            out.push(c);
        }
    }
    out
}

#[cfg(unix)]
fn file_key(meta: &fs::Metadata) -> FileKey {
    use std::os::unix::fs::MetadataExt;
    FileKey {
        dev: meta.dev(),
        ino: meta.ino(),
    }
}

#[cfg(not(unix))]
fn file_key(meta: &fs::Metadata) -> FileKey {
    // No inode numbers: size and mtime are a weak stand-in; the depth limit still ends any loop.
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    FileKey {
        dev: meta.len(),
        ino: mtime.map_or(0, |d| d.as_nanos() as u64),
    }
}

/// The lines of a line-oriented config (HAProxy, Apache) as text, with 1-based numbers. Stops at
/// the first NUL byte, which no text config contains: returns the line it was on.
pub(crate) fn text_lines(bytes: &[u8]) -> (Vec<(usize, String)>, Option<usize>) {
    let mut lines = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        if raw.contains(&0) {
            return (lines, Some(i + 1));
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        lines.push((i + 1, String::from_utf8_lossy(raw).into_owned()));
    }
    (lines, None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn glob_is_sorted_skips_hidden_and_never_crosses_slash() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        for f in ["b.conf", "a.conf", ".hidden.conf", "sub/c.conf", "x.txt"] {
            fs::write(d.join(f), "").unwrap();
        }
        let mut loader = Loader::default();
        let got = loader.expand(&d.join("*.conf")).unwrap();
        assert_eq!(got, vec![d.join("a.conf"), d.join("b.conf")]);
        let got = loader.expand(&d.join("**.conf")).unwrap();
        assert_eq!(got, vec![d.join("a.conf"), d.join("b.conf")]);
        let got = loader.expand(&d.join("*/*.conf")).unwrap();
        assert_eq!(got, vec![d.join("sub/c.conf")]);
        let got = loader.expand(&d.join(".*.conf")).unwrap();
        assert_eq!(got, vec![d.join(".hidden.conf")]);
        assert!(loader.expand(&d.join("nothing/*.conf")).unwrap().is_empty());
        assert!(matches!(
            loader.expand(&d.join("[.conf")),
            Err(DiscoveryErrorKind::BadPattern { .. })
        ));
        // Not a pattern: returned unchanged whether or not it exists.
        assert_eq!(
            loader.expand(&d.join("missing.conf")).unwrap(),
            vec![d.join("missing.conf")]
        );
    }

    #[test]
    fn loader_refuses_directories_fifos_and_cycles() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut loader = Loader::default();
        assert!(matches!(
            loader.enter(d),
            Err(LoadError::Report(DiscoveryErrorKind::NotAFile {
                what: "a directory",
                ..
            }))
        ));
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            loader.enter(&fifo),
            Err(LoadError::Report(DiscoveryErrorKind::NotAFile {
                what: "a FIFO",
                ..
            }))
        ));
        let f = d.join("a.conf");
        fs::write(&f, "x").unwrap();
        assert_eq!(loader.enter(&f).ok(), Some(b"x".to_vec()));
        match loader.enter(&f) {
            Err(LoadError::Report(DiscoveryErrorKind::IncludeCycle { chain })) => {
                assert_eq!(chain, format!("{} -> {}", f.display(), f.display()));
            }
            _ => panic!("expected a cycle"),
        }
        loader.leave();
        // Off the chain again: reading it a second time is not a cycle.
        assert!(loader.enter(&f).is_ok());
    }

    #[test]
    fn text_lines_stop_at_nul() {
        let (lines, nul) = text_lines(b"a\r\nb\nc\0d\ne");
        assert_eq!(lines, vec![(1, "a".to_string()), (2, "b".to_string())]);
        assert_eq!(nul, Some(3));
    }
}
