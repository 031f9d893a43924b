#!/usr/bin/env bash
# The cold path a new user meets, for anyone who changes the set-up:
#   make fresh-check          (or: bash tools/fresh_check.sh [COMMIT])
#
# Clones the committed HEAD (or COMMIT) into a throwaway folder and runs,
# with an empty HOME and an empty PROMPTPOSE_CACHE (so no cached mmcv wheel,
# no uv or pip cache), `make test` and then `make demo` as the README's first
# two commands, and prints how long each took. The first one builds mmcv
# from source: about 12 minutes on 2 cores before the tests start.
# Uncommitted changes are not part of the clone: commit first.
# FRESH_KEEP=1 keeps the folder; FRESH_DIR=... chooses where it goes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REV="${1:-HEAD}"
DIR="${FRESH_DIR:-$(mktemp -d /tmp/promptpose-fresh.XXXXXX)}"
log() { printf '[fresh_check %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
    log "note: uncommitted changes in $ROOT are not checked (commit them)"
fi
mkdir -p "$DIR/home"
git clone -q "$ROOT" "$DIR/clone"
git -C "$DIR/clone" checkout -q "$REV"
log "clone of $(git -C "$DIR/clone" rev-parse --short HEAD) in $DIR/clone"
log "HOME=$DIR/home, PROMPTPOSE_CACHE=$DIR/home/cache (both empty)"

run() {  # name, make target...
    local name=$1 start rc; shift
    start=$(date +%s)
    set +e
    (cd "$DIR" && env -u XDG_CACHE_HOME -u UV_CACHE_DIR -u PIP_CACHE_DIR \
        -u VIRTUAL_ENV HOME="$DIR/home" PROMPTPOSE_CACHE="$DIR/home/cache" \
        make -C "$DIR/clone" "$@") 2>&1 | tee "$DIR/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    TIMES+=("$name: exit $rc in $(( $(date +%s) - start )) s (log $DIR/$name.log)")
    return "$rc"
}

TIMES=()
status=0
run make-test test || status=$?
[ "$status" -eq 0 ] && { run make-demo demo || status=$?; }
setup=$(grep -o 'ready in [0-9]* s' "$DIR/make-test.log" | head -n 1 || true)
log "summary (first set-up: ${setup:-not reached})"
printf '  %s\n' "${TIMES[@]}"
[ -n "${FRESH_KEEP:-}" ] || [ "$status" -ne 0 ] || rm -rf "$DIR"
exit "$status"
