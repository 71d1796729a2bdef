#!/usr/bin/env bash
# A Docker engine for CI on machines like the project's own (root, no engine running, Debian):
#   tools/docker-engine.sh start   install docker.io if needed, start dockerd unless one answers
#   tools/docker-engine.sh stop    stop the dockerd this script started (nothing else)
# A user's machine is theirs: `make test` never calls this; `.ci/run` does.
set -euo pipefail

STATE_DIR=${TWINSERVE_DOCKER_STATE:-/var/lib/twinserve-docker}
PID_FILE=$STATE_DIR/dockerd.pid
LOG_FILE=$STATE_DIR/dockerd.log

log() { echo "docker-engine: $*" >&2; }

answers() { command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; }

install_engine() {
    command -v dockerd >/dev/null && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "no dockerd, and this is not root on Debian: the container tests will skip"
        return 1
    fi
    log "installing docker.io (Debian) ..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
}

start() {
    if answers; then
        log "an engine already answers: using it"
        return 0
    fi
    install_engine || return 0
    mkdir -p "$STATE_DIR"
    # The default storage driver (overlay2 on ext4) builds about 3x faster than vfs.
    dockerd --host unix:///var/run/docker.sock >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 60); do
        if answers; then
            log "dockerd $(docker version --format '{{.Server.Version}}') started (pid $(cat "$PID_FILE"), $(docker info --format '{{.Driver}}'))"
            return 0
        fi
        sleep 1
    done
    log "dockerd did not answer within 60 s; its log:"
    tail -20 "$LOG_FILE" >&2 || true
    stop
    return 0
}

stop() {
    [ -f "$PID_FILE" ] || return 0
    local pid
    pid=$(cat "$PID_FILE")
    rm -f "$PID_FILE"
    kill -0 "$pid" 2>/dev/null || return 0
    # Containers the tests left behind go with the engine.
    docker ps -q | xargs -r docker rm -f >/dev/null 2>&1 || true
    kill "$pid"
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || { log "dockerd stopped"; return 0; }
        sleep 1
    done
    kill -9 "$pid" 2>/dev/null || true
    log "dockerd killed after 30 s"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
