#!/usr/bin/env bash
# Every gatewatch benchmark in one run, summed up in one table on stdout (progress goes to stderr):
#   idle CPU, peak RSS and terminal bytes/s side by side with htop   benches/idle.sh
#   log classification throughput                                     cargo bench --bench classify
#   lag following a file that floods                                  examples/follow_flood.rs
#   probe rounds at 1000 targets                                      cargo bench --bench probes
#   frame render time at 200x60                                       cargo bench --bench render
# Each benchmark ends its output with a `RESULT name key=value ...` line (idle.sh: --json), which is
# what the table is built from; the full outputs are kept with --keep DIR.
#
# The figures are only as quiet as the machine: run it on an idle one, and compare runs made on the
# same machine. Exit status: 0 when every benchmark ran and met its target, 1 when one missed its
# target (idle.sh's: below htop; probes: keep up with the schedule), 2 when one could not run.
#
# Usage: benches/all.sh [--quick] [--keep DIR]
#   --quick      short windows (idle 10 s, flood 200,000 lines, probes 5 s, 200 frames): a smoke run
# Environment: IDLE_DURATION (30), FLOOD_LINES (1000000), FLOOD_SECONDS (5), PROBE_TARGETS (1000),
#              PROBE_SECONDS (10), RENDER_FRAMES (500)
set -euo pipefail

prog=all.sh
say() { echo "$prog: $*" >&2; }
die() {
  say "error: $*"
  exit 2
}

IDLE_DURATION=${IDLE_DURATION:-30}
FLOOD_LINES=${FLOOD_LINES:-1000000}
FLOOD_SECONDS=${FLOOD_SECONDS:-5}
PROBE_TARGETS=${PROBE_TARGETS:-1000}
PROBE_SECONDS=${PROBE_SECONDS:-10}
RENDER_FRAMES=${RENDER_FRAMES:-500}
KEEP=""
while (($#)); do
  case $1 in
  --quick)
    IDLE_DURATION=10 FLOOD_LINES=200000 FLOOD_SECONDS=2 PROBE_SECONDS=5 RENDER_FRAMES=200
    shift
    ;;
  --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
  --keep=*) KEEP=${1#*=}; shift ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *) die "unknown argument: $1 (try --help)" ;;
  esac
done
for v in IDLE_DURATION FLOOD_LINES FLOOD_SECONDS PROBE_TARGETS PROBE_SECONDS RENDER_FRAMES; do
  [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$v must be a number, got '${!v}'"
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v cargo >/dev/null 2>&1 || die "cargo is required"
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

say "building (release): the binary, the benches and the flood example"
cargo build --release --locked --bin gatewatch --example follow_flood >&2 || die "build failed"
cargo bench --locked --no-run --bench classify --bench probes --bench render >&2 ||
  die "bench build failed"
target_dir=$(cargo metadata --no-deps --locked --format-version 1 |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin=$target_dir/release/gatewatch
[ -x "$bin" ] || die "no $bin after the build"

missed=()  # ran, but missed a target
broken=()  # did not produce its result line
# run NAME CMD...: output in $out/NAME.log; the exit status is noted, never fatal.
run() {
  local name=$1 status=0
  shift
  say "running $name: $*"
  "$@" >"$out/$name.log" 2>&1 || status=$?
  echo "$status" >"$out/$name.status"
}
status_of() { cat "$out/$1.status"; }
# result NAME KEY: the value of KEY on NAME's RESULT line ("" when absent).
result() {
  awk -v key="$2" '$1 == "RESULT" { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) v = kv[2] } } END { print v }' \
    "$out/$1.log"
}
# idle JSON: the number after "PROGRAM":{..."KEY": in idle.sh's one JSON line.
idle_field() {
  grep -o "\"$1\":{[^}]*}" "$out/idle.json" 2>/dev/null | grep -o "\"$2\":[0-9.]*" | cut -d: -f2
}
check_result() { # NAME KEY: marks NAME broken when its RESULT line is missing
  if [ -z "$(result "$1" "$2")" ]; then
    broken+=("$1 (exit $(status_of "$1"); see its output with --keep)")
    return 1
  fi
  if [ "$(status_of "$1")" != 0 ]; then missed+=("$1"); fi
}

run idle benches/idle.sh --json --bin "$bin" --duration "$IDLE_DURATION"
grep '^{' "$out/idle.log" | tail -n 1 >"$out/idle.json" || true
run classify cargo bench --locked --bench classify
run follow "$target_dir/release/examples/follow_flood" "$FLOOD_LINES" "$FLOOD_SECONDS"
run probes cargo bench --locked --bench probes -- --targets "$PROBE_TARGETS" --seconds "$PROBE_SECONDS"
run render cargo bench --locked --bench render -- --frames "$RENDER_FRAMES"

if [ -s "$out/idle.json" ]; then
  if [ "$(status_of idle)" = 1 ]; then missed+=(idle); fi
  if [ "$(status_of idle)" -gt 1 ]; then broken+=("idle (exit $(status_of idle))"); fi
else
  broken+=("idle (exit $(status_of idle); no JSON)")
fi
check_result classify mixed_lines_per_s || true
check_result follow lag_ms || true
check_result probes rate_per_s || true
check_result render mean_us || true

na() { if [ -n "$1" ]; then echo "$1"; else echo "n/a"; fi; }
# Millions with one decimal, milliseconds from microseconds, MB from kB.
mega() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%.1f M", x / 1e6 }'; }
ms_of_us() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%.2f ms", x / 1000 }'; }
mb_of_kb() { [ -n "$1" ] && awk -v x="$1" 'BEGIN { printf "%.1f MB", x / 1024 }'; }

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if git status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then rev+="+dirty"; fi
row() { printf '| %-44s | %-46s | %-30s |\n' "$1" "$2" "$3"; }

echo "gatewatch benchmarks: $rev, $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
row "what" "gatewatch" "reference"
row "$(printf '%0.s-' {1..44})" "$(printf '%0.s-' {1..46})" "$(printf '%0.s-' {1..30})"
row "idle CPU at 120x40, ${IDLE_DURATION} s (% of one core)" \
  "$(na "$(idle_field gatewatch cpu_pct)")%" "htop $(na "$(idle_field htop cpu_pct)")%"
row "idle peak RSS" "$(na "$(idle_field gatewatch peak_rss_mb)") MB" \
  "htop $(na "$(idle_field htop peak_rss_mb)") MB"
row "idle terminal output" "$(na "$(idle_field gatewatch term_bytes_per_s)") B/s" \
  "htop $(na "$(idle_field htop term_bytes_per_s)") B/s"
row "502 classification, one core (lines/s)" \
  "$(na "$(mega "$(result classify error_lines_per_s)")") error, $(na "$(mega "$(result classify access_lines_per_s)")") access" ""
row "follow a flood of $FLOOD_LINES lines in $FLOOD_SECONDS s" \
  "last line $(na "$(result follow lag_ms)") ms after, CPU $(na "$(result follow follower_cpu_s)") s, $(na "$(mb_of_kb "$(result follow peak_rss_kb)")")" \
  "tail -F CPU $(na "$(result follow tail_cpu_s)") s"
row "probes: $PROBE_TARGETS targets every 1 s, ${PROBE_SECONDS} s" \
  "$(na "$(result probes rate_per_s)")/s, max lag $(na "$(result probes max_lag_ms)") ms, $(na "$(result probes cpu_pct)")% CPU" \
  "$(na "$(result probes expected_per_s)")/s due"
row "frame render at 200x60 (overview)" \
  "mean $(na "$(ms_of_us "$(result render mean_us)")"), p50 $(na "$(ms_of_us "$(result render p50_us)")"), p99 $(na "$(ms_of_us "$(result render p99_us)")")" ""

if ((${#broken[@]})); then
  for b in "${broken[@]}"; do echo "BROKEN $b"; done
  exit 2
fi
if ((${#missed[@]})); then
  echo "MISSED its target: ${missed[*]} (see their output with --keep)"
  exit 1
fi
echo "PASS: every benchmark ran and met its target"
