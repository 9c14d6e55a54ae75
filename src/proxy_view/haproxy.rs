//! HAProxy's `show stat` over the runtime API: CSV, one row per frontend, server and backend.
//!
//! The header line (`# pxname,svname,...`) names the columns, so the fields are found by name
//! and a version that adds or moves columns is still read. Reference: the HAProxy management
//! guide, "9.1. CSV format" (docs.haproxy.org, management.html).

use std::time::Duration;

use super::{MAX_SERVERS, ServerView, ViewState, field};

/// The servers in a `show stat` reply; FRONTEND and BACKEND rows are left out.
pub(super) fn parse(reply: &[u8]) -> Result<Vec<ServerView>, String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.lines();
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .ok_or_else(|| not_stats(&text))?;
    let columns: Vec<&str> = header.split(',').collect();
    let col = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(status)) = (col("pxname"), col("svname"), col("status")) else {
        return Err("the stats socket's CSV has no pxname, svname or status column".into());
    };
    let check_status = col("check_status");
    let check_code = col("check_code");
    let last_chk = col("last_chk");
    let lastchg = col("lastchg");
    let addr = col("addr");
    let stot = col("stot");
    let econ = col("econ");
    let eresp = col("eresp");
    let mut servers = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |i: Option<usize>| i.and_then(|i| cells.get(i)).map_or("", |c| c.trim());
        let number = |i: Option<usize>| get(i).parse::<u64>().ok();
        let (group, server) = (get(Some(px)), get(Some(sv)));
        if group.is_empty() || server.is_empty() || matches!(server, "FRONTEND" | "BACKEND") {
            continue;
        }
        if servers.len() == MAX_SERVERS {
            break;
        }
        let check = [
            get(check_status).trim_start_matches("* "),
            get(check_code),
            get(last_chk),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        let fails = match (number(econ), number(eresp)) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        servers.push(ServerView {
            group: field(group),
            server: field(server),
            address: field(get(addr)),
            state: state(get(Some(status))),
            check: (!check.is_empty()).then(|| field(&check)),
            since: number(lastchg).map(Duration::from_secs),
            requests: number(stot),
            fails,
        });
    }
    Ok(servers)
}

/// What the socket said instead of CSV: usually a refusal such as "Permission denied.".
fn not_stats(text: &str) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.is_empty() {
        "the stats socket answered nothing".into()
    } else {
        format!("the stats socket answered \"{}\", not CSV", field(first))
    }
}

/// HAProxy's status column: "UP", "UP 1/3" (going down), "DOWN 1/2" (going up), "MAINT",
/// "MAINT (via be/s)", "DRAIN", "NOLB", "no check".
fn state(status: &str) -> ViewState {
    let word = status.split_whitespace().next().unwrap_or("");
    match word {
        "UP" => ViewState::Up,
        "DOWN" => ViewState::Down,
        "MAINT" => ViewState::Maint,
        "DRAIN" | "NOLB" => ViewState::Drain,
        "no" if status == "no check" => ViewState::NoCheck,
        _ => ViewState::Unknown(field(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written for this project in the shape of HAProxy 2.x/3.x `show stat` output: the leading
    /// columns, then a few of the later ones in their documented order.
    const HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,last_chk,addr,";

    /// One server row: pxname, svname, stot, econ, status, lastchg, check_status, check_code,
    /// last_chk, addr.
    fn row(cells: [&str; 10]) -> String {
        let [px, sv, stot, econ, status, lastchg, chk, code, last, addr] = cells;
        format!(
            "{px},{sv},0,0,0,0,,{stot},0,0,,0,,{econ},0,0,0,{status},1,1,0,3,1,{lastchg},5,,1,3,1,,0,,2,0,,0,{chk},{code},0,0,{last},{addr},"
        )
    }

    #[test]
    fn servers_are_read_and_frontend_and_backend_rows_skipped() {
        let text = [
            HEADER.to_string(),
            row(["web", "FRONTEND", "9", "", "OPEN", "", "", "", "", ""]),
            row([
                "shop",
                "s1",
                "12",
                "4",
                "DOWN",
                "40",
                "L4CON",
                "",
                "Connection refused",
                "127.0.0.1:9",
            ]),
            row([
                "shop",
                "s2",
                "30",
                "0",
                "UP",
                "100",
                "L7OK",
                "200",
                "",
                "127.0.0.1:8080",
            ]),
            row([
                "shop",
                "s3",
                "0",
                "0",
                "MAINT",
                "7",
                "* L7STS",
                "502",
                "Bad Gateway",
                "[::1]:81",
            ]),
            row([
                "shop",
                "s4",
                "0",
                "0",
                "no check",
                "7",
                "",
                "",
                "",
                "127.0.0.1:82",
            ]),
            row([
                "shop",
                "s5",
                "0",
                "0",
                "UP 1/3",
                "7",
                "L4TOUT",
                "",
                "",
                "127.0.0.1:83",
            ]),
            row(["shop", "BACKEND", "42", "4", "UP", "100", "", "", "", ""]),
        ]
        .join("\n");
        let s = parse(text.as_bytes()).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!((s[0].group.as_str(), s[0].server.as_str()), ("shop", "s1"));
        assert_eq!(s[0].address, "127.0.0.1:9");
        assert_eq!(s[0].state, ViewState::Down);
        assert_eq!(s[0].check.as_deref(), Some("L4CON Connection refused"));
        assert_eq!(s[0].since, Some(Duration::from_secs(40)));
        assert_eq!((s[0].requests, s[0].fails), (Some(12), Some(4)));
        assert_eq!(s[1].state, ViewState::Up);
        assert_eq!(s[1].check.as_deref(), Some("L7OK 200"));
        assert_eq!(s[2].state, ViewState::Maint);
        assert_eq!(s[2].check.as_deref(), Some("L7STS 502 Bad Gateway"));
        assert_eq!(s[2].address, "[::1]:81");
        assert_eq!(s[3].state, ViewState::NoCheck);
        assert_eq!(s[3].check, None);
        assert_eq!(s[4].state, ViewState::Up, "UP 1/3 is still up, going down");
    }

    #[test]
    fn columns_are_found_by_name_not_position() {
        let text = "# svname,status,pxname,addr\ns1,DOWN,be,10.0.0.5:80\n";
        let s = parse(text.as_bytes()).unwrap();
        assert_eq!(s[0].group, "be");
        assert_eq!(s[0].state, ViewState::Down);
        assert_eq!(s[0].address, "10.0.0.5:80");
        assert_eq!(
            (s[0].check.clone(), s[0].since, s[0].requests),
            (None, None, None)
        );
    }

    #[test]
    fn a_refusal_or_garbage_is_an_error_naming_what_was_said() {
        let e = parse(b"Permission denied\n\n").unwrap_err();
        assert!(e.contains("\"Permission denied\""), "{e}");
        assert_eq!(parse(b"").unwrap_err(), "the stats socket answered nothing");
        let e = parse(b"\x1b]0;pwned\x07\n").unwrap_err();
        assert!(!e.chars().any(char::is_control), "{e}");
        assert!(parse(b"# a,b,c\n1,2,3\n").is_err(), "no status column");
    }

    #[test]
    fn hostile_rows_are_bounded_and_clean() {
        let mut text = String::from("# pxname,svname,status,check_status,lastchg\n");
        text.push_str("be,s\x1b[31m,WEIRD\x07,L4CON,notanumber\n");
        text.push_str("short\n,,\n");
        text.push_str(&format!("be,{},DOWN,,{}\n", "n".repeat(5000), u64::MAX));
        text.push_str("\u{fffd}\u{202e},x,UP\n");
        let s = parse(text.as_bytes()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].server, "s\\x1b[31m");
        assert_eq!(s[0].state, ViewState::Unknown("WEIRD\\x07".into()));
        assert_eq!(s[0].since, None);
        assert!(s[1].server.len() <= 200);
        assert_eq!(s[1].since, Some(Duration::from_secs(u64::MAX)));
        assert!(!s[2].group.chars().any(|c| c == '\u{202e}'));
        let many: String = std::iter::once("# pxname,svname,status\n".to_string())
            .chain((0..MAX_SERVERS + 5).map(|i| format!("b,s{i},UP\n")))
            .collect();
        assert_eq!(parse(many.as_bytes()).unwrap().len(), MAX_SERVERS);
        let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let _ = parse(&binary);
    }
}
