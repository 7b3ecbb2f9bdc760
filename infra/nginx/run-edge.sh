#!/usr/bin/env bash
# Runs an nginx edge cache (infra/nginx/onair-edge.conf) in the foreground in front of one or more
# onair origins: it checks playback tokens itself, caches segments and playlists by path without
# the token, coalesces identical misses and serves stale copies while the origins are away.
#
#   ONAIR_EDGE_KEY=<key> infra/nginx/run-edge.sh --port 8088 --origin 127.0.0.1:8080 \
#       [--origin host:port ...] --dir /var/lib/onair-edge [--access-log FILE] \
#       [--cache-size 20g] [--workers auto]
#
# The key is `npm run onair -- edge-key` on a machine with the server's configuration. It is read
# from the environment only (an argument would show in `ps`) and written to DIR/nginx.conf (0600,
# DIR 0700); the cache, temporary files and pid file live under DIR too. --port also takes
# ADDR:PORT (e.g. 127.0.0.1:8088). Errors go to stderr. Stop it with SIGTERM (SIGQUIT: graceful).
# ONAIR_NGINX names the nginx binary (default: nginx on PATH, else /usr/sbin/nginx; not NGINX, which
# nginx itself reads).
# Bad arguments or no key: exit 2.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: ONAIR_EDGE_KEY=<key> run-edge.sh --port [ADDR:]PORT --origin HOST:PORT [--origin HOST:PORT ...]
                      --dir DIR [--access-log FILE] [--cache-size 20g] [--workers auto|N]
  ONAIR_EDGE_KEY   the edge key: `npm run onair -- edge-key` where the server's config is
  --port           where viewers connect (all addresses, or ADDR:PORT)
  --origin         an onair origin; repeat for several (requests are spread, failures skipped)
  --dir            private state: the rendered nginx.conf (holds the key), cache, temp files, pid
  --access-log     write a tab-separated access log there (default: none)
  --cache-size     the cache's size on disk (default 20g)
  --workers        nginx worker processes (default auto: one per core)
EOF
}

fail() {
  printf 'run-edge.sh: %s\n' "$1" >&2
  printf "Run 'run-edge.sh --help' for usage.\n" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
template="$here/onair-edge.conf"

port=''
dir=''
access_log=''
cache_size='20g'
workers='auto'
origins=()

while [ $# -gt 0 ]; do
  arg=$1
  shift
  value=''
  case $arg in
    -h | --help)
      usage
      exit 0
      ;;
    --*=*)
      value=${arg#*=}
      arg=${arg%%=*}
      ;;
    --port | --origin | --dir | --access-log | --cache-size | --workers)
      [ $# -gt 0 ] || fail "$arg needs a value"
      value=$1
      shift
      ;;
    *) fail "unknown argument: $arg" ;;
  esac
  case $arg in
    --port) port=$value ;;
    --origin) origins+=("$value") ;;
    --dir) dir=$value ;;
    --access-log) access_log=$value ;;
    --cache-size) cache_size=$value ;;
    --workers) workers=$value ;;
    *) fail "unknown argument: $arg" ;;
  esac
done

key=${ONAIR_EDGE_KEY:-}
[ -n "$key" ] || fail 'ONAIR_EDGE_KEY is not set: the edge key is `npm run onair -- edge-key` on a machine with the server config (never pass it as an argument)'
# Base64 of at least 128 bits (onair's key is 43 base64url characters): nothing nginx would read as
# a variable or the end of a string.
[[ $key =~ ^[A-Za-z0-9_+/=-]{22,}$ ]] || fail 'ONAIR_EDGE_KEY is not an edge key (base64, at least 22 characters)'

valid_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$((10#$1))" -ge 1 ] && [ "$((10#$1))" -le 65535 ]; }

[ -n "$port" ] || fail '--port is required'
if [[ $port =~ ^(([0-9]{1,3}\.){3}[0-9]{1,3}|\[[0-9A-Fa-f:.]+\]):([0-9]+)$ ]]; then
  valid_port "${BASH_REMATCH[3]}" || fail "--port: not a port: $port"
  listen=$port
else
  valid_port "$port" || fail "--port: not a port (PORT or ADDR:PORT): $port"
  listen=$((10#$port))
fi

[ ${#origins[@]} -gt 0 ] || fail '--origin HOST:PORT is required (repeat it for several origins)'
servers=''
for origin in "${origins[@]}"; do
  [[ $origin =~ ^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):([0-9]+)$ ]] &&
    valid_port "${BASH_REMATCH[3]}" || fail "--origin: not HOST:PORT: $origin"
  # Two failures within 5 s take an origin out for 5 s; with a single origin nginx never does.
  servers+="    server $origin max_fails=2 fail_timeout=5s;"$'\n'
done
servers=${servers%$'\n'}

# Paths go into nginx.conf unquoted: a conservative character set, made absolute.
safe_path() { [[ $1 =~ ^[A-Za-z0-9_./+@:-]+$ ]]; }
[ -n "$dir" ] || fail '--dir is required (e.g. /var/lib/onair-edge)'
[[ $dir == /* ]] || dir="$PWD/$dir"
safe_path "$dir" || fail "--dir: use letters, digits and _ . / + @ : - only: $dir"
if [ -n "$access_log" ]; then
  [[ $access_log == /* ]] || access_log="$PWD/$access_log"
  safe_path "$access_log" || fail "--access-log: use letters, digits and _ . / + @ : - only: $access_log"
  log_line="access_log $access_log onair_edge buffer=256k flush=1s;"
else
  log_line='access_log off;'
fi
[[ $cache_size =~ ^[1-9][0-9]*[kKmMgG]?$ ]] || fail "--cache-size: a size such as 500m or 20g: $cache_size"
[[ $workers =~ ^(auto|[1-9][0-9]{0,2})$ ]] || fail "--workers: auto or a number: $workers"

# Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
nginx=${ONAIR_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
command -v "$nginx" >/dev/null || {
  printf 'run-edge.sh: %s not found (Debian: apt-get install nginx-light)\n' "$nginx" >&2
  exit 1
}

# 20,000 viewers: 16,384 connections per worker (clients and their misses' origin connections), each
# with room for an open cache file. Raise the open-file limit to 65,536 if allowed (root with
# CAP_SYS_RESOURCE); otherwise stay within the hard limit, and say so.
nofile=65536
ulimit -n "$nofile" 2>/dev/null || true
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ]; then nofile=$hard; fi
connections=$((nofile / 2 < 16384 ? nofile / 2 : 16384))
if [ "$connections" -lt 16384 ]; then
  printf 'run-edge.sh: open files limited to %s here: %s connections per worker\n' "$nofile" "$connections" >&2
fi
user_line='# not root: nginx runs as the user that started it'
# DIR is 0700 and root's: the workers must be able to write the cache in it.
[ "$(id -u)" != 0 ] || user_line='user root;'

umask 077
mkdir -p "$dir/cache" "$dir/tmp"
chmod 700 "$dir"
[ -z "$access_log" ] || mkdir -p "$(dirname "$access_log")"

# Placeholders replaced as literal text (a quoted replacement, and no `&` expansion in bash 5.2).
shopt -u patsub_replacement 2>/dev/null || true
edge=$(<"$template")
edge=${edge//@@LISTEN@@/"$listen"}
edge=${edge//@@ORIGIN_SERVERS@@/"$servers"}
edge=${edge//@@CACHE_PATH@@/"$dir/cache"}
edge=${edge//@@CACHE_SIZE@@/"$cache_size"}
edge=${edge//@@ACCESS_LOG@@/"$log_line"}
edge=${edge//@@EDGE_KEY@@/"$key"}
if [[ $edge =~ @@[A-Z_]+@@ ]]; then
  printf 'run-edge.sh: %s has a placeholder this script does not know\n' "$template" >&2
  exit 1
fi

conf="$dir/nginx.conf"
tmp=$(mktemp "$dir/nginx.conf.XXXXXX")
cat >"$tmp" <<EOF
# Rendered by infra/nginx/run-edge.sh from infra/nginx/onair-edge.conf. Holds the edge key: keep 0600.
$user_line
worker_processes $workers;
worker_rlimit_nofile $nofile;
worker_shutdown_timeout 10s;
pid $dir/nginx.pid;
error_log stderr warn;

events {
    worker_connections $connections;
}

http {
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 100000;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

$edge
}
EOF
chmod 600 "$tmp"
mv -f "$tmp" "$conf"

# Neither the key nor a stray NGINX (nginx reads it as inherited sockets) goes to nginx.
unset ONAIR_EDGE_KEY NGINX
exec "$nginx" -p "$dir/" -e stderr -c "$conf" -g 'daemon off;'
