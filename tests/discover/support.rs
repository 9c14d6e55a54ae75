//! Copies fixture trees into temporary directories and shows results relative to them.

use std::fs;
use std::path::{Path, PathBuf};

use gatewatch::discover::target::Target;
use gatewatch::discover::{Discovery, SourceLoc};
use tempfile::TempDir;

/// A config tree in a temporary directory. `@ROOT@` in fixture files becomes the tree's path, so
/// absolute includes (Debian writes `include /etc/nginx/...`) stay inside the sandbox.
pub struct Tree {
    _dir: TempDir,
    pub root: PathBuf,
}

impl Tree {
    pub fn empty() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("etc");
        fs::create_dir_all(&root).unwrap();
        Tree { _dir: dir, root }
    }

    pub fn from_fixture(name: &str) -> Tree {
        let tree = Tree::empty();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        tree.copy_dir(&src, &tree.root);
        tree
    }

    fn copy_dir(&self, src: &Path, dst: &Path) {
        fs::create_dir_all(dst).unwrap();
        for entry in fs::read_dir(src).unwrap() {
            let entry = entry.unwrap();
            let to = dst.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                self.copy_dir(&entry.path(), &to);
            } else {
                let text = fs::read_to_string(entry.path()).unwrap();
                fs::write(to, text.replace("@ROOT@", &self.root.display().to_string())).unwrap();
            }
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            text.replace("@ROOT@", &self.root.display().to_string()),
        )
        .unwrap();
        path
    }

    /// Links `link` to `target` (relative, as `ln -s ../sites-available/x` does).
    pub fn symlink(&self, target: &str, link: &str) {
        let link = self.path(link);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, link).unwrap();
    }

    /// Text with this tree's path removed: "sites-enabled/default:38".
    pub fn rel(&self, text: impl ToString) -> String {
        text.to_string()
            .replace(&format!("{}/", self.root.display()), "")
    }

    pub fn loc(&self, loc: &SourceLoc) -> String {
        self.rel(loc)
    }

    /// Every error, displayed, relative to the tree.
    pub fn errors(&self, d: &Discovery) -> Vec<String> {
        d.errors.iter().map(|e| self.rel(e)).collect()
    }

    /// Every target as the assertions compare it: name, group, target, "file:line".
    pub fn targets<'a>(&self, d: &'a Discovery) -> Vec<(&'a str, Option<&'a str>, Target, String)> {
        d.targets
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.group.as_deref(),
                    t.target.clone(),
                    self.loc(&t.source),
                )
            })
            .collect()
    }

    pub fn files(&self, d: &Discovery) -> Vec<String> {
        d.files_read.iter().map(|p| self.rel(p.display())).collect()
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so a failure can be replayed.
pub fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Expected targets, written the way the configs write them.
pub fn http(url: &str, host: &str, port: u16) -> Target {
    Target::Http {
        url: url.into(),
        tls: url.starts_with("https"),
        host: host.into(),
        port,
    }
}

pub fn tcp(host: &str, port: u16) -> Target {
    Target::Tcp {
        host: host.into(),
        port,
    }
}

pub fn unix(path: &str) -> Target {
    Target::Unix { path: path.into() }
}

/// The real caddy binary (Debian package `caddy`); a missing one fails the test, saying how to
/// get it.
pub fn require_caddy() -> PathBuf {
    ["/usr/bin/caddy", "/usr/local/bin/caddy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("caddy is required for this test: apt-get install -y caddy (scripts/test.sh does)")
}
