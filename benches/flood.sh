#!/usr/bin/env bash
# Whole-process cost of a log flood, side by side: the real dashboard follows a log (Logs pane,
# zoomed) in a tmux window while `tail -F` follows the same file, LINES lines are appended over
# SECONDS_SPAN seconds, then `grep -c` reads the same bytes. Prints the CPU seconds (utime+stime)
# gatewatch and `tail -F` spent during the flood, grep's time, gatewatch's CPU over grep's
# (`ratio_to_grep`), gatewatch's peak RSS, and `last_line_lag_s`: from the end of the writes to
# the moment the flood's last line (it carries a marker of its own) shows in the tmux pane.
#
# KIND=error appends nginx "connect() failed (111)" lines; KIND=access appends combined-format
# lines with the upstream address, 1 in 100 a 502.
#
# Usage: benches/flood.sh [--bin PATH]
# Environment: KIND (error), LINES (1000000), SECONDS_SPAN (5), GATEWATCH_BIN (skip the build)
# Needs tmux, python3 (the writer) and GNU time; exits 2 saying which is missing.
set -euo pipefail

prog=flood.sh
die() {
  echo "$prog: error: $*" >&2
  exit 2
}
KIND=${KIND:-error}
LINES=${LINES:-1000000}
SPAN=${SECONDS_SPAN:-5}
BIN=${GATEWATCH_BIN:-}
[ "${1:-}" = --bin ] && BIN=${2:?--bin needs a path}
case $KIND in error | access) ;; *) die "KIND must be error or access, got '$KIND'" ;; esac
for tool in tmux python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (apt-get install -y tmux python3 time)"
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$BIN" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
  BIN="$root/target/release/gatewatch"
fi

work=$(mktemp -d)
sock="gw-flood-$$"
tail_pid=""
cleanup() {
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
: >"$work/empty.conf"
: >"$work/x.log"
printf '[[log]]\npath = "%s"\nkind = "%s"\n' "$work/x.log" "$KIND" >"$work/gw.toml"

tmux -L "$sock" new-session -d -s gw -x 120 -y 40 \
  "'$BIN' --config '$work/gw.toml' --nginx-conf '$work/empty.conf' --haproxy-conf '$work/empty.conf' --apache-conf '$work/empty.conf' --caddy-conf '$work/empty.conf'"
sleep 2
pid=$(tmux -L "$sock" list-panes -t gw -F '#{pane_pid}')
# The pane's shell may run gatewatch as its child rather than exec it.
child=$(pgrep -P "$pid" -x gatewatch || true)
[ -n "$child" ] && pid=$child
[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = gatewatch ] || die "gatewatch did not start"
tail -F "$work/x.log" >/dev/null 2>&1 &
tail_pid=$!
tmux -L "$sock" send-keys -t gw 4
sleep 0.3
tmux -L "$sock" send-keys -t gw z
sleep 1

tick=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
g0=$(cpu "$pid")
t0=$(cpu "$tail_pid")
# The last line carries MARKER where its connection number or client address would be; the
# writer prints the time its last write ended.
marker=987654321
[ "$KIND" = access ] && marker=10.98.76.54
end=$(python3 - "$work/x.log" "$KIND" "$LINES" "$SPAN" "$marker" <<'PY'
import sys, time
path, kind, n, span = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
marker = sys.argv[5]
chunk = 10_000
start = time.time()
with open(path, "a") as f:
    for i in range(0, n, chunk):
        if kind == "error":
            ts = time.strftime("%Y/%m/%d %H:%M:%S")
            line = (f"{ts} [error] 1234#1234: *{i} connect() failed (111: Connection refused) while "
                    "connecting to upstream, client: 127.0.0.1, server: _, request: \"GET / HTTP/1.1\", "
                    "upstream: \"http://127.0.0.1:8080/\", host: \"localhost\"\n")
            block = line * chunk
        else:
            ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            ok = f'127.0.0.1 - - [{ts}] "GET /cart HTTP/1.1" 200 612 "-" "curl/8.0" "127.0.0.1:8080"\n'
            bad = ok.replace(" 200 612 ", " 502 157 ")
            block = (ok * 99 + bad) * (chunk // 100)
        if i + chunk >= n:
            last = block.rindex("\n", 0, len(block) - 1) + 1
            old = f"*{i} " if kind == "error" else "127.0.0.1 - - "
            new = f"*{marker} " if kind == "error" else f"{marker} - - "
            block = block[:last] + block[last:].replace(old, new, 1)
        f.write(block)
        f.flush()
        pause = start + span * (i + chunk) / n - time.time()
        if pause > 0:
            time.sleep(pause)
print(f"{time.time():.3f}")
PY
)
# Polls the pane for the marker for at most 10 s.
lag=none
for _ in $(seq 500); do
  if tmux -L "$sock" capture-pane -p -t gw | grep -qF "$marker"; then
    lag=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$end")
    break
  fi
  sleep 0.02
done
sleep 3
g1=$(cpu "$pid")
t1=$(cpu "$tail_pid")
rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
pattern=refused
[ "$KIND" = access ] && pattern='" 502 '
# CPU time is sampled by the tick, which a fast grep can slip between: its wall time is the
# figure to compare (it runs alone, on cached bytes). Not to /dev/null: GNU grep then stops at the
# first match.
/usr/bin/time -o "$work/grep.time" -f "%e" grep -c "$pattern" "$work/x.log" >"$work/grep.out" || true
secs() { echo "$1 $tick" | awk '{printf "%.2f", $1 / $2}'; }
grep_s=$(cat "$work/grep.time")
ratio=$(awk -v g="$((g1 - g0))" -v t="$tick" -v r="$grep_s" 'BEGIN { printf "%.1f", (r > 0 ? g / t / r : 0) }')
echo "RESULT flood kind=$KIND lines=$LINES bytes=$(stat -c %s "$work/x.log") \
gatewatch_cpu_s=$(secs $((g1 - g0))) tail_F_cpu_s=$(secs $((t1 - t0))) \
grep_c_wall_s=$grep_s ratio_to_grep=$ratio last_line_lag_s=$lag gatewatch_peak_rss_kb=$rss"
