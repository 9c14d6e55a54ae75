#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real binary running `gatewatch demo` (its scene of local
# upstreams that fail in every way, their nginx logs and a DNS server): tmux runs it, `capture-pane
# -e` keeps the colours, aha turns the ANSI into HTML and headless Chromium renders it to PNG.
# Shots: overview, help, upstream-detail, logs-search, host-zoomed, confirm (the confirm dialog of
# the demo service's restart), checklist (`v`), timeline (`t`).
# Needs (installed when missing, Debian): tmux aha chromium fonts-dejavu-core.
# Exit status 1 when a screen did not show what its shot is for (the PNG is not kept).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v aha >/dev/null 2>&1 || need+=(aha)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "DejaVu Sans Mono" || need+=(fonts-dejavu-core)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --locked --quiet
bin="$PWD/target/release/gatewatch"
work=$(mktemp -d)
sock="gw-shots-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cols=120 rows=40
failed=()
# Shows one state of the dashboard as screenshots/NAME.png, if the screen contains EXPECT.
# Args: NAME EXPECT, then tmux keys to send first.
shot() {
  local name=$1 expect=$2
  shift 2
  if (($#)); then
    tmux -L "$sock" send-keys -t gw "$@"
  fi
  local tries=0
  until tmux -L "$sock" capture-pane -p -t gw | grep -qF -- "$expect"; do
    tries=$((tries + 1))
    if ((tries > 30)); then
      echo "screenshots.sh: $name: the screen never showed \"$expect\"; not taken" >&2
      tmux -L "$sock" capture-pane -p -t gw | sed 's/^/    /' >&2
      failed+=("$name")
      return 0
    fi
    sleep 0.2
  done
  sleep 0.4 # let the frame settle
  tmux -L "$sock" capture-pane -e -p -t gw >"$work/$name.ansi"
  {
    echo '<!doctype html><meta charset="utf-8"><style>'
    echo 'body{margin:0;background:#1c1c1c}'
    echo 'pre{margin:0;padding:10px;font:14px/17px "DejaVu Sans Mono",monospace;color:#d0d0d0}'
    echo '</style><pre>'
    aha --no-header --black <"$work/$name.ansi"
    echo '</pre>'
  } >"$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars \
    --window-size=$((cols * 845 / 100 + 20)),$((rows * 17 + 20)) \
    --screenshot="$PWD/screenshots/$name.png" "file://$work/$name.html" >/dev/null 2>&1
  echo "screenshots/$name.png"
}

mkdir -p screenshots "$work/home" "$work/tmp"
# The demo's scratch directory goes in $work/tmp, so nothing is left behind even if it is killed.
tmux -L "$sock" -f /dev/null new-session -d -s gw -x "$cols" -y "$rows" \
  "env HOME=$work/home XDG_CONFIG_HOME=$work/home/config XDG_STATE_HOME=$work/home/state TMPDIR=$work/tmp TERM=xterm-256color $bin demo"
# Probe rounds, a DNS round and a few seconds of failing traffic in the logs.
sleep 8

shot overview "[refused]"
shot help "quit gatewatch" '?'
# Esc followed at once by another key reads as Alt+key, so dialogs are closed with q or Enter.
shot upstream-detail "last failure" q 2 z Enter
shot logs-search "/refused" Enter z 4 z / refused Enter
shot host-zoomed "1 Host [zoom]" z 1 z s
# The demo's service (inventory, whose restart brings the refusing upstream back): its actions
# menu, then the confirm dialog of its restart.
tmux -L "$sock" send-keys -t gw z 2
sleep 0.5
shot confirm "Confirm: restart inventory" a j Enter
# Cancel, close the menu, then the checklist with every step's evidence.
shot checklist "Where to look" n q v
# Close it, then the incident timeline: when the 502s began, and the reload just before.
shot timeline "after nginx reloaded" q t

if ((${#failed[@]})); then
  echo "screenshots.sh: not taken: ${failed[*]}" >&2
  exit 1
fi
