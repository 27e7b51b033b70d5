#!/usr/bin/env bash
# A streaming read replica of the PostgreSQL cluster on 127.0.0.1:5432, listening on 127.0.0.1:5433,
# for the tests marked "replica" (tests.settings_replica). Debian's cluster tools, run as root.
#
# Idempotent: a replica that already runs and streams is reused (its replay resumed, in case a test
# run stopped while it was paused); one that is missing or broken is rebuilt from a fresh base backup.
set -euo pipefail

VERSION=15
PRIMARY_PORT=5432
PORT=5433
NAME=replica
CONF=/etc/postgresql/$VERSION/main
BIN=/usr/lib/postgresql/$VERSION/bin

as_postgres() { runuser -u postgres -- "$@"; }
sql() {  # sql PORT STATEMENT: one value, or nothing when the server does not answer
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -XAtqc "$2" 2>/dev/null || true
}
streaming() {
  [ "$(sql "$PORT" 'SELECT pg_is_in_recovery()')" = t ] &&
    [ "$(sql "$PORT" 'SELECT status FROM pg_stat_wal_receiver')" = streaming ]
}

# The primary accepts a replication connection from 127.0.0.1 (trust, like its other local lines).
line="host replication all 127.0.0.1/32 trust"
if ! grep -qxF "$line" "$CONF/pg_hba.conf"; then
  echo "$line" >> "$CONF/pg_hba.conf"
  [ "$(sql "$PRIMARY_PORT" 'SELECT pg_reload_conf()')" = t ]
fi

if streaming; then
  sql "$PORT" 'SELECT pg_wal_replay_resume()' >/dev/null
  echo "replica on 127.0.0.1:$PORT already streaming: reused"
  exit 0
fi

echo "building the replica on 127.0.0.1:$PORT"
if pg_lsclusters -h | awk -v v="$VERSION" -v n="$NAME" '$1 == v && $2 == n {found = 1} END {exit !found}'; then
  pg_dropcluster --stop "$VERSION" "$NAME"
fi
pg_createcluster "$VERSION" "$NAME" -p "$PORT" >/dev/null
cat > "/etc/postgresql/$VERSION/$NAME/conf.d/replica.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
hot_standby = on
EOF
cat > "/etc/postgresql/$VERSION/$NAME/pg_hba.conf" <<'EOF'
local all all trust
host all all 127.0.0.1/32 trust
EOF
data=$(pg_lsclusters -h | awk -v v="$VERSION" -v n="$NAME" '$1 == v && $2 == n {print $6}')
[ -n "$data" ]
# Emptied, not removed: its parent belongs to root, so postgres could not create it again.
find "$data" -mindepth 1 -delete
# A fast checkpoint: the default spread checkpoint can keep the backup waiting for minutes.
as_postgres "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$data" -R -X stream -c fast
chown -R postgres:postgres "$data"
pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$NAME" start

for _ in $(seq 60); do
  streaming && break
  sleep 1
done
if ! streaming; then
  echo "the replica on 127.0.0.1:$PORT does not stream" >&2
  tail -n 30 "/var/log/postgresql/postgresql-$VERSION-$NAME.log" >&2 || true
  exit 1
fi
echo "replica on 127.0.0.1:$PORT streaming"
