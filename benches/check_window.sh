#!/usr/bin/env bash
# What `gatewatch check` costs to count the whole window of a busy error log, side by side with
# `grep -c` over the same bytes: LINES nginx error lines, timestamps spread evenly over the last
# 5 minutes (all inside check's 10-minute window), most of them "connect() failed (111:
# Connection refused)", some timeouts, resets and notices (which never say "refused"). The run is
# hermetic: empty proxy configs, and a --config naming only that log.
#
# Each of REPEAT runs measures `gatewatch check --json` and `grep -c refused` one after the
# other (CPU = utime + stime from the kernel's rusage, in microseconds; peak RSS), checks that the
# refused count gatewatch reports is the number of refused lines written, and the final RESULT
# line gives the median run. `gatewatch_empty_cpu_s` is check on an empty log: the part of the
# cost that is not the log (discovery, host sample, DNS, firewall tools).
#
# Usage: benches/check_window.sh [--bin PATH]
# Environment: LINES (1000000), REPEAT (3), GATEWATCH_BIN (skip the build)
# Needs python3 and grep; exits 2 saying which is missing, 1 when the count is wrong.
set -euo pipefail

prog=check_window.sh
die() {
  echo "$prog: error: $*" >&2
  exit 2
}
LINES=${LINES:-1000000}
REPEAT=${REPEAT:-3}
BIN=${GATEWATCH_BIN:-}
[ "${1:-}" = --bin ] && BIN=${2:?--bin needs a path}
for tool in python3 grep; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (apt-get install -y python3 grep)"
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$BIN" ]; then
  (cd "$root" && cargo build --release --locked --quiet --bin gatewatch)
  BIN="$root/target/release/gatewatch"
fi
[ -x "$BIN" ] || die "no gatewatch binary at $BIN"

work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
: >"$work/empty.conf"
: >"$work/empty.log"
conf() { printf '[[log]]\npath = "%s"\nkind = "error"\n' "$1" >"$2"; }
conf "$work/error.log" "$work/gw.toml"
conf "$work/empty.log" "$work/gw-empty.toml"

# The log, in local time as nginx writes it; prints how many refused lines it holds.
refused=$(python3 - "$work/error.log" "$LINES" <<'PY'
import sys, time
path, n = sys.argv[1], int(sys.argv[2])
now = int(time.time())
start = now - 300
client = 'client: 10.1.{}.{}, server: shop.example, request: "GET /api/items/{} HTTP/1.1"'
refused = ('{ts} [error] {pid}#{pid}: *{conn} connect() failed (111: Connection refused) while '
           'connecting to upstream, {client}, upstream: "http://127.0.0.1:8080/api/items/{item}", '
           'host: "shop.example"\n')
timeout = ('{ts} [error] {pid}#{pid}: *{conn} upstream timed out (110: Connection timed out) while '
           'reading response header from upstream, {client}, upstream: "http://10.0.0.7:8080/api/items/{item}", '
           'host: "shop.example"\n')
reset = ('{ts} [error] {pid}#{pid}: *{conn} recv() failed (104: Connection reset by peer) while '
         'reading response header from upstream, {client}, upstream: "http://10.0.0.8:8080/api/items/{item}", '
         'host: "shop.example"\n')
notice = '{ts} [notice] {pid}#{pid}: signal process started\n'
count = 0
per_second = max(1, n // 300)
with open(path, "w") as f:
    out = []
    for i in range(n):
        second = start + min(299, i // per_second)
        if i % per_second == 0:
            ts = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(second))
        pid = 2100 + i % 4
        c = client.format((i >> 8) & 255, i & 255, i % 997)
        r = i % 100
        if r < 96:
            tpl = refused
            count += 1
        elif r < 98:
            tpl = timeout
        elif r < 99:
            tpl = reset
        else:
            tpl = notice
        out.append(tpl.format(ts=ts, pid=pid, conn=i + 1, client=c, item=i % 997))
        if len(out) == 10000:
            f.write("".join(out))
            out = []
    f.write("".join(out))
print(count)
PY
)
bytes=$(stat -c %s "$work/error.log")

# Runs a command with its output to a file; prints "wall_s cpu_s maxrss_kb" from the kernel's
# rusage of that child alone.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
out = open(sys.argv[1], "wb")
t0 = time.monotonic()
subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f} {ru.ru_maxrss}")
PY
}
gw() {
  measure "$1" "$BIN" --config "$2" --nginx-conf "$work/empty.conf" \
    --haproxy-conf "$work/empty.conf" --apache-conf "$work/empty.conf" --caddy-conf "$work/empty.conf" \
    check --json
}
# Reads the JSON check printed; prints the refused count and covered_seconds of its one log.
counted() {
  python3 -c '
import json, sys
log = json.load(open(sys.argv[1]))["logs"][0]
print(log["causes"].get("refused", 0), log.get("covered_seconds"), log.get("error"))' "$1"
}

# Warm the page cache so neither tool pays for the disk.
cat "$work/error.log" >/dev/null
read -r _ empty_cpu _ < <(gw "$work/empty.json" "$work/gw-empty.toml")
runs=()
for i in $(seq "$REPEAT"); do
  read -r gw_wall gw_cpu gw_rss < <(gw "$work/check.json" "$work/gw.toml")
  read -r grep_wall grep_cpu _ < <(measure "$work/grep.out" grep -c refused "$work/error.log")
  read -r got covered error < <(counted "$work/check.json")
  [ "$(cat "$work/grep.out")" = "$refused" ] || die "grep counted $(cat "$work/grep.out"), $refused written"
  if [ "$got" != "$refused" ]; then
    echo "$prog: gatewatch counted $got refused lines, $refused were written (covered_seconds=$covered, error=$error)" >&2
    exit 1
  fi
  ratio=$(awk -v a="$gw_cpu" -v b="$grep_cpu" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
  echo "run $i: gatewatch_cpu_s=$gw_cpu gatewatch_wall_s=$gw_wall grep_c_cpu_s=$grep_cpu grep_c_wall_s=$grep_wall ratio=$ratio peak_rss_kb=$gw_rss"
  runs+=("$ratio $gw_cpu $gw_wall $grep_cpu $grep_wall $gw_rss")
done
# The median run by ratio.
read -r ratio gw_cpu gw_wall grep_cpu grep_wall gw_rss < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((REPEAT + 1) / 2))p")
echo "RESULT check_window lines=$LINES bytes=$bytes gatewatch_cpu_s=$gw_cpu gatewatch_wall_s=$gw_wall \
grep_c_s=$grep_cpu grep_c_wall_s=$grep_wall ratio=$ratio peak_rss_kb=$gw_rss counted=$got \
gatewatch_empty_cpu_s=$empty_cpu"
