//! Configuration changes: the modification times of the discovered config files, and what
//! changed while gatewatch was watching them.
//!
//! Each file's content is hashed with SHA-256 (ring's, already built for rustls) when the watch
//! starts: a cryptographic hash because whoever can edit a config may also want the edit to go
//! unseen, and a 64-bit std hash of attacker-chosen bytes can be collided. A later call re-hashes
//! only the files whose `stat` moved (size, mtime, ctime, inode): ctime cannot be set back by a
//! writer, so an unchanged stat means unchanged content, and an idle watch costs one `stat` per
//! file. Every file is opened through [`open_regular`]: a FIFO or device put in place of a config
//! file is refused at once rather than read.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};

use crate::regular_file::open_regular;

use super::event::{Event, EventKind};

/// Bytes hashed per file at most; the length is hashed too, so growth past it still shows.
pub const MAX_HASHED_BYTES: u64 = 8 * 1024 * 1024;
/// Files watched at most; the rest are listed by [`ConfigWatch::errors`].
pub const MAX_FILES: usize = 2_000;

/// What the `stat` of a file says about it: enough to tell that its content may have changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    mtime: i64,
    mtime_ns: i64,
    ctime: i64,
    ctime_ns: i64,
    size: u64,
    inode: u64,
    device: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            mtime: meta.mtime(),
            mtime_ns: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_ns: meta.ctime_nsec(),
            size: meta.size(),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Read {
        stamp: Stamp,
        digest: [u8; 32],
    },
    Missing,
    /// Could not be read: the reason, as it would be shown.
    Unreadable(String),
}

struct Watched {
    path: PathBuf,
    state: State,
    /// The content last read, to tell a file that came back unchanged from one that changed.
    last_digest: Option<[u8; 32]>,
}

/// The discovered config files, each with its mtime and content hash taken when watching began.
pub struct ConfigWatch {
    files: Vec<Watched>,
    /// Files past [`MAX_FILES`], not watched.
    skipped: usize,
    /// The `now` of the previous call: a change seen since happened after it, whatever the
    /// file's mtime claims. `None` before the first call.
    last_look: Option<i64>,
}

impl ConfigWatch {
    /// Takes each file's mtime and a hash of its content now (files from discovery:
    /// `Discovery::files_read`; duplicates are watched once).
    pub fn new(files: &[PathBuf]) -> ConfigWatch {
        let mut unique: Vec<&PathBuf> = Vec::with_capacity(files.len().min(MAX_FILES));
        let mut seen = std::collections::HashSet::new();
        let mut skipped = 0;
        for path in files {
            if !seen.insert(path) {
                continue;
            }
            if unique.len() >= MAX_FILES {
                skipped += 1;
                continue;
            }
            unique.push(path);
        }
        let files = unique
            .into_iter()
            .map(|path| {
                let state = read_state(path, None);
                Watched {
                    path: path.clone(),
                    last_digest: digest_of(&state),
                    state,
                }
            })
            .collect();
        ConfigWatch {
            files,
            skipped,
            last_look: None,
        }
    }

    /// Files that cannot be watched now, as `path: reason` (a FIFO, a missing file...), and how
    /// many were left out over the cap.
    pub fn errors(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .filter_map(|f| match &f.state {
                State::Read { .. } => None,
                State::Missing => Some(format!("{}: no such file", f.path.display())),
                State::Unreadable(why) => Some(format!("{}: {why}", f.path.display())),
            })
            .collect();
        if self.skipped > 0 {
            out.push(format!(
                "{} more config files not watched (over {MAX_FILES})",
                self.skipped
            ));
        }
        out
    }

    /// First call: one `config_change` per file whose mtime is within `since..=now` ("modified
    /// <path>", at its mtime). Every call: files whose content changed since the previous look
    /// ("changed while watched: <path>", at the new mtime, or `now` if the mtime did not move),
    /// and files that vanished, became unreadable or came back, each once per change.
    pub fn events(&mut self, since: i64, now: i64) -> Vec<Event> {
        let first = self.last_look.is_none();
        // A change with an mtime from before the previous look (set back by `cp -p`, `touch
        // -d`, a restore) happened after that look all the same: it is put at `now`.
        let after = self.last_look.replace(now).unwrap_or(since);
        let mut events = Vec::new();
        for file in &mut self.files {
            let old_stamp = match &file.state {
                State::Read { stamp, .. } => Some(*stamp),
                _ => None,
            };
            let state = read_state(&file.path, Some(&file.state));
            let change = describe(&file.state, &state, file.last_digest, now).map(|(at, what)| {
                let believable = at == now || (after..=now).contains(&at);
                (if believable { at } else { now }, what)
            });
            let source = file.path.display().to_string();
            match change {
                Some((at, what)) => {
                    let text = format!("{what}: {}", file.path.display());
                    events.push(Event::new(at, EventKind::ConfigChange, &source, &text));
                }
                None if first => {
                    if let (Some(stamp), State::Read { .. }) = (old_stamp, &state)
                        && (since..=now).contains(&stamp.mtime)
                    {
                        let text = format!("modified {}", file.path.display());
                        events.push(Event::new(
                            stamp.mtime,
                            EventKind::ConfigChange,
                            &source,
                            &text,
                        ));
                    }
                }
                None => {}
            }
            if let Some(digest) = digest_of(&state) {
                file.last_digest = Some(digest);
            }
            file.state = state;
        }
        events.sort_by_key(|e| e.at);
        events
    }
}

fn digest_of(state: &State) -> Option<[u8; 32]> {
    match state {
        State::Read { digest, .. } => Some(*digest),
        _ => None,
    }
}

/// The event a move from `old` to `new` makes, with its time, if any.
fn describe(
    old: &State,
    new: &State,
    last_digest: Option<[u8; 32]>,
    now: i64,
) -> Option<(i64, &'static str)> {
    match (old, new) {
        (
            State::Read {
                stamp: a,
                digest: x,
            },
            State::Read {
                stamp: b,
                digest: y,
            },
        ) => {
            // An edit that kept the mtime happened some time up to now.
            let at = if a.mtime == b.mtime { now } else { b.mtime };
            (x != y).then_some((at, "changed while watched"))
        }
        (_, State::Read { stamp, digest }) => Some(if last_digest == Some(*digest) {
            (stamp.mtime, "back unchanged while watched")
        } else if last_digest.is_some() {
            (stamp.mtime, "changed while watched")
        } else {
            (stamp.mtime, "appeared while watched")
        }),
        (State::Missing, State::Missing) => None,
        (_, State::Missing) => Some((now, "vanished while watched")),
        (State::Unreadable(a), State::Unreadable(b)) if a == b => None,
        (_, State::Unreadable(_)) => Some((now, "unreadable while watched")),
    }
}

/// The file's state now. When `previous` was read and the stat has not moved, the content is
/// taken as unchanged without reading it again.
fn read_state(path: &Path, previous: Option<&State>) -> State {
    let mut file = match open_regular(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return State::Missing,
        Err(e) => return State::Unreadable(reason(&e)),
    };
    let stamp = match file.metadata() {
        Ok(meta) => Stamp::of(&meta),
        Err(e) => return State::Unreadable(reason(&e)),
    };
    if let Some(State::Read { stamp: old, digest }) = previous
        && *old == stamp
    {
        return State::Read {
            stamp,
            digest: *digest,
        };
    }
    match hash(&mut file, stamp.size) {
        Ok(digest) => State::Read { stamp, digest },
        Err(e) => State::Unreadable(reason(&e)),
    }
}

/// SHA-256 of the size and the first [`MAX_HASHED_BYTES`] bytes.
fn hash(file: &mut impl Read, size: u64) -> io::Result<[u8; 32]> {
    let mut context = Context::new(&SHA256);
    context.update(&size.to_le_bytes());
    let mut limited = file.take(MAX_HASHED_BYTES);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        context.update(&buf[..n]);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    Ok(out)
}

/// "a FIFO, not a regular file", "Permission denied": the path is added by the caller.
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::fs;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn set_mtime(path: &Path, unix: i64) {
        let when = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap());
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn first_call_lists_files_modified_in_the_window_at_their_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.conf");
        let recent = dir.path().join("recent.conf");
        fs::write(&old, "a").unwrap();
        fs::write(&recent, "b").unwrap();
        set_mtime(&old, 1_000_000);
        set_mtime(&recent, 1_700_000_100);
        let mut watch = ConfigWatch::new(&[old.clone(), recent.clone(), recent.clone()]);
        let events = watch.events(1_700_000_000, 1_700_000_200);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].at, 1_700_000_100);
        assert_eq!(events[0].kind, EventKind::ConfigChange);
        assert_eq!(events[0].text, format!("modified {}", recent.display()));
        assert_eq!(events[0].source, recent.display().to_string());
        // Only the first call reports mtimes.
        assert!(watch.events(1_700_000_000, 1_700_000_200).is_empty());
    }

    #[test]
    fn edits_vanishing_and_returning_are_reported_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.conf");
        fs::write(&path, "server 127.0.0.1:8001;").unwrap();
        set_mtime(&path, 1_000);
        let mut watch = ConfigWatch::new(std::slice::from_ref(&path));
        assert!(watch.events(5_000, 6_000).is_empty());
        // Touched without a content change: nothing.
        set_mtime(&path, 2_000);
        assert!(watch.events(5_000, 6_000).is_empty());
        // Same size, same mtime, other content: seen through ctime and the hash, at now.
        fs::write(&path, "server 127.0.0.1:8002;").unwrap();
        set_mtime(&path, 2_000);
        let changed = watch.events(5_000, 7_000);
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(changed[0].at, 7_000);
        assert_eq!(
            changed[0].text,
            format!("changed while watched: {}", path.display())
        );
        assert!(watch.events(5_000, 7_001).is_empty());
        // Edited with a new mtime: at the mtime.
        fs::write(&path, "server 127.0.0.1:8003;").unwrap();
        set_mtime(&path, 7_100);
        assert_eq!(watch.events(5_000, 7_200)[0].at, 7_100);
        // Edited with its mtime set back before the previous look (`cp -p`): at now.
        fs::write(&path, "server 127.0.0.1:8004;").unwrap();
        set_mtime(&path, 100);
        assert_eq!(watch.events(5_000, 7_300)[0].at, 7_300);
        // An mtime in the future is not believed either.
        fs::write(&path, "server 127.0.0.1:8005;").unwrap();
        set_mtime(&path, 90_000);
        assert_eq!(watch.events(5_000, 7_400)[0].at, 7_400);
        fs::write(&path, "server 127.0.0.1:8003;").unwrap();
        set_mtime(&path, 7_500);
        assert!(
            watch.events(5_000, 7_500)[0]
                .text
                .starts_with("changed while watched")
        );
        fs::remove_file(&path).unwrap();
        let gone = watch.events(5_000, 8_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (
                gone[0].at,
                gone[0].text.starts_with("vanished while watched: ")
            ),
            (8_000, true)
        );
        assert!(watch.events(5_000, 8_001).is_empty());
        fs::write(&path, "server 127.0.0.1:8003;").unwrap();
        set_mtime(&path, 8_100);
        let back = watch.events(5_000, 8_200);
        assert!(
            back[0].text.starts_with("back unchanged while watched: "),
            "{back:?}"
        );
    }

    #[test]
    fn hostile_files_are_refused_without_blocking_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.conf");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let zero = dir.path().join("zero.conf");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let mut watch = ConfigWatch::new(&[fifo.clone(), zero.clone()]);
        let errors = watch.errors();
        assert_eq!(
            errors,
            [
                format!("{}: a FIFO, not a regular file", fifo.display()),
                format!("{}: a character device, not a regular file", zero.display()),
            ]
        );
        assert!(watch.events(0, i64::MAX).is_empty());
        // Replaced by a regular file while watched: it appears.
        fs::remove_file(&fifo).unwrap();
        fs::write(&fifo, "x").unwrap();
        let events = watch.events(0, now());
        assert_eq!(events.len(), 1);
        assert!(events[0].text.starts_with("appeared while watched: "));
    }

    #[test]
    fn the_hash_covers_the_size_past_the_byte_cap() {
        let a = vec![b'x'; 100];
        let mut b = a.clone();
        b[99] = b'y';
        let h = |bytes: &[u8]| hash(&mut &bytes[..], bytes.len() as u64).unwrap();
        assert_ne!(h(&a), h(&b));
        assert_eq!(h(&a), h(&a.clone()));
        // Same first bytes, other size: differs.
        assert_ne!(
            hash(&mut &a[..], 100).unwrap(),
            hash(&mut &a[..], 101).unwrap()
        );
    }

    #[test]
    fn files_over_the_cap_are_not_watched_but_counted() {
        let paths: Vec<PathBuf> = (0..MAX_FILES + 3)
            .map(|i| PathBuf::from(format!("/nonexistent/gatewatch-{i}.conf")))
            .collect();
        let watch = ConfigWatch::new(&paths);
        assert_eq!(watch.files.len(), MAX_FILES);
        assert_eq!(
            watch.errors().last().unwrap(),
            &format!("3 more config files not watched (over {MAX_FILES})")
        );
    }
}
