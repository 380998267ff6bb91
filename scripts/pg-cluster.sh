#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and for trying the postgres backend out (never a
# system-wide service): initdb + pg_ctl on a directory of its own and a free loopback port.
#   scripts/pg-cluster.sh start DIR   starts it and prints its URL (postgres://afterimage@127.0.0.1:PORT/afterimage)
#   scripts/pg-cluster.sh stop DIR    stops it and removes DIR
#   scripts/pg-cluster.sh pause|resume DIR   stops / restarts the server, keeping its data and port
# initdb refuses root: as root the cluster runs as the `postgres` user. Trust authentication on
# 127.0.0.1 only (the socket directory is DIR).
set -euo pipefail
command=${1:-}
dir=${2:-}
[ -n "$command" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|pause|resume DIR" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg-cluster: PostgreSQL is not installed (scripts/setup.sh --test installs it)" >&2; exit 1; }
as=()
[ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)

# The server outlives this script: it must not inherit a caller's pipe (an fd above 2 left open
# by the caller would keep the caller waiting for end-of-file forever).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
done

case "$command" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U afterimage --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # In the cluster's own config, so `resume` starts it the same way.
    printf "port = %s\nunix_socket_directories = '%s'\nlisten_addresses = '127.0.0.1'\nfsync = off\nmax_connections = 1000\n" \
      "$port" "$dir" >>"$dir/data/postgresql.conf"
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null 2>&1 \
      || { cat "$dir/server.log" >&2; exit 1; }
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U afterimage afterimage
    echo "postgres://afterimage@127.0.0.1:$port/afterimage"
    ;;
  pause)
    # Stops the server but keeps its data (outage tests); `resume` starts it again on the same port.
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null 2>&1 || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    if [ -d "$dir/data" ]; then "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
