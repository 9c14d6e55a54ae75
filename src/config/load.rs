//! Finding the config file: `--config`, then the user's config dir, then /etc, then defaults.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, SourceError, parse};
use crate::regular_file::read_regular_with_metadata;

/// A config and where it came from, so the UI can say which file is in effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    /// `None` when no file was found and the embedded defaults are in use.
    pub source: Option<PathBuf>,
    /// Why the file's commands were dropped: someone but root and us can change it.
    pub untrusted: Option<String>,
    /// The file's text, so a later error about one of its values (a theme that does not exist)
    /// can point at its line.
    pub text: Option<String>,
}

/// The system-wide config directory, searched after the user's.
pub const SYSTEM_CONFIG_DIR: &str = "/etc/gatewatch";
/// The config file's name in each directory searched.
pub const CONFIG_FILE: &str = "config.toml";

impl Loaded {
    /// `message` about the file's `theme` value, at its line, when the file names a theme.
    pub fn error_at_theme(&self, message: &str) -> Option<SourceError> {
        #[derive(serde::Deserialize)]
        struct ThemeOnly {
            theme: Option<toml::Spanned<String>>,
        }
        let (path, text) = (self.source.as_ref()?, self.text.as_ref()?);
        let theme = toml::from_str::<ThemeOnly>(text).ok()?.theme?;
        Some(SourceError::new(path, text, Some(theme.span()), message))
    }
}

/// Loads the config using the process environment and `/etc/gatewatch`.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    load_with(
        explicit,
        &|name| std::env::var_os(name),
        Path::new(SYSTEM_CONFIG_DIR),
    )
}

/// [`load`] with the environment and the system config dir injected, for tests.
///
/// An explicit path must exist. Otherwise the first file that exists wins; a file that exists
/// but cannot be read is an error, because silently falling back would hide the user's config.
pub fn load_with(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
    etc_dir: &Path,
) -> Result<Loaded, ConfigError> {
    if let Some(path) = explicit {
        let (text, meta) = read_regular_with_metadata(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        return from_file(path, &text, &meta);
    }
    let candidates = config_dir(env)
        .into_iter()
        .chain([etc_dir.to_path_buf()])
        .map(|dir| dir.join(CONFIG_FILE));
    for path in candidates {
        let text = read_optional(&path).map_err(|error| ConfigError::Read {
            path: path.clone(),
            error,
        })?;
        if let Some((text, meta)) = text {
            return from_file(&path, &text, &meta);
        }
    }
    Ok(Loaded {
        config: Config::default(),
        source: None,
        untrusted: None,
        text: None,
    })
}

/// `$XDG_CONFIG_HOME/gatewatch`, else `$HOME/.config/gatewatch`. Empty or relative values are
/// ignored, as the XDG base directory spec requires.
pub fn config_dir(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| {
        env(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".config")))
        .map(|dir| dir.join("gatewatch"))
}

/// Reads a file that may legitimately be absent: `Ok(None)` when it does not exist. Any other
/// failure (permissions, a directory) is an error, since skipping it would hide the user's file.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<(String, std::fs::Metadata)>> {
    match read_regular_with_metadata(path) {
        Ok(read) => Ok(Some(read)),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The one place a config's commands are trusted or dropped.
fn from_file(path: &Path, text: &str, meta: &std::fs::Metadata) -> Result<Loaded, ConfigError> {
    let config = parse(text, path)?;
    let untrusted = super::trust::distrust(path, meta);
    Ok(Loaded {
        config: match untrusted {
            Some(_) => super::trust::without_commands(config),
            None => config,
        },
        source: Some(path.to_path_buf()),
        untrusted,
        text: Some(text.to_owned()),
    })
}
