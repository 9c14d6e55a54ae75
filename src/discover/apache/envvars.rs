//! Apache's `${VAR}` values: `Define` directives and Debian's `envvars` shell file.
//!
//! apache2ctl sources /etc/apache2/envvars before starting Apache, which is where Debian's
//! `${APACHE_LOG_DIR}` comes from. Only plain top-level `[export] NAME=value` lines are read;
//! anything conditional (indented) is skipped and unknown `$VAR`s expand to nothing, which is
//! what Debian's `$SUFFIX` is outside multi-instance setups.

use std::collections::HashMap;

use crate::discover::limits::MAX_ENTRIES;

/// Values from an envvars file.
pub(super) fn parse_envvars(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        if vars.len() >= MAX_ENTRIES {
            break;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if let Some(expanded) = expand_shell(value, &vars) {
            vars.insert(name.to_string(), expanded);
        }
    }
    vars
}

fn expand_shell(value: &str, vars: &HashMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => (inner, after.len()),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        out.push_str(vars.get(name).map_or("", String::as_str));
        if out.len() > MAX_VALUE_BYTES {
            return None;
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    Some(out)
}

/// Longest value a substitution may produce: chained `Define`s could otherwise double a value on
/// every line.
pub(super) const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Replaces each defined `${NAME}` in `s`; undefined ones stay as written, as Apache leaves them.
/// `None` when the result would be longer than [`MAX_VALUE_BYTES`].
pub(super) fn substitute(s: &str, vars: &HashMap<String, String>) -> Option<String> {
    if !s.contains("${") {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(name) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[i..i + 3 + end]),
                }
                if out.len() > MAX_VALUE_BYTES {
                    return None;
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn debian_envvars() {
        let text = "unset HOME\nif [ x ] ; then\n\tSUFFIX=\"-x\"\nelse\n\tSUFFIX=\nfi\n\
                    export APACHE_RUN_USER=www-data\nexport APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n\
                    export LANG=C\nexport LANG\nexport X=\"${APACHE_RUN_USER}-$LANG\"\n";
        let vars = parse_envvars(text);
        assert_eq!(
            vars.get("APACHE_LOG_DIR").map(String::as_str),
            Some("/var/log/apache2")
        );
        assert_eq!(vars.get("X").map(String::as_str), Some("www-data-C"));
        assert!(!vars.contains_key("SUFFIX"));
    }

    #[test]
    fn substitution_keeps_undefined() {
        let vars = HashMap::from([("A".to_string(), "/var/log".to_string())]);
        let sub = |s: &str| substitute(s, &vars).unwrap();
        assert_eq!(sub("${A}/error.log"), "/var/log/error.log");
        assert_eq!(sub("${B}/x ${A}"), "${B}/x /var/log");
        assert_eq!(sub("${A"), "${A");
        assert_eq!(sub("plain"), "plain");
        let big = HashMap::from([("A".to_string(), "x".repeat(MAX_VALUE_BYTES / 2 + 1))]);
        assert_eq!(substitute("${A}${A}", &big), None);
    }
}
