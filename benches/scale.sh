#!/usr/bin/env bash
# gatewatch with N upstreams (10,000 by default), all on loopback: `check` and the dashboard.
#
# One config file holds N [[upstream]] entries (http://127.0.0.1:PORT/u/INDEX). A small python3
# server owns every port they point at and logs each request it gets, by path, so the server side
# tells how often each answering upstream was probed. The mix, in index order (so by name u00000..):
#   refuse  a port held bound but not listening: the connect is refused at once (most of them)
#   hang    accepts and never answers: the probe waits for its timeout
#   bad     answers 502
#   ok      answers 200 (the highest indices, so u{N-1} is the last row of the sorted table)
# Proxy discovery is hermetic (empty --nginx-conf, --haproxy-conf, --apache-conf, --caddy-conf).
#
# Measured in one run:
#   check_wall_s, check_cpu_s, check_rss_kb   `check --json` under /usr/bin/time
#   check_probed                               upstreams the JSON reports with a probe result
#   check_not_probed                           upstreams it reports as not probed (with a reason)
#   ui_main_cpu_pct    the dashboard's main thread (the UI: /proc/PID/task/PID/stat), % of a core
#   proc_cpu_pct       the whole dashboard process, % of a core
#   max_sockets        most sockets the dashboard held open at once (fds sampled every 100 ms)
#   probed_per_interval_pct  of the answering upstreams (ok, bad), the share whose every gap
#                      between probes in the window (window edges included) was at most
#                      interval * (1 + 10% jitter) + 0.5 s, as the server saw them
#   key_to_frame_ms    median time from a keystroke in the Upstreams pane (Enter, Esc: open and
#                      close a row's detail; z, z: zoom the pane and back) to the screen showing
#                      its effect, polled with tmux capture-pane; and the max (key_to_frame_max_ms)
#   key_to_frame_filter_ms  the same for the Upstreams pane's filter: /, then each character of
#                      FILTER typed live, then Esc (the border shows "filter: TEXT" as typed, and
#                      the filter is gone after Esc); key_to_frame_filter_max_ms
#   key_to_frame_sort_ms    the same for s, which cycles the pane's sort (the border names it);
#                      key_to_frame_sort_max_ms. Both "na" with FILTER_KEYS=0 (a binary without them)
#   ui_peak_rss_kb     the dashboard's peak RSS (VmHWM in /proc/PID/status) when it quits
#
# Usage: benches/scale.sh [--upstreams N] [--duration SECS] [--bin PATH]
# Environment: UPSTREAMS (10000), OK (400), BAD (400), HANG (40), INTERVAL (2, seconds: the default),
#              TIMEOUT (2, seconds), DURATION (20), SETTLE (5), SIZE (200x50), KEYS (5 rounds),
#              FILTER_KEYS (rounds of the filter and sort keys, KEYS), FILTER (u0999),
#              GATEWATCH_BIN (skip the build and use this binary).
set -euo pipefail

prog=scale.sh
die() {
  echo "$prog: error: $*" >&2
  exit 2
}
say() { echo "$prog: $*" >&2; }

UPSTREAMS=${UPSTREAMS:-10000}
OK=${OK:-400}
BAD=${BAD:-400}
HANG=${HANG:-40}
INTERVAL=${INTERVAL:-2}
TIMEOUT=${TIMEOUT:-2}
DURATION=${DURATION:-20}
SETTLE=${SETTLE:-5}
SIZE=${SIZE:-200x50}
KEYS=${KEYS:-5}
FILTER_KEYS=${FILTER_KEYS:-$KEYS}
FILTER=${FILTER:-u0999}
BIN=${GATEWATCH_BIN:-}

while (($#)); do
  case $1 in
  --upstreams) UPSTREAMS=${2:?--upstreams needs a value}; shift 2 ;;
  --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
  --bin) BIN=${2:?--bin needs a value}; shift 2 ;;
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
  esac
done
for v in UPSTREAMS OK BAD HANG INTERVAL TIMEOUT DURATION SETTLE KEYS FILTER_KEYS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((OK + BAD + HANG <= UPSTREAMS)) || die "OK+BAD+HANG ($((OK + BAD + HANG))) exceeds UPSTREAMS"
[[ $FILTER =~ ^[a-z0-9]+$ ]] || die "FILTER must be lowercase letters and digits, got '$FILTER'"
((OK > 0 && INTERVAL > 0 && DURATION > 0)) || die "OK, INTERVAL and DURATION must be positive"
[[ $SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || die "SIZE must look like 200x50, got '$SIZE'"
COLS=${BASH_REMATCH[1]}
ROWS=${BASH_REMATCH[2]}

for tool in tmux python3 awk /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (apt-get install tmux python3 time)"
done
CLK_TCK=$(getconf CLK_TCK)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "$BIN" ]; then
  say "building: cargo build --release --locked --bin gatewatch"
  (cd "$root" && cargo build --release --locked --bin gatewatch) || die "release build failed"
  BIN=$root/target/release/gatewatch
fi
[ -x "$BIN" ] || die "'$BIN' is not an executable file"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatewatch-scale.XXXXXX")
sock=$tmp/tmux.sock
server_pid=""
cleanup() {
  if [ -S "$sock" ]; then tmux -S "$sock" kill-server >/dev/null 2>&1 || true; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The loopback server: three listeners and one port held bound without listening.
cat >"$tmp/server.py" <<'EOF'
import asyncio, socket, sys, time

log = open(sys.argv[1], "w", buffering=1)

async def serve(reader, writer, status):
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except Exception:
        writer.close()
        return
    path = head.split(b" ", 2)[1].decode("ascii", "replace")
    log.write(f"{time.time():.3f} {path}\n")
    if status is None:  # hang: hold the connection until the client gives up
        try:
            await reader.read()
        except Exception:
            pass
        writer.close()
        return
    body = b"ok\n" if status == 200 else b"<html><body>502 Bad Gateway</body></html>\n"
    reason = b"OK" if status == 200 else b"Bad Gateway"
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                 % (status, reason, len(body)) + body)
    try:
        await writer.drain()
    except Exception:
        pass
    writer.close()

async def main():
    held = socket.socket()  # bound, never listening: connects to it are refused
    held.bind(("127.0.0.1", 0))
    ports = [held.getsockname()[1]]
    servers = []
    for status in (None, 502, 200):
        s = await asyncio.start_server(lambda r, w, st=status: serve(r, w, st), "127.0.0.1", 0,
                                       backlog=1024)
        servers.append(s)
        ports.append(s.sockets[0].getsockname()[1])
    print(" ".join(map(str, ports)), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
EOF
mkfifo "$tmp/ports.fifo"
python3 "$tmp/server.py" "$tmp/requests.log" >"$tmp/ports.fifo" &
server_pid=$!
read -r p_refuse p_hang p_bad p_ok <"$tmp/ports.fifo" || die "the loopback server did not start"
say "server: refuse :$p_refuse, hang :$p_hang, 502 :$p_bad, 200 :$p_ok"

# ---------------------------------------------------------------------------------------------
# The config: N upstreams, refusing first, answering ones last.
refuse=$((UPSTREAMS - OK - BAD - HANG))
awk -v n="$UPSTREAMS" -v r="$refuse" -v h="$HANG" -v b="$BAD" -v iv="$INTERVAL" -v to="$TIMEOUT" \
  -v pr="$p_refuse" -v ph="$p_hang" -v pb="$p_bad" -v po="$p_ok" 'BEGIN {
  print "refresh = \"2s\"\n[dns]\nnames = []\n"
  for (i = 0; i < n; i++) {
    port = i < r ? pr : i < r + h ? ph : i < r + h + b ? pb : po
    printf "[[upstream]]\nname = \"u%05d\"\nurl = \"http://127.0.0.1:%d/u/%05d\"\n", i, port, i
    printf "timeout = \"%ds\"\ninterval = \"%ds\"\n\n", to, iv
  }
}' >"$tmp/config.toml"
: >"$tmp/empty.conf"
mkdir -p "$tmp/home/.config" "$tmp/home/.local/state"
args=(--config "$tmp/config.toml" --nginx-conf "$tmp/empty.conf" --haproxy-conf "$tmp/empty.conf"
  --apache-conf "$tmp/empty.conf" --caddy-conf "$tmp/empty.conf" --log-file "$tmp/gatewatch.log")
genv=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
  HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_STATE_HOME="$tmp/home/.local/state")
say "$UPSTREAMS upstreams: $refuse refuse, $HANG hang, $BAD answer 502, $OK answer 200;" \
  "interval ${INTERVAL}s, timeout ${TIMEOUT}s; ulimit -n $(ulimit -n)"

# ---------------------------------------------------------------------------------------------
# check --json.
say "check --json"
set +e
"${genv[@]}" /usr/bin/time -f "%e %U %S %M" -o "$tmp/check.time" "$BIN" "${args[@]}" check --json \
  >"$tmp/check.json" 2>"$tmp/check.err"
check_rc=$?
set -e
((check_rc <= 3)) || die "check failed (exit $check_rc): $(tail -5 "$tmp/check.err")"
# A non-zero exit adds a line before the figures.
read -r c_wall c_user c_sys c_rss < <(tail -n 1 "$tmp/check.time") || die "no /usr/bin/time output"
read -r c_probed c_not_probed c_listed < <(python3 - "$tmp/check.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
ups = r["upstreams"]
probed = sum(1 for u in ups if u["outcome"] not in ("unknown", "not_probed"))
not_probed = sum(1 for u in ups if u["outcome"] == "not_probed")
print(probed, not_probed, len(ups))
EOF
)
c_cpu=$(awk -v u="$c_user" -v s="$c_sys" 'BEGIN { printf "%.2f", u + s }')
say "check: ${c_wall}s wall, ${c_cpu}s cpu, ${c_rss} kB peak; $c_probed probed," \
  "$c_not_probed not probed, $c_listed listed (exit $check_rc)"

# ---------------------------------------------------------------------------------------------
# The dashboard in tmux.
cat >"$tmp/tmux.conf" <<EOF
set -g status off
set -g remain-on-exit on
set -g default-shell /bin/sh
set -g default-size ${COLS}x${ROWS}
set -g history-limit 0
EOF
T() { tmux -S "$sock" -f "$tmp/tmux.conf" "$@"; }
printf -v line '%q ' "${genv[@]}" TERM=tmux-256color "$BIN" "${args[@]}"
T new-session -d -s gw -x "$COLS" -y "$ROWS" "exec $line" || die "tmux new-session failed"
gw_pid=$(T display-message -p -t gw '#{pane_pid}')
BIN=$(readlink -f "$BIN")
for _ in $(seq 50); do # env execs gatewatch
  [ "$(readlink "/proc/$gw_pid/exe" 2>/dev/null)" = "$BIN" ] && break
  sleep 0.1
done
[ "$(readlink "/proc/$gw_pid/exe" 2>/dev/null)" = "$BIN" ] || die "no $BIN under tmux"
screen() { T capture-pane -p -t gw; }
shows() { # TEXT: on screen now (no grep -q in a pipe: pipefail would see its SIGPIPE)
  local s
  s=$(screen)
  [[ $s == *"$1"* ]]
}
for _ in $(seq 100); do shows u0 && break; sleep 0.1; done
say "settling ${SETTLE}s"
sleep "$SETTLE"

ticks() { # utime+stime of /proc/$1/task/$2
  local s
  s=$(<"/proc/$1/task/$2/stat") || return 1
  s=${s##*) }
  read -r -a f <<<"$s"
  echo $((f[11] + f[12]))
}
sockets() { # fds come and go while find reads them: a vanished one is no error
  { find "/proc/$1/fd" -maxdepth 1 -lname 'socket:*' 2>/dev/null || true; } | wc -l
}

t0=$(date +%s.%N)
m0=$(ticks "$gw_pid" "$gw_pid")
p0=$(awk '{ print $14 + $15 }' "/proc/$gw_pid/stat")
max_sockets=0
end=$((SECONDS + DURATION))
say "measuring ${DURATION}s"
while ((SECONDS < end)); do
  n=$(sockets "$gw_pid")
  ((n > max_sockets)) && max_sockets=$n
  sleep 0.1
done
t1=$(date +%s.%N)
m1=$(ticks "$gw_pid" "$gw_pid") || die "gatewatch exited during the window: $(screen)"
p1=$(awk '{ print $14 + $15 }' "/proc/$gw_pid/stat")
threads=$(for t in /proc/"$gw_pid"/task/*; do
  printf '%s=%s ' "$(cat "$t/comm")" "$(ticks "$gw_pid" "${t##*/}")"
done)
read -r ui_cpu proc_cpu < <(awk -v m0="$m0" -v m1="$m1" -v p0="$p0" -v p1="$p1" -v t0="$t0" \
  -v t1="$t1" -v hz="$CLK_TCK" 'BEGIN {
  w = t1 - t0; printf "%.1f %.1f\n", (m1 - m0) / hz / w * 100, (p1 - p0) / hz / w * 100 }')
say "threads (cpu ticks since start): $threads"

# Every answering upstream once per interval, as the server saw it.
read -r per_interval seen_rate < <(python3 - "$tmp/requests.log" "$t0" "$t1" "$INTERVAL" \
  "$((UPSTREAMS - OK - BAD))" "$UPSTREAMS" <<'EOF'
import sys
from collections import defaultdict
log, t0, t1, interval, first, n = sys.argv[1], *map(float, sys.argv[2:5]), *map(int, sys.argv[5:7])
seen = defaultdict(list)
total = 0
for line in open(log):
    t, path = line.split()
    t = float(t)
    if t0 <= t <= t1 and path.startswith("/u/"):
        seen[int(path[3:])].append(t)
        total += 1
limit = interval * 1.1 + 0.5
good = 0
for i in range(first, n):
    times = [t0] + sorted(seen.get(i, [])) + [t1]
    if max(b - a for a, b in zip(times, times[1:])) <= limit:
        good += 1
print(f"{100 * good / (n - first):.1f}", f"{total / (t1 - t0):.0f}")
EOF
)

# Key to frame, on marks that probe results cannot fake: Enter opens the cursor row's detail
# ("every 5s, timeout 2s" shows), Esc closes it, z zooms the pane (the Host pane's title goes) and
# z again brings the other panes back. Each wait gives up after 10 s (counted as 10000 ms).
T send-keys -t gw 2 # focus the Upstreams pane
sleep 0.5
mark="every ${INTERVAL}s, timeout"
lat=()
wait_for() { # KEY TEXT present|absent -> ms until TEXT is (or is no longer) on screen after KEY
  local key=$1 text=$2 want=$3 s e
  s=$(date +%s%N)
  T send-keys -t gw "$key"
  while (($(date +%s%N) - s < 10000000000)); do
    if { [ "$want" = present ] && shows "$text"; } || { [ "$want" = absent ] && ! shows "$text"; }
    then
      e=$(date +%s%N)
      echo $(((e - s) / 1000000))
      return 0
    fi
  done
  echo 10000
}
for _ in $(seq "$KEYS"); do
  lat+=("$(wait_for Enter "$mark" present)")
  sleep 0.3
  lat+=("$(wait_for Escape "$mark" absent)")
  sleep 0.3
  lat+=("$(wait_for z "1 Host" absent)")
  sleep 0.3
  lat+=("$(wait_for z "1 Host" present)")
  sleep 0.3
done
median_max() { # ms... -> "median max", or "na na" for none
  if (($# == 0)); then echo "na na"; return; fi
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { printf "%d %d\n", a[int((NR + 1) / 2)], a[NR] }'
}
read -r key_p50 key_max < <(median_max "${lat[@]}")
say "key to frame (ms): ${lat[*]}"

# The filter, typed live: each character until the border shows what was typed so far (every
# keystroke narrows 10,000 rows again), then Esc until no filter shows. Then s through the sorts,
# each until the border names the next one, back to the default (state).
flat=()
slat=()
for _ in $(seq "$FILTER_KEYS"); do
  flat+=("$(wait_for / "filter: " present)")
  typed=""
  for ((i = 0; i < ${#FILTER}; i++)); do
    c=${FILTER:i:1}
    typed+=$c
    flat+=("$(wait_for "$c" "filter: $typed" present)")
  done
  flat+=("$(wait_for Escape "filter: " absent)")
  sleep 0.3
  for next in name latency failures state; do
    slat+=("$(wait_for s "sort: $next" present)")
    sleep 0.3
  done
done
read -r filter_p50 filter_max < <(median_max "${flat[@]}")
read -r sort_p50 sort_max < <(median_max "${slat[@]}")
((FILTER_KEYS == 0)) || say "filter key to frame (ms): ${flat[*]}; sort: ${slat[*]}"
rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$gw_pid/status" 2>/dev/null) || true
T send-keys -t gw q
for _ in $(seq 50); do [ -d "/proc/$gw_pid" ] || break; sleep 0.1; done

echo "RESULT scale upstreams=$UPSTREAMS check_wall_s=$c_wall check_cpu_s=$c_cpu" \
  "check_rss_kb=$c_rss check_probed=$c_probed check_not_probed=$c_not_probed" \
  "ui_main_cpu_pct=$ui_cpu proc_cpu_pct=$proc_cpu max_sockets=$max_sockets" \
  "probed_per_interval_pct=$per_interval server_req_per_s=$seen_rate" \
  "key_to_frame_ms=$key_p50 key_to_frame_max_ms=$key_max" \
  "key_to_frame_filter_ms=$filter_p50 key_to_frame_filter_max_ms=$filter_max" \
  "key_to_frame_sort_ms=$sort_p50 key_to_frame_sort_max_ms=$sort_max ui_peak_rss_kb=${rss_kb:-na}"
