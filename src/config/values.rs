//! Small config value types that parse from the strings a user writes.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A value that does not parse; the message names the value and says what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// HTTP status codes that count as healthy, inclusive at both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub const DEFAULT: StatusRange = StatusRange {
        low: 200,
        high: 399,
    };

    pub fn contains(&self, code: u16) -> bool {
        (self.low..=self.high).contains(&code)
    }
}

impl Default for StatusRange {
    fn default() -> Self {
        StatusRange::DEFAULT
    }
}

impl FromStr for StatusRange {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| InvalidValue(format!("invalid status range {s:?}: {reason}"));
        let (low, high) = s.split_once('-').unwrap_or((s, s));
        let (Ok(low), Ok(high)) = (low.trim().parse::<u16>(), high.trim().parse::<u16>()) else {
            return Err(fail(
                "expected a code like \"204\" or a range like \"200-399\"",
            ));
        };
        if !(100..=599).contains(&low) || !(100..=599).contains(&high) {
            return Err(fail("status codes are 100-599"));
        }
        if low > high {
            return Err(fail("the low end is above the high end"));
        }
        Ok(StatusRange { low, high })
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// Probe method: HEAD is for backends where a GET is expensive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}

impl FromStr for HttpMethod {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("get") {
            Ok(HttpMethod::Get)
        } else if s.eq_ignore_ascii_case("head") {
            Ok(HttpMethod::Head)
        } else {
            Err(InvalidValue(format!(
                "invalid method {s:?}: expected GET or HEAD"
            )))
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolver to query: the system's (resolv.conf) or one server by address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nameserver {
    System,
    Addr(SocketAddr),
}

impl FromStr for Nameserver {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let addr = if s == "system" {
            return Ok(Nameserver::System);
        } else if let Ok(addr) = s.parse::<SocketAddr>() {
            addr
        } else if let Ok(ip) = s.parse::<IpAddr>() {
            SocketAddr::new(ip, 53)
        } else {
            return Err(InvalidValue(format!(
                "invalid nameserver {s:?}: expected \"system\", an IP address like \"127.0.0.1\" \
                 or \"::1\", or an address with a port like \"127.0.0.1:5353\" or \"[::1]:53\""
            )));
        };
        if addr.port() == 0 {
            return Err(InvalidValue(format!(
                "invalid nameserver {s:?}: port 0 is not a port"
            )));
        }
        Ok(Nameserver::Addr(addr))
    }
}

impl fmt::Display for Nameserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nameserver::System => f.write_str("system"),
            Nameserver::Addr(addr) => write!(f, "{addr}"),
        }
    }
}

/// Which parser a log source needs; `None` in the config means "guess from the lines".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKind {
    Error,
    Access,
    /// Traefik's log or access log (common or JSON): its formats only.
    Traefik,
    /// Envoy's access log (default text format or JSON).
    Envoy,
}

impl LogKind {
    /// How a source may be configured: with a kind, or without one (the format is detected).
    pub const ANY: [Option<LogKind>; 5] = [
        None,
        Some(LogKind::Error),
        Some(LogKind::Access),
        Some(LogKind::Traefik),
        Some(LogKind::Envoy),
    ];
}

impl FromStr for LogKind {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "error" => Ok(LogKind::Error),
            "access" => Ok(LogKind::Access),
            "traefik" => Ok(LogKind::Traefik),
            "envoy" => Ok(LogKind::Envoy),
            _ => Err(InvalidValue(format!(
                "invalid log kind {s:?}: expected \"error\", \"access\", \"traefik\" or \"envoy\""
            ))),
        }
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogKind::Error => "error",
            LogKind::Access => "access",
            LogKind::Traefik => "traefik",
            LogKind::Envoy => "envoy",
        })
    }
}

/// A command as a program and its arguments, run without a shell so nothing is ever re-split or
/// expanded. Guaranteed non-empty with a non-empty program when it comes from the config.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Argv(pub Vec<String>);

impl Argv {
    pub fn program(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    pub fn args(&self) -> &[String] {
        self.0.get(1..).unwrap_or(&[])
    }
}

/// Shows the command as a user could paste it into a shell (for confirm prompts and audit lines).
impl fmt::Display for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, word) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                f.write_str(word)?;
            } else {
                write!(f, "'{}'", word.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_range_parses_ranges_and_single_codes() {
        assert_eq!(
            "200-399".parse(),
            Ok(StatusRange {
                low: 200,
                high: 399
            })
        );
        assert_eq!(
            "204".parse(),
            Ok(StatusRange {
                low: 204,
                high: 204
            })
        );
        assert_eq!(
            " 200 - 299 ".parse(),
            Ok(StatusRange {
                low: 200,
                high: 299
            })
        );
        let range = StatusRange {
            low: 200,
            high: 399,
        };
        assert!(range.contains(200) && range.contains(399));
        assert!(!range.contains(199) && !range.contains(400));
        assert_eq!(range.to_string(), "200-399");
        assert_eq!(
            StatusRange {
                low: 204,
                high: 204
            }
            .to_string(),
            "204"
        );
    }

    #[test]
    fn status_range_errors() {
        let err = |s: &str| {
            s.parse::<StatusRange>()
                .expect_err("should be rejected")
                .to_string()
        };
        assert_eq!(
            err("600-700"),
            r#"invalid status range "600-700": status codes are 100-599"#
        );
        assert_eq!(
            err("99"),
            r#"invalid status range "99": status codes are 100-599"#
        );
        assert_eq!(
            err("399-200"),
            r#"invalid status range "399-200": the low end is above the high end"#
        );
        assert_eq!(
            err("2xx"),
            r#"invalid status range "2xx": expected a code like "204" or a range like "200-399""#
        );
    }

    #[test]
    fn methods_ignore_case() {
        assert_eq!("GET".parse(), Ok(HttpMethod::Get));
        assert_eq!("head".parse(), Ok(HttpMethod::Head));
        assert_eq!(
            "POST"
                .parse::<HttpMethod>()
                .expect_err("should be rejected")
                .to_string(),
            r#"invalid method "POST": expected GET or HEAD"#
        );
    }

    #[test]
    fn nameservers_default_to_port_53() {
        let ns = |s: &str| {
            s.parse::<Nameserver>()
                .expect("valid nameserver")
                .to_string()
        };
        assert_eq!(ns("system"), "system");
        assert_eq!(ns("127.0.0.1"), "127.0.0.1:53");
        assert_eq!(ns("127.0.0.1:5353"), "127.0.0.1:5353");
        assert_eq!(ns("::1"), "[::1]:53");
        assert_eq!(ns("[::1]:5353"), "[::1]:5353");
        assert_eq!(
            "10.0.0.1:0"
                .parse::<Nameserver>()
                .expect_err("should be rejected")
                .to_string(),
            r#"invalid nameserver "10.0.0.1:0": port 0 is not a port"#
        );
        assert!("dns.google".parse::<Nameserver>().is_err());
        assert!("System".parse::<Nameserver>().is_err());
    }

    #[test]
    fn log_kinds() {
        assert_eq!("error".parse(), Ok(LogKind::Error));
        assert_eq!("access".parse(), Ok(LogKind::Access));
        assert_eq!("traefik".parse(), Ok(LogKind::Traefik));
        assert_eq!("envoy".parse(), Ok(LogKind::Envoy));
        for kind in [
            LogKind::Error,
            LogKind::Access,
            LogKind::Traefik,
            LogKind::Envoy,
        ] {
            assert_eq!(kind.to_string().parse(), Ok(kind));
        }
        assert_eq!(
            "debug"
                .parse::<LogKind>()
                .expect_err("should be rejected")
                .to_string(),
            r#"invalid log kind "debug": expected "error", "access", "traefik" or "envoy""#
        );
    }

    #[test]
    fn argv_display_quotes_what_a_shell_would_split() {
        let argv = Argv(vec![
            "sh".into(),
            "-c".into(),
            "echo 'hi' $HOME".into(),
            "".into(),
        ]);
        assert_eq!(argv.to_string(), r#"sh -c 'echo '\''hi'\'' $HOME' ''"#);
        assert_eq!(argv.program(), "sh");
        assert_eq!(argv.args().len(), 3);
        let plain = Argv(vec![
            "systemctl".into(),
            "reload".into(),
            "nginx.service".into(),
        ]);
        assert_eq!(plain.to_string(), "systemctl reload nginx.service");
    }
}
