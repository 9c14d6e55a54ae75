//! The /proc files sysinfo does not cover: socket tables, the ephemeral port range, file-nr.
//!
//! Errors name the file, because the operator has to know which read failed (typically a
//! hardened /proc, a container, or IPv6 being off) to judge whether the pane is lying.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::sockets::{self, PortSet, PortUse, Tally};
use super::{EphemeralPorts, FileHandles, TcpStates};
use crate::sanitize::sanitize;

/// The one-value /proc/sys files are a few bytes; more than this is not the file we expect.
const MAX_SMALL_FILE: u64 = 4096;

/// Big reads so a 100k-socket table takes few syscalls (the kernel renders it per read).
const TABLE_READ_BUFFER: usize = 64 * 1024;

/// Shown when quoting unexpected file content in an error.
const MAX_QUOTED: usize = 64;

#[derive(Debug, Error)]
pub enum ProcError {
    #[error("{}: {}", .path.display(), io_reason(.source))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: unexpected content \"{}\"", .path.display(), .content)]
    Parse { path: PathBuf, content: String },
}

impl ProcError {
    fn io(path: &Path, source: io::Error) -> Self {
        ProcError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn parse(path: &Path, content: &[u8]) -> Self {
        let text = String::from_utf8_lossy(content);
        let trimmed = text.trim();
        let mut content: String = sanitize(trimmed).chars().take(MAX_QUOTED).collect();
        if trimmed.chars().count() > MAX_QUOTED {
            content.push('…');
        }
        ProcError::Parse {
            path: path.to_owned(),
            content,
        }
    }
}

/// "Permission denied" rather than "Permission denied (os error 13)": the code adds nothing for
/// the operator and costs width in a pane.
fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text.get(..i).unwrap_or(&text).to_owned(),
        _ => text,
    }
}

/// Paths of the files read, under a root that is `/proc` in production and a temp dir in tests.
#[derive(Clone, Debug)]
pub(crate) struct ProcPaths {
    pub(crate) tcp: PathBuf,
    pub(crate) tcp6: PathBuf,
    pub(crate) port_range: PathBuf,
    pub(crate) file_nr: PathBuf,
    pub(crate) sockstat: PathBuf,
    pub(crate) sockstat6: PathBuf,
}

impl ProcPaths {
    pub(crate) fn new(root: &Path) -> Self {
        ProcPaths {
            tcp: root.join("net/tcp"),
            tcp6: root.join("net/tcp6"),
            port_range: root.join("sys/net/ipv4/ip_local_port_range"),
            file_nr: root.join("sys/fs/file-nr"),
            sockstat: root.join("net/sockstat"),
            sockstat6: root.join("net/sockstat6"),
        }
    }
}

/// The kernel's TCP socket counters (`TCP: inuse N orphan N tw N alloc N` and `TCP6: inuse N`):
/// a few bytes that cost nothing to read, used to tell whether a full table scan could show
/// anything new. Missing or odd files give `None`, which just means "scan".
pub(crate) fn read_sockstat(paths: &ProcPaths) -> Option<Vec<u64>> {
    let mut counters = Vec::with_capacity(5);
    for (path, prefix) in [(&paths.sockstat, "TCP:"), (&paths.sockstat6, "TCP6:")] {
        let text = std::fs::read_to_string(path).ok()?;
        let line = text.lines().find(|l| l.starts_with(prefix))?;
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        // "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 114": values follow their names; mem moves
        // with buffer use, not with sockets, so it is left out.
        for pair in words[1..].chunks(2) {
            if let [name, value] = pair
                && *name != "mem"
            {
                counters.push(value.parse().ok()?);
            }
        }
    }
    Some(counters)
}

/// Tallies tcp then tcp6, each read once, filling `ports` with the local ports of non-LISTEN
/// sockets on the way, and saying who holds the ports of `range` when it is known. A missing tcp6
/// means IPv6 is off, which is not an error.
pub(crate) fn read_sockets(
    paths: &ProcPaths,
    line_buf: &mut Vec<u8>,
    ports: &mut PortSet,
    range: Option<(u16, u16)>,
) -> Result<(TcpStates, PortUse), ProcError> {
    ports.clear();
    let mut tally = Tally::new(range);
    each_table(paths, |reader| {
        sockets::scan_table(reader, line_buf, &mut tally, ports)
    })?;
    // A pathological table must not leave a huge buffer behind for the life of the process.
    line_buf.clear();
    line_buf.shrink_to(1024);
    Ok(tally.into_parts())
}

/// `read` over tcp, then tcp6, each through a buffered reader. A missing tcp6 means IPv6 is
/// off, which is not an error.
fn each_table(
    paths: &ProcPaths,
    mut read: impl FnMut(&mut BufReader<File>) -> io::Result<()>,
) -> Result<(), ProcError> {
    for (path, optional) in [(&paths.tcp, false), (&paths.tcp6, true)] {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if optional && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ProcError::io(path, e)),
        };
        let mut reader = BufReader::with_capacity(TABLE_READ_BUFFER, file);
        read(&mut reader).map_err(|e| ProcError::io(path, e))?;
    }
    Ok(())
}

/// The LISTEN sockets on any of `ports` in tcp then tcp6 (at most `max`), read with the same
/// streaming parser as the tallies. A missing tcp6 means IPv6 is off, which is not an error.
pub(crate) fn read_listening(
    paths: &ProcPaths,
    ports: &[u16],
    max: usize,
) -> Result<Vec<sockets::Listening>, ProcError> {
    let mut out = Vec::new();
    let mut line_buf = Vec::with_capacity(256);
    each_table(paths, |reader| {
        sockets::scan_listening(reader, &mut line_buf, ports, max, &mut out)
    })?;
    Ok(out)
}

fn read_small_file(path: &Path) -> Result<Vec<u8>, ProcError> {
    let mut content = Vec::with_capacity(64);
    File::open(path)
        .and_then(|f| f.take(MAX_SMALL_FILE).read_to_end(&mut content))
        .map_err(|e| ProcError::io(path, e))?;
    Ok(content)
}

pub(crate) fn read_port_range(path: &Path) -> Result<(u16, u16), ProcError> {
    let content = read_small_file(path)?;
    parse_port_range(&content).ok_or_else(|| ProcError::parse(path, &content))
}

pub(crate) fn read_file_handles(path: &Path) -> Result<FileHandles, ProcError> {
    let content = read_small_file(path)?;
    parse_file_nr(&content).ok_or_else(|| ProcError::parse(path, &content))
}

/// Exactly `n` whitespace-separated decimal numbers.
fn numbers<const N: usize>(content: &[u8]) -> Option<[u64; N]> {
    let text = std::str::from_utf8(content).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let mut out = [0u64; N];
    for slot in &mut out {
        let field = fields.next()?;
        // u64::from_str accepts a leading '+', which the kernel never writes.
        if !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = field.parse().ok()?;
    }
    fields.next().is_none().then_some(out)
}

/// "32768\t60999\n"
pub(crate) fn parse_port_range(content: &[u8]) -> Option<(u16, u16)> {
    let [low, high] = numbers::<2>(content)?;
    let (low, high) = (u16::try_from(low).ok()?, u16::try_from(high).ok()?);
    (low <= high).then_some((low, high))
}

/// "allocated unused max"; unused is 0 on every kernel since 2.6 but is still subtracted.
pub(crate) fn parse_file_nr(content: &[u8]) -> Option<FileHandles> {
    let [allocated, unused, max] = numbers::<3>(content)?;
    Some(FileHandles {
        used: allocated.saturating_sub(unused),
        max,
    })
}

/// Ports in use inside the range and who holds them, given what [`read_sockets`] filled.
pub(crate) fn ephemeral_ports(
    range: (u16, u16),
    ports: &PortSet,
    port_use: PortUse,
) -> EphemeralPorts {
    let (low, high) = range;
    let (by_state, top_remotes) = port_use.into_parts();
    EphemeralPorts {
        low,
        high,
        in_use: ports.count_in(low, high),
        by_state,
        top_remotes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_parses_the_kernel_format() {
        assert_eq!(parse_port_range(b"32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range(b"1024 65535"), Some((1024, 65535)));
        assert_eq!(parse_port_range(b"  9000   9000  \n"), Some((9000, 9000)));
    }

    #[test]
    fn port_range_rejects_nonsense() {
        for bad in [
            &b""[..],
            b"\n",
            b"32768",
            b"32768\t60999\t1",
            b"60999\t32768",
            b"32768\t65536",
            b"-1\t60999",
            b"+1\t60999",
            b"0x8000\t60999",
            b"\xff\xfe\t1",
        ] {
            assert_eq!(
                parse_port_range(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn file_nr_is_allocated_minus_unused() {
        assert_eq!(
            parse_file_nr(b"204\t0\t2470938\n"),
            Some(FileHandles {
                used: 204,
                max: 2470938
            })
        );
        assert_eq!(
            parse_file_nr(b"3000 1000 9223372036854775807"),
            Some(FileHandles {
                used: 2000,
                max: 9223372036854775807
            })
        );
        // Never underflows, even on a nonsensical file.
        assert_eq!(
            parse_file_nr(b"5 10 100"),
            Some(FileHandles { used: 0, max: 100 })
        );
    }

    #[test]
    fn file_nr_rejects_nonsense() {
        for bad in [
            &b""[..],
            b"1 2",
            b"1 2 3 4",
            b"a b c",
            b"1 2 99999999999999999999",
        ] {
            assert_eq!(
                parse_file_nr(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn errors_name_the_file_and_quote_hostile_content_safely() {
        let path = Path::new("/proc/sys/fs/file-nr");
        let err = ProcError::parse(path, b"\x1b]0;pwned\x07 1 2");
        assert_eq!(
            err.to_string(),
            "/proc/sys/fs/file-nr: unexpected content \"\\x1b]0;pwned\\x07 1 2\""
        );
        let long = ProcError::parse(path, &[b'9'; 500]).to_string();
        assert!(long.ends_with("…\""), "{long}");
        assert!(long.len() < 150);

        let io = ProcError::io(
            Path::new("/proc/net/tcp"),
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(io.to_string(), "/proc/net/tcp: Permission denied");
    }
}
