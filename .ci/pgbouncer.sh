#!/usr/bin/env bash
# Debian's PgBouncer in transaction pooling on 127.0.0.1:6432, in front of the PostgreSQL server on
# 127.0.0.1:5432 that trusts the user postgres. Every database name reaches the database of that name
# there (the "*" fallback), so the test runner can create, use and drop its test database through it.
# See "Connection pooling with PgBouncer" in docs/scaling.rst.
#
# Usage: .ci/pgbouncer.sh start            stop a PgBouncer a previous run left, start a fresh one and
#                                          wait until it accepts connections in transaction pooling
#        .ci/pgbouncer.sh stop             stop it (nothing to do when it is not running)
#        .ci/pgbouncer.sh traffic DATABASE fail unless transactions on DATABASE went through it
#        .ci/pgbouncer.sh show             its pools and counters, from the admin console
# PGBOUNCER_DIR (default /tmp/liveclass-pgbouncer) holds its configuration, auth file, pidfile and log.
set -euo pipefail
dir=${PGBOUNCER_DIR:-/tmp/liveclass-pgbouncer}
host=127.0.0.1
port=6432
pidfile=$dir/pgbouncer.pid

admin() { psql -X -q -h "$host" -p "$port" -U postgres -d pgbouncer -At -F ' ' -c "$1"; }

running_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill -TERM "$pid"  # an immediate shutdown: nothing must outlive the step
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "PgBouncer (pid $pid) did not stop" >&2
      exit 1
    fi
  fi
  rm -f "$pidfile"
}

start() {
  stop
  if pg_isready -q -h "$host" -p "$port"; then
    echo "something else listens on $host:$port (Debian's own pgbouncer service?); this PgBouncer cannot start there" >&2
    exit 1
  fi
  mkdir -p "$dir"
  # Any user name listed here may log in without a password (auth_type trust); PgBouncer then logs
  # in to PostgreSQL as that user, which the server trusts on 127.0.0.1.
  echo '"postgres" ""' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = $host
listen_port = $port
; TCP only: no socket file beside PostgreSQL's
unix_socket_dir =
pool_mode = transaction
auth_type = trust
auth_file = $dir/userlist.txt
; the admin console (database "pgbouncer"): SHOW POOLS, SHOW STATS, SHOW SERVERS, SHUTDOWN
admin_users = postgres
; the concurrency tests open a connection per thread, several test runs may share it
max_client_conn = 200
default_pool_size = 20
; psycopg sends only startup parameters PgBouncer tracks (client_encoding, application_name);
; some other drivers send extra_float_digits. "options" stays refused: ignored, the settings it
; carries would be dropped without a word
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $pidfile
EOF
  : >"$dir/pgbouncer.log"
  # PgBouncer refuses to run as root: it runs as the user that owns the PostgreSQL cluster.
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$dir"
    runuser -u postgres -- /usr/sbin/pgbouncer -d -q "$dir/pgbouncer.ini"
  else
    /usr/sbin/pgbouncer -d -q "$dir/pgbouncer.ini"
  fi
  for _ in $(seq 50); do
    admin "SHOW VERSION" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local mode
  if ! mode=$(admin "SHOW CONFIG" | awk '$1 == "pool_mode" {print $2}'); then
    cat "$dir/pgbouncer.log" >&2
    echo "PgBouncer did not start on $host:$port" >&2
    exit 1
  fi
  if [ "$mode" != transaction ]; then
    echo "PgBouncer runs in pool_mode=$mode, not transaction" >&2
    exit 1
  fi
  echo "$(admin "SHOW VERSION") (pid $(running_pid)) on $host:$port, pool_mode=$mode, in $dir"
}

traffic() {
  # SHOW STATS: a row per database, counters since this PgBouncer started; found by column name.
  local count
  count=$(psql -X -q -h "$host" -p "$port" -U postgres -d pgbouncer -A -F ' ' -P footer=off -c "SHOW STATS" |
    awk -v db="$1" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "total_xact_count") col = i}
                    NR > 1 && $1 == db {print $col}')
  if [ -z "$count" ] || [ "$count" -eq 0 ]; then
    echo "no transaction on database $1 went through PgBouncer" >&2
    exit 1
  fi
  echo "$count transactions on database $1 went through PgBouncer"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  traffic) traffic "${2:?the database name}" ;;
  show) admin "SHOW POOLS"; admin "SHOW STATS" ;;
  *) echo "usage: $0 start|stop|traffic DATABASE|show" >&2; exit 2 ;;
esac
