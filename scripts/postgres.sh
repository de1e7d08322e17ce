#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the PostgreSQL catalog's tests (and for trying `--catalog postgres` by hand).
#
#   scripts/postgres.sh start   installs Debian's postgresql-15 when missing, creates a cluster in $TALLY_POSTGRES_DIR,
#                               starts it on a free loopback port (trust auth for the user `tally`, database `tally`)
#                               and prints `export TALLY_POSTGRES_URL=postgres://tally@127.0.0.1:PORT/tally`
#   scripts/postgres.sh url     prints the URL of the running server
#   scripts/postgres.sh stop    stops the server and deletes the cluster
#
# So a shell or a Makefile recipe does:  eval "$(scripts/postgres.sh start)"; ...; scripts/postgres.sh stop
#
# $TALLY_POSTGRES_DIR defaults to ${TMPDIR:-/tmp}/tally-postgres. As root (PostgreSQL refuses to run as root) the
# server runs as the OS user `postgres`, which the Debian package creates. Nothing outside the directory is touched
# besides the package installation.
set -euo pipefail

PG_VERSION=15
BIN=/usr/lib/postgresql/$PG_VERSION/bin
DIR=${TALLY_POSTGRES_DIR:-${TMPDIR:-/tmp}/tally-postgres}
DATA=$DIR/data
USER_NAME=tally
DATABASE=tally

log() { echo "postgres.sh: $*" >&2; }

# Runs a server binary as the cluster's owner (`postgres` when we are root).
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_if_missing() {
    [ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ] && return 0
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    log "installing postgresql-$PG_VERSION"
    # No cluster of the package's own (we make ours in a temp directory); the setting is read at install time.
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/tally-no-main.conf >/dev/null
    $sudo apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_VERSION" >&2
}

url() {
    [ -f "$DIR/port" ] || { log "no server: run '$0 start' first"; exit 1; }
    echo "postgres://$USER_NAME@127.0.0.1:$(cat "$DIR/port")/$DATABASE"
}

start() {
    install_if_missing
    if [ -f "$DIR/port" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        log "already running"
        echo "export TALLY_POSTGRES_URL=$(url)"
        return 0
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$DIR"; fi
    as_owner "$BIN/initdb" -D "$DATA" -U "$USER_NAME" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    # A test server: no durability waits, loopback and the directory's own socket only.
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    # A free port: try random ones until the server binds one (another process may take any port we probe first).
    local port tries=0
    while :; do
        port=$((20000 + RANDOM % 40000))
        if as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -o "-p $port" -w -t 30 start >/dev/null 2>&1; then break; fi
        tries=$((tries + 1))
        if [ $tries -ge 10 ]; then tail -20 "$DIR/server.log" >&2; log "could not start"; exit 1; fi
    done
    echo "$port" >"$DIR/port"
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$USER_NAME" "$DATABASE"
    log "PostgreSQL $PG_VERSION on 127.0.0.1:$port, cluster in $DIR"
    echo "export TALLY_POSTGRES_URL=$(url)"
}

stop() {
    if [ -d "$DATA" ]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) url ;;
*) echo "usage: $0 start|url|stop" >&2; exit 2 ;;
esac
