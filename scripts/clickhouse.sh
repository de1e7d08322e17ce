#!/usr/bin/env bash
# Two ClickHouse shard servers on loopback for the ClickHouse record store's tests (issue 17).
#
#   scripts/clickhouse.sh start   installs clickhouse-server from Debian when missing (apt-get, as root or with sudo),
#                                 starts two servers on free ports (HTTP and native TCP each), each with its own data
#                                 directory in one temp directory and a config declaring the `remote_servers` cluster
#                                 of both shards, waits until both answer `SELECT 1` over HTTP, and prints
#                                 `export` lines: eval "$(scripts/clickhouse.sh start)"
#   scripts/clickhouse.sh url     prints the same lines for the running pair
#   scripts/clickhouse.sh stop    kills both servers and removes the temp directory
#
# Exported: TALLY_CLICKHOUSE_URL (shard 1's HTTP URL), TALLY_CLICKHOUSE_CLUSTER (the cluster name) and
# TALLY_CLICKHOUSE_SHARDS (every shard's HTTP URL, comma-separated: schema statements run on each shard, since
# `ON CLUSTER` needs ZooKeeper). The state lives in $TALLY_CLICKHOUSE_STATE (default /tmp/tally-clickhouse-<checksum of the checkout's path>.env).
set -eu

# One pair per checkout: two checkouts (worktrees) testing at once must not share (and stop) each other's servers.
STATE=${TALLY_CLICKHOUSE_STATE:-/tmp/tally-clickhouse-$(cd "$(dirname "$0")/.." && pwd | cksum | cut -d' ' -f1).env}
CLUSTER=${TALLY_CLICKHOUSE_CLUSTER_NAME:-tally_cluster}
SERVER=/usr/sbin/clickhouse-server

log() { echo "clickhouse.sh: $*" >&2; }

install_server() {
    [ -x "$SERVER" ] && return 0
    sudo=""
    [ "$(id -u)" = "0" ] || sudo=sudo
    log "installing clickhouse-server (Debian package; may take a few minutes)"
    $sudo apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >&2
    [ -x "$SERVER" ] || { log "clickhouse-server is not at $SERVER after installing"; exit 1; }
}

# A TCP port nothing listens on (nor was handed out by this script already).
taken=""
free_port() {
    while :; do
        p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
        case " $taken " in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            taken="$taken $p"
            echo "$p"
            return
        fi
    done
}

print_exports() {
    # shellcheck disable=SC1090
    . "$STATE"
    echo "export TALLY_CLICKHOUSE_URL=http://127.0.0.1:$HTTP1"
    echo "export TALLY_CLICKHOUSE_CLUSTER=$CLUSTER"
    echo "export TALLY_CLICKHOUSE_SHARDS=http://127.0.0.1:$HTTP1,http://127.0.0.1:$HTTP2"
}

write_config() { # dir http tcp
    mkdir -p "$1/data" "$1/tmp" "$1/user_files" "$1/format_schemas"
    cat >"$1/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$1/server.log</log>
        <errorlog>$1/server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$2</http_port>
    <tcp_port>$3</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$1/data/</path>
    <tmp_path>$1/tmp/</tmp_path>
    <user_files_path>$1/user_files/</user_files_path>
    <format_schema_path>$1/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
        <$CLUSTER>
            <shard>
                <replica><host>127.0.0.1</host><port>$TCP1</port></replica>
            </shard>
            <shard>
                <replica><host>127.0.0.1</host><port>$TCP2</port></replica>
            </shard>
        </$CLUSTER>
    </remote_servers>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
    cat >"$1/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time></interval>
        </default>
    </quotas>
</yandex>
EOF
}

answers() { # http port: whether SELECT 1 answers 1
    out=$(exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /?query=SELECT%%201 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3) 2>/dev/null || return 1
    printf '%s' "$out" | tail -n 1 | grep -qx '1'
}

start() {
    if [ -f "$STATE" ]; then
        . "$STATE"
        if kill -0 "$PID1" 2>/dev/null && kill -0 "$PID2" 2>/dev/null; then
            log "already running"
            print_exports
            return
        fi
        stop
    fi
    install_server
    DIR=$(mktemp -d /tmp/tally-clickhouse.XXXXXX)
    HTTP1=$(free_port); TCP1=$(free_port); HTTP2=$(free_port); TCP2=$(free_port)
    write_config "$DIR/shard1" "$HTTP1" "$TCP1"
    write_config "$DIR/shard2" "$HTTP2" "$TCP2"
    if [ "$(id -u)" = "0" ] && id clickhouse >/dev/null 2>&1; then
        # The server refuses to run on a data directory owned by someone else; keep the Debian user's.
        chown -R clickhouse "$DIR"
        run="setpriv --reuid=clickhouse --regid=clickhouse --init-groups"
        command -v setpriv >/dev/null 2>&1 || run=""
    else
        run=""
    fi
    for s in 1 2; do
        (cd "$DIR/shard$s" && exec $run "$SERVER" --config-file="$DIR/shard$s/config.xml" >"$DIR/shard$s/stdout.log" 2>&1) &
        echo $! >"$DIR/shard$s/pid"
    done
    PID1=$(cat "$DIR/shard1/pid"); PID2=$(cat "$DIR/shard2/pid")
    cat >"$STATE" <<EOF
DIR=$DIR
HTTP1=$HTTP1
TCP1=$TCP1
HTTP2=$HTTP2
TCP2=$TCP2
PID1=$PID1
PID2=$PID2
CLUSTER=$CLUSTER
EOF
    i=0
    until answers "$HTTP1" && answers "$HTTP2"; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$PID1" 2>/dev/null || ! kill -0 "$PID2" 2>/dev/null; then
            log "the shards did not come up; logs:"
            tail -n 20 "$DIR"/shard*/stdout.log "$DIR"/shard*/server.err.log >&2 2>/dev/null || true
            stop
            exit 1
        fi
        sleep 0.1
    done
    log "two shards up: HTTP $HTTP1 and $HTTP2 (TCP $TCP1, $TCP2), cluster $CLUSTER, in $DIR"
    print_exports
}

stop() {
    [ -f "$STATE" ] || { log "not running"; return 0; }
    . "$STATE"
    for pid in $PID1 $PID2; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $PID1 $PID2; do
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null || true
    done
    case "$DIR" in /tmp/tally-clickhouse.*) rm -rf "$DIR" ;; esac
    rm -f "$STATE"
    log "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) [ -f "$STATE" ] || { log "not running"; exit 1; }; print_exports ;;
*) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
