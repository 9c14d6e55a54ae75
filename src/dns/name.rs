//! Which strings can be asked about, checked before any query so that a bad name (from a config
//! file or a discovered nginx upstream) becomes an error in its row, with the reason.

use std::net::IpAddr;

use hickory_resolver::proto::rr::Name;

/// The longest name that fits in a query, without the trailing dot.
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("invalid DNS name: empty")]
    Empty,
    #[error("invalid DNS name: {0} characters, more than the 253 a name can have")]
    TooLong(usize),
    #[error("invalid DNS name: empty label (a leading dot or two dots in a row)")]
    EmptyLabel,
    /// hickory refuses to encode such a label, so it could never be asked.
    #[error("invalid DNS name: a label starts with '-'")]
    LeadingHyphen,
    #[error("invalid DNS name: label of {0} characters, more than the 63 a label can have")]
    LabelTooLong(usize),
    /// The character is shown escaped, so a control character cannot reach the terminal.
    #[error("invalid DNS name: '{}' is not allowed (letters, digits, '-', '_' and dots only)", .0.escape_default())]
    BadChar(char),
    #[error("invalid DNS name: {0}")]
    Rejected(String),
}

/// Letters, digits, `-` and `_` in dot-separated labels, optionally with a trailing dot (which
/// makes the name absolute: no search domains). The config's rule for host names, plus no
/// leading `-` (which hickory cannot encode); `_` because internal names often have one.
pub fn parse_name(s: &str) -> Result<Name, InvalidName> {
    let bare = s.strip_suffix('.').unwrap_or(s);
    if bare.is_empty() {
        return Err(InvalidName::Empty);
    }
    if let Some(c) = bare
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(InvalidName::BadChar(c));
    }
    if bare.len() > MAX_NAME {
        return Err(InvalidName::TooLong(bare.len()));
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(InvalidName::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(InvalidName::LabelTooLong(label.len()));
        }
        if label.starts_with('-') {
            return Err(InvalidName::LeadingHyphen);
        }
    }
    Name::from_ascii(s)
        .map_err(|e| InvalidName::Rejected(crate::sanitize::sanitize(&e.to_string()).into_owned()))
}

/// `localhost` and names under it (RFC 6761): resolvers answer them without asking any server,
/// hickory included, so asking each nameserver about them would only report hickory's answer.
pub fn is_localhost(name: &Name) -> bool {
    let ascii = name.to_ascii().to_ascii_lowercase();
    let bare = ascii.strip_suffix('.').unwrap_or(&ascii);
    bare == "localhost" || bare.ends_with(".localhost")
}

/// IP literals (with or without IPv6 brackets, and IPv4 in the short forms getaddrinfo reads:
/// `127.1`, `10.10.188`) name no one to look up.
pub fn is_ip_literal(s: &str) -> bool {
    let inner = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    inner.parse::<IpAddr>().is_ok() || crate::discover::inet_aton(inner).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_dotted_ipv4_is_a_literal_and_names_are_not() {
        for literal in ["127.0.0.1", "[::1]", "127.1", "10.10.188", "0x7f.1"] {
            assert!(is_ip_literal(literal), "{literal}");
        }
        for name in ["app1", "1.2.3.4.5", "10.0.0.5a", "api.internal", "[app]"] {
            assert!(!is_ip_literal(name), "{name}");
        }
    }

    #[test]
    fn host_names_parse_and_keep_absoluteness() {
        let relative = parse_name("api.internal").unwrap();
        assert!(!relative.is_fqdn());
        assert_eq!(relative.to_ascii(), "api.internal");
        assert!(parse_name("api.internal.").unwrap().is_fqdn());
        assert!(parse_name("my_service-1").is_ok());
    }

    #[test]
    fn invalid_names_say_why() {
        assert_eq!(parse_name(""), Err(InvalidName::Empty));
        assert_eq!(parse_name("."), Err(InvalidName::Empty));
        assert_eq!(parse_name("a..b"), Err(InvalidName::EmptyLabel));
        assert_eq!(parse_name(".a"), Err(InvalidName::EmptyLabel));
        assert_eq!(parse_name("has space"), Err(InvalidName::BadChar(' ')));
        assert_eq!(parse_name("a.-b"), Err(InvalidName::LeadingHyphen));
        assert_eq!(parse_name(&"a".repeat(300)), Err(InvalidName::TooLong(300)));
        assert_eq!(
            parse_name(&format!("{}.b", "a".repeat(64))),
            Err(InvalidName::LabelTooLong(64))
        );
        let esc = parse_name("evil\x1b]0;x\x07").unwrap_err().to_string();
        assert!(!esc.chars().any(char::is_control), "{esc:?}");
        assert!(esc.contains("\\u{1b}"), "{esc}");
    }

    #[test]
    fn agrees_with_the_config_rule() {
        // Not "-a": the config accepts it, hickory cannot ask it (see LeadingHyphen).
        for s in [
            "a", "a.b.", "a_b", "a-b.c", "a-", "", "a..b", "a b", "ä.b", "a/b",
        ] {
            let toml = format!("[dns]\nnames = [{s:?}]\n");
            let config_accepts =
                crate::config::parse(&toml, std::path::Path::new("t.toml")).is_ok();
            assert_eq!(parse_name(s).is_ok(), config_accepts, "{s:?}");
        }
    }

    #[test]
    fn localhost_is_recognised() {
        for (s, yes) in [
            ("localhost", true),
            ("LOCALHOST.", true),
            ("app.localhost", true),
            ("localhost.test", false),
            ("mylocalhost", false),
        ] {
            assert_eq!(is_localhost(&parse_name(s).unwrap()), yes, "{s}");
        }
    }

    #[test]
    fn ip_literals_are_recognised() {
        assert!(is_ip_literal("127.0.0.1"));
        assert!(is_ip_literal("::1"));
        assert!(is_ip_literal("[::1]"));
        assert!(!is_ip_literal("localhost"));
        // getaddrinfo reads it as 1.2.0.3, and so do the proxies.
        assert!(is_ip_literal("1.2.3"));
    }
}
