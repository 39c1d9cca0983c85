#!/bin/sh
# Builds milter_VERSION_amd64.deb with dpkg-deb: the self-contained `milter` (Debian has no .NET 10
# runtime package, so the package carries the runtime and needs none), the systemd unit, a default
# /etc/milter/milter.json (a conffile), and the maintainer scripts (postinst: the milter user and
# /var/lib/milter). The publish output is cached by a hash of the sources and the SDK version, so a
# second run with the same sources only re-packs (a few seconds).
#   packaging/deb/build.sh [OUTDIR]        (default OUTDIR: the current directory)
#   VERSION=1.2.3 packaging/deb/build.sh   (default 1.0.0, the assembly's version)
#   MILTER_DEB_CACHE=DIR                   (default ${XDG_CACHE_HOME:-$HOME/.cache}/milter-deb)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
VERSION=${VERSION:-1.0.0}
ARCH=amd64
RID=linux-x64
CACHE=${MILTER_DEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milter-deb}

say() { echo "build.sh: $*"; }
die() { echo "build.sh: $*" >&2; exit 1; }
command -v dotnet >/dev/null || die "dotnet not found (the .NET 10 SDK builds the binary)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

# What the publish reads: src/, the build props, global.json, the SDK that compiles it, and how it is
# called (RECIPE: bumped when the publish command below changes).
RECIPE=1
hash=$(cd "$ROOT" && {
    echo "recipe $RECIPE"
    dotnet --version
    find src global.json Directory.Build.props Directory.Packages.props -type f \
        -not -path '*/bin/*' -not -path '*/obj/*' -print | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -c1-16)
publish="$CACHE/publish-$hash"
if [ -x "$publish/milter" ]; then
    say "publish output unchanged, reused $publish"
else
    say "dotnet publish (self-contained, $RID)"
    mkdir -p "$CACHE"
    rm -rf "$publish.tmp"
    # --artifacts-path: obj/ and bin/ of this RID-specific build stay in the cache, away from the
    # checkout's own build (whose obj/ a RID restore would rewrite).
    dotnet publish "$ROOT/src/Milter/Milter.csproj" -c Release -r "$RID" --self-contained true \
        --artifacts-path "$CACHE/artifacts" -p:DebugType=none -p:DebugSymbols=false \
        -o "$publish.tmp" >"$CACHE/publish.log" 2>&1 \
        || { tail -n 30 "$CACHE/publish.log" >&2; die "dotnet publish failed (log: $CACHE/publish.log)"; }
    # Native libraries come unstripped (lintian: unstripped-binary-or-object).
    find "$publish.tmp" -name '*.so' -exec strip --strip-unneeded {} +
    mv "$publish.tmp" "$publish"
    # Older outputs are of no further use.
    find "$CACHE" -mindepth 1 -maxdepth 1 -name 'publish-*' ! -name "publish-$hash" -exec rm -rf {} +
fi

# The package itself is cached too, by the publish hash, the packaging files and the version.
debhash=$(cd "$ROOT" && { echo "$hash $VERSION"; find packaging -type f -print | LC_ALL=C sort | xargs sha256sum; } \
    | sha256sum | cut -c1-16)
deb="$OUT/milter_${VERSION}_$ARCH.deb"
cached="$CACHE/deb-$debhash/milter_${VERSION}_$ARCH.deb"
if [ -f "$cached" ]; then
    cp "$cached" "$deb"
    say "package unchanged, reused $cached"
    say "$deb ($(du -k "$deb" | cut -f1) KiB)"
    exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/milter-deb-XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/milter_${VERSION}_$ARCH"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/lib/milter" "$pkg/usr/bin" "$pkg/lib/systemd/system" \
    "$pkg/etc/milter" "$pkg/usr/share/doc/milter" "$pkg/usr/share/lintian/overrides"
cp -R "$publish/." "$pkg/usr/lib/milter/"
ln -s ../lib/milter/milter "$pkg/usr/bin/milter"
install -m 0644 "$ROOT/packaging/systemd/milter.service" "$pkg/lib/systemd/system/milter.service"
install -m 0644 "$HERE/milter.json" "$pkg/etc/milter/milter.json"
for script in postinst prerm postrm; do install -m 0755 "$HERE/$script" "$pkg/DEBIAN/$script"; done
echo /etc/milter/milter.json >"$pkg/DEBIAN/conffiles"
install -m 0644 "$HERE/lintian-overrides" "$pkg/usr/share/lintian/overrides/milter"
install -m 0644 "$HERE/copyright" "$pkg/usr/share/doc/milter/copyright"
sed "s/@VERSION@/$VERSION/" "$HERE/changelog" | gzip -9n >"$pkg/usr/share/doc/milter/changelog.gz"
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg/usr/lib/milter" -type f -exec chmod 0644 {} +
chmod 0755 "$pkg/usr/lib/milter/milter" "$pkg/usr/lib/milter/createdump" 2>/dev/null || true

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: milter
Version: $VERSION
Architecture: $ARCH
Maintainer: Milter maintainers <maintainers@users.noreply.r-seed-00aa7497.example>
Installed-Size: $size
Depends: adduser, procps, libc6, libgcc-s1, libstdc++6, libssl3 | libssl3t64, zlib1g
Section: mail
Priority: optional
Homepage: https://github.com/milter/milter
Description: mail authentication filter (DKIM, SPF, DMARC) for Postfix and Sendmail
 Milter signs outgoing mail with DKIM and checks incoming mail's DKIM
 signatures, SPF and DMARC, adding an Authentication-Results header. It
 speaks the milter protocol to Postfix and Sendmail over a Unix or TCP
 socket and runs as the systemd service milter.service.
 .
 The .NET runtime is included (self-contained build).
CONTROL

dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
find "$CACHE" -mindepth 1 -maxdepth 1 -name 'deb-*' -exec rm -rf {} +
mkdir -p "$(dirname "$cached")"
cp "$deb" "$cached"
say "$deb ($(du -k "$deb" | cut -f1) KiB)"
