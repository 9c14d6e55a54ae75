//! Streaming parser for /proc/net/tcp and /proc/net/tcp6.
//!
//! A busy proxy has 100k+ sockets, so the tables are read line by line into one reused buffer and
//! tallied in place: no per-line allocation, and nothing about a line can make us panic. Bytes are
//! handled as bytes, so a line of garbage is just a malformed line, not a UTF-8 error.

use std::collections::HashMap;
use std::io::{self, BufRead, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{TOP_REMOTES, TcpState, TcpStates};

/// Kernel lines are under 200 bytes; a longer one is garbage and is skipped without buffering it.
const MAX_LINE: usize = 4096;

pub(crate) fn state_from_hex(b: &[u8]) -> Option<TcpState> {
    if b.len() > 2 {
        return None;
    }
    let code = usize::try_from(hex_value(b)?).ok()?;
    TcpState::ALL.get(code.checked_sub(1)?).copied()
}

/// Value of 1 to 8 hex digits; no sign, no prefix.
fn hex_value(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &c| {
        Some((acc << 4) | char::from(c).to_digit(16)?)
    })
}

/// Bitmap of local ports (8 KiB), kept by the collector so counting distinct ports allocates
/// nothing per sample and a port seen in both tcp and tcp6 is counted once.
pub(crate) struct PortSet {
    words: Box<[u64]>,
}

impl PortSet {
    pub(crate) fn new() -> Self {
        PortSet {
            words: vec![0; 65536 / 64].into_boxed_slice(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.words.fill(0);
    }

    pub(crate) fn insert(&mut self, port: u16) {
        let i = usize::from(port);
        if let Some(word) = self.words.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }

    fn contains(&self, port: u16) -> bool {
        let i = usize::from(port);
        self.words
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    /// Distinct ports in `low..=high`.
    pub(crate) fn count_in(&self, low: u16, high: u16) -> u32 {
        let n = (low..=high).filter(|&p| self.contains(p)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// Distinct remote endpoints remembered per scan. A real range holds at most 65,535 ports, but a
/// hostile or enormous table could name millions of remotes; past this many, new ones are only
/// counted as "other" (a remote big enough to matter shows up long before).
pub(crate) const MAX_REMOTES: usize = 4096;

/// Counts per TCP state, in kernel order.
type StateCounts = [u32; TcpState::ALL.len()];

fn add(counts: &mut StateCounts, state: TcpState) {
    if let Some(n) = counts.get_mut(usize::from(state.code() - 1)) {
        *n = n.saturating_add(1);
    }
}

fn by_state(counts: StateCounts) -> std::collections::BTreeMap<TcpState, u32> {
    TcpState::ALL
        .into_iter()
        .zip(counts)
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// Who holds the ephemeral range: the sockets with a local port inside it, by state and remote.
#[derive(Debug, Default)]
pub(crate) struct PortUse {
    states: StateCounts,
    remotes: HashMap<SocketAddr, u32>,
    /// Sockets whose remote was not remembered (over [`MAX_REMOTES`], or unparsable).
    pub(crate) other_remotes: u32,
}

impl PortUse {
    fn add(&mut self, state: TcpState, remote: Option<SocketAddr>) {
        add(&mut self.states, state);
        match remote {
            Some(addr) if self.remotes.len() < MAX_REMOTES || self.remotes.contains_key(&addr) => {
                let n = self.remotes.entry(addr).or_insert(0);
                *n = n.saturating_add(1);
            }
            _ => self.other_remotes = self.other_remotes.saturating_add(1),
        }
    }

    /// The counts by state (only states seen) and the top [`TOP_REMOTES`] remotes, most first
    /// (ties by address, so the order is stable).
    pub(crate) fn into_parts(
        self,
    ) -> (
        std::collections::BTreeMap<TcpState, u32>,
        Vec<(SocketAddr, u32)>,
    ) {
        let mut remotes: Vec<(SocketAddr, u32)> = self.remotes.into_iter().collect();
        remotes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        remotes.truncate(TOP_REMOTES);
        (by_state(self.states), remotes)
    }
}

/// Running tally over both tables of one sample.
#[derive(Default)]
pub(crate) struct Tally {
    counts: StateCounts,
    malformed: u32,
    /// The ephemeral range, when known: sockets with a local port inside it go to `port_use`.
    range: Option<(u16, u16)>,
    port_use: PortUse,
}

impl Tally {
    pub(crate) fn new(range: Option<(u16, u16)>) -> Self {
        Tally {
            range,
            ..Tally::default()
        }
    }

    pub(crate) fn into_parts(self) -> (TcpStates, PortUse) {
        let states = TcpStates {
            counts: by_state(self.counts),
            malformed_lines: self.malformed,
        };
        (states, self.port_use)
    }

    fn in_range(&self, port: u16) -> bool {
        self.range
            .is_some_and(|(low, high)| (low..=high).contains(&port))
    }
}

enum Line<'a> {
    /// Header or blank line.
    Skip,
    Socket(Socket<'a>),
    Malformed,
}

/// The fields of one well-formed line the readers use; addresses are decoded only when needed.
struct Socket<'a> {
    state: TcpState,
    local_port: u16,
    local: &'a [u8],
    /// Already checked to be well formed; decoded only for the few sockets that hold an
    /// ephemeral port.
    remote: &'a [u8],
    uid: &'a [u8],
    inode: &'a [u8],
}

/// Reads one table to the end, adding states to `tally` and the local port of every non-LISTEN
/// socket to `ports` (and to the tally's port use when inside its range). Only I/O errors are
/// errors; bad lines are counted.
pub(crate) fn scan_table<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    tally: &mut Tally,
    ports: &mut PortSet,
) -> io::Result<()> {
    for_each_line(reader, buf, |line| {
        match line.map_or(Line::Malformed, parse_line) {
            Line::Skip => {}
            Line::Malformed => tally.malformed = tally.malformed.saturating_add(1),
            Line::Socket(socket) => {
                add(&mut tally.counts, socket.state);
                // A listener holds its port but never takes one from the ephemeral pool.
                if socket.state != TcpState::Listen {
                    ports.insert(socket.local_port);
                    if tally.in_range(socket.local_port) {
                        tally.port_use.add(socket.state, endpoint(socket.remote));
                    }
                }
            }
        }
    })
}

/// A LISTEN socket as the table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Listening {
    pub(crate) addr: SocketAddr,
    /// The uid that opened it: its process most likely still runs as this uid.
    pub(crate) uid: u32,
    /// What `/proc/PID/fd/N` links to as `socket:[inode]`.
    pub(crate) inode: u64,
}

/// Reads one table to the end, appending the LISTEN sockets on any of `ports` to `out` (at most
/// `max` in all; a table of millions of listeners is not one to believe). Bad lines are skipped.
pub(crate) fn scan_listening<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    ports: &[u16],
    max: usize,
    out: &mut Vec<Listening>,
) -> io::Result<()> {
    for_each_line(reader, buf, |line| {
        let Some(Line::Socket(socket)) = line.map(parse_line) else {
            return;
        };
        if socket.state != TcpState::Listen
            || !ports.contains(&socket.local_port)
            || out.len() >= max
        {
            return;
        }
        let number = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<u64>().ok();
        let (Some(addr), Some(uid), Some(inode)) = (
            endpoint(socket.local),
            number(socket.uid).and_then(|u| u32::try_from(u).ok()),
            number(socket.inode),
        ) else {
            return;
        };
        out.push(Listening { addr, uid, inode });
    })
}

/// Calls `each` with every line of `reader` (without checks beyond length), or `None` for a line
/// over [`MAX_LINE`], which is skipped without being buffered.
fn for_each_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(Option<&[u8]>),
) -> io::Result<()> {
    loop {
        buf.clear();
        let n = reader
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', buf)?;
        if n == 0 {
            return Ok(());
        }
        if n == MAX_LINE && buf.last() != Some(&b'\n') {
            each(None);
            skip_rest_of_line(reader)?;
            continue;
        }
        each(Some(buf));
    }
}

fn skip_rest_of_line<R: BufRead>(reader: &mut R) -> io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

fn parse_line(line: &[u8]) -> Line<'_> {
    let mut fields = line
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    let Some(slot) = fields.next() else {
        return Line::Skip;
    };
    if slot == b"sl" {
        return Line::Skip;
    }
    match parse_socket(slot, fields) {
        Some(socket) => Line::Socket(socket),
        None => Line::Malformed,
    }
}

/// `   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 ...`
fn parse_socket<'a>(slot: &[u8], mut fields: impl Iterator<Item = &'a [u8]>) -> Option<Socket<'a>> {
    let slot = slot.strip_suffix(b":")?;
    if slot.is_empty() || !slot.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let local = fields.next()?;
    let local_port = endpoint_port(local)?;
    let remote = fields.next()?;
    endpoint_port(remote)?;
    let state = state_from_hex(fields.next()?)?;
    // Every kernel line has tx:rx, tr:when, retrnsmt, uid, timeout and inode after the state:
    // requiring them all is how a truncated line is told from a whole one.
    let uid = fields.nth(3)?;
    let inode = fields.nth(1)?;
    Some(Socket {
        state,
        local_port,
        local,
        remote,
        uid,
        inode,
    })
}

/// `0100007F:1F90` -> 127.0.0.1:8080. The kernel prints each 32-bit word of the address as a
/// native-endian number, so each word's native bytes are the address bytes in network order on
/// any host. IPv4-mapped IPv6 (a v6 socket talking to a v4 peer) is shown as the IPv4 it is.
fn endpoint(field: &[u8]) -> Option<SocketAddr> {
    let (addr, _) = field.split_at(field.iter().position(|&b| b == b':')?);
    let port = endpoint_port(field)?;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(hex_value(addr.get(i * 8..i * 8 + 8)?)?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Port of `ADDR:PORT` where ADDR is 8 (IPv4) or 32 (IPv6) hex digits and PORT is 4.
fn endpoint_port(field: &[u8]) -> Option<u16> {
    let colon = field.iter().position(|&b| b == b':')?;
    let addr = field.get(..colon)?;
    let port = field.get(colon + 1..)?;
    if !matches!(addr.len(), 8 | 32) || !addr.iter().all(u8::is_ascii_hexdigit) || port.len() != 4 {
        return None;
    }
    u16::try_from(hex_value(port)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21561 1 0000000000000000 100 0 0 10 0                     
   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   110        0 23151 1 0000000000000000 100 0 0 10 0                     
   2: 0A00000F:0050 0B00000A:D431 01 00000000:00000000 02:0000A0E4 00000000    33        0 98765 2 0000000000000000 20 4 30 10 -1                    
   3: 0100007F:8001 0100007F:1F90 01 00000000:00000000 00:00000000 00000000    33        0 98766 1 0000000000000000 20 4 30 10 -1                    
   4: 0100007F:8002 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000                                      
   5: 0100007F:8003 0100007F:1F90 08 00000001:00000000 00:00000000 00000000    33        0 98767 1 0000000000000000 20 4 30 10 -1                    
   6: 0100007F:8004 0100007F:1F91 02 00000001:00000000 01:00000064 00000002    33        0 98768 2 0000000000000000 200 0 0 10 -1                    
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22201 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:8001 00000000000000000000000001000000:1F90 01 00000000:00000000 00:00000000 00000000    33        0 44444 1 0000000000000000 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:9000 0000000000000000FFFF00000100007F:1F90 04 00000000:00000000 00:00000000 00000000    33        0 44445 1 0000000000000000 20 4 30 10 -1
";

    fn scan(tables: &[&[u8]]) -> (TcpStates, PortSet) {
        let (states, ports, _) = scan_range(tables, None);
        (states, ports)
    }

    fn scan_range(tables: &[&[u8]], range: Option<(u16, u16)>) -> (TcpStates, PortSet, PortUse) {
        let mut tally = Tally::new(range);
        let mut ports = PortSet::new();
        let mut buf = Vec::new();
        for table in tables {
            let mut reader = io::BufReader::new(*table);
            scan_table(&mut reader, &mut buf, &mut tally, &mut ports).expect("in-memory read");
        }
        let (states, port_use) = tally.into_parts();
        (states, ports, port_use)
    }

    #[test]
    fn port_use_counts_range_holders_by_state_and_remote() {
        let (_, _, port_use) =
            scan_range(&[TCP.as_bytes(), TCP6.as_bytes()], Some((0x8000, 0x9000)));
        let (states, remotes) = port_use.into_parts();
        // 0x8001..0x8004 in tcp, 0x8001 and 0x9000 in tcp6; listeners and :80 are out.
        assert_eq!(
            states,
            [
                (TcpState::Established, 2),
                (TcpState::SynSent, 1),
                (TcpState::FinWait1, 1),
                (TcpState::TimeWait, 1),
                (TcpState::CloseWait, 1),
            ]
            .into()
        );
        let v4: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let v6: SocketAddr = "[::1]:8080".parse().expect("addr");
        let v4_8081: SocketAddr = "127.0.0.1:8081".parse().expect("addr");
        // ::ffff:127.0.0.1 is counted as 127.0.0.1.
        assert_eq!(remotes, vec![(v4, 4), (v4_8081, 1), (v6, 1)]);
        // No range known: nothing is attributed.
        let (_, _, none) = scan_range(&[TCP.as_bytes()], None);
        assert_eq!(none.into_parts(), (Default::default(), vec![]));
    }

    #[test]
    fn endpoints_decode_v4_v6_and_mapped() {
        let host = |b: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(b));
        let v4 = format!("{}:1F90", host([10, 0, 0, 5]));
        assert_eq!(endpoint(v4.as_bytes()), "10.0.0.5:8080".parse().ok());
        let v6 = format!(
            "{}{}{}{}:01BB",
            host([0x20, 0x01, 0x0d, 0xb8]),
            host([0; 4]),
            host([0; 4]),
            host([0, 0, 0, 5])
        );
        assert_eq!(endpoint(v6.as_bytes()), "[2001:db8::5]:443".parse().ok());
        let mapped = format!(
            "{}{}{}{}:0050",
            host([0; 4]),
            host([0; 4]),
            host([0, 0, 0xff, 0xff]),
            host([192, 0, 2, 1])
        );
        assert_eq!(endpoint(mapped.as_bytes()), "192.0.2.1:80".parse().ok());
        for bad in [
            &b""[..],
            b"0100007F",
            b"0100007G:1F90",
            b"0100007F:1F9",
            b"01007F:1F90",
        ] {
            assert_eq!(endpoint(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn remotes_are_capped_and_the_rest_counted_as_other() {
        let mut table = String::new();
        let n = MAX_REMOTES + 500;
        for i in 0..n {
            // Distinct remotes 10.x.y.z:80, every one from local port 0x8001.
            let ip = u32::from_ne_bytes((0x0A00_0000u32 + i as u32).to_be_bytes());
            table.push_str(&format!(
                "{i}: 0100007F:8001 {ip:08X}:0050 06 0 0 0 0 0 0 0\n"
            ));
        }
        // One remote seen late but often still counts once it is in the map.
        for i in 0..10 {
            table.push_str(&format!(
                "{}: 0100007F:8002 0100007F:1F90 01 0 0 0 0 0 0 0\n",
                n + i
            ));
        }
        let (_, ports, port_use) = scan_range(&[table.as_bytes()], Some((0x8000, 0x8FFF)));
        assert_eq!(ports.count_in(0x8000, 0x8FFF), 2);
        assert!(port_use.remotes.len() <= MAX_REMOTES);
        assert_eq!(port_use.other_remotes, 510);
        let (states, top) = port_use.into_parts();
        assert_eq!(states.get(&TcpState::TimeWait), Some(&(n as u32)));
        assert_eq!(states.get(&TcpState::Established), Some(&10));
        assert_eq!(top.len(), TOP_REMOTES);
    }

    #[test]
    fn counts_states_in_tcp_and_tcp6() {
        let (states, _) = scan(&[TCP.as_bytes(), TCP6.as_bytes()]);
        assert_eq!(states.malformed_lines, 0);
        assert_eq!(states.get(TcpState::Listen), 3);
        assert_eq!(states.get(TcpState::Established), 3);
        assert_eq!(states.get(TcpState::TimeWait), 1);
        assert_eq!(states.get(TcpState::CloseWait), 1);
        assert_eq!(states.get(TcpState::SynSent), 1);
        assert_eq!(states.get(TcpState::FinWait1), 1);
        assert_eq!(states.get(TcpState::LastAck), 0);
        assert!(!states.counts.contains_key(&TcpState::LastAck));
        assert_eq!(states.total(), 10);
    }

    #[test]
    fn header_only_tables_are_empty_not_malformed() {
        let header = TCP.lines().next().expect("fixture has a header");
        let (states, _) = scan(&[header.as_bytes(), b"", b"\n\n"]);
        assert_eq!(states, TcpStates::default());
    }

    #[test]
    fn malformed_truncated_and_garbage_lines_are_counted_not_fatal() {
        let mut table = Vec::new();
        table.extend_from_slice(TCP.as_bytes());
        // Truncated after the state, and in the middle of the remote address.
        table.extend_from_slice(b"   7: 0100007F:8005 0100007F:1F90 01\n");
        table.extend_from_slice(b"   8: 0100007F:8006 0100007F:1F\n");
        // Garbage bytes, invalid UTF-8, NUL and escape sequences.
        table.extend_from_slice(b"\xff\xfe\x00\x1b[2J garbage \xc3\x28\n");
        // Unknown state (13 = TCP_BOUND_INACTIVE is never printed), non-hex state, bad slot.
        table.extend_from_slice(b"   9: 0100007F:8007 0100007F:1F90 0D 00000000:00000000 00:00000000 00000000 0 0 1 1\n");
        table.extend_from_slice(b"  10: 0100007F:8008 0100007F:1F90 ZZ 00000000:00000000 00:00000000 00000000 0 0 1 1\n");
        table.extend_from_slice(b"  xx: 0100007F:8009 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n");
        // Address of the wrong length, port of the wrong length, missing colon in slot.
        table.extend_from_slice(
            b"  11: 0100007:8009 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n",
        );
        table.extend_from_slice(b"  12: 0100007F:80091 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n");
        table.extend_from_slice(
            b"  13 0100007F:800A 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n",
        );
        // An overlong line is skipped without buffering it, and the next line still counts.
        table.extend_from_slice(&vec![b'7'; MAX_LINE * 3]);
        table.push(b'\n');
        // Last line with no trailing newline is still whole.
        table.extend_from_slice(
            b"  14: 0100007F:800B 0100007F:1F90 0B 00000000:00000000 00:00000000 00000000 0 0 1 1",
        );

        let (states, ports) = scan(&[&table]);
        assert_eq!(states.malformed_lines, 10);
        assert_eq!(states.get(TcpState::Established), 2);
        assert_eq!(states.get(TcpState::Closing), 1);
        assert_eq!(states.total(), 8);
        assert!(ports.contains(0x800B));
        assert!(!ports.contains(0x8005));
    }

    #[test]
    fn line_of_exactly_max_length_is_kept() {
        let line =
            b"  14: 0100007F:800B 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 1 1";
        let mut exact = line.to_vec();
        exact.resize(MAX_LINE - 1, b' ');
        exact.push(b'\n');
        assert_eq!(exact.len(), MAX_LINE);
        let (states, _) = scan(&[&exact]);
        assert_eq!(states.get(TcpState::Established), 1);
        assert_eq!(states.malformed_lines, 0);
    }

    #[test]
    fn ports_are_non_listen_local_ports_counted_once() {
        let (_, ports) = scan(&[TCP.as_bytes(), TCP6.as_bytes()]);
        // LISTEN on 80, 3306 and 443 are not counted; nor are remote ports (8080 = 0x1F90).
        // ...but an accepted connection on :80 is a non-LISTEN socket whose local port is 80.
        assert!(ports.contains(80));
        assert!(!ports.contains(0x0CEA));
        assert!(!ports.contains(443));
        assert!(!ports.contains(0x1F90));
        // 0x8001 is used by both a v4 and a v6 socket: one port.
        assert_eq!(ports.count_in(0x8000, 0x8FFF), 4);
        assert_eq!(ports.count_in(0x8001, 0x8001), 1);
        // Only inside the range, bounds included.
        assert_eq!(ports.count_in(0x8002, 0x8004), 3);
        assert_eq!(ports.count_in(0x8005, 0x8FFF), 0);
        assert_eq!(ports.count_in(0x9000, 0x9000), 1);
        assert_eq!(ports.count_in(32768, 60999), 5);
    }

    #[test]
    fn listening_sockets_on_wanted_ports_with_uid_and_inode() {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for table in [TCP, TCP6] {
            let mut reader = io::BufReader::new(table.as_bytes());
            scan_listening(
                &mut reader,
                &mut buf,
                &[80, 3306, 443, 0x8001],
                10,
                &mut out,
            )
            .expect("in-memory read");
        }
        let got: Vec<(String, u32, u64)> = out
            .iter()
            .map(|l| (l.addr.to_string(), l.uid, l.inode))
            .collect();
        // 0x8001 is established, not listening; 80 has an accepted connection too, not listed.
        assert_eq!(
            got,
            [
                ("0.0.0.0:80".to_string(), 0, 21561),
                ("127.0.0.1:3306".to_string(), 110, 23151),
                ("[::]:443".to_string(), 0, 22201),
            ]
        );
        // The cap holds, and garbage is skipped.
        let mut capped = Vec::new();
        let table = format!("{TCP}\u{fffd}\x1b garbage\n{TCP}");
        let mut reader = io::BufReader::new(table.as_bytes());
        scan_listening(&mut reader, &mut buf, &[80, 3306], 3, &mut capped).expect("read");
        assert_eq!(capped.len(), 3);
    }

    #[test]
    fn port_set_handles_the_extremes() {
        let mut ports = PortSet::new();
        ports.insert(0);
        ports.insert(65535);
        ports.insert(65535);
        assert_eq!(ports.count_in(0, 65535), 2);
        assert_eq!(ports.count_in(1, 65534), 0);
        ports.clear();
        assert_eq!(ports.count_in(0, 65535), 0);
    }
}
