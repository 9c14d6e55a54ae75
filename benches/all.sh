#!/usr/bin/env bash
# Every row of gatewatch's performance table in one run, each measured on the real release binary
# side by side with its reference tool in the same run, summed up in one Markdown table on stdout
# (progress goes to stderr):
#   idle CPU, terminal bytes/s, peak RSS beside htop           benches/idle.sh
#   first frame beside htop (and btop when installed)          benches/first_frame.sh
#   a flood of error lines, then of access lines, followed by  benches/flood.sh
#     the dashboard (Logs pane zoomed) beside `tail -F`, then
#     `grep -c` over the same bytes
#   `check` over an error log of 1M lines from the last 5 min  benches/check_window.sh
#     beside `grep -c`
#   10,000 upstreams, in the dashboard and in `check`          benches/scale.sh
# With --micro it also runs the in-process benchmarks (classification, follower, probe rounds,
# frame render: `cargo bench`), which time one part, not the whole process.
#
# Each script ends its output with a `RESULT name key=value ...` line (idle.sh: --json), which is
# what the table is built from; the full outputs are kept with --keep DIR. The figures are only as
# quiet as the machine: run it on an idle one, and compare runs made on the same machine.
# Exit status: 0 when every row ran and met its target, 1 when a row missed its target, 2 when a
# benchmark could not run.
#
# Usage: benches/all.sh [--quick] [--micro] [--keep DIR] [--bin PATH]
#   --quick      short windows (idle 10 s, floods of 200,000 lines, 2,000 upstreams): a smoke run
# Environment: IDLE_DURATION (20), IDLE_SIZE (200x50), FLOOD_LINES (1000000), FLOOD_SECONDS (5),
#              CHECK_LINES (1000000), SCALE_UPSTREAMS (10000), GATEWATCH_BIN (skip the build)
set -euo pipefail

prog=all.sh
say() { echo "$prog: $*" >&2; }
die() {
  say "error: $*"
  exit 2
}

IDLE_DURATION=${IDLE_DURATION:-20}
IDLE_SIZE=${IDLE_SIZE:-200x50}
FLOOD_LINES=${FLOOD_LINES:-1000000}
FLOOD_SECONDS=${FLOOD_SECONDS:-5}
CHECK_LINES=${CHECK_LINES:-1000000}
SCALE_UPSTREAMS=${SCALE_UPSTREAMS:-10000}
BIN=${GATEWATCH_BIN:-}
KEEP=""
MICRO=0
while (($#)); do
  case $1 in
  --quick)
    IDLE_DURATION=10 FLOOD_LINES=200000 FLOOD_SECONDS=2 CHECK_LINES=200000 SCALE_UPSTREAMS=2000
    shift
    ;;
  --micro) MICRO=1; shift ;;
  --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
  --keep=*) KEEP=${1#*=}; shift ;;
  --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
  --bin=*) BIN=${1#*=}; shift ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *) die "unknown argument: $1 (try --help)" ;;
  esac
done
for v in IDLE_DURATION FLOOD_LINES FLOOD_SECONDS CHECK_LINES SCALE_UPSTREAMS; do
  [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$v must be a number, got '${!v}'"
done
[[ $IDLE_SIZE =~ ^[0-9]+x[0-9]+$ ]] || die "IDLE_SIZE must look like 200x50, got '$IDLE_SIZE'"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=$(mktemp -d "${TMPDIR:-/tmp}/gatewatch-bench.XXXXXX")
finish() {
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && cp "$out"/*.log "$KEEP"/ 2>/dev/null && say "outputs kept in $KEEP"
  fi
  rm -rf "$out"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$BIN" ]; then
  command -v cargo >/dev/null 2>&1 || die "cargo is required (or pass --bin)"
  say "building (release)"
  cargo build --release --locked --bin gatewatch >&2 || die "build failed"
  target_dir=$(cargo metadata --no-deps --locked --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=$target_dir/release/gatewatch
fi
[ -x "$BIN" ] || die "$BIN is not an executable file"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
export GATEWATCH_BIN=$BIN

# run NAME CMD...: output in $out/NAME.log, exit status in $out/NAME.status (never fatal).
run() {
  local name=$1 status=0
  shift
  say "running $name: $*"
  "$@" >"$out/$name.log" 2>&1 || status=$?
  echo "$status" >"$out/$name.status"
}
# result NAME KEY: the value of KEY on NAME's last RESULT line ("" when absent).
result() {
  awk -v key="$2" '$1 == "RESULT" { v = ""; for (i = 3; i <= NF; i++) { n = index($i, "=");
    if (substr($i, 1, n - 1) == key) v = substr($i, n + 1) } } END { print v }' "$out/$1.log"
}
# idle FIELD PROGRAM: the number after "PROGRAM":{..."FIELD": in idle.sh's JSON line.
idle() {
  grep '^{' "$out/idle.log" 2>/dev/null | tail -n 1 | grep -o "\"$2\":{[^}]*}" |
    grep -o "\"$1\":[0-9.]*" | cut -d: -f2
}

run idle "$root/benches/idle.sh" --json --bin "$BIN" --duration "$IDLE_DURATION" --size "$IDLE_SIZE"
run first_frame "$root/benches/first_frame.sh" --bin "$BIN"
run flood_error env KIND=error LINES="$FLOOD_LINES" SECONDS_SPAN="$FLOOD_SECONDS" \
  "$root/benches/flood.sh" --bin "$BIN"
run flood_access env KIND=access LINES="$FLOOD_LINES" SECONDS_SPAN="$FLOOD_SECONDS" \
  "$root/benches/flood.sh" --bin "$BIN"
run check_window env LINES="$CHECK_LINES" "$root/benches/check_window.sh" --bin "$BIN"
run scale env UPSTREAMS="$SCALE_UPSTREAMS" "$root/benches/scale.sh" --bin "$BIN"

# ---------------------------------------------------------------------------------------------
# The table. Each row: what, gatewatch, side by side, target, and whether it was met.
na() { if [ -n "$1" ]; then echo "$1"; else echo "n/a"; fi; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }" 2>/dev/null; }
# verdict ROW EXPR: "met" when the awk condition EXPR holds, MISSED when not, "n/a" when a figure
# is missing (the benchmark did not produce it). It runs in $(...), so what it finds goes to a file.
verdict() {
  local row=$1 expr=$2
  if [[ $expr == *"n/a"* ]]; then
    echo "$row" >>"$out/broken"
    echo "n/a"
  elif awk "BEGIN { exit !($expr) }" 2>/dev/null; then
    echo "met"
  else
    echo "$row" >>"$out/missed"
    echo "**MISSED**"
  fi
}
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if git status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then rev+="+dirty"; fi
echo "gatewatch $rev, $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
row "what" "gatewatch" "side by side" "target" "met"
row "---" "---" "---" "---" "---"

g_cpu=$(idle cpu_pct gatewatch) h_cpu=$(idle cpu_pct htop)
row "idle CPU, $IDLE_SIZE, ${IDLE_DURATION} s window, quiet host" "$(na "$g_cpu") %" "htop $(na "$h_cpu") %" \
  "≤ 0.5x htop" "$(verdict idle_cpu "$(na "$g_cpu") <= 0.5 * $(na "$h_cpu")")"
g_bps=$(idle term_bytes_per_s gatewatch) h_bps=$(idle term_bytes_per_s htop)
row "idle terminal bytes/s" "$(na "$g_bps")" "htop $(na "$h_bps")" "≤ htop" \
  "$(verdict idle_bytes "$(na "$g_bps") <= $(na "$h_bps")")"
g_rss=$(idle peak_rss_mb gatewatch) h_rss=$(idle peak_rss_mb htop)
row "idle peak RSS" "$(na "$g_rss") MB" "htop $(na "$h_rss") MB" "≤ 8 MB" \
  "$(verdict idle_rss "$(na "$g_rss") <= 8")"

ff=$(result first_frame gatewatch_ms)
row "first frame" "$(na "$ff") ms" \
  "htop $(na "$(result first_frame htop_ms)") ms, btop $(na "$(result first_frame btop_ms)") ms" \
  "≤ 30 ms" "$(verdict first_frame "$(na "$ff") <= 30")"

lines_h=$(awk -v n="$FLOOD_LINES" 'BEGIN { if (n >= 1e6) printf "%gM", n / 1e6; else printf "%gk", n / 1e3 }')
for kind in error access; do
  f=flood_$kind
  g=$(result "$f" gatewatch_cpu_s) grep_s=$(result "$f" grep_c_wall_s) tail_s=$(result "$f" tail_F_cpu_s)
  ratio=""
  [ -n "$g" ] && [ -n "$grep_s" ] && ratio=$(calc "$g / ($grep_s > 0 ? $grep_s : 0.01)" 1)
  row "$lines_h $kind lines appended over $FLOOD_SECONDS s, dashboard following (Logs zoomed): whole-process CPU" \
    "$(na "$g") s ($(na "$ratio")x grep -c)" "tail -F $(na "$tail_s") s, grep -c $(na "$grep_s") s" \
    "≤ 2x grep -c" "$(verdict "${f}_cpu" "$(na "$g") <= 2 * ($(na "$grep_s") > 0.01 ? $(na "$grep_s") : 0.01)")"
  lag_s=$(result "$f" last_line_lag_s) lag=""
  [ -n "$lag_s" ] && lag=$(calc "$lag_s * 1000" 0)
  row "same flood ($kind): last line on screen after the flood ends" "$(na "$lag") ms" "" "≤ 1000 ms" \
    "$(verdict "${f}_lag" "$(na "$lag") <= 1000")"
  rss_kb=$(result "$f" gatewatch_peak_rss_kb)
  rss_mb=""
  [ -n "$rss_kb" ] && rss_mb=$(calc "$rss_kb / 1024" 1)
  row "same flood ($kind): peak RSS" "$(na "$rss_mb") MB" "" "≤ 20 MB" \
    "$(verdict "${f}_rss" "$(na "$rss_mb") <= 20")"
done

c_cpu=$(result check_window gatewatch_cpu_s) c_grep=$(result check_window grep_c_s)
c_lines=$(result check_window lines) c_counted=$(result check_window counted)
# check_window.sh exits 1 when the count gatewatch reports is not the count it wrote.
c_right=0
[ "$(cat "$out/check_window.status")" = 0 ] && c_right=1
c_said="the count is WRONG"
((c_right)) && c_said="every one"
row "\`check\` on an error log of $(na "$c_lines") lines from the last 5 min: CPU, refused lines counted" \
  "$(na "$c_cpu") s, $(na "$c_counted") ($c_said), peak RSS $(na "$(result check_window peak_rss_kb)") kB" \
  "grep -c $(na "$c_grep") s" "the whole window, ≤ 2x grep -c" \
  "$(verdict check_window "$c_right && $(na "$c_cpu") <= 2 * ($(na "$c_grep") > 0.01 ? $(na "$c_grep") : 0.01)")"

n=$SCALE_UPSTREAMS
main_cpu=$(result scale ui_main_cpu_pct) per_interval=$(result scale probed_per_interval_pct)
sockets=$(result scale max_sockets) key=$(result scale key_to_frame_ms)
keys="$(na "$key") / $(na "$(result scale key_to_frame_filter_ms)") / $(na "$(result scale key_to_frame_sort_ms)") ms"
ui_rss=$(result scale ui_peak_rss_kb) ui_mb=""
[ -n "$ui_rss" ] && ui_mb=$(calc "$ui_rss / 1024" 0)
row "$n upstreams every 2 s, dashboard: main thread, answering upstreams probed every interval, sockets at once, key to frame (detail / filter / sort, median), peak RSS" \
  "$(na "$main_cpu") % of a core, $(na "$per_interval") %, $(na "$sockets"), $keys, $(na "$ui_mb") MB" "" \
  "≤ 5 %, 100 %, capped (≤ 300)" \
  "$(verdict scale_dashboard "$(na "$main_cpu") <= 5 && $(na "$per_interval") >= 99.5 && $(na "$sockets") <= 300")"
s_wall=$(result scale check_wall_s) s_rss=$(result scale check_rss_kb)
s_mb=""
[ -n "$s_rss" ] && s_mb=$(calc "$s_rss / 1024" 0)
row "$n upstreams, \`check\`: wall time, peak RSS (upstreams reported)" \
  "$(na "$s_wall") s, $(na "$s_mb") MB ($(na "$(result scale check_probed)"))" "" "≤ 5 s, ≤ 100 MB" \
  "$(verdict scale_check "$(na "$s_wall") <= 5 && $(na "$s_mb") <= 100")"

if ((MICRO)); then
  say "building and running the in-process benchmarks (cargo bench)"
  run classify cargo bench --locked --bench classify
  run probes cargo bench --locked --bench probes
  run render cargo bench --locked --bench render
  echo
  echo "In-process (one part, not the whole process):"
  echo "- classification, one core: $(na "$(result classify error_lines_per_s)") error lines/s," \
    "$(na "$(result classify access_lines_per_s)") access lines/s"
  echo "- probes: $(na "$(result probes rate_per_s)")/s of $(na "$(result probes expected_per_s)")/s due," \
    "max lag $(na "$(result probes max_lag_ms)") ms, $(na "$(result probes cpu_pct)") % CPU"
  echo "- frame at 200x60: mean $(na "$(result render mean_us)") µs, p99 $(na "$(result render p99_us)") µs"
fi

echo
if [ -s "$out/broken" ]; then
  echo "NOT MEASURED (see the outputs with --keep): $(tr '\n' ' ' <"$out/broken")"
  for name in idle first_frame flood_error flood_access check_window scale; do
    st=$(cat "$out/$name.status")
    if [ "$st" != 0 ] && [ "$st" != 1 ]; then
      say "$name exited $st; its last lines:"
      tail -n 5 "$out/$name.log" | sed 's/^/    /' >&2
    fi
  done
  exit 2
fi
if [ -s "$out/missed" ]; then
  echo "MISSED its target: $(tr '\n' ' ' <"$out/missed")"
  exit 1
fi
echo "PASS: every row met its target"
