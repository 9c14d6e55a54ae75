//! The Upstreams table's columns at a width: the name, the target and the result first and whole
//! when they fit; then latency, history, the proxy's view, success rate and time in state, each
//! dropped whole, in that order from the last, as the pane narrows. A name or target that cannot
//! be whole is shortened in the middle, keeping the part that tells it from its neighbours.

/// "unreachable" and "local_limit", the longest results, are whole.
pub const RESULT_W: usize = 11;
/// "999ms", "12.5s": five characters, and room for a sixth.
pub const LATENCY_W: usize = 6;
pub const PROXY_W: usize = 22;
const HISTORY_MIN: usize = 10;
/// Below this a target says nothing: the column goes rather than show "h…0:80".
const TARGET_MIN: usize = 10;
const NAME_MIN: usize = 8;
/// A name shortened beside a whole target keeps at least this much.
const NAME_MIN_BESIDE_TARGET: usize = 12;
/// Widths as drawn, each with its leading space: " {ok:>5}", " {age:>7}".
const OK_W: usize = 6;
const SINCE_W: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub name: usize,
    /// 0: no target column.
    pub target: usize,
    pub latency: bool,
    /// 0: no history column.
    pub history: usize,
    /// The proxy's own view ("haproxy DOWN L4CON 12s"), when an API lists any upstream.
    pub proxy: usize,
    pub ok: bool,
    pub since: bool,
}

/// The longest name, target (as written: `http://127.0.0.1:35073/health`) and target address
/// (`127.0.0.1:35073`, what a target too wide shows) among the rows.
#[derive(Clone, Copy, Debug)]
pub struct Longest {
    pub name: usize,
    pub target: usize,
    pub address: usize,
}

/// The columns for a pane `width` wide, rows whose longest texts are as given.
pub fn plan(width: usize, longest: Longest, any_proxy: bool) -> Plan {
    let name_full = longest.name.max("NAME".len());
    let target_full = longest.target.max("TARGET".len());
    let address_full = longest.address.max("TARGET".len()).min(target_full);
    // The state mark, the space after the name, the result.
    let room = width.saturating_sub(2 + 1 + RESULT_W);
    // A URL gives up its scheme and path before the name gives up anything: its address is
    // what tells where the proxy connects. What the optional columns leave goes back to it.
    let mut grow_target = false;
    let (name, mut target) = if name_full + target_full < room {
        (name_full, target_full)
    } else if name_full + address_full < room {
        grow_target = true;
        (name_full, address_full)
    } else if room.saturating_sub(1 + address_full) >= NAME_MIN_BESIDE_TARGET {
        // Then the name gives way: its distinguishing tail still shows beside the address.
        (room - 1 - address_full, address_full)
    } else {
        // Shared by their widths; the target goes when its share would say nothing.
        let both = room.saturating_sub(1);
        let name = (both * name_full / (name_full + address_full))
            .max(NAME_MIN.min(name_full))
            .min(both);
        let target = both.saturating_sub(name).min(address_full);
        if target >= TARGET_MIN {
            (name, target)
        } else {
            (room.min(name_full), 0)
        }
    };
    let mut left = room.saturating_sub(name + if target > 0 { target + 1 } else { 0 });
    // In order: once one does not fit, none after it is shown, so a column never appears
    // while one before it is missing.
    let mut full = false;
    let mut take = |w: usize| {
        full |= left < w;
        if !full {
            left -= w;
        }
        !full
    };
    let latency = take(1 + LATENCY_W);
    let history = take(1 + HISTORY_MIN);
    let proxy = if !any_proxy {
        0
    } else if take(1 + PROXY_W) {
        PROXY_W
    } else {
        0
    };
    let ok = take(OK_W);
    let since = take(SINCE_W);
    if grow_target {
        let more = left.min(target_full - target);
        target += more;
        left -= more;
    }
    Plan {
        name,
        target,
        latency,
        // What no other column wants widens the history.
        history: if history { HISTORY_MIN + left } else { 0 },
        proxy,
        ok,
        since,
    }
}

/// `text` padded to `width`, or shortened in the middle to it: `payments…v2_canary`. `shared`
/// is how many leading characters it shares with the most alike other text in its column; the
/// characters after them, which tell the two apart, are kept when they fit. Sanitised first.
pub fn middle(text: &str, width: usize, shared: usize) -> String {
    let text = crate::sanitize::sanitize(text);
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    if n <= width {
        return format!("{text:<width$}");
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    let distinct = n - shared.min(n);
    let head = if distinct < room {
        // The whole distinguishing part in the tail, and more of it when there is room.
        room - distinct.max(room * 3 / 5).min(room.saturating_sub(1))
    } else if shared + 1 < room {
        // The first character that differs ends the head; the tail keeps the end.
        shared + 1
    } else {
        (room / 3).max(1).min(room)
    };
    let tail = room - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[n - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::upstreams::shared_prefixes;

    const NAMES: [&str; 3] = [
        "payments_backend_v2_primary",
        "payments_backend_v2_canary",
        "payments_backend_v2_replica",
    ];
    /// "http://127.0.0.1:35073/health"
    const TARGET: usize = 29;
    /// "127.0.0.1:35073"
    const ADDRESS: usize = 15;

    fn plan(width: usize, name: usize, target: usize, any_proxy: bool) -> Plan {
        let address = ADDRESS.min(target);
        super::plan(
            width,
            Longest {
                name,
                target,
                address,
            },
            any_proxy,
        )
    }

    fn used(p: &Plan) -> usize {
        let opt = |on: bool, w: usize| if on { w } else { 0 };
        2 + p.name
            + 1
            + opt(p.target > 0, p.target + 1)
            + RESULT_W
            + opt(p.latency, 1 + LATENCY_W)
            + opt(p.history > 0, 1 + p.history)
            + opt(p.proxy > 0, 1 + p.proxy)
            + opt(p.ok, OK_W)
            + opt(p.since, SINCE_W)
    }

    #[test]
    fn wide_panes_show_every_column_and_fill_the_width() {
        // A zoomed pane at 200 and 160 columns, less its borders.
        for width in [198, 158] {
            let p = plan(width, 27, TARGET, true);
            assert_eq!((p.name, p.target), (27, TARGET), "{width}");
            assert!(p.latency && p.ok && p.since && p.proxy == PROXY_W, "{p:?}");
            assert!(p.history >= HISTORY_MIN);
            assert_eq!(used(&p), width, "{p:?}");
        }
    }

    #[test]
    fn name_target_and_result_stay_whole_while_the_rest_gives_way_in_order() {
        // The grid at 120 columns: a half-width pane, the name whole beside the target, which
        // keeps the rest of the room and shows its address.
        let p = plan(58, 27, TARGET, true);
        assert_eq!((p.name, p.target), (27, 58 - 2 - 1 - RESULT_W - 1 - 27));
        assert!(p.target >= ADDRESS && p.target < TARGET, "{p:?}");
        assert!(!p.latency && p.history == 0 && p.proxy == 0 && !p.ok && !p.since);
        let p = plan(58, 12, 22, true);
        assert_eq!((p.name, p.target), (12, 22), "short ones whole");
        assert!(p.latency && p.history == 0, "{p:?}");
        // The grid at 160 columns: whole, and the latency beside them.
        let p = plan(78, 27, TARGET, true);
        assert_eq!((p.name, p.target), (27, TARGET));
        assert!(p.latency && p.history == 0, "{p:?}");
        assert_eq!(used(&p), 78);
        // The grid at 200 columns: latency and a wider history; the proxy's 22 do not fit, and
        // nothing after it shows.
        let p = plan(98, 27, TARGET, true);
        assert!(
            p.latency && p.history > HISTORY_MIN && p.proxy == 0,
            "{p:?}"
        );
        assert!(!p.ok && !p.since, "{p:?}");
        assert_eq!(used(&p), 98);
        // Without a proxy's view, the success rate takes its place.
        let p = plan(98, 27, TARGET, false);
        assert!(p.ok && !p.since, "{p:?}");
        // Zoomed at 120 columns: room for the proxy's view.
        let p = plan(118, 27, TARGET, true);
        assert!(p.proxy == PROXY_W && p.ok && !p.since, "{p:?}");
        for width in 40..200 {
            let p = plan(width, 27, TARGET, true);
            assert!(
                used(&p) <= width.max(2 + 1 + RESULT_W + p.name),
                "{width}: {p:?}"
            );
            // Each column only when every column before it in the order is there.
            let order = [p.latency, p.history > 0, p.proxy > 0, p.ok, p.since];
            assert!(order.windows(2).all(|w| w[0] || !w[1]), "{width}: {p:?}");
        }
    }

    #[test]
    fn a_url_that_does_not_fit_shows_its_address_and_the_latency_stays() {
        // "recommendations" beside "http://127.0.0.1:33307/health" in the 120-column grid: one
        // column short of the whole URL. The address, the latency, and the rest to the target.
        let p = plan(58, 15, TARGET, false);
        assert_eq!(p.name, 15);
        assert!(p.latency, "{p:?}");
        assert_eq!(p.target, 58 - 2 - 15 - 1 - 1 - RESULT_W - 1 - LATENCY_W);
        assert!(p.target >= ADDRESS && p.target < TARGET, "{p:?}");
        assert_eq!(used(&p), 58);
    }

    #[test]
    fn too_narrow_for_both_shares_then_drops_the_target() {
        // A single pane at 80 columns is wide enough for both whole.
        let p = plan(78, 27, TARGET, false);
        assert_eq!((p.name, p.target), (27, TARGET));
        let p = plan(56, 27, TARGET, false);
        assert_eq!(
            (p.name, p.target),
            (26, ADDRESS),
            "the name gives way only beside the bare address"
        );
        let p = plan(50, 27, TARGET, false);
        assert!(
            p.name < 27 && p.target < TARGET && p.target >= TARGET_MIN,
            "{p:?}"
        );
        assert_eq!(used(&p), 50);
        let p = plan(30, 27, TARGET, false);
        assert_eq!(p.target, 0, "{p:?}");
        assert_eq!(p.name, 30 - 2 - 1 - RESULT_W);
        assert_eq!(plan(0, 27, TARGET, false).name, 0);
    }

    #[test]
    fn middle_keeps_what_tells_names_apart() {
        let shared = shared_prefixes(NAMES.iter().copied());
        assert_eq!(shared, [20, 20, 20]);
        for width in 8..=27 {
            let shown: Vec<String> = NAMES
                .iter()
                .zip(&shared)
                .map(|(n, s)| middle(n, width, *s))
                .collect();
            for s in &shown {
                assert_eq!(s.chars().count(), width, "{s:?}");
            }
            assert!(
                shown[0] != shown[1] && shown[1] != shown[2] && shown[0] != shown[2],
                "{width}: {shown:?}"
            );
        }
        assert_eq!(middle(NAMES[1], 18, 20), "payment…_v2_canary");
        assert_eq!(middle(NAMES[1], 12, 20), "payme…canary");
        assert_eq!(middle("short", 8, 0), "short   ");
        assert_eq!(middle("abc", 0, 0), "");
        assert_eq!(middle("abc", 1, 0), "…");
    }

    #[test]
    fn middle_keeps_the_first_difference_when_the_rest_is_alike() {
        let names = ["api_a_very_long_suffix", "api_b_very_long_suffix"];
        let shared = shared_prefixes(names.iter().copied());
        assert_eq!(shared, [4, 4]);
        assert_eq!(middle(names[0], 12, 4), "api_a…suffix");
        assert_eq!(middle(names[1], 12, 4), "api_b…suffix");
        assert_eq!(
            middle("x\u{1b}[2Jyyyyyyyyyyyy", 8, 0)
                .chars()
                .filter(|c| c.is_control())
                .count(),
            0
        );
    }
}
