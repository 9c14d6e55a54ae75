//! Splits one haproxy.cfg line into words, as HAProxy's `parse_line` does.
//!
//! Words are separated by blanks; `#` outside quotes starts a comment; a backslash protects the
//! next character outside single quotes; `"..."` and `'...'` may appear inside a word and are
//! joined to it. Environment variables are left as written: they are set only when HAProxy starts.

/// The words of `line`, or why it cannot be split.
pub(super) fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' => break,
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => word.push(unescape(e)),
                    None => word.push('\\'),
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("unmatched double quote".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => word.push(unescape(e)),
                            None => return Err("unmatched double quote".into()),
                        },
                        Some(c) => word.push(c),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err("unmatched single quote".into()),
                        Some('\'') => break,
                        Some(c) => word.push(c),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        c => c,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn ok(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn splits_like_haproxy() {
        assert_eq!(
            ok("  server app1 10.0.0.5:8080 check # primary"),
            ["server", "app1", "10.0.0.5:8080", "check"]
        );
        assert_eq!(
            ok("http-request set-header X-Msg \"a # b\""),
            ["http-request", "set-header", "X-Msg", "a # b"]
        );
        assert_eq!(ok(r#"a\ b c"d e"f 'g\h'"#), ["a b", "cd ef", "g\\h"]);
        assert_eq!(ok(r#"x "\"q\"""#), ["x", "\"q\""]);
        assert!(ok("   # only a comment").is_empty());
        assert!(ok("").is_empty());
        assert!(split_words("acl bad \"open").is_err());
        assert!(split_words("acl bad 'open").is_err());
    }
}
