#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real binary: tmux runs gatewatch, `capture-pane -e` keeps
# the colours, aha turns the ANSI into HTML and headless Chromium renders it to PNG.
# Needs (installed when missing, Debian): tmux aha chromium fonts-dejavu-core.
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
# Shows one state of the dashboard as screenshots/NAME.png. Args: NAME, then tmux keys to send.
shot() {
  local name=$1
  shift
  if (($#)); then
    tmux -L "$sock" send-keys -t gw "$@"
    sleep 0.6
  fi
  tmux -L "$sock" capture-pane -e -p -t gw > "$work/$name.ansi"
  {
    echo '<!doctype html><meta charset="utf-8"><style>'
    echo 'body{margin:0;background:#1c1c1c}'
    echo 'pre{margin:0;padding:10px;font:14px/17px "DejaVu Sans Mono",monospace;color:#d0d0d0}'
    echo '</style><pre>'
    aha --no-header --black < "$work/$name.ansi"
    echo '</pre>'
  } > "$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars \
    --window-size=$((cols * 845 / 100 + 20)),$((rows * 17 + 20)) \
    --screenshot="$PWD/screenshots/$name.png" "file://$work/$name.html" >/dev/null 2>&1
  echo "screenshots/$name.png"
}

mkdir -p screenshots "$work/home"
tmux -L "$sock" -f /dev/null new-session -d -s gw -x "$cols" -y "$rows" \
  "env HOME=$work/home XDG_CONFIG_HOME=$work/home/config XDG_STATE_HOME=$work/home/state TERM=xterm-256color $bin"
sleep 4  # the first host sample, and a second one so CPU figures are settled

shot overview
shot help '?'
shot host-zoomed Escape z s
