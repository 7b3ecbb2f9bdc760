#!/usr/bin/env bash
# Installs what onair needs on a Debian 12 machine that has Node.js 20: ffmpeg, redis-server,
# nginx-light (the edge tier) and Chromium (browser tests) from Debian, then the npm dependencies.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [maj, min] = process.versions.node.split(".").map(Number); if (maj < 20 || (maj === 20 && min < 11)) { console.error(`onair needs Node.js >= 20.11 (found ${process.versions.node})`); process.exit(1); }'

need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The edge tier (infra/nginx) and its tests: Debian's nginx-light has secure_link.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

npm ci --no-audit --no-fund
