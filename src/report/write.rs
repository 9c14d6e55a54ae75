//! Writing a report: a new file, owner-only, never through a link; and replacing a file whole
//! (`check --format prometheus -o`), so a reader never sees half of it.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Snapshot, markdown};
use crate::private_dir::PrivateDir;

/// Writes a new file, readable by its owner only (logs may hold secrets). Never overwrites: an
/// existing file or a symlink at `path` (even a dangling one) is an error, so a report cannot be
/// redirected onto another file.
pub fn write_new(path: &Path, contents: &str) -> io::Result<()> {
    write_new_mode(path, contents, 0o600)
}

/// [`write_new`] with `mode`, set on the open file so the umask cannot narrow it.
fn write_new_mode(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Replaces `path` with `contents`, mode 0644 (node_exporter's textfile collector reads it as
/// another user): written to a new temporary file beside it (created exclusively, so a link
/// planted at that name is refused, not followed), then renamed over `path`. A reader sees the
/// old file or the new one, never a part; a symlink at `path` itself is replaced, not followed.
pub fn replace_whole(path: &Path, contents: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    for n in 0..100 {
        // A leading dot: the textfile collector reads only `*.prom`, and this ends otherwise.
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        match write_new_mode(&tmp, contents, 0o644) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
        return std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        });
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "100 temporary files are in the way",
    ))
}

/// Writes `report-<time>.md` into `$XDG_STATE_HOME/gatewatch` (or `~/.local/state/gatewatch`);
/// returns its path. What `e` in the dashboard does.
pub fn write_to_state_dir(s: &Snapshot) -> anyhow::Result<PathBuf> {
    let dir = crate::diagnostics::state_dir()
        .context("no XDG_STATE_HOME or HOME to write the report under")?;
    write_into(&dir, s)
}

/// Writes `report-<time>.md` into `dir` (a [`PrivateDir`], created owner-only when missing),
/// `-2`, `-3`... when one was written the same second; returns its path.
pub fn write_into(dir: &Path, s: &Snapshot) -> anyhow::Result<PathBuf> {
    let dir = PrivateDir::open(dir)?;
    let stamp = s.time.strftime("%Y%m%d-%H%M%S").to_string();
    let contents = markdown(s);
    for n in 1..=100 {
        let name = match n {
            1 => format!("report-{stamp}.md"),
            n => format!("report-{stamp}-{n}.md"),
        };
        let path = dir.path().join(&name);
        let written = dir.create_new(&name).and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        });
        match written {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
        }
    }
    anyhow::bail!("{}: 100 reports this second already", dir.path().display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;
    use jiff::tz::TimeZone;

    fn snapshot() -> Snapshot {
        let time = jiff::Timestamp::from_second(1_800_000_000)
            .unwrap()
            .to_zoned(TimeZone::UTC);
        let diagnosis = crate::diagnosis::diagnose(&crate::diagnosis::Inputs::default());
        Snapshot {
            time,
            hostname: "proxy-1".into(),
            status: Status::Unknown,
            diagnosis,
            findings: vec![],
            host: None,
            upstreams: vec![],
            dns: vec![],
            firewall: vec![],
            log_lines: vec![],
            proxy_apis: vec![],
            timeline: crate::report::TimelineReport::new(&Default::default()),
            timeline_lines: vec![],
            actions: vec!["14:02:11 restart web: exit 0 in 1.2 s".into()],
        }
    }

    #[test]
    fn replacing_writes_whole_files_0644_and_never_follows_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = tmp.path().join("gatewatch.prom");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // A link planted at the first temporary name is refused and left alone.
        let planted = tmp
            .path()
            .join(format!(".gatewatch.prom.{}-0.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        replace_whole(&path, "a 1\n").expect("replaced");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 1\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with("-1.tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left behind");
    }

    #[test]
    fn reports_land_in_a_private_dir_without_overwriting_each_other() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/gatewatch");
        let first = write_into(&dir, &snapshot()).expect("written");
        assert_eq!(first, dir.join("report-20270115-080000.md"));
        let second = write_into(&dir, &snapshot()).expect("written");
        assert_eq!(second, dir.join("report-20270115-080000-2.md"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&first), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let text = std::fs::read_to_string(&second).unwrap();
        assert!(
            text.contains("## Actions taken\n\n- 14:02:11 restart web: exit 0 in 1.2 s\n"),
            "{text}"
        );
        assert!(
            text.contains("- time: 2027-01-15 08:00:00 UTC (2027-01-15T08:00:00Z)\n"),
            "{text}"
        );
    }
}
