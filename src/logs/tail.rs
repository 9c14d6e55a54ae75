//! Reading a log from its end, backwards, in fixed blocks: the follower starts at the last N
//! lines and `check` scans the recent end, and neither may read a multi-gigabyte file whole.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes read per step backwards.
pub const BLOCK: usize = 64 * 1024;

/// Lines of a file from the last to the first, each capped at `max_line` bytes. Memory stays
/// within one block plus one capped line however long the lines are.
pub struct ReverseLines<'f> {
    file: &'f File,
    max_line: usize,
    /// Lowest offset that may be read; a line that starts before it is not returned.
    floor: u64,
    chunk: Vec<u8>,
    chunk_start: u64,
    /// Bytes of `chunk` before this index are not yet part of a returned line.
    scan_end: usize,
    /// End (exclusive) of the line being assembled.
    line_end: u64,
    /// The assembled end of that line, from blocks read after it; cleared once it overflows.
    carry: Vec<u8>,
    overflow: bool,
    /// Whether the last block of the file has been read (its final newline handled).
    started: bool,
    done: bool,
    /// True when reading stopped at `floor` before the start of the file.
    pub hit_floor: bool,
}

/// One line: where it starts, and how many bytes past `max_line` were cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineAt {
    pub start: u64,
    pub cut: u64,
}

impl<'f> ReverseLines<'f> {
    /// Reads `file` (of length `len`) backwards, never below `len - max_back`.
    pub fn new(file: &'f File, len: u64, max_line: usize, max_back: u64) -> Self {
        ReverseLines {
            file,
            max_line,
            floor: len.saturating_sub(max_back),
            chunk: Vec::new(),
            chunk_start: len,
            scan_end: 0,
            line_end: len,
            carry: Vec::new(),
            overflow: false,
            started: false,
            done: false,
            hit_floor: false,
        }
    }

    /// The next line towards the start, its bytes in `out` (without the newline).
    pub fn next_line(&mut self, out: &mut Vec<u8>) -> io::Result<Option<LineAt>> {
        out.clear();
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(nl) = memchr::memrchr(b'\n', &self.chunk[..self.scan_end]) {
                let start = self.chunk_start + nl as u64 + 1;
                // Moved out for the call (take_line needs &mut self); no copy.
                let chunk = std::mem::take(&mut self.chunk);
                let taken = self.take_line(start, &chunk[nl + 1..self.scan_end], out);
                self.chunk = chunk;
                let at = taken?;
                self.scan_end = nl;
                self.line_end = start - 1;
                return Ok(Some(at));
            }
            // No newline left in this block: what remains belongs to the line being assembled.
            let rest = self.chunk[..self.scan_end].to_vec();
            self.absorb(&rest);
            if self.chunk_start <= self.floor {
                self.done = true;
                if self.chunk_start == 0 && self.line_end > 0 {
                    // The first line of the file.
                    let at = self.take_line(0, &[], out)?;
                    return Ok(Some(at));
                }
                self.hit_floor = self.chunk_start > 0;
                return Ok(None);
            }
            self.read_previous_block()?;
        }
    }

    fn read_previous_block(&mut self) -> io::Result<()> {
        let start = self
            .chunk_start
            .saturating_sub(BLOCK as u64)
            .max(self.floor);
        let len = usize::try_from(self.chunk_start - start).unwrap_or(BLOCK);
        self.chunk.resize(len, 0);
        self.file.read_exact_at(&mut self.chunk, start)?;
        let first_read = !self.started;
        self.started = true;
        self.chunk_start = start;
        self.scan_end = len;
        // A final newline ends the last line; it does not start an empty one after it.
        if first_read && self.chunk.last() == Some(&b'\n') {
            self.scan_end -= 1;
            self.line_end -= 1;
        }
        Ok(())
    }

    /// Prepends `bytes` to the line being assembled, unless it is already too long to keep.
    fn absorb(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.carry.len() + bytes.len() > self.max_line {
            self.overflow = true;
            self.carry = Vec::new();
            return;
        }
        let mut joined = Vec::with_capacity(self.carry.len() + bytes.len());
        joined.extend_from_slice(bytes);
        joined.extend_from_slice(&self.carry);
        self.carry = joined;
    }

    /// Completes the line `[start, line_end)` whose first bytes are `head`.
    fn take_line(&mut self, start: u64, head: &[u8], out: &mut Vec<u8>) -> io::Result<LineAt> {
        let len = self.line_end - start;
        let cap = self.max_line as u64;
        let cut = len.saturating_sub(cap);
        if self.overflow || head.len() + self.carry.len() > self.max_line {
            // Too long to have kept: read its first max_line bytes again.
            out.resize(usize::try_from(len.min(cap)).unwrap_or(self.max_line), 0);
            self.file.read_exact_at(out, start)?;
        } else {
            out.extend_from_slice(head);
            out.extend_from_slice(&self.carry);
        }
        self.carry.clear();
        self.overflow = false;
        Ok(LineAt { start, cut })
    }
}

/// Where the last `lines` lines of `file` start, looking back at most `max_back` bytes: the
/// follower's starting offset. A line that started before the limit is skipped.
pub fn start_of_last_lines(
    file: &File,
    len: u64,
    lines: usize,
    max_line: usize,
    max_back: u64,
) -> io::Result<u64> {
    if lines == 0 {
        return Ok(len);
    }
    let mut reader = ReverseLines::new(file, len, max_line, max_back);
    let mut scratch = Vec::new();
    let mut start = len;
    for _ in 0..lines {
        match reader.next_line(&mut scratch)? {
            Some(at) => start = at.start,
            None => break,
        }
    }
    Ok(start)
}

/// Where the last `lines` lines before `len` start, provided all of them start at or after
/// `floor`; `None` when fewer lie above it.
pub fn start_of_last_lines_above(
    file: &File,
    len: u64,
    lines: usize,
    max_line: usize,
    floor: u64,
) -> io::Result<Option<u64>> {
    let mut reader = ReverseLines::new(file, len, max_line, len.saturating_sub(floor));
    let mut scratch = Vec::new();
    let mut start = None;
    for _ in 0..lines {
        match reader.next_line(&mut scratch)? {
            Some(at) => start = Some(at.start),
            None => return Ok(None),
        }
    }
    Ok(start)
}

/// Bytes read per step when numbering lines: large reads keep the syscall count negligible.
const NUMBER_BLOCK: usize = 1024 * 1024;

/// The 1-based line numbers of the lines starting at `starts` (byte offsets), by counting the
/// newlines before each in one forward pass (memchr's vectorised count, about `wc -l`'s cost).
/// A start past `max_bytes` gets `None`: on a host in trouble, a multi-gigabyte log is not read
/// whole just to number a line.
pub fn line_numbers(file: &File, starts: &[u64], max_bytes: u64) -> io::Result<Vec<Option<u64>>> {
    let mut order: Vec<usize> = (0..starts.len()).collect();
    order.sort_by_key(|&i| starts[i]);
    let mut numbers = vec![None; starts.len()];
    let mut buf = vec![0u8; NUMBER_BLOCK];
    let (mut at, mut newlines) = (0u64, 0u64);
    for i in order {
        let target = starts[i];
        if target > max_bytes {
            break;
        }
        while at < target {
            let want = usize::try_from(target - at).map_or(NUMBER_BLOCK, |n| n.min(NUMBER_BLOCK));
            let got = file.read_at(&mut buf[..want], at)?;
            if got == 0 {
                // The file shrank (truncated) since the scan: its numbers are gone.
                return Ok(numbers);
            }
            newlines += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
            at += got as u64;
        }
        numbers[i] = Some(newlines + 1);
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        (f, content.len() as u64)
    }

    fn all_lines(content: &[u8], max_line: usize, max_back: u64) -> Vec<(String, u64)> {
        let (f, len) = file_with(content);
        let mut r = ReverseLines::new(f.as_file(), len, max_line, max_back);
        let mut out = Vec::new();
        let mut lines = Vec::new();
        while let Some(at) = r.next_line(&mut out).unwrap() {
            lines.push((String::from_utf8_lossy(&out).into_owned(), at.cut));
        }
        lines
    }

    #[test]
    fn lines_come_back_last_first() {
        let got = all_lines(b"one\ntwo\n\nfour\n", 100, u64::MAX);
        let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, ["four", "", "two", "one"]);
        let got = all_lines(b"one\ntwo-without-newline", 100, u64::MAX);
        assert_eq!(got[0].0, "two-without-newline");
        assert!(all_lines(b"", 100, u64::MAX).is_empty());
    }

    #[test]
    fn lines_across_blocks_and_long_lines_are_cut() {
        let long = "x".repeat(BLOCK * 3 + 17);
        let mid = "y".repeat(BLOCK - 3);
        let content = format!("first\n{long}\n{mid}\nlast\n");
        let got = all_lines(content.as_bytes(), 1000, u64::MAX);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ("last".to_string(), 0));
        assert_eq!(got[1].0.len(), 1000);
        assert_eq!(got[1].1, (BLOCK - 3 - 1000) as u64);
        assert_eq!(got[2].0, "x".repeat(1000));
        assert_eq!(got[2].1, (BLOCK * 3 + 17 - 1000) as u64);
        assert_eq!(got[3], ("first".to_string(), 0));
        let got = all_lines(content.as_bytes(), BLOCK * 4, u64::MAX);
        assert_eq!(got[1].0, mid);
        assert_eq!(got[2].0, long);
    }

    #[test]
    fn start_of_last_lines_counts_from_the_end() {
        let (f, len) = file_with(b"a\nbb\nccc\n");
        let at = |n| start_of_last_lines(f.as_file(), len, n, 100, u64::MAX).unwrap();
        assert_eq!(at(0), 9);
        assert_eq!(at(1), 5);
        assert_eq!(at(2), 2);
        assert_eq!(at(3), 0);
        assert_eq!(at(50), 0);
        // Only 4 bytes back: "ccc" fits, "bb" started before the limit.
        assert_eq!(start_of_last_lines(f.as_file(), len, 3, 100, 5).unwrap(), 5);
    }

    #[test]
    fn line_numbers_count_the_newlines_before_each_start() {
        let mut content = b"a\nbb\n\nccc\n".to_vec();
        // Past one read block, so the count carries across reads.
        content.extend(std::iter::repeat_n(b'x', NUMBER_BLOCK + 5));
        content.extend_from_slice(b"\nlast\n");
        let (f, len) = file_with(&content);
        let last = len - 5;
        let got = line_numbers(f.as_file(), &[5, 0, last, 2, 6], u64::MAX).unwrap();
        assert_eq!(got, [Some(3), Some(1), Some(6), Some(2), Some(4)]);
        // Over the budget, no number rather than a long read.
        let got = line_numbers(f.as_file(), &[last, 2], 100).unwrap();
        assert_eq!(got, [None, Some(2)]);
    }
}
