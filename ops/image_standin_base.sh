#!/bin/sh
# A stand-in for python:3.12-slim, for machines with Docker but no registry access.
#
#   ops/image_standin_base.sh [TAG]            # default TAG awaterra-base:stand-in
#   docker build -f service/Dockerfile --build-arg BASE_IMAGE=awaterra-base:stand-in \
#       -t awaterra-service .
#
# It debootstraps a minimal Debian bookworm from the configured apt mirror and shapes it like
# the official image where the Dockerfile depends on it: `python` is python3, pip lives outside
# Debian's package manager (so `python -m pip uninstall pip` removes it, as in the official
# image), groupadd/useradd exist. Two differences remain: bookworm's Python is 3.11, not 3.12,
# and a 3.11 `python -m venv` also installs setuptools into the virtualenv.
#
# Where TLS to PyPI is intercepted, the host's extra CA certificates
# (/usr/local/share/ca-certificates/*.crt) are baked into the stand-in (never into the project's
# Dockerfile), and PIP_INDEX_URL, if set on the host, becomes the stand-in's pip index.
#
# Needs root, debootstrap and a running Docker daemon. STANDIN_ROOTFS=/path reuses a rootfs
# debootstrapped before (it is modified in place); STANDIN_MIRROR overrides the mirror.
set -eu

TAG=${1:-awaterra-base:stand-in}
SUITE=bookworm

mirror() {
    if [ -n "${STANDIN_MIRROR:-}" ]; then
        echo "$STANDIN_MIRROR"
        return
    fi
    # First "URIs:" (deb822) or "deb" line naming a plain Debian archive.
    found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
                 -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)[[:space:]].*/\2/p' \
        | head -n 1)
    echo "${found:-http://deb.debian.org/debian}"
}

if [ -n "${STANDIN_ROOTFS:-}" ]; then
    ROOTFS=$STANDIN_ROOTFS
else
    WORKDIR=$(mktemp -d /tmp/awaterra-standin.XXXXXX)
    ROOTFS=$WORKDIR/rootfs
    MIRROR=$(mirror)
    echo "debootstrap $SUITE from $MIRROR into $ROOTFS" >&2
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$ROOTFS" "$MIRROR" >&2
fi

in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# python is python3, as in the official image.
ln -sf python3 "$ROOTFS/usr/bin/python"

# pip installed the way the official image installs it: into /usr/local, outside dpkg, and
# without Debian's PEP 668 marker (the official image has none). Debian disables
# `python3 -m ensurepip` for the system python, so pip installs itself from the wheel that
# python3-venv ships for ensurepip.
if in_root dpkg -s python3-pip >/dev/null 2>&1; then
    in_root dpkg --purge python3-pip >&2
fi
rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
PIP_WHEEL=$(cd "$ROOTFS" && ls usr/share/python-wheels/pip-*.whl | head -n 1)
in_root python3 "/$PIP_WHEEL/pip" install --no-index --no-cache-dir --root-user-action=ignore \
    "/$PIP_WHEEL" >&2

# The host's extra CA certificates (TLS interception) and pip's view of them.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
fi
in_root update-ca-certificates >&2
{
    echo "[global]"
    echo "cert = /etc/ssl/certs/ca-certificates.crt"
    if [ -n "${PIP_INDEX_URL:-}" ]; then
        echo "index-url = $PIP_INDEX_URL"
    fi
} > "$ROOTFS/etc/pip.conf"

in_root apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/tmp/* \
    "$ROOTFS"/root/.cache

tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$TAG" >&2
echo "$TAG"
