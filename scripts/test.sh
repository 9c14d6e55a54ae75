#!/usr/bin/env bash
# The whole test suite: installs what the tests need when it is missing, then formatting, lints and
# every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real: tmux (the binary in a real terminal), nginx (real 502s),
# iptables and nftables (the firewall summary reads `iptables -S` and `nft list ruleset`, and a test
# adds a loopback-only DROP rule to see it flagged), php8.2-fpm (the incident tests put a real php-fpm
# pool behind nginx, and use its php8.2-cli's built-in server as an upstream that can be frozen),
# iproute2 and util-linux (tests make network and mount namespaces of their own: `ip`, `unshare`,
# and lower the open-file limit with `prlimit`), haproxy, apache2 and caddy (each started with a
# config of its own on a loopback port, in front of loopback upstreams; HAProxy's stats socket is
# read for its own view of its servers, Caddy's admin API for its running config, and
# `caddy adapt` judges the Caddyfile reader), prometheus (a real Prometheus scrapes `gatewatch serve`,
# and its promtool checks the exposition and contrib/'s alert rules), systemd (`systemd-analyze`
# verifies contrib/'s unit and scores its sandbox; systemd need not be running), docker.io (a test
# starts a dockerd of its own, with its own data root and no iptables rules, and runs the host's
# binaries in containers), curl (requests to nginx in those containers, from the host).
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
need=()
have tmux || need+=(tmux)
have nginx || need+=(nginx)
have iptables || need+=(iptables)
have nft || need+=(nftables)
have php-fpm8.2 || need+=(php8.2-fpm)
have ip || need+=(iproute2)
{ have unshare && have prlimit; } || need+=(util-linux)
have haproxy || need+=(haproxy)
have apache2 || need+=(apache2)
have caddy || need+=(caddy)
have promtool || need+=(prometheus)
have systemd-analyze || need+=(systemd)
have dockerd || need+=(docker.io)
have curl || need+=(curl)
if ((${#need[@]})); then
  echo "test.sh: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
for tool in tmux nginx iptables nft php-fpm8.2 ip unshare prlimit haproxy apache2 caddy promtool \
  systemd-analyze dockerd docker curl; do
  have "$tool" || { echo "test.sh: $tool is required and could not be installed" >&2; exit 1; }
done

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
