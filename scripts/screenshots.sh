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

# Something to look at: a healthy upstream (python's http.server), one that refuses (a closed
# port), a slow php-fpm socket that does not exist, and an error log with real 502 signatures.
live_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec python3 -m http.server "$live_port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
now=$(date '+%Y/%m/%d %H:%M:%S')
for i in 1 2 3 4 5 6; do
  echo "$now [error] 1234#1234: *$((i * 7)) connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.$i, server: shop.example, request: \"GET /cart HTTP/1.1\", upstream: \"http://127.0.0.1:$dead_port/cart\", host: \"shop.example\""
done > "$work/error.log"
echo "$now [error] 1234#1234: *99 upstream prematurely closed connection while reading response header from upstream, client: 10.0.0.9, server: shop.example, request: \"GET /api HTTP/1.1\", upstream: \"http://127.0.0.1:$live_port/api\", host: \"shop.example\"" >> "$work/error.log"
echo "$now [error] 1234#1234: *100 connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 10.0.0.3, server: shop.example, request: \"GET /index.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"shop.example\"" >> "$work/error.log"
cat > "$work/config.toml" <<TOML
[[upstream]]
name = "web"
url = "http://127.0.0.1:$live_port/"

[[upstream]]
name = "shop"
url = "http://127.0.0.1:$dead_port/health"

[[upstream]]
name = "php-fpm"
url = "unix:/run/php/php8.2-fpm.sock"

[[upstream]]
name = "web-by-name"
url = "tcp://localhost:$live_port"

[[log]]
path = "$work/error.log"
TOML

tmux -L "$sock" -f /dev/null new-session -d -s gw -x "$cols" -y "$rows" \
  "env HOME=$work/home XDG_CONFIG_HOME=$work/home/config XDG_STATE_HOME=$work/home/state TERM=xterm-256color $bin --config $work/config.toml"
sleep 6  # host samples, a few probe rounds and a DNS round

shot overview
shot help '?'
# Esc followed at once by another key reads as Alt+key, so dialogs are closed with q or Enter.
shot upstream-detail q 2 z Enter
shot logs-search Enter z 4 z / refused Enter
shot host-zoomed z 1 z s
