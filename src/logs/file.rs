//! Following one path like `tail -F`: the file behind the path may be renamed away and replaced,
//! truncated in place, deleted, not there yet, or unreadable, and the follower rides through all
//! of it by polling: one `read` and at most one `stat` per idle poll.
//!
//! A file can also be closed between reads to spare a descriptor ([`FileReader::close`]): its
//! place is kept (inode and offset), an idle poll is one `stat`, and it is opened again when it
//! grew. What a closed file received after its last read and before a rotation is not seen.

use std::fs::{self, File};
use std::io::{self, Read as _, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::regular_file::open_regular;

use super::follow::{FollowOptions, Read};
use super::tail::{start_of_last_lines, start_of_last_lines_above};
use super::{FollowEvent, SourceStatus};

struct OpenFile {
    file: File,
    /// (device, inode): a different pair at the path means a new file replaced ours.
    id: (u64, u64),
    offset: u64,
    /// Lines that end at or before this offset are followed by more lines than the ring keeps.
    horizon: u64,
    /// The file's length when `horizon` was found.
    scanned_len: u64,
    /// Reads since the last look at the file's length (see [`find_horizon`]).
    unmeasured_reads: u32,
}

/// Where reading stood in a file closed to spare its descriptor.
#[derive(Clone, Copy)]
struct Mark {
    id: (u64, u64),
    offset: u64,
    horizon: u64,
    scanned_len: u64,
}

pub struct FileReader {
    path: PathBuf,
    open: Option<OpenFile>,
    /// Set while the file is closed between reads (see [`FileReader::close`]).
    mark: Option<Mark>,
    /// Closed after every pass by the follower's descriptor budget: reported as polled.
    polled: bool,
    /// A new file is at the path: finish the open one, then switch.
    replaced: bool,
    /// Read the next file opened from its start (it appeared or replaced ours while we watched).
    /// Until then, a file opened is an existing log: start at its last lines.
    from_start: bool,
    initial_lines: usize,
    max_line: usize,
    max_backlog: u64,
    ring_lines: usize,
    /// Backlog (bytes) worth looking for a new horizon in: twice the bytes the last ring's worth
    /// of lines took, so a source that is keeping up is not scanned backwards on every read.
    scan_from: u64,
    /// Leading bytes of the last read that lie before the horizon: their lines only need counting.
    pub skippable: usize,
    pub status: SourceStatus,
    pub events: Vec<FollowEvent>,
    /// Set when reading began anew in a file: `Some(true)` at its start (its lines can be
    /// numbered from 1), `Some(false)` at its last lines (their numbers are unknown: the file is
    /// never read from its start just to number them). Taken by the follower.
    pub restarted: Option<bool>,
}

impl FileReader {
    pub fn new(path: PathBuf, options: &FollowOptions, from_start: bool) -> Self {
        FileReader {
            path,
            open: None,
            mark: None,
            polled: false,
            replaced: false,
            from_start,
            initial_lines: options.initial_lines,
            max_line: options.max_line,
            max_backlog: options.max_backlog,
            ring_lines: options.ring_lines,
            scan_from: (options.ring_lines as u64).saturating_mul(MIN_LINE_GUESS),
            skippable: 0,
            status: SourceStatus::Starting,
            events: Vec::new(),
            restarted: None,
        }
    }

    /// Whether the file is closed after each pass.
    pub fn polled(&self) -> bool {
        self.polled
    }

    /// Marks the file as polled (closed after each pass) or followed, for its status.
    pub fn set_polled(&mut self, polled: bool) {
        self.polled = polled;
        if matches!(self.status, SourceStatus::Following | SourceStatus::Polled) {
            self.status = self.reading();
        }
    }

    /// Closes the file to spare its descriptor, remembering where reading stood; the next read
    /// opens it again if it grew. A file being switched for its replacement stays open: the
    /// old one cannot be found again by its path.
    pub fn close(&mut self) {
        if self.replaced {
            return;
        }
        if let Some(open) = self.open.take() {
            self.mark = Some(Mark {
                id: open.id,
                offset: open.offset,
                horizon: open.horizon,
                scanned_len: open.scanned_len,
            });
        }
    }

    /// The status of a file that is being read.
    fn reading(&self) -> SourceStatus {
        if self.polled {
            SourceStatus::Polled
        } else {
            SourceStatus::Following
        }
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        loop {
            if self.open.is_none() {
                if let Some(mark) = self.mark {
                    if let Some(read) = self.reopen(mark) {
                        return read;
                    }
                } else if !self.try_open() {
                    return Read::Idle;
                }
            }
            let Some(open) = self.open.as_mut() else {
                return Read::Idle;
            };
            match open.file.read(buf) {
                Ok(0) => {}
                Ok(n) => {
                    let from = open.offset;
                    open.offset += n as u64;
                    self.scan_from =
                        find_horizon(open, self.ring_lines, self.max_line, from, self.scan_from);
                    self.skippable = open.horizon.saturating_sub(from).min(n as u64) as usize;
                    return Read::Data(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.status = SourceStatus::Failed(format!("cannot read: {}", describe(&e)));
                    self.open = None;
                    return Read::EndOfFile;
                }
            }
            // At the end of the open file: has the path moved on?
            if self.replaced {
                self.open = None;
                self.replaced = false;
                self.from_start = true;
                self.events.push(FollowEvent::Rotated);
                return Read::EndOfFile;
            }
            let (id, offset) = (open.id, open.offset);
            match fs::metadata(&self.path) {
                Ok(meta) if (meta.dev(), meta.ino()) != id => {
                    // Read the old file once more to its end (a writer may have added to it
                    // before reopening), then switch.
                    self.replaced = true;
                }
                Ok(meta) if meta.len() < offset => {
                    if let Err(e) = open.file.seek(SeekFrom::Start(0)) {
                        self.status =
                            SourceStatus::Failed(format!("cannot seek: {}", describe(&e)));
                        self.open = None;
                    } else {
                        open.offset = 0;
                        open.horizon = 0;
                        open.scanned_len = 0;
                        self.restarted = Some(true);
                    }
                    self.events.push(FollowEvent::Truncated);
                    return Read::EndOfFile;
                }
                Ok(_) => {
                    self.status = self.reading();
                    return Read::Idle;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Renamed or deleted: writers may still append to the open file, so keep
                    // reading it until a new file shows up at the path.
                    self.status = SourceStatus::Waiting(
                        "file was moved or deleted; reading the old one until a new one appears"
                            .into(),
                    );
                    return Read::Idle;
                }
                Err(_) => return Read::Idle,
            }
        }
    }

    fn try_open(&mut self) -> bool {
        match open_at_start(
            &self.path,
            self.from_start,
            self.initial_lines,
            self.max_line,
            self.max_backlog,
        ) {
            Ok(open) => {
                self.restarted = Some(open.offset == 0);
                self.open = Some(open);
                self.status = self.reading();
                self.events.push(FollowEvent::Opened);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Whatever appears here later is new: read all of it.
                self.from_start = true;
                self.status = SourceStatus::Waiting("does not exist yet".into());
                false
            }
            Err(e) => {
                self.status = SourceStatus::Failed(format!("cannot open: {}", describe(&e)));
                false
            }
        }
    }
}

impl FileReader {
    /// Opens a closed file again where reading stood when it grew (`None`: read on); else
    /// what the read gives: idle when unchanged, the end of the file when another replaced it.
    fn reopen(&mut self, mark: Mark) -> Option<Read> {
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.status = SourceStatus::Waiting(
                    "file was moved or deleted; waiting for a new one to appear".into(),
                );
                return Some(Read::Idle);
            }
            Err(_) => return Some(Read::Idle),
        };
        if (meta.dev(), meta.ino()) != mark.id {
            return Some(self.replaced_while_closed());
        }
        if meta.len() == mark.offset {
            self.status = self.reading();
            return Some(Read::Idle);
        }
        let reopened = open_regular(&self.path).and_then(|mut file| {
            let meta = file.metadata()?;
            file.seek(SeekFrom::Start(mark.offset))?;
            Ok(((meta.dev(), meta.ino()), file))
        });
        match reopened {
            // Replaced between the `stat` and the `open`.
            Ok((id, _)) if id != mark.id => Some(self.replaced_while_closed()),
            Ok((id, file)) => {
                self.mark = None;
                self.status = self.reading();
                self.open = Some(OpenFile {
                    file,
                    id,
                    offset: mark.offset,
                    horizon: mark.horizon,
                    scanned_len: mark.scanned_len,
                    unmeasured_reads: 0,
                });
                None
            }
            Err(e) => {
                self.status = SourceStatus::Failed(format!("cannot open: {}", describe(&e)));
                Some(Read::Idle)
            }
        }
    }

    /// A new file is at the path of a closed one: the old one is done, the new one is read
    /// from its start.
    fn replaced_while_closed(&mut self) -> Read {
        self.mark = None;
        self.from_start = true;
        self.events.push(FollowEvent::Rotated);
        Read::EndOfFile
    }
}

fn open_at_start(
    path: &Path,
    from_start: bool,
    initial_lines: usize,
    max_line: usize,
    max_backlog: u64,
) -> io::Result<OpenFile> {
    // A FIFO here would block this thread (and every source it follows) in open(); /dev/zero
    // would never end.
    let mut file = open_regular(path)?;
    let meta = file.metadata()?;
    let offset = if from_start {
        0
    } else {
        start_of_last_lines(&file, meta.len(), initial_lines, max_line, max_backlog)?
    };
    file.seek(SeekFrom::Start(offset))?;
    Ok(OpenFile {
        file,
        id: (meta.dev(), meta.ino()),
        offset,
        horizon: 0,
        scanned_len: 0,
        unmeasured_reads: 0,
    })
}

/// Reads between looks at a file's length while reading lines that are only counted.
const MEASURE_EVERY: u32 = 8;

/// A guess at the shortest average line, for the first backlog worth scanning.
const MIN_LINE_GUESS: u64 = 32;

/// Moves `open.horizon` to the start of the last `ring_lines` lines of the file, if more than
/// that lie past `from` (a read that started at `from` has just returned); returns the backlog
/// size that makes the next look worthwhile. It looks again once reading passes the horizon, or
/// once the file grew by as much as the ring's lines took (while a flood is read, lines built
/// near the old horizon would only be evicted). One more line than the ring keeps is required:
/// the last one may be unterminated and never delivered.
fn find_horizon(
    open: &mut OpenFile,
    ring_lines: usize,
    max_line: usize,
    from: u64,
    scan_from: u64,
) -> u64 {
    // Still before the horizon: the lines read are only counted, and moving the horizon on is
    // worth a `stat` only now and then, not on every read of a flood.
    if open.offset < open.horizon && open.unmeasured_reads < MEASURE_EVERY {
        open.unmeasured_reads += 1;
        return scan_from;
    }
    open.unmeasured_reads = 0;
    let Ok(meta) = open.file.metadata() else {
        return scan_from;
    };
    let (len, backlog) = (meta.len(), meta.len().saturating_sub(from));
    let span = open.scanned_len.saturating_sub(open.horizon);
    let grown = len.saturating_sub(open.scanned_len) >= span;
    if ring_lines == 0 || backlog < scan_from || !(open.offset > open.horizon || grown) {
        return scan_from;
    }
    match start_of_last_lines_above(&open.file, len, ring_lines + 1, max_line, from) {
        Ok(Some(start)) => {
            open.horizon = start;
            open.scanned_len = len;
            // Once more than a ring's worth waits, lines built now would be evicted unseen.
            len - start
        }
        // Fewer lines than the ring keeps: wait for twice this backlog before looking again.
        Ok(None) => backlog.saturating_mul(2),
        Err(_) => scan_from,
    }
}

/// An io error without the " (os error 13)" suffix, which tells an operator nothing.
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
