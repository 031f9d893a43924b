#!/usr/bin/env bash
# Create (or bring up to date) the project's environment in .venv/.
#
# One command, a fresh Python 3.11 machine, no GPU, package registries only:
#   bash tools/setup_env.sh        (what `make demo` / `make test` run)
#
# The traps of this stack are handled here (see README, "Set-up notes"):
#   * mmcv 2.1.0 has no wheel for torch 2.14: it is built from its sdist with
#     its compiled ops, as C++20 (torch 2.14's headers need it), once, and the
#     wheel is cached in $PROMPTPOSE_CACHE (default ~/.cache/promptpose_mm).
#     A cached wheel is checked (checksum, compiled extension inside, import
#     of mmcv.ops) and rebuilt when broken or partial.
#   * xtcocotools' binary wheel is built against numpy 1: built from source
#     against the installed numpy, cached the same way.
#   * chumpy's setup imports pip: installed without build isolation.
#   * setuptools stays below 82 (pkg_resources for mmengine and openmim).
# Packages are installed by uv, whose cache links files instead of copying,
# so a second set-up (even after `rm -rf .venv`) takes seconds, not minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Every path is made absolute here, against the caller's working directory:
# the builds below run from other folders (an unpacked sdist), where a
# relative VENV or cache path would name nothing.
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
VENV="$(abspath "${VENV:-$ROOT/.venv}")"
CACHE="$(abspath "${PROMPTPOSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/promptpose_mm}")"
PYTHON="${PYTHON:-}"
case "$PYTHON" in */*) PYTHON="$(abspath "$PYTHON")" ;; esac

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
MMCV_SHA256=d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f
XTCOCOTOOLS_VERSION=1.14.3
XTCOCOTOOLS_SHA256=6434382784d206204d2a1b491dba359ff3464a2b9eb5890fbc0d868cad4e810f
CHUMPY_VERSION=0.70
UV_VERSION=0.13.9

log() { printf '[setup_env %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[setup_env] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- python ---
uv_install() { "$VENV/bin/uv" pip install -q --python "$PY" "${FIND_LINKS[@]}" "$@"; }

use_venv() {  # PY, PIP and FIND_LINKS for the venv at $VENV
    PY="$VENV/bin/python"
    PIP=("$PY" -m pip --disable-pip-version-check -q)
    # Wheels that lie on this disk (offline machines) are preferred when present.
    FIND_LINKS=()
    for d in ${PROMPTPOSE_FIND_LINKS:-/opt/pypi-more/files /opt/pypi/files /opt/wheels}; do
        [ -d "$d" ] && FIND_LINKS+=(--find-links "$(abspath "$d")")
    done
    STACK_PINS=()
}

prepare_venv() {  # .venv with python 3.11, uv, torch and the build tools
    if [ -z "$PYTHON" ]; then
        for cand in python3.11 python3; do
            if command -v "$cand" >/dev/null 2>&1 &&
                "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'
            then PYTHON="$(command -v "$cand")"; break; fi
        done
    fi
    [ -n "$PYTHON" ] || die "Python 3.11 not found. Install it, or point PYTHON=/path/to/python3.11."

    start=$(date +%s)
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        log "creating $VENV with $PYTHON"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    use_venv
    if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q "uv $UV_VERSION"; then
        log "installing uv $UV_VERSION into the venv"
        "${PIP[@]}" install "uv==$UV_VERSION"
    fi

    log "torch $TORCH_VERSION, torchvision $TORCHVISION_VERSION, build tools"
    uv_install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" \
        "setuptools>=77.0.3,<82" wheel ninja "cython<3.2" numpy pip
    mkdir -p "$CACHE"
    # chumpy (an mmpose requirement) imports pip in its setup.py: it must be
    # built without isolation, before anything resolves mmpose.
    if ! "$PY" -m pip show -q chumpy >/dev/null 2>&1; then
        uv_install --no-build-isolation "chumpy==$CHUMPY_VERSION"
    fi

    # Tag of the build: python, torch and whether CUDA kernels are compiled.
    CUDA_TAG=$("$PY" -c 'import os, torch; cuda = torch.cuda.is_available() or os.environ.get("FORCE_CUDA") == "1"; print("cu" + torch.version.cuda.replace(".", "") if cuda and torch.version.cuda else "cpu")')
    NUMPY_VERSION=$("$PY" -c 'import numpy; print(numpy.__version__)')
    TAG="py311-torch$TORCH_VERSION-$CUDA_TAG"
    # What every install below keeps in place: torch, torchvision and numpy
    # as installed here, and the stack's exact versions.
    STACK_PINS=("torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
        "numpy==$NUMPY_VERSION" -r "$ROOT/requirements/stack.txt")
}

# --------------------------------------------------------- cached wheels ---
# A cache entry is a folder holding one wheel and a file SHA256 with its
# checksum, written only after the wheel was built *and* imported. Anything
# else (no checksum, mismatch, extension missing) is a broken entry.
cache_ok() {  # dir, file-inside-wheel
    local dir=$1 inner=$2 whl
    whl=$(ls "$dir"/*.whl 2>/dev/null | head -n 1) || return 1
    [ -n "$whl" ] && [ -f "$dir/SHA256" ] || return 1
    [ "$(sha256sum "$whl" | cut -d' ' -f1)" = "$(cat "$dir/SHA256")" ] || return 1
    "$PY" - "$whl" "$inner" <<'PYEOF' || return 1
import sys, zipfile, fnmatch
with zipfile.ZipFile(sys.argv[1]) as z:
    if z.testzip() is not None:
        sys.exit(1)
    sys.exit(0 if fnmatch.filter(z.namelist(), sys.argv[2]) else 1)
PYEOF
}
seal_cache() {  # dir
    local whl; whl=$(ls "$1"/*.whl | head -n 1)
    sha256sum "$whl" | cut -d' ' -f1 > "$1/SHA256"
}

# build_from_sdist NAME VERSION SHA256 PATCH DIR: download the sdist of
# NAME==VERSION through pip's configured index (mirrors included), verify its
# checksum, unpack it, run the function PATCH on the unpacked folder, build a
# wheel from it without build isolation, and move the wheel into DIR in one
# step (DIR appears whole or not at all). The caller seals DIR (seal_cache)
# once the wheel is in place; install_cached does that and installs it.
build_from_sdist() {
    local name=$1 version=$2 sha=$3 patch=$4 dir=$5 work sdist src
    work=$(mktemp -d)
    # --no-build-isolation: pip's metadata step runs the sdist's setup.py,
    # which (for mmcv) imports the installed torch.
    "${PIP[@]}" download --no-deps --no-build-isolation --no-binary "$name" \
        -d "$work" "$name==$version" ||
        die "could not download the $name $version sdist (a package registry must be reachable for the first set-up)"
    sdist=$(ls "$work"/*.tar.gz 2>/dev/null | head -n 1)
    [ -n "$sdist" ] || die "pip gave no $name $version sdist (.tar.gz) in $work"
    [ "$(sha256sum "$sdist" | cut -d' ' -f1)" = "$sha" ] ||
        die "checksum mismatch for the $name $version sdist $sdist (expected $sha)"
    mkdir "$work/src"
    tar -xzf "$sdist" -C "$work/src"
    src=$(ls -d "$work"/src/*/ | head -n 1)
    [ -f "$src/setup.py" ] || [ -f "$src/pyproject.toml" ] ||
        die "the $name $version sdist holds no setup.py or pyproject.toml"
    "$patch" "$src"
    (cd "$src" && "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$work/dist" .) ||
        die "$name build failed (log above)"
    rm -rf "$dir" "$dir.tmp.$$" && mkdir -p "$(dirname "$dir")"
    mkdir "$dir.tmp.$$" && mv "$work"/dist/*.whl "$dir.tmp.$$"/ && mv "$dir.tmp.$$" "$dir"
    rm -rf "$work"
}

patch_mmcv() {  # source folder
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 asks for C++14/17.
    sed -i 's/-std=c++1[47]/-std=c++20/g; s#/std:c++1[47]#/std:c++20#g' "$1/setup.py"
    grep -q 'std=c++20' "$1/setup.py" || die "could not patch mmcv's setup.py for C++20"
}

build_mmcv() {  # dir
    log "building mmcv $MMCV_VERSION with its ops against torch $TORCH_VERSION ($CUDA_TAG); about 11 minutes on 2 cores, done once"
    # mmcv's setup.py imports pkg_resources' old API: build with setuptools<70
    # (pip, not uv: torch declares setuptools>=77.0.3, restored right after,
    # also when the build fails).
    "${PIP[@]}" install "setuptools<70" 2>&1 | grep -v 'dependency conflicts\|requires setuptools\|resolver does not' || true
    trap 'uv_install "setuptools>=77.0.3,<82"' EXIT
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        build_from_sdist mmcv "$MMCV_VERSION" "$MMCV_SHA256" patch_mmcv "$1"
    trap - EXIT
    uv_install "setuptools>=77.0.3,<82" "torch==$TORCH_VERSION"
}

patch_xtcocotools() {  # source folder
    # numpy 2 (and Cython 3) know the flag only as NPY_ARRAY_OWNDATA.
    sed -i 's/np\.NPY_OWNDATA/np.NPY_ARRAY_OWNDATA/g' "$1/xtcocotools/_mask.pyx"
}

build_xtcocotools() {  # dir
    log "building xtcocotools $XTCOCOTOOLS_VERSION from source against numpy $NUMPY_VERSION"
    build_from_sdist xtcocotools "$XTCOCOTOOLS_VERSION" "$XTCOCOTOOLS_SHA256" \
        patch_xtcocotools "$1"
}

install_cached() {  # name, dir, file-inside-wheel, import-check, builder
    local name=$1 dir=$2 inner=$3 check=$4 builder=$5 attempt
    for attempt in 1 2; do
        if ! cache_ok "$dir" "$inner"; then
            [ -e "$dir" ] && log "cached $name in $dir is broken or partial: rebuilding"
            "$builder" "$dir"
            seal_cache "$dir"
        else
            log "using cached $name from $dir"
        fi
        # with its dependencies (mmcv.ops imports mmengine), the stack's pins
        # keeping torch and friends where they are
        uv_install --reinstall-package "$name" "$(ls "$dir"/*.whl | head -n 1)" \
            "${STACK_PINS[@]}"
        if "$PY" -c "$check" 2>/dev/null; then return 0; fi
        log "cached $name does not import ($check): discarding it"
        rm -rf "$dir"
    done
    "$PY" -c "$check"  # show the error
    die "$name does not import even after a rebuild"
}

main() {
    prepare_venv
    (
        flock -w 3600 9 || die "another set-up holds $CACHE/.lock"
        install_cached mmcv "$CACHE/mmcv-$MMCV_VERSION-$TAG" 'mmcv/_ext*.so' \
            'import mmcv.ops' build_mmcv
        install_cached xtcocotools "$CACHE/xtcocotools-$XTCOCOTOOLS_VERSION-py311-numpy$NUMPY_VERSION" \
            'xtcocotools/_mask*.so' \
            'import numpy, xtcocotools.mask as m; m.iou(numpy.ones((1, 4)), numpy.ones((1, 4)), [0])' \
            build_xtcocotools
    ) 9>"$CACHE/.lock"

    # ------------------------------------------------------------ the stack ----
    log "OpenMMLab stack, open_clip, test tools"
    # torch, torchvision and numpy are named again so that no resolution of the
    # stack can move them (mmpose asks for an unpinned torchvision).
    uv_install "mmcv==$MMCV_VERSION" "xtcocotools==$XTCOCOTOOLS_VERSION" \
        "${STACK_PINS[@]}" -r "$ROOT/requirements/tests.txt"
    # movement's file loaders, for the tests (see the file for why --no-deps)
    uv_install --no-deps -r "$ROOT/requirements/readers.txt"
    uv_install --no-build-isolation --no-deps -e "$ROOT"
    # `mim search` reads <site-packages>/promptpose_mm/.mim/model-index.yml;
    # an editable (PEP 660) install has no such folder, so link the checkout.
    local site
    site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    [ -e "$site/promptpose_mm" ] || ln -s "$ROOT/promptpose_mm" "$site/promptpose_mm"

    # Bytecode of every installed module, written once: a process that may
    # not write it (PYTHONDONTWRITEBYTECODE, which some machines set, or a
    # read-only venv) would compile each module it imports at every start,
    # about 10 s per tool run or test subprocess. A few files that are not
    # Python 3 (packages' test data) fail to compile; they are never imported.
    log "compiling the bytecode of the installed modules"
    "$PY" -m compileall -q -j 0 "$site" >/dev/null 2>&1 || true

    log "checking the environment"
    "$PY" "$ROOT/tools/check_env.py" --quiet
    log "ready in $(( $(date +%s) - start )) s: source $VENV/bin/activate"
}

# Sourcing the file (the tests do) defines the functions without running.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
