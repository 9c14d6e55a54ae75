//! Writing a report: a new file, owner-only, never through a link.

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
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
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
