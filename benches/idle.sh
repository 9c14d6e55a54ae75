#!/usr/bin/env bash
# Idle cost of the gatewatch dashboard, measured side by side with htop.
#
# Both programs run at the same time, each in its own detached tmux session of the same size, each
# under `script` so everything it writes to its terminal lands in a typescript file. After a settle
# period the script notes each program's CPU ticks, typescript size and write(2) count, waits
# DURATION seconds, and notes them again. Reported per program:
#   cpu%            (utime+stime+cutime+cstime delta from /proc/PID/stat) / wall time, in % of
#                   one core: the commands a program runs (gatewatch's service status checks and
#                   firewall reads) count as its own cost
#   peak_rss_MB     VmHWM from /proc/PID/status at the end of the window, in MiB (kB / 1024)
#   term_bytes/s    bytes written to the terminal during the window only (start-up excluded)
#   writes/s        write(2) calls per second (syscw from /proc/PID/io): roughly frames per second
#
# Targets (exit 1 when gatewatch misses one, naming it): less CPU than htop, fewer terminal bytes/s
# than htop, peak RSS under RSS_LIMIT_MB. Exit 2 when the benchmark itself cannot run. The last
# line is `RESULT idle size=... gatewatch_cpu_pct=... htop_cpu_pct=... ...` (after the JSON line
# with --json).
#
# --quiet-table runs each program in a PID namespace of its own (unshare --pid --mount-proc), so
# each sees a process table holding only itself: a quiet host's process list on a shared machine
# where other work churns the real one. CPU, memory, load and sockets are still the host's.
#
# Usage: benches/idle.sh [--duration SECS] [--settle SECS] [--size COLSxROWS] [--json]
#                        [--keep DIR] [--bin PATH] [--quiet-table]
# Environment: DURATION (30), SETTLE (3), SIZE (200x50), RSS_LIMIT_MB (8), GATEWATCH_BIN (skip
#              the build and use this binary), BENCH_TERM (TERM inside tmux; default tmux-256color).
set -euo pipefail

prog=idle.sh
die() {
  echo "$prog: error: $*" >&2
  exit 2
}
say() { echo "$prog: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

DURATION=${DURATION:-30}
SETTLE=${SETTLE:-3}
SIZE=${SIZE:-200x50}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-8}
BIN=${GATEWATCH_BIN:-}
JSON=0
QUIET_TABLE=0
KEEP=""

while (($#)); do
  case $1 in
  --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
  --duration=*) DURATION=${1#*=}; shift ;;
  --settle) SETTLE=${2:?--settle needs a value}; shift 2 ;;
  --settle=*) SETTLE=${1#*=}; shift ;;
  --size) SIZE=${2:?--size needs a value}; shift 2 ;;
  --size=*) SIZE=${1#*=}; shift ;;
  --bin) BIN=${2:?--bin needs a value}; shift 2 ;;
  --bin=*) BIN=${1#*=}; shift ;;
  --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
  --keep=*) KEEP=${1#*=}; shift ;;
  --json) JSON=1; shift ;;
  --quiet-table) QUIET_TABLE=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) echo "$prog: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

number='^[0-9]+([.][0-9]+)?$'
if ! [[ $DURATION =~ $number ]] || ! awk -v d="$DURATION" 'BEGIN { exit !(d > 0) }'; then
  die "DURATION must be a positive number of seconds, got '$DURATION'"
fi
[[ $SETTLE =~ $number ]] || die "SETTLE must be a number of seconds, got '$SETTLE'"
[[ $RSS_LIMIT_MB =~ $number ]] || die "RSS_LIMIT_MB must be a number, got '$RSS_LIMIT_MB'"
[[ $SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || die "SIZE must look like 120x40, got '$SIZE'"
COLS=${BASH_REMATCH[1]}
ROWS=${BASH_REMATCH[2]}
((COLS >= 20 && ROWS >= 5 && COLS <= 1000 && ROWS <= 1000)) || die "SIZE $SIZE is out of range"

if [ -n "$BIN" ] && { [ ! -f "$BIN" ] || [ ! -x "$BIN" ]; }; then
  die "GATEWATCH_BIN/--bin '$BIN' is not an executable file"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------------------------------------
# Tools: install what is missing (Debian/Ubuntu), then insist on everything.
need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v htop >/dev/null 2>&1 || need+=(htop)
command -v script >/dev/null 2>&1 || need+=(bsdutils) # util-linux's script(1) on Debian/Ubuntu
if ((${#need[@]})); then
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${need[*]} and there is no apt-get to install them; install them and rerun"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${need[*]}; not root and no sudo to install them"
    sudo=(sudo)
  fi
  say "installing ${need[*]} with apt-get"
  "${sudo[@]}" apt-get update -qq -o DPkg::Lock::Timeout=300 || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 \
    "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi
if ((QUIET_TABLE)); then
  command -v unshare >/dev/null 2>&1 || die "--quiet-table needs unshare(1) (util-linux)"
  unshare --pid --fork --mount-proc true 2>/dev/null ||
    die "--quiet-table: cannot create a PID namespace here (unshare needs root or user namespaces)"
fi
for tool in tmux htop script awk getconf stty stat sleep; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required and was not found"
done
script --version 2>/dev/null | grep -q util-linux ||
  die "script(1) is not util-linux's (need its -q -f -c options): $(command -v script)"
CLK_TCK=$(getconf CLK_TCK)
[[ $CLK_TCK =~ ^[0-9]+$ ]] || die "getconf CLK_TCK gave '$CLK_TCK'"
HTOP=$(command -v htop)

TERM_NAME=${BENCH_TERM:-tmux-256color}
if command -v infocmp >/dev/null 2>&1 && ! infocmp "$TERM_NAME" >/dev/null 2>&1; then
  [ -n "${BENCH_TERM:-}" ] && die "no terminfo entry for BENCH_TERM=$TERM_NAME"
  TERM_NAME=screen-256color
  infocmp "$TERM_NAME" >/dev/null 2>&1 || TERM_NAME=screen
fi

# ---------------------------------------------------------------------------------------------
# Build (or take the given binary).
if [ -n "$BIN" ]; then
  BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
  say "using $BIN (no build)"
else
  command -v cargo >/dev/null 2>&1 || die "cargo is required to build gatewatch (or pass --bin)"
  say "building: cargo build --release --locked (in $root)"
  build_start=$SECONDS
  (cd "$root" && cargo build --release --locked) || die "release build failed"
  say "build took $((SECONDS - build_start)) s"
  target_dir=$(cd "$root" && cargo metadata --no-deps --locked --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  [ -n "$target_dir" ] || die "could not find cargo's target directory"
  BIN=$target_dir/release/gatewatch
  [ -x "$BIN" ] || die "the build did not produce $BIN"
fi
if [ -e /etc/gatewatch/config.toml ]; then
  say "warning: /etc/gatewatch/config.toml exists and gatewatch will read it (HOME cannot hide it)"
fi

# ---------------------------------------------------------------------------------------------
# Sandbox: temp dir, private tmux server, isolated HOME/XDG per program; all removed on exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatewatch-idle.XXXXXX")
sock=$tmp/tmux.sock
# Killing the tmux server is not enough: `script` outlives its terminal and keeps its child (and
# that child's pty) alive, so the programs, their `script`s and any pending sleep are ended by pid.
# Each pid is kept with its start time, so a pid reused by someone else is never signalled.
declare -a owned=()
own() {
  local st
  st=$(start_time "$1") && owned+=("$1:$st")
}
ours() { # the owned pids still running as the process we started
  local o
  for o in "${owned[@]}"; do
    if [ "$(start_time "${o%%:*}" 2>/dev/null)" = "${o#*:}" ]; then echo "${o%%:*}"; fi
  done
}
cleanup() {
  local -a left
  if ((${#owned[@]})); then
    mapfile -t left < <(ours)
    if ((${#left[@]})); then
      kill -TERM "${left[@]}" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        mapfile -t left < <(ours)
        ((${#left[@]})) || break
        sleep 0.1
      done
      if ((${#left[@]})); then kill -KILL "${left[@]}" 2>/dev/null || true; fi
    fi
  fi
  if [ -S "$sock" ]; then tmux -S "$sock" kill-server >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cat >"$tmp/tmux.conf" <<EOF
set -g status off
set -g remain-on-exit on
set -g default-terminal "$TERM_NAME"
set -g default-shell /bin/sh
set -g default-size ${COLS}x${ROWS}
set -g history-limit 0
EOF
T() { tmux -S "$sock" -f "$tmp/tmux.conf" "$@"; }

programs=(gatewatch htop)
declare -A cmd pane_pid pid ts
cmd[gatewatch]=$BIN
cmd[htop]=$HTOP

for p in "${programs[@]}"; do
  home=$tmp/home-$p
  mkdir -p "$home/.config" "$home/.local/share" "$home/.local/state" "$home/.cache"
  ts[$p]=$tmp/$p.typescript
  # A clean environment: only TERM (from tmux), PATH, a UTF-8 locale and the private HOME/XDG dirs.
  {
    echo "#!$BASH"
    # shellcheck disable=SC2016 # $TERM is expanded when the runner runs, inside tmux
    # --quiet-table: unshare forks the program as pid 1 of its own namespace, and kills it with
    # itself.
    if ((QUIET_TABLE)); then
      printf 'exec unshare --pid --fork --mount-proc --kill-child '
    else
      printf 'exec '
    fi
    printf 'env -i TERM="$TERM" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    printf ' LANG=C.UTF-8 HOME=%q' "$home"
    printf ' XDG_CONFIG_HOME=%q XDG_DATA_HOME=%q' "$home/.config" "$home/.local/share"
    printf ' XDG_STATE_HOME=%q XDG_CACHE_HOME=%q' "$home/.local/state" "$home/.cache"
    printf ' %q\n' "${cmd[$p]}"
  } >"$tmp/run-$p"
  chmod +x "$tmp/run-$p"
done

# ---------------------------------------------------------------------------------------------
# /proc helpers.

# Fields of /proc/PID/stat after "pid (comm) ": [0]=state [1]=ppid ... [11]=utime [12]=stime
# [13]=cutime [14]=cstime (children it has reaped).
stat_fields() {
  local s
  s=$(<"/proc/$1/stat") || return 1
  echo "${s##*) }"
}
start_time() { # field 22: clock ticks after boot; with the pid, identifies a process
  local -a f
  read -r -a f <<<"$(stat_fields "$1")" || return 1
  [ -n "${f[19]:-}" ] && [ "${f[0]}" != Z ] && echo "${f[19]}" # a zombie is gone already
}
cpu_ticks() {
  local -a f
  read -r -a f <<<"$(stat_fields "$1")" || return 1
  echo $((f[11] + f[12] + f[13] + f[14]))
}
status_kb() { # PID FIELD -> value in kB
  awk -v k="$2:" '$1 == k { print $2; found = 1 } END { exit !found }' "/proc/$1/status"
}
write_calls() { awk '$1 == "syscw:" { print $2 }' "/proc/$1/io"; }
file_size() { stat -c %s "$1"; }
now() { # wall clock in seconds with microseconds, no fork on bash >= 5
  if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}
# The child of `script` whose comm is NAME (the pid stays the same across the exec chain).
find_child() {
  local parent=$1 name=$2 c d
  local -a f
  if [ -r "/proc/$parent/task/$parent/children" ]; then
    for c in $(<"/proc/$parent/task/$parent/children"); do
      if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = "$name" ]; then
        echo "$c"
        return 0
      fi
    done
    return 1
  fi
  for d in /proc/[0-9]*; do # kernels without CONFIG_PROC_CHILDREN
    read -r -a f <<<"$(stat_fields "${d#/proc/}" 2>/dev/null)" || continue
    if [ "${f[1]:-}" = "$parent" ] && [ "$(cat "$d/comm" 2>/dev/null)" = "$name" ]; then
      echo "${d#/proc/}"
      return 0
    fi
  done
  return 1
}
pane_dead() { [ "$(T display-message -p -t "$1" '#{pane_dead}' 2>/dev/null)" = 1 ]; }
explain_dead() { # SESSION: why did it die, with what it last showed
  echo "$prog: error: $1 exited early (status $(T display-message -p -t "$1" '#{pane_dead_status}' \
    2>/dev/null)); its screen:" >&2
  T capture-pane -p -t "$1" 2>/dev/null | sed '/^$/d; s/^/    /' >&2 || true
  exit 2
}

# ---------------------------------------------------------------------------------------------
# Start both, side by side.
say "starting gatewatch and htop at ${COLS}x${ROWS} (TERM=$TERM_NAME) in a private tmux server"
for p in "${programs[@]}"; do
  printf -v line 'exec script -q -f -c %q %q' "exec $tmp/run-$p" "${ts[$p]}"
  T new-session -d -s "$p" -x "$COLS" -y "$ROWS" "$line" ||
    die "tmux new-session for $p failed"
done
for p in "${programs[@]}"; do
  pane_pid[$p]=$(T display-message -p -t "$p" '#{pane_pid}')
  own "${pane_pid[$p]}"
  size=$(T display-message -p -t "$p" '#{pane_width}x#{pane_height}')
  [ "$size" = "${COLS}x${ROWS}" ] || die "$p's tmux pane is $size, not ${COLS}x${ROWS}"
done
for p in "${programs[@]}"; do
  for _ in $(seq 100); do
    if ((QUIET_TABLE)); then
      ns=$(find_child "${pane_pid[$p]}" unshare) && pid[$p]=$(find_child "$ns" "$p") && break
    else
      pid[$p]=$(find_child "${pane_pid[$p]}" "$p") && break
    fi
    pane_dead "$p" && explain_dead "$p"
    sleep 0.1
  done
  [ -n "${pid[$p]:-}" ] || die "no '$p' process under script (pid ${pane_pid[$p]}) after 10 s"
  own "${pid[$p]}"
  [ -r "/proc/${pid[$p]}/io" ] || die "cannot read /proc/${pid[$p]}/io (run as the same user)"
done
# The program's own terminal (script's pty) must have the requested size too.
for p in "${programs[@]}"; do
  tty=$(readlink "/proc/${pid[$p]}/fd/1") || die "cannot see $p's stdout"
  got=$(stty -F "$tty" size 2>/dev/null) || die "stty -F $tty failed for $p"
  [ "$got" = "$ROWS $COLS" ] || die "$p's terminal $tty is '$got' (rows cols), not '$ROWS $COLS'"
done

# Sleeps in the background and waits, so INT/TERM end the run (and clean up) at once.
pause() {
  sleep "$1" &
  own $!
  wait $!
}

say "settling ${SETTLE} s"
pause "$SETTLE"
for p in "${programs[@]}"; do
  pane_dead "$p" && explain_dead "$p"
done

# ---------------------------------------------------------------------------------------------
# Measure: the same window for both.
declare -A t0 t1 c0 c1 b0 b1 w0 w1 hwm
for p in "${programs[@]}"; do
  t0[$p]=$(now)
  c0[$p]=$(cpu_ticks "${pid[$p]}") || die "$p (pid ${pid[$p]}) vanished"
  b0[$p]=$(file_size "${ts[$p]}")
  w0[$p]=$(write_calls "${pid[$p]}")
done
say "measuring ${DURATION} s"
pause "$DURATION"
for p in "${programs[@]}"; do
  t1[$p]=$(now)
  c1[$p]=$(cpu_ticks "${pid[$p]}") || explain_dead "$p"
  b1[$p]=$(file_size "${ts[$p]}")
  w1[$p]=$(write_calls "${pid[$p]}")
  hwm[$p]=$(status_kb "${pid[$p]}" VmHWM) || die "no VmHWM for $p"
done
for p in "${programs[@]}"; do
  pane_dead "$p" && explain_dead "$p"
done

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP" || die "cannot create --keep directory $KEEP"
  for p in "${programs[@]}"; do
    cp "${ts[$p]}" "$KEEP/$p.typescript"
    echo "${b0[$p]} ${b1[$p]}" >"$KEEP/$p.window" # byte offsets of the measurement window
    T capture-pane -p -e -t "$p" >"$KEEP/$p.screen" 2>/dev/null || true
  done
  cp -r "$tmp/home-gatewatch/.local/state/gatewatch" "$KEEP/gatewatch-state" 2>/dev/null || true
  say "kept typescripts, window offsets and final screens in $KEEP"
fi

# Quit both the way a user would; gatewatch must honour `q`.
quit_note=""
for p in "${programs[@]}"; do
  T send-keys -t "$p" q
done
for p in "${programs[@]}"; do
  for _ in $(seq 50); do
    [ -d "/proc/${pid[$p]}" ] || break
    sleep 0.1
  done
  if [ -d "/proc/${pid[$p]}" ]; then
    quit_note+="$p did not exit within 5 s of 'q'; "
  fi
done

# ---------------------------------------------------------------------------------------------
# Report.
declare -A cpu rss bps wps ticks
for p in "${programs[@]}"; do
  ticks[$p]=$((c1[$p] - c0[$p]))
  read -r "cpu[$p]" "rss[$p]" "bps[$p]" "wps[$p]" < <(awk -v c0="${c0[$p]}" -v c1="${c1[$p]}" \
    -v t0="${t0[$p]}" -v t1="${t1[$p]}" -v b0="${b0[$p]}" -v b1="${b1[$p]}" -v w0="${w0[$p]}" \
    -v w1="${w1[$p]}" -v hz="$CLK_TCK" -v kb="${hwm[$p]}" 'BEGIN {
      wall = t1 - t0
      printf "%.2f %.1f %.0f %.1f\n", (c1 - c0) / hz / wall * 100, kb / 1024, (b1 - b0) / wall,
        (w1 - w0) / wall
    }')
done

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then
  dirty="+dirty"
fi
htop_version=$("$HTOP" --version 2>/dev/null | head -n1)
load=$(cut -d' ' -f1-3 /proc/loadavg)
cores=$(getconf _NPROCESSORS_ONLN)

{
  echo "gatewatch idle benchmark: ${COLS}x${ROWS} TERM=$TERM_NAME, window ${DURATION} s after" \
    "${SETTLE} s settle; gatewatch $rev$dirty, $htop_version; $cores cores, load $load;" \
    "cpu% resolution 1 tick = $(awk -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN { printf "%.3f", 100 / hz / d }')%"
  printf '%-11s %-7s %-13s %-14s %s\n' program cpu% peak_rss_MB term_bytes/s writes/s
  for p in "${programs[@]}"; do
    printf '%-11s %-7s %-13s %-14s %s\n' "$p" "${cpu[$p]}" "${rss[$p]}" "${bps[$p]}" "${wps[$p]}"
  done
} >&$((JSON ? 2 : 1))

failed=()
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
lt "${cpu[gatewatch]}" "${cpu[htop]}" ||
  failed+=("cpu: gatewatch ${cpu[gatewatch]}% is not below htop's ${cpu[htop]}%")
lt "${bps[gatewatch]}" "${bps[htop]}" ||
  failed+=("term_bytes/s: gatewatch ${bps[gatewatch]} B/s is not below htop's ${bps[htop]} B/s")
lt "${rss[gatewatch]}" "$RSS_LIMIT_MB" ||
  failed+=("peak_rss: gatewatch ${rss[gatewatch]} MB is not under ${RSS_LIMIT_MB} MB")
[ -z "$quit_note" ] || say "warning: ${quit_note%; }"

if ((JSON)); then
  j() {
    printf '"%s":{"cpu_pct":%s,"cpu_ticks":%s,"peak_rss_mb":%s,"term_bytes_per_s":%s,"writes_per_s":%s}' \
      "$1" "${cpu[$1]}" "${ticks[$1]}" "${rss[$1]}" "${bps[$1]}" "${wps[$1]}"
  }
  fj=""
  for f in "${failed[@]}"; do fj+="${fj:+,}\"${f//\"/\\\"}\""; done
  printf '{"size":"%sx%s","term":"%s","duration_s":%s,"settle_s":%s,"rev":"%s%s","load":"%s",%s,%s,"pass":%s,"failed":[%s]}\n' \
    "$COLS" "$ROWS" "$TERM_NAME" "$DURATION" "$SETTLE" "$rev" "$dirty" "$load" \
    "$(j gatewatch)" "$(j htop)" "$( ((${#failed[@]})) && echo false || echo true)" "$fj"
fi

echo "RESULT idle size=${COLS}x${ROWS} quiet_table=$QUIET_TABLE gatewatch_cpu_pct=${cpu[gatewatch]} htop_cpu_pct=${cpu[htop]}" \
  "gatewatch_peak_rss_mb=${rss[gatewatch]} htop_peak_rss_mb=${rss[htop]}" \
  "gatewatch_term_bytes_per_s=${bps[gatewatch]} htop_term_bytes_per_s=${bps[htop]}"
if ((${#failed[@]})); then
  for f in "${failed[@]}"; do echo "FAIL $f" >&2; done
  exit 1
fi
echo "PASS: gatewatch uses less CPU and fewer terminal bytes than htop, and under ${RSS_LIMIT_MB} MB" >&2
