//! The proxy notices written to an error log since the last look: the log is read from where
//! the last read ended, whole lines only, and from its start again when it was rotated or
//! truncated.

use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Event;
use super::proxy_notices::NoticeReader;
use crate::regular_file::open_regular;

/// Bytes read at most per look: a flood of error lines between two looks is skipped to its
/// last 4 MiB (notices are rare; the lines around them are not).
pub const MAX_READ: u64 = 4 * 1024 * 1024;

pub struct NoticeTail {
    path: PathBuf,
    label: String,
    reader: NoticeReader,
    /// Where the next read starts, and the file it is an offset in (device, inode).
    offset: u64,
    file: Option<(u64, u64)>,
}

impl NoticeTail {
    /// Notices from `offset` on: the file's length when its past was scanned (that scan read
    /// the notices before it).
    pub fn new(path: &Path, label: &str, offset: u64) -> NoticeTail {
        let file = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        NoticeTail {
            path: path.to_path_buf(),
            label: label.to_owned(),
            reader: NoticeReader::default(),
            offset,
            file,
        }
    }

    /// The notices in the lines written since the last call.
    pub fn read(&mut self) -> io::Result<Vec<Event>> {
        let mut file = open_regular(&self.path)?;
        let meta = file.metadata()?;
        let identity = (meta.dev(), meta.ino());
        if self.file != Some(identity) || meta.len() < self.offset {
            // Rotated (another file at the path) or truncated: all of it is new.
            self.file = Some(identity);
            self.offset = 0;
        }
        let len = meta.len();
        if len == self.offset {
            return Ok(Vec::new());
        }
        let skip_partial = len - self.offset > MAX_READ;
        let start = if skip_partial {
            len - MAX_READ
        } else {
            self.offset
        };
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(len - start).read_to_end(&mut bytes)?;
        let from = if skip_partial {
            memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |nl| nl + 1)
        } else {
            0
        };
        // A line still being written is left for the next call.
        let Some(end) = memchr::memrchr(b'\n', &bytes).map(|nl| nl + 1) else {
            if skip_partial {
                self.offset = len;
            }
            return Ok(Vec::new());
        };
        self.offset = start + end as u64;
        let text = String::from_utf8_lossy(&bytes[from.min(end)..end]);
        Ok(self.reader.events(&text, &self.label))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::timeline::EventKind;
    use std::io::Write;

    const RELOAD: &str = "2026/12/01 14:02:10 [notice] 100#100: reconfiguring\n";
    const OTHER: &str =
        "2026/12/01 14:02:11 [error] 101#101: *1 connect() failed (111: Connection refused)\n";

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn only_new_whole_lines_are_read_and_a_rotation_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("error.log");
        append(&log, RELOAD);
        let len = std::fs::metadata(&log).unwrap().len();
        let mut tail = NoticeTail::new(&log, "error.log", len);
        assert!(
            tail.read().unwrap().is_empty(),
            "the scanned part is not read again"
        );
        append(&log, OTHER);
        // Half a line: not yet.
        append(&log, &RELOAD[..20]);
        assert!(tail.read().unwrap().is_empty());
        append(&log, &RELOAD[20..]);
        let got = tail.read().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, EventKind::ProxyReload);
        // Rotated: a new file at the path, shorter than the offset.
        std::fs::rename(&log, dir.path().join("error.log.1")).unwrap();
        append(&log, RELOAD);
        assert_eq!(tail.read().unwrap().len(), 1);
        // Truncated in place (copytruncate), looked at before it grows past where we were.
        std::fs::write(&log, "").unwrap();
        assert!(tail.read().unwrap().is_empty());
        append(&log, RELOAD);
        assert_eq!(tail.read().unwrap().len(), 1);
    }

    #[test]
    fn a_fifo_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("error.log");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut tail = NoticeTail::new(&fifo, "error.log", 0);
        assert!(tail.read().is_err());
    }
}
