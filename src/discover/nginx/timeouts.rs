//! nginx's own limits for a `proxy_pass`: `proxy_connect_timeout` and `proxy_read_timeout`.
//!
//! Both are inherited from `http` to `server` to `location` (and nested locations and `if`s): the
//! innermost block that sets one wins, wherever in that block it is written, even after the
//! `proxy_pass`. Set nowhere, nginx waits 60 s for each.

use std::collections::HashMap;
use std::time::Duration;

use super::collect::invalid;
use super::parser::Directive;
use super::time::parse_time;
use crate::discover::limits::MAX_ENTRIES;
use crate::discover::model::{Limit, ProxyLimits, SourceLoc};
use crate::discover::sink::Sink;

/// nginx's value for both when the config sets neither (ngx_http_proxy_module).
pub(super) const DEFAULT: Duration = Duration::from_secs(60);

/// The two settings one block makes itself.
#[derive(Default)]
struct Set {
    connect: Option<Limit>,
    read: Option<Limit>,
}

/// Settings by block (the collector's scope ids).
#[derive(Default)]
pub(super) struct Timeouts {
    by_scope: HashMap<usize, Set>,
}

impl Timeouts {
    /// Records `d` when it is one of the two, in the block `scope` ends with (`blocks` are the
    /// names of the enclosing blocks: only http's count).
    pub(super) fn directive(
        &mut self,
        blocks: &[&str],
        scope: &[usize],
        d: &Directive,
        at: &SourceLoc,
        sink: &mut Sink,
    ) {
        let connect = match d.name.as_str() {
            "proxy_connect_timeout" => true,
            "proxy_read_timeout" => false,
            _ => return,
        };
        let (Some(&"http"), Some(&block)) = (blocks.first(), scope.last()) else {
            return;
        };
        let value = match d.args.as_slice() {
            [v] => parse_time(v),
            _ => None,
        };
        let Some(value) = value else {
            let message = format!("invalid value in \"{}\"", d.name);
            return sink.error_at(at, invalid(&message));
        };
        if !self.by_scope.contains_key(&block) && self.by_scope.len() >= MAX_ENTRIES {
            return;
        }
        let set = self.by_scope.entry(block).or_default();
        let slot = if connect {
            &mut set.connect
        } else {
            &mut set.read
        };
        if slot.is_some() {
            // nginx refuses to start on this; the first one is kept.
            return sink.error_at(
                at,
                invalid(&format!("\"{}\" directive is duplicate", d.name)),
            );
        }
        *slot = Some(Limit {
            value,
            from: Some(at.clone()),
        });
    }

    /// The limits in force in the block `scope` ends with.
    pub(super) fn effective(&self, scope: &[usize]) -> ProxyLimits {
        let innermost = |pick: fn(&Set) -> &Option<Limit>| {
            scope
                .iter()
                .rev()
                .find_map(|id| self.by_scope.get(id).and_then(|s| pick(s).clone()))
                .unwrap_or(Limit {
                    value: DEFAULT,
                    from: None,
                })
        };
        ProxyLimits {
            connect_timeout: innermost(|s| &s.connect),
            read_timeout: innermost(|s| &s.read),
        }
    }
}
