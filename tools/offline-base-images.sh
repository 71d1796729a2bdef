#!/usr/bin/env bash
# The base images the project's Dockerfiles (and SAM CLI) start from, on a machine that reaches no
# container registry (but reaches Debian's apt mirrors and PyPI):
#   python:3.12.8-slim-bookworm                  container/server.Dockerfile
#   public.ecr.aws/lambda/python:3.12            container/lambda.Dockerfile
#   public.ecr.aws/lambda/python:3.12-x86_64     SAM CLI's base for zip functions (sam local ... --skip-pull-image)
# For each: an image already present is reused; else `docker pull` (bounded by PULL_TIMEOUT) and, if
# that works, the real one is used; else a stand-in is built and tagged with the exact name:
# Debian bookworm (debootstrap, once per run) plus this machine's pyenv CPython 3.12, labelled
# org.twinserve.stand-in. The Lambda stand-in keeps the AWS base image's contract: Python under
# /var/lang, awslambdaric in /var/runtime, /var/runtime/bootstrap, /lambda-entrypoint.sh and the
# runtime interface emulator (taken from SAM CLI's wheel) at /usr/local/bin/aws-lambda-rie.
#
# Usage: tools/offline-base-images.sh [--rebuild]
#   --rebuild   replace the stand-ins this script made before: the registry is tried again first,
#               then a new stand-in is built (a real image is never touched)
# Building needs root, debootstrap, chroot and a Docker engine. Settings (environment):
#   PULL_TIMEOUT=60           seconds one `docker pull` may take
#   PYTHON_HOME=              the CPython 3.12 to copy (default: the newest ~/.pyenv/versions/3.12.*)
#   DEBIAN_MIRROR=            default: the machine's apt source for bookworm, else deb.debian.org
#   DEBIAN_SECURITY_MIRROR=   default: the machine's apt source for bookworm-security, else deb.debian.org
#   AWS_LAMBDA_RIE=           the emulator binary (default: .venv-sam's SAM CLI, else SAM CLI's wheel from PyPI)
#   WORK_PARENT=/var/tmp      where the (removed at exit) work directory goes
set -euo pipefail

readonly PYTHON_IMAGE=python:3.12.8-slim-bookworm
readonly LAMBDA_IMAGE=public.ecr.aws/lambda/python:3.12
readonly LAMBDA_IMAGE_ARCH=public.ecr.aws/lambda/python:3.12-x86_64
readonly LABEL_KEY=org.twinserve.stand-in
readonly PY_MM=3.12
readonly SUITE=bookworm
# Runtime libraries of CPython's extension modules (ssl, ctypes, sqlite3, bz2, lzma, curses, readline,
# uuid, pyexpat, zlib), and what python's slim images carry besides.
readonly DEB_PACKAGES=(ca-certificates libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 libncursesw6 libreadline8
    libuuid1 libexpat1 zlib1g netbase tzdata)
readonly PYTHON_PATH_ENV=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
readonly LAMBDA_PATH_ENV=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
readonly LAMBDA_LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib

# debootstrap, chroot and ldconfig live in the sbin directories, which a sudo or su PATH may lack.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
PULL_TIMEOUT=${PULL_TIMEOUT:-60}
WORK_PARENT=${WORK_PARENT:-/var/tmp}
REBUILD=0
WORK=""
START=$(date +%s)

log() { echo "offline-base-images: $*"; }
die() {
    echo "offline-base-images: error: $*" >&2
    exit 1
}
elapsed() { echo "$(($(date +%s) - $1)) s"; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

for arg in "$@"; do
    case $arg in
        --rebuild) REBUILD=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument: $arg (see --help)" ;;
    esac
done

# --- What is there, what a registry gives -------------------------------------------------------

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

stand_in_label() { docker image inspect --format "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2>/dev/null || true; }

registry_of() {
    local first=${1%%/*}
    if [[ $1 == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
        echo "$first"
    else
        echo docker.io
    fi
}

FAILED_REGISTRIES=" "
PULL_ERROR=""
# Pull $1 unless its registry already failed in this run (so an unreachable one costs one timeout).
try_pull() {
    local image=$1 registry err
    registry=$(registry_of "$image")
    if [[ $FAILED_REGISTRIES == *" $registry "* ]]; then
        PULL_ERROR="$registry did not answer earlier in this run"
        return 1
    fi
    err=$(timeout "$PULL_TIMEOUT" docker pull -q "$image" 2>&1 >/dev/null) && return 0
    [ -n "$err" ] || err="no answer within ${PULL_TIMEOUT} s"
    PULL_ERROR=$(printf '%s\n' "$err" | tail -n 1)
    FAILED_REGISTRIES+="$registry "
    return 1
}

# reuse or pull $1; prints its line and returns 0, or returns 1 (still missing)
resolve() {
    local image=$1 t0 label
    t0=$(date +%s)
    if have_image "$image"; then
        label=$(stand_in_label "$image")
        if [ -n "$label" ] && [ "$REBUILD" = 1 ]; then
            log "$image: a stand-in of this script's is present: --rebuild replaces it (the tag moves; the old image stays while something uses it)"
        elif [ -n "$label" ]; then
            log "$image: reused (the stand-in built $(docker image inspect --format '{{.Created}}' "$image" | cut -c1-19)) ($(elapsed "$t0"))"
            return 0
        else
            log "$image: reused (present locally) ($(elapsed "$t0"))"
            return 0
        fi
    fi
    if try_pull "$image"; then
        log "$image: pulled from $(registry_of "$image") ($(elapsed "$t0"))"
        return 0
    fi
    log "$image: pull failed ($PULL_ERROR): a stand-in is needed"
    return 1
}

if ! command -v docker >/dev/null || ! timeout 30 docker info >/dev/null 2>&1; then
    die "no Docker engine answers (\`docker info\` fails); start one first, e.g. tools/docker-engine.sh start"
fi

# One run at a time: two would build the same stand-ins.
LOCK_FILE=${TMPDIR:-/tmp}/twinserve-offline-base-images.lock
exec 9>"$LOCK_FILE"
if ! flock -n 9; then
    log "another run holds $LOCK_FILE: waiting for it"
    flock 9
fi

NEED_PYTHON=0
NEED_LAMBDA=0
resolve "$PYTHON_IMAGE" || NEED_PYTHON=1
lambda_ok=0
arch_ok=0
resolve "$LAMBDA_IMAGE" && lambda_ok=1
resolve "$LAMBDA_IMAGE_ARCH" && arch_ok=1
# On x86_64 both names are the same image: one present names the other.
if [ "$lambda_ok" = 1 ] && [ "$arch_ok" = 0 ]; then
    docker tag "$LAMBDA_IMAGE" "$LAMBDA_IMAGE_ARCH"
    log "$LAMBDA_IMAGE_ARCH: tagged from $LAMBDA_IMAGE (the same image on x86_64)"
elif [ "$lambda_ok" = 0 ] && [ "$arch_ok" = 1 ]; then
    docker tag "$LAMBDA_IMAGE_ARCH" "$LAMBDA_IMAGE"
    log "$LAMBDA_IMAGE: tagged from $LAMBDA_IMAGE_ARCH (the same image on x86_64)"
elif [ "$lambda_ok" = 0 ]; then
    NEED_LAMBDA=1
fi

if [ "$NEED_PYTHON" = 0 ] && [ "$NEED_LAMBDA" = 0 ]; then
    log "nothing to build (total $(elapsed "$START"))"
    exit 0
fi

# --- Building stand-ins: what it takes ----------------------------------------------------------

[ "$(id -u)" = 0 ] || die "building a stand-in needs root (debootstrap, chroot): run this as root"
command -v debootstrap >/dev/null || die "building a stand-in needs debootstrap: apt-get install debootstrap"
command -v chroot >/dev/null || die "building a stand-in needs chroot (coreutils)"
[ "$(uname -m)" = x86_64 ] || die "the stand-ins are x86_64 images; this machine is $(uname -m)"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[ -s "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (the images' pip needs it)"

if [ -z "${PYTHON_HOME:-}" ]; then
    PYTHON_HOME=$(for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$PY_MM".* /root/.pyenv/versions/"$PY_MM".*; do
        [ -x "$d/bin/python$PY_MM" ] && [ ! -e "$d/pyvenv.cfg" ] && echo "$d"
    done | sort -uV | tail -n 1)
fi
[ -n "$PYTHON_HOME" ] && [ -x "$PYTHON_HOME/bin/python$PY_MM" ] \
    || die "no CPython $PY_MM to copy: set PYTHON_HOME (looked in ~/.pyenv/versions/$PY_MM.*)"
PYTHON_HOME=$(cd "$PYTHON_HOME" && pwd -P)
PY_VERSION=$("$PYTHON_HOME/bin/python$PY_MM" -S -c 'import platform; print(platform.python_version())')
readonly PYTHON_HOME PY_VERSION

# The first URI of a `deb` source the machine's apt uses for suite $1 (one-line and deb822 formats).
apt_uri_for_suite() {
    local suite=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk -v s="$suite" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == s) print $i
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk -v s="$suite" '
            function flush(   n, k, a, u) {
                if (types ~ /(^| )deb( |$)/ && enabled != "no") {
                    n = split(suites, a, " ")
                    for (k = 1; k <= n; k++) if (a[k] == s) { split(uris, u, " "); print u[1] }
                }
                types = uris = suites = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "uris:" { $1 = ""; uris = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { flush() }' "$f"
    done
}
first_line() { sed -n 1p; }
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(apt_uri_for_suite "$SUITE" | first_line)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(apt_uri_for_suite "$SUITE-security" | first_line)}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# A pin of the project's (pyproject.toml), else the default given.
project_pin() {
    local pin
    pin=$(grep -oE "\"$1==[^\";]+" "$REPO/pyproject.toml" 2>/dev/null | first_line || true)
    echo "${pin#*==}" | grep . || echo "$2"
}
AWSLAMBDARIC_VERSION=$(project_pin awslambdaric 4.2.2)
BOTO3_VERSION=$(project_pin boto3 1.44.8)
SAM_CLI_VERSION=$(sed -n 's/^SAM_CLI_VERSION[ :]*= *//p' "$REPO/Makefile" 2>/dev/null | first_line || true)
SAM_CLI_VERSION=${SAM_CLI_VERSION:-1.170.0}

mkdir -p "$WORK_PARENT"
WORK=$(mktemp -d "$WORK_PARENT/twinserve-base-images.XXXXXX")
cleanup() {
    local rc=$?
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        # Never rm -rf through a mount (nothing here mounts, but a chroot's postinst might have).
        if awk -v w="$WORK/" 'index($2 "/", w) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
            echo "offline-base-images: something is mounted under $WORK: left in place, unmount and remove it" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The emulator SAM CLI carries (the same one it runs in `sam local`).
find_rie() {
    local f
    if [ -n "${AWS_LAMBDA_RIE:-}" ]; then
        [ -f "$AWS_LAMBDA_RIE" ] || die "AWS_LAMBDA_RIE=$AWS_LAMBDA_RIE: no such file"
        echo "$AWS_LAMBDA_RIE"
        return
    fi
    for f in "$REPO"/.venv-sam/lib/python3.*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64; do
        [ -s "$f" ] && { echo "$f"; return; }
    done
    log "no .venv-sam yet: taking the emulator from aws-sam-cli==$SAM_CLI_VERSION's wheel (PyPI)" >&2
    "$PYTHON_HOME/bin/python$PY_MM" -m pip download --quiet --no-deps --only-binary :all: \
        --disable-pip-version-check -d "$WORK/sam-wheel" "aws-sam-cli==$SAM_CLI_VERSION" >&2 \
        || die "could not download aws-sam-cli==$SAM_CLI_VERSION to take its emulator (set AWS_LAMBDA_RIE)"
    "$PYTHON_HOME/bin/python$PY_MM" -S - "$WORK"/sam-wheel/aws_sam_cli-*.whl "$WORK/aws-lambda-rie" >&2 <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as whl, whl.open("samcli/local/rapid/aws-lambda-rie-x86_64") as src:
    with open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
EOF
    echo "$WORK/aws-lambda-rie"
}
RIE=""
if [ "$NEED_LAMBDA" = 1 ]; then
    RIE=$(find_rie)
fi

# Run a command inside root $1 with a clean environment.
in_root() {
    local root=$1
    shift
    chroot "$root" /usr/bin/env -i PATH=/var/lang/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# --- The Debian rootfs both stand-ins start from (once per run) ---------------------------------

build_base() {
    local root=$1 t0 rc=0
    t0=$(date +%s)
    debootstrap --variant=minbase "$SUITE" "$root" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        tail -n 20 "$WORK/debootstrap.log" >&2
        die "debootstrap $SUITE from $DEBIAN_MIRROR failed (exit $rc)"
    fi
    for tool in useradd groupadd; do
        [ -x "$root/usr/sbin/$tool" ] || die "the minbase rootfs has no /usr/sbin/$tool (passwd package)"
    done
    # The sources python's Debian images use, from the machine's mirrors.
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # As Debian's slim images: no documentation, manuals or translations.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# as in Debian's slim images
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{groff,info,linda,lintian,locale,man}/*
    # The machine's CA bundle, so that apt (an https mirror) and later pip reach their servers.
    mkdir -p "$root/etc/ssl/certs"
    cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    if ! in_root "$root" sh -c 'apt-get update -qq && apt-get upgrade -y -qq \
            && apt-get install -y -qq --no-install-recommends "$@"' sh "${DEB_PACKAGES[@]}" >"$WORK/apt.log" 2>&1; then
        tail -n 20 "$WORK/apt.log" >&2
        die "apt-get in the $SUITE rootfs failed"
    fi
    in_root "$root" apt-get clean
    # update-ca-certificates wrote Debian's bundle: the machine's again (pip in the images needs it).
    cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
    log "Debian $SUITE rootfs (debootstrap minbase from $DEBIAN_MIRROR, apt upgrade and install): $(elapsed "$t0")"
}

# Trash an image needs not: apt's lists and caches, logs, the build machine's name and resolver.
finish_root() {
    local root=$1
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
        "$root"/var/log/apt/* "$root"/var/log/*.log "$root"/root/.cache "$root"/tmp/* "$root"/var/tmp/*
    : >"$root/etc/resolv.conf"
    : >"$root/etc/hostname"
}

# --- CPython, copied from this machine ----------------------------------------------------------

# Copy PYTHON_HOME to root $1 under prefix $2, as if it had been built there.
install_python() {
    local root=$1 prefix=$2 dest=$1$2 name f
    local lib=lib/python$PY_MM
    mkdir -p "$dest/bin"
    # The standard library without its tests, its optimized (-O) bytecode, the static library and
    # whatever was pip-installed into this interpreter (ensurepip puts pip back below).
    tar -C "$PYTHON_HOME" -c --exclude="./$lib/test" --exclude="./$lib/site-packages" --exclude='*.opt-[12].pyc' \
        --exclude='libpython*.a' --exclude=./bin --exclude=./share . | tar -C "$dest" -x
    mkdir -p "$dest/$lib/site-packages"
    cp -P "$PYTHON_HOME/$lib/site-packages/README.txt" "$dest/$lib/site-packages/" 2>/dev/null || true
    find "$dest/$lib" -depth -type d \( -name test -o -name tests -o -name idle_test \) -exec rm -rf {} +
    # Without debug symbols, as python's images (pyenv's build keeps them: a third of the size).
    if command -v strip >/dev/null; then
        find "$dest/lib" -maxdepth 1 -type f -name 'libpython*.so*' -exec strip --strip-unneeded {} +
        find "$dest/$lib/lib-dynload" -type f -name '*.so' -exec strip --strip-unneeded {} +
    fi
    # Only the interpreter's own commands (not pip's: ensurepip writes them; nor the gdb helper).
    for f in "$PYTHON_HOME"/bin/*; do
        name=${f##*/}
        case $name in
            python*-gdb.py) ;;
            python* | pydoc* | idle* | 2to3*) cp -P "$f" "$dest/bin/" ;;
        esac
    done
    if command -v strip >/dev/null; then
        strip --strip-unneeded "$dest/bin/python$PY_MM"
    fi
    # Where the build machine's prefix is written down (sysconfig, python-config, pkg-config,
    # script shebangs), the new one.
    local -a files=()
    mapfile -t files < <(grep -rlIF --exclude-dir=__pycache__ "$PYTHON_HOME" "$dest/bin" "$dest/lib" || true)
    if [ "${#files[@]}" -gt 0 ]; then
        sed -i "s|$PYTHON_HOME|$prefix|g" "${files[@]}"
    fi
    in_root "$root" ldconfig
    # Fresh bytecode for the rewritten modules, then pip from the interpreter's own bundled wheel.
    local -a modules=()
    for f in "${files[@]}"; do
        [[ $f == *.py ]] && modules+=("${f#"$root"}")
    done
    if [ "${#modules[@]}" -gt 0 ]; then
        in_root "$root" "$prefix/bin/python$PY_MM" -m compileall -q -f "${modules[@]}" >/dev/null
    fi
    in_root "$root" "$prefix/bin/python$PY_MM" -m ensurepip --default-pip >/dev/null 2>&1 \
        || die "ensurepip failed under $prefix"
    for name in python python3 pip pip3; do
        [ -x "$dest/bin/$name" ] || die "$prefix/bin/$name is missing after the copy"
    done
    in_root "$root" "$prefix/bin/python3" -c 'import ssl, sqlite3, ctypes, venv, bz2, lzma, zlib, uuid, pyexpat, readline, curses, hashlib, decimal' \
        || die "CPython $PY_VERSION copied to $prefix does not import its standard modules"
}

python_stand_in() {
    local root=$1 t0
    t0=$(date +%s)
    install_python "$root" /usr/local
    # server.Dockerfile makes venvs and pip-installs into them.
    in_root "$root" sh -c 'python -m venv /tmp/venv-check && /tmp/venv-check/bin/pip --version && rm -rf /tmp/venv-check' \
        >/dev/null || die "python -m venv does not work in the $PYTHON_IMAGE stand-in"
    finish_root "$root"
    tar --numeric-owner -C "$root" -c . | docker import \
        --change "ENV PATH=$PYTHON_PATH_ENV" \
        --change 'ENV LANG=C.UTF-8' \
        --change "ENV PYTHON_VERSION=$PY_VERSION" \
        --change "LABEL $LABEL_KEY=\"offline stand-in for $PYTHON_IMAGE made by tools/offline-base-images.sh: Debian $SUITE minbase + CPython $PY_VERSION (not the Docker Hub image)\"" \
        --change 'CMD ["python3"]' \
        - "$PYTHON_IMAGE" >/dev/null
    docker run --rm --network none "$PYTHON_IMAGE" python3 -c 'import ssl, sqlite3, venv' \
        || die "the $PYTHON_IMAGE stand-in does not run python3"
    log "$PYTHON_IMAGE: stand-in built (CPython $PY_VERSION, $(image_size "$PYTHON_IMAGE")) ($(elapsed "$t0"))"
}

image_size() { docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }

# --- The Lambda base image's contract -----------------------------------------------------------

lambda_stand_in() {
    local root=$1 t0
    t0=$(date +%s)
    echo /var/lang/lib >"$root/etc/ld.so.conf.d/var-lang.conf"
    install_python "$root" /var/lang
    mkdir -p "$root/var/runtime" "$root/var/task" "$root/opt"
    # The runtime interface client (the project's pin) where Lambda keeps it; the runtime-included
    # AWS SDK for Python where Lambda's Python 3.12 keeps it (the project's pin of boto3).
    in_root "$root" /var/lang/bin/python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check \
        --root-user-action=ignore --target /var/runtime "awslambdaric==$AWSLAMBDARIC_VERSION" \
        || die "pip could not install awslambdaric==$AWSLAMBDARIC_VERSION"
    in_root "$root" /var/lang/bin/python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check \
        --root-user-action=ignore "boto3==$BOTO3_VERSION" \
        || die "pip could not install boto3==$BOTO3_VERSION"
    install -m 755 "$RIE" "$root/usr/local/bin/aws-lambda-rie"
    cat >"$root/var/runtime/bootstrap" <<EOF
#!/bin/sh
# The Python $PY_MM runtime of the offline stand-in for $LAMBDA_IMAGE (tools/offline-base-images.sh):
# the runtime interface client on the handler in \$_HANDLER, with the search path Lambda's runtime sets:
# the function, then the layers' paths (unless the function sets PYTHONPATH), then the runtime's packages
# (-P: not the working directory besides).
export AWS_EXECUTION_ENV=AWS_Lambda_python$PY_MM
task_root=\${LAMBDA_TASK_ROOT:-/var/task}
if [ -z "\${PYTHONPATH:-}" ]; then
    PYTHONPATH=\$task_root:/opt/python/lib/python$PY_MM/site-packages:/opt/python:/var/runtime
else
    PYTHONPATH=\$task_root:\$PYTHONPATH:/var/runtime
fi
export PYTHONPATH
if [ -n "\${AWS_LAMBDA_EXEC_WRAPPER:-}" ]; then
    if [ ! -f "\$AWS_LAMBDA_EXEC_WRAPPER" ]; then
        echo "\$AWS_LAMBDA_EXEC_WRAPPER: does not exist" >&2
        exit 127
    fi
    if [ ! -x "\$AWS_LAMBDA_EXEC_WRAPPER" ]; then
        echo "\$AWS_LAMBDA_EXEC_WRAPPER: is not an executable" >&2
        exit 126
    fi
    exec "\$AWS_LAMBDA_EXEC_WRAPPER" /var/lang/bin/python3 -P -m awslambdaric "\$_HANDLER"
fi
exec /var/lang/bin/python3 -P -m awslambdaric "\$_HANDLER"
EOF
    cat >"$root/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
# The entry point of Lambda's base images (offline stand-in, tools/offline-base-images.sh): the handler
# is the one argument; outside Lambda (no AWS_LAMBDA_RUNTIME_API) the runtime runs under the emulator.
if [ $# -ne 1 ]; then
    echo "entrypoint requires the handler name to be the first argument" >&2
    exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
EOF
    chmod 755 "$root/var/runtime/bootstrap" "$root/lambda-entrypoint.sh"
    in_root "$root" sh -c 'PYTHONPATH=/var/runtime python3 -c "import awslambdaric.__main__, boto3" && pip --version' \
        >/dev/null || die "awslambdaric or boto3 do not import in the $LAMBDA_IMAGE stand-in"
    finish_root "$root"
    tar --numeric-owner -C "$root" -c . | docker import \
        --change 'ENV LANG=en_US.UTF-8' \
        --change 'ENV TZ=:/etc/localtime' \
        --change "ENV PATH=$LAMBDA_PATH_ENV" \
        --change "ENV LD_LIBRARY_PATH=$LAMBDA_LD_LIBRARY_PATH" \
        --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
        --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
        --change 'WORKDIR /var/task' \
        --change "LABEL $LABEL_KEY=\"offline stand-in for $LAMBDA_IMAGE made by tools/offline-base-images.sh: Debian $SUITE minbase + CPython $PY_VERSION, awslambdaric $AWSLAMBDARIC_VERSION, boto3 $BOTO3_VERSION, SAM CLI's emulator (not the AWS image)\"" \
        --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
        - "$LAMBDA_IMAGE" >/dev/null
    docker tag "$LAMBDA_IMAGE" "$LAMBDA_IMAGE_ARCH"
    docker run --rm --network none --entrypoint /bin/sh "$LAMBDA_IMAGE" -c \
        'test -x /usr/local/bin/aws-lambda-rie && PYTHONPATH=/var/runtime python3 -c "import awslambdaric, boto3"' \
        || die "the $LAMBDA_IMAGE stand-in does not run its runtime"
    log "$LAMBDA_IMAGE: stand-in built (CPython $PY_VERSION, awslambdaric $AWSLAMBDARIC_VERSION, $(image_size "$LAMBDA_IMAGE")) ($(elapsed "$t0"))"
    log "$LAMBDA_IMAGE_ARCH: stand-in tagged (the same image)"
}

log "building stand-ins in $WORK (CPython $PY_VERSION from $PYTHON_HOME)"
build_base "$WORK/base"
if [ "$NEED_PYTHON" = 1 ] && [ "$NEED_LAMBDA" = 1 ]; then
    cp -a "$WORK/base" "$WORK/lambda"
    python_stand_in "$WORK/base"
    lambda_stand_in "$WORK/lambda"
elif [ "$NEED_PYTHON" = 1 ]; then
    python_stand_in "$WORK/base"
else
    lambda_stand_in "$WORK/base"
fi
log "done (total $(elapsed "$START"))"
