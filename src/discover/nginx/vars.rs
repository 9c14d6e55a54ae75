//! Variables with one fixed value: `set $app 127.0.0.1;` then `proxy_pass http://$app:8096;`
//! (a media server's documented setup) names a fixed upstream after all.
//!
//! A variable is replaced only when, of the scopes a pass sits in (http, server, location, the
//! pass's own), exactly one sets it, unconditionally (not in `if`), to a non-empty value holding
//! no other variable, no `map`, `geo` or module computes it, and no Lua runs in those scopes
//! (Lua sets `ngx.var.*`: Kong sets `$upstream_scheme ''` and fills it per request). Anything
//! else stays per request.

use std::collections::{HashMap, HashSet};

use crate::discover::limits::MAX_ENTRIES;

/// More `set`s of one name than any real config has: the name is then treated as variable.
const MAX_SETS_PER_NAME: usize = 64;

use super::parser::Directive;
use super::walk::Block;

struct Set {
    value: String,
    /// Ids of the blocks the `set` applies in, outermost first, up to any `if`.
    scope: Vec<usize>,
    conditional: bool,
}

#[derive(Default)]
pub(super) struct Vars {
    /// By name (lowercase, no `$`); at most one more than `MAX_SETS_PER_NAME` each.
    sets: HashMap<String, Vec<Set>>,
    recorded: usize,
    /// Past `MAX_ENTRIES` sets or Lua scopes nothing is substituted: the bounds keep the cost
    /// of a hostile config flat, and what was not recorded cannot be ruled out.
    overflow: bool,
    /// Names (lowercase, no `$`) that a map, geo, split_clients or a module computes.
    computed: HashSet<String>,
    /// Scopes (block ids) where a `*_by_lua*` directive runs and may set any variable.
    lua: Vec<Vec<usize>>,
}

/// nginx variable names are case-insensitive.
fn var_name(arg: &str) -> Option<String> {
    arg.strip_prefix('$').map(str::to_ascii_lowercase)
}

impl Vars {
    /// Records what `d` does to variables. `scope` holds the ids of `blocks`, one each.
    pub(super) fn directive(&mut self, blocks: &[Block], scope: &[usize], d: &Directive) {
        if d.name.contains("_by_lua") && !d.name.starts_with("balancer_") {
            if self.lua.len() < MAX_ENTRIES {
                self.lua.push(scope.to_vec());
            } else {
                self.overflow = true;
            }
        }
        let computed = match (d.name.as_str(), d.args.as_slice()) {
            ("set", [name, value]) => {
                let Some(name) = var_name(name) else { return };
                let in_if = blocks.iter().position(|b| b.name == "if");
                self.recorded += 1;
                self.overflow |= self.recorded > MAX_ENTRIES;
                let same = self.sets.entry(name).or_default();
                if !self.overflow && same.len() <= MAX_SETS_PER_NAME {
                    same.push(Set {
                        value: value.clone(),
                        scope: scope[..in_if.unwrap_or(scope.len()).min(scope.len())].to_vec(),
                        conditional: in_if.is_some(),
                    });
                }
                return;
            }
            // map $from $to { }, geo [$from] $to { }, split_clients "..." $to { }
            ("map" | "geo" | "split_clients" | "geoip2", [.., last]) if d.block => last,
            // perl_set $v ..., js_set $v ..., set_by_lua* $v ..., auth_request_set $v ...
            (name, [first, ..])
                if name.starts_with("set_by_lua")
                    || ["perl_set", "js_set", "auth_request_set"].contains(&name) =>
            {
                first
            }
            _ => return,
        };
        if let Some(name) = var_name(computed) {
            self.computed.insert(name);
        }
    }

    /// The fixed value of `name` (lowercase) for a directive in `scope`, if it has one.
    fn fixed(&self, name: &str, scope: &[usize]) -> Option<&str> {
        let same = self.sets.get(name)?;
        if self.overflow
            || same.len() > MAX_SETS_PER_NAME
            || self.computed.contains(name)
            || self.lua.iter().any(|l| scope.starts_with(l))
        {
            return None;
        }
        let mut visible = same.iter().filter(|s| scope.starts_with(&s.scope));
        let set = visible.next()?;
        let once = visible.next().is_none();
        let literal = !set.value.is_empty() && !set.value.contains('$');
        (once && !set.conditional && literal).then_some(set.value.as_str())
    }

    /// `value` with every variable that has a fixed value in `scope` replaced by it.
    pub(super) fn substitute(&self, value: &str, scope: &[usize]) -> String {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, len) = match after.strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], end)
                }
            };
            match self.fixed(&name.to_ascii_lowercase(), scope) {
                Some(v) if !name.is_empty() => out.push_str(v),
                _ => out.push_str(&rest[i..i + 1 + len]),
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str) -> Block {
        Block {
            name: name.into(),
            args: vec![],
            line: 1,
            data: false,
        }
    }

    fn d(name: &str, args: &[&str], is_block: bool) -> Directive {
        Directive {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            line: 1,
            block: is_block,
        }
    }

    /// http(0) > server(1) > location(2); server(3) beside it.
    fn setup(extra: impl FnOnce(&mut Vars)) -> Vars {
        let mut v = Vars::default();
        let hs = [block("http"), block("server")];
        v.directive(&hs, &[0, 1], &d("set", &["$App", "127.0.0.1"], false));
        v.directive(&hs, &[0, 3], &d("set", &["$app", "10.0.0.9"], false));
        extra(&mut v);
        v
    }

    #[test]
    fn one_unconditional_literal_in_an_enclosing_scope_is_substituted() {
        let v = setup(|_| {});
        assert_eq!(
            v.substitute("http://$app:8096$request_uri", &[0, 1, 2]),
            "http://127.0.0.1:8096$request_uri"
        );
        assert_eq!(
            v.substitute("http://${APP}:1", &[0, 3]),
            "http://10.0.0.9:1"
        );
        // Not visible from http level; "$apple" is another variable.
        assert_eq!(v.substitute("http://$app", &[0]), "http://$app");
        assert_eq!(v.substitute("http://$apple", &[0, 1]), "http://$apple");
        assert_eq!(v.substitute("http://${app", &[0, 1]), "http://${app");
    }

    #[test]
    fn hostile_numbers_of_sets_substitute_nothing() {
        let hs = [block("http"), block("server")];
        let mut v = Vars::default();
        for server in 0..=MAX_SETS_PER_NAME {
            v.directive(&hs, &[0, server], &d("set", &["$v", "10.0.0.1"], false));
        }
        assert_eq!(v.substitute("$v", &[0, 0, 99]), "$v");

        let mut v = Vars::default();
        for i in 0..=MAX_ENTRIES {
            v.directive(
                &hs,
                &[0, i],
                &d("set", &[&format!("$v{i}"), "10.0.0.1"], false),
            );
        }
        assert_eq!(v.substitute("$v0", &[0, 0, 1]), "$v0");
    }

    #[test]
    fn set_twice_in_if_from_variables_or_by_map_stays() {
        let hsl = [block("http"), block("server"), block("location")];
        let twice = setup(|v| v.directive(&hsl, &[0, 1, 2], &d("set", &["$app", "x"], false)));
        assert_eq!(twice.substitute("$app", &[0, 1, 2]), "$app");
        // The other location of the same server still sees one set.
        assert_eq!(twice.substitute("$app", &[0, 1, 5]), "127.0.0.1");

        let iff = [block("http"), block("server"), block("if")];
        let mut v = Vars::default();
        v.directive(&iff, &[0, 1, 7], &d("set", &["$b", "10.0.0.1"], false));
        assert_eq!(v.substitute("$b", &[0, 1, 2]), "$b");

        let mut v = Vars::default();
        v.directive(&hsl, &[0, 1, 2], &d("set", &["$c", "$host"], false));
        assert_eq!(v.substitute("$c", &[0, 1, 2]), "$c");

        let mut v = Vars::default();
        v.directive(&hsl, &[0, 1, 2], &d("set", &["$m", "10.0.0.1"], false));
        v.directive(&[block("http")], &[0], &d("map", &["$host", "$m"], true));
        assert_eq!(v.substitute("$m", &[0, 1, 2]), "$m");

        // Empty (a slot Lua fills), or Lua running in an enclosing scope.
        let mut v = Vars::default();
        v.directive(&hsl, &[0, 1, 2], &d("set", &["$e", ""], false));
        v.directive(&hsl, &[0, 1, 2], &d("set", &["$l", "10.0.0.1"], false));
        v.directive(&hsl, &[0, 1], &d("access_by_lua_block", &[], false));
        assert_eq!(v.substitute("$e:$l", &[0, 1, 2]), "$e:$l");
        // Lua in another server does not matter.
        v.directive(&hsl, &[0, 3], &d("set", &["$k", "10.0.0.2"], false));
        assert_eq!(v.substitute("$k", &[0, 3, 4]), "10.0.0.2");
    }
}
