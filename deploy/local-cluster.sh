#!/usr/bin/env bash
# A primary, a streaming replica and a PgBouncer beside each, on this machine, for the
# replication tests (tests/test_replicas.py) and the load test's two-server run.
#
#   deploy/local-cluster.sh start    # idempotent: creates what is missing, starts what is stopped
#   deploy/local-cluster.sh stop     # stops the replica and the poolers (the primary keeps running)
#   deploy/local-cluster.sh status
#
# The primary is the machine's cluster on 127.0.0.1:5432 (Debian's "main"). The replica is a
# second cluster, "replica" on port 5433, made with `pg_basebackup -R`: it streams the primary's
# WAL and answers read-only queries (hot standby). PgBouncer, in transaction mode, listens on
# 6432 in front of the primary (deploy/pgbouncer.ini); the service connects to the replica
# directly, so that a stopped replica fails its connections at once (PgBouncer 1.18 would hold
# them for query_wait_timeout first). Run as root; the servers run as postgres. Ports and names
# come from the environment: PRIMARY_PORT, REPLICA_PORT, REPLICA_CLUSTER, POOLER_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${PG_VERSION:-$(ls /etc/postgresql | sort -V | tail -1)}"
PRIMARY_CLUSTER="${PRIMARY_CLUSTER:-main}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICA_CLUSTER="${REPLICA_CLUSTER:-replica}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
POOLER_PORT="${POOLER_PORT:-6432}"
RUN_DIR="${POOLER_RUN_DIR:-/var/run/osint-pgbouncer}"
HOST=127.0.0.1
REPLICA_DATA="/var/lib/postgresql/$VERSION/$REPLICA_CLUSTER"

say() { echo "[cluster] $*"; }
wait_ready() {  # port, what
    for _ in $(seq 60); do pg_isready -q -h "$HOST" -p "$1" && return 0; sleep 0.5; done
    say "$2 on port $1 does not answer"; return 1
}
psql_at() { psql -X -q -At -h "$HOST" -p "$1" -U postgres -d postgres -c "$2"; }

install_missing() {
    local missing=()
    command -v pg_basebackup >/dev/null || missing+=("postgresql-$VERSION")
    command -v pgbouncer >/dev/null || missing+=(pgbouncer)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    # Debian starts a packaged pgbouncer on 6432 by itself: this script runs its own.
    if command -v systemctl >/dev/null && systemctl is-active -q pgbouncer 2>/dev/null; then
        systemctl stop pgbouncer || true
    fi
    if [ -f /var/run/postgresql/pgbouncer.pid ]; then
        kill "$(cat /var/run/postgresql/pgbouncer.pid)" 2>/dev/null || true
    fi
}

start_primary() {
    if ! pg_isready -q -h "$HOST" -p "$PRIMARY_PORT"; then
        pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$PRIMARY_CLUSTER" start
    fi
    wait_ready "$PRIMARY_PORT" "the primary"
    # Replication connections from loopback, trusted like the others.
    local hba="/etc/postgresql/$VERSION/$PRIMARY_CLUSTER/pg_hba.conf"
    if ! grep -qE '^host\s+replication\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
        say "allowing replication connections from 127.0.0.1 in $hba"
        echo "host replication all 127.0.0.1/32 trust" >>"$hba"
        psql_at "$PRIMARY_PORT" "SELECT pg_reload_conf()" >/dev/null
    fi
}

replica_is_ours() {  # the cluster exists and streams from the primary
    [ -f "$REPLICA_DATA/standby.signal" ]
}

create_replica() {
    if pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$VERSION/$REPLICA_CLUSTER" && replica_is_ours; then
        return 0
    fi
    if pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$VERSION/$REPLICA_CLUSTER"; then
        say "cluster $VERSION/$REPLICA_CLUSTER exists but is no replica: recreating it"
        pg_dropcluster --stop "$VERSION" "$REPLICA_CLUSTER"
    fi
    say "creating cluster $VERSION/$REPLICA_CLUSTER on port $REPLICA_PORT"
    pg_createcluster -q "$VERSION" "$REPLICA_CLUSTER" -p "$REPLICA_PORT" --start-conf=manual -- --auth=trust >/dev/null
    # Settings a hot standby must have at least as high as its primary's.
    local conf="/etc/postgresql/$VERSION/$REPLICA_CLUSTER/conf.d/90-replica.conf"
    {
        echo "listen_addresses = '$HOST'"
        for setting in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
            max_locks_per_transaction; do
            echo "$setting = $(psql_at "$PRIMARY_PORT" "SHOW $setting")"
        done
        # A test drops and truncates tables that a replica query may be reading: the standby
        # waits for its queries this long, then cancels them, rather than falling behind.
        echo "max_standby_streaming_delay = 5s"
        echo "hot_standby_feedback = on"
    } >"$conf"
    say "copying the primary with pg_basebackup -R"
    rm -rf "$REPLICA_DATA"
    install -d -o postgres -g postgres -m 700 "$REPLICA_DATA"
    runuser -u postgres -- pg_basebackup -h "$HOST" -p "$PRIMARY_PORT" -U postgres -D "$REPLICA_DATA" \
        -R -X stream -c fast
}

start_replica() {
    if ! pg_isready -q -h "$HOST" -p "$REPLICA_PORT"; then
        pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$REPLICA_CLUSTER" start
    fi
    wait_ready "$REPLICA_PORT" "the replica"
    for _ in $(seq 60); do
        [ "$(psql_at "$PRIMARY_PORT" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" -gt 0 ] \
            && return 0
        sleep 0.5
    done
    say "the replica on $REPLICA_PORT does not stream from the primary"; return 1
}

start_pooler() {  # listen port, server port
    mkdir -p "$RUN_DIR"
    chown postgres: "$RUN_DIR"
    [ -f "$RUN_DIR/userlist.txt" ] || { echo '"postgres" ""' >"$RUN_DIR/userlist.txt"; chown postgres: "$RUN_DIR/userlist.txt"; }
    if pg_isready -q -h "$HOST" -p "$1"; then
        return 0
    fi
    sed -e "s|@SERVER_HOST@|$HOST|; s|@SERVER_PORT@|$2|; s|@LISTEN_HOST@|$HOST|; s|@LISTEN_PORT@|$1|g; s|@RUN_DIR@|$RUN_DIR|g" \
        deploy/pgbouncer.ini >"$RUN_DIR/pgbouncer-$1.ini"
    runuser -u postgres -- pgbouncer -d -q "$RUN_DIR/pgbouncer-$1.ini"
    wait_ready "$1" "PgBouncer"
}

stop_pooler() {
    local pid="$RUN_DIR/pgbouncer-$1.pid"
    if [ -f "$pid" ]; then
        kill "$(cat "$pid")" 2>/dev/null || true
        rm -f "$pid"
    fi
}

case "${1:-start}" in
start)
    install_missing
    start_primary
    create_replica
    start_replica
    start_pooler "$POOLER_PORT" "$PRIMARY_PORT"
    say "primary $HOST:$PRIMARY_PORT behind PgBouncer on $POOLER_PORT, replica $HOST:$REPLICA_PORT"
    ;;
stop)
    stop_pooler "$POOLER_PORT"
    pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$REPLICA_CLUSTER" stop 2>/dev/null || true
    ;;
status)
    pg_lsclusters
    psql_at "$PRIMARY_PORT" "SELECT application_name, state, replay_lag FROM pg_stat_replication" || true
    pg_isready -h "$HOST" -p "$POOLER_PORT" || true
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
