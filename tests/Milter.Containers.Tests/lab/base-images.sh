#!/bin/sh
# Makes the base images the project's Dockerfiles start FROM, without an image registry, when they are
# missing: Debian by debootstrap, the .NET SDK image from this machine's /usr/share/dotnet, and the
# runtime-deps image docker/Dockerfile runs on (Debian's libraries for a self-contained .NET executable).
# A second run finds them and does nothing. Podman runs with lab/containers.conf unless CONTAINERS_CONF
# names another file.
#   base-images.sh            bookworm + .NET images
#   base-images.sh trixie     also localhost/debian:trixie, tagged debian:trixie-slim
set -eu

LAB=$(cd "$(dirname "$0")" && pwd)
CONTAINERS_CONF=${CONTAINERS_CONF:-$LAB/containers.conf}
export CONTAINERS_CONF
DOTNET_ROOT=${DOTNET_ROOT:-/usr/share/dotnet}

say() { echo "base-images: $*"; }
die() { echo "base-images: $*" >&2; exit 1; }

# The Debian mirror this machine's apt uses (deb822 or one-line format).
mirror() {
    m=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1)
    [ -n "$m" ] || m=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
    [ -n "$m" ] || die "no Debian mirror found in /etc/apt/sources.list*"
    echo "$m"
}

# Bumped when the way the images are made changes: images with another value are made again.
RECIPE=2

label() {
    podman image inspect --format "{{index .Labels \"$1\"}}" "$2" 2>/dev/null || true
}

# debian SUITE -> localhost/debian:SUITE (minbase debootstrap; apt sources point at the same mirror). Like
# Debian's official images, apt deletes downloaded packages after installing and fetches no translations.
debian() {
    suite=$1
    [ "$(label milter.lab.recipe "localhost/debian:$suite")" = "$RECIPE" ] && return 0
    say "debootstrap $suite (about a minute)"
    root=$(mktemp -d /tmp/milter-rootfs-XXXXXX)
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase "$suite" "$root" "$(mirror)" >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; die "debootstrap $suite failed"; }
    rm -f "$root.log"
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CONF
    echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
    tar -C "$root" -c . | podman import --quiet --change "LABEL milter.lab.recipe=$RECIPE" - "localhost/debian:$suite" >/dev/null
    rm -rf "$root"
    trap - EXIT
}

# The .NET images: the SDK labelled with the version it holds (made again when the machine's changes).
dotnet_images() {
    sdk=$(find "$DOTNET_ROOT/sdk" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
    [ -n "$sdk" ] || die "no .NET SDK in $DOTNET_ROOT"
    if [ "$(label milter.lab.dotnet mcr.microsoft.com/dotnet/sdk:10.0)" != "$sdk/$RECIPE" ]; then
        say ".NET SDK image ($sdk)"
        podman build --pull=never --network host --format docker -v "$DOTNET_ROOT:/mnt/dotnet:ro" \
            -v /etc/ssl/certs/ca-certificates.crt:/mnt/ca.crt:ro --label "milter.lab.dotnet=$sdk/$RECIPE" \
            -t mcr.microsoft.com/dotnet/sdk:10.0 -f "$LAB/sdk.Containerfile" "$LAB" >/dev/null
    fi
    # runtime-deps: labelled with the Debian image it was made on (made again when that one is)
    deps="$RECIPE/$(podman image inspect --format '{{.Id}}' localhost/debian:bookworm)"
    if [ "$(label milter.lab.deps mcr.microsoft.com/dotnet/runtime-deps:10.0)" != "$deps" ]; then
        say ".NET runtime-deps image"
        podman build --pull=never --network host --format docker --label "milter.lab.deps=$deps" \
            -t mcr.microsoft.com/dotnet/runtime-deps:10.0 -f "$LAB/runtime-deps.Containerfile" "$LAB" >/dev/null
    fi
}

command -v podman >/dev/null || die "podman not found: install the Debian package podman (./test.sh does)"
command -v debootstrap >/dev/null || die "debootstrap not found: install the Debian package debootstrap (./test.sh does)"
debian bookworm
podman tag localhost/debian:bookworm docker.io/library/debian:bookworm-slim
dotnet_images
for suite in "$@"; do
    debian "$suite"
    podman tag "localhost/debian:$suite" "docker.io/library/debian:$suite-slim"
done
