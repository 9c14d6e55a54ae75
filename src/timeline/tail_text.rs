//! The end of a log file as text, read through the hostile-file opener within a byte budget.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::regular_file::open_regular;

/// Bytes read from the end of a log by default.
pub const DEFAULT_BUDGET: u64 = 1024 * 1024;

/// The last `budget` bytes of `path` as text (invalid UTF-8 replaced), starting at a line: a
/// line cut by the budget is dropped.
pub fn read_tail(path: &Path, budget: u64) -> io::Result<String> {
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(budget);
    // From the byte before the budget, so a line that starts exactly at it is kept whole.
    let read_from = start.saturating_sub(1);
    file.seek(SeekFrom::Start(read_from))?;
    let mut bytes = Vec::new();
    file.take(len - read_from).read_to_end(&mut bytes)?;
    let from = if start > 0 {
        memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |nl| nl + 1)
    } else {
        0
    };
    Ok(String::from_utf8_lossy(&bytes[from..]).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::logs::TimeParser;
    use crate::timeline::packages::dpkg_events;

    fn utc() -> TimeParser {
        TimeParser::new(jiff::tz::TimeZone::UTC)
    }

    #[test]
    fn read_tail_is_bounded_starts_at_a_line_and_refuses_non_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dpkg.log");
        let mut text = String::new();
        for i in 0..2000 {
            text.push_str(&format!(
                "2026-12-01 14:02:03 install p{i}:amd64 <none> 1\n"
            ));
        }
        std::fs::write(&path, &text).unwrap();
        let tail = read_tail(&path, 4096).unwrap();
        assert!(tail.len() <= 4096);
        assert!(tail.starts_with("2026-12-01 "), "{}", &tail[..40]);
        assert!(tail.ends_with("install p1999:amd64 <none> 1\n"));
        let events = dpkg_events(&tail, "d", &mut utc());
        assert_eq!(events.last().unwrap().text, "install p1999:amd64 1");
        assert_eq!(read_tail(&path, 1 << 30).unwrap(), text);
        // A budget that ends exactly at a line's start keeps that line.
        let last = "2026-12-01 14:02:03 install p1999:amd64 <none> 1\n";
        assert_eq!(read_tail(&path, last.len() as u64).unwrap(), last);
        assert_eq!(read_tail(&path, last.len() as u64 - 1).unwrap(), "");
        std::fs::write(&path, b"2026-12-01 14:02:03 install \xff:amd64 <none> 1\n").unwrap();
        assert_eq!(
            dpkg_events(&read_tail(&path, 100).unwrap(), "d", &mut utc()).len(),
            1
        );
        assert!(read_tail(dir.path(), 100).is_err());
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        assert!(read_tail(&dir.path().join("zero"), 100).is_err());
    }
}
