#!/usr/bin/env bash
# Time to the first frame: gatewatch beside htop (and btop when installed), in the same run.
#
# Each program is started on a fresh pseudo-terminal of SIZE (its controlling terminal, so it
# behaves as in a real one) with a clean environment and a private HOME. The clock starts just
# before the spawn and stops when the terminal has received the program's first full frame,
# recognised by text the frame writes last (ratatui and curses both paint top to bottom):
#   gatewatch  its footer ("quit" in the key hints on the last row)
#   htop       its footer ("Quit" in the function-key bar on the last row)
#   btop       its bottom box border ("proc" box's footer "select")
# gatewatch is also timed to its first frame with host figures ("COMMAND", the process table's
# header, appears once the first sample is in): `gatewatch_data_ms`.
# The programs take turns, RUNS times each; each figure is the median.
#
# Prints a final line `RESULT first_frame gatewatch_ms=... htop_ms=... btop_ms=...` (n/a when
# btop is not installed), and exits 1 when gatewatch's median is above LIMIT_MS, 2 when the
# benchmark cannot run.
#
# Usage: benches/first_frame.sh [--runs N] [--size COLSxROWS] [--bin PATH]
# Environment: RUNS (5), SIZE (200x50), LIMIT_MS (30), GATEWATCH_BIN (skip the build and use
#              this binary), BENCH_TERM (TERM given to the programs; default xterm-256color).
set -euo pipefail

prog=first_frame.sh
die() {
  echo "$prog: error: $*" >&2
  exit 2
}
say() { echo "$prog: $*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

RUNS=${RUNS:-5}
SIZE=${SIZE:-200x50}
LIMIT_MS=${LIMIT_MS:-30}
BIN=${GATEWATCH_BIN:-}
TERM_NAME=${BENCH_TERM:-xterm-256color}
while (($#)); do
  case $1 in
  --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
  --size) SIZE=${2:?--size needs a value}; shift 2 ;;
  --bin) BIN=${2:?--bin needs a value}; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "$prog: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1 && RUNS <= 100)) || die "RUNS must be 1..100, got '$RUNS'"
[[ $SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || die "SIZE must look like 200x50, got '$SIZE'"
COLS=${BASH_REMATCH[1]}
ROWS=${BASH_REMATCH[2]}
((COLS >= 20 && ROWS >= 5 && COLS <= 1000 && ROWS <= 1000)) || die "SIZE $SIZE is out of range"
[[ $LIMIT_MS =~ ^[0-9]+([.][0-9]+)?$ ]] || die "LIMIT_MS must be a number, got '$LIMIT_MS'"

command -v python3 >/dev/null 2>&1 || die "python3 is required (apt-get install -y python3)"
command -v htop >/dev/null 2>&1 || die "htop is required (apt-get install -y htop)"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$BIN" ]; then
  command -v cargo >/dev/null 2>&1 || die "cargo is required to build gatewatch (or pass --bin)"
  say "building: cargo build --release --locked --bin gatewatch (in $root)"
  (cd "$root" && cargo build --release --locked --quiet --bin gatewatch) || die "release build failed"
  BIN=$root/target/release/gatewatch
fi
[ -f "$BIN" ] && [ -x "$BIN" ] || die "'$BIN' is not an executable file"
BTOP=$(command -v btop || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatewatch-first-frame.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$tmp/harness.py" <<'EOF'
"""Spawns each program on its own pty and times the first full frame; prints medians as JSON."""
import fcntl, json, os, select, signal, statistics, struct, subprocess, sys, termios, time

cols, rows, runs, term, home = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
programs = json.loads(sys.argv[6])  # name -> [argv, {label: marker}]
TIMEOUT = 10.0


def one(argv, markers):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {"TERM": term, "LANG": "C.UTF-8", "HOME": home,
           "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "XDG_CONFIG_HOME": home + "/.config", "XDG_DATA_HOME": home + "/.local/share",
           "XDG_STATE_HOME": home + "/.local/state", "XDG_CACHE_HOME": home + "/.cache"}
    start = time.monotonic()
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=home,
                             start_new_session=True, close_fds=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    seen, found = b"", {}
    try:
        while len(found) < len(markers) and time.monotonic() - start < TIMEOUT:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if child.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            at = time.monotonic()
            seen += chunk
            for label, marker in markers.items():
                if label not in found and marker.encode() in seen:
                    found[label] = (at - start) * 1000
    finally:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        os.close(master)
    missing = [label for label in markers if label not in found]
    if missing:
        tail = seen[-400:].decode(errors="replace")
        sys.exit(f"{argv[0]}: no {missing} within {TIMEOUT:.0f} s (exit {child.returncode}); "
                 f"last output: {tail!r}")
    return found


times = {}
for _ in range(runs):
    for name, (argv, markers) in programs.items():
        for label, ms in one(argv, markers).items():
            times.setdefault(label, []).append(ms)
print(json.dumps({label: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                  for label, v in times.items()}))
EOF

mkdir -p "$tmp/home/.config" "$tmp/home/.local/share" "$tmp/home/.local/state" "$tmp/home/.cache"
programs=$(python3 -c '
import json, sys
p = {"gatewatch": [[sys.argv[1]], {"gatewatch": "quit", "gatewatch_data": "COMMAND"}],
     "htop": [[sys.argv[2]], {"htop": "Quit"}]}
if sys.argv[3]:
    p["btop"] = [[sys.argv[3]], {"btop": "select"}]
print(json.dumps(p))' "$BIN" "$(command -v htop)" "$BTOP")
say "timing ${RUNS} runs each at ${COLS}x${ROWS} (TERM=$TERM_NAME): gatewatch, htop${BTOP:+, btop}"
json=$(python3 "$tmp/harness.py" "$COLS" "$ROWS" "$RUNS" "$TERM_NAME" "$tmp/home" "$programs") ||
  die "the harness failed"

field() { # LABEL STAT
  python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print("n/a" if sys.argv[2] not in d else "%.1f" % d[sys.argv[2]][sys.argv[3]])' "$json" "$1" "$2"
}
for label in gatewatch gatewatch_data htop btop; do
  [ "$(field "$label" median)" = n/a ] && continue
  say "$(printf '%-15s median %6s ms  (min %s, max %s)' "$label" "$(field "$label" median)" \
    "$(field "$label" min)" "$(field "$label" max)")"
done
gw=$(field gatewatch median)
echo "RESULT first_frame gatewatch_ms=$gw htop_ms=$(field htop median) btop_ms=$(field btop median)" \
  "gatewatch_data_ms=$(field gatewatch_data median) runs=$RUNS size=${COLS}x${ROWS}"
if ! awk -v a="$gw" -v b="$LIMIT_MS" 'BEGIN { exit !(a <= b) }'; then
  echo "FAIL first frame: gatewatch's median ${gw} ms is above ${LIMIT_MS} ms" >&2
  exit 1
fi
