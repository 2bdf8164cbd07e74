#!/usr/bin/env bash
# Build mukaika_<version>_<arch>.deb into OUTDIR (default: dist/) without debhelper: the files of
# `make install-files`, a virtual environment with the Python packages from PyPI in
# /usr/lib/mukaika/.venv, and the maintainer scripts beside this file.
#   packaging/deb/build.sh [OUTDIR]       (PYTHON= another Debian interpreter, /usr/bin/python3.X)
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
source=$(cd "$here/../.." && pwd)
outdir=$(mkdir -p "${1:-$source/dist}" && cd "${1:-$source/dist}" && pwd)
python=${PYTHON:-/usr/bin/python3}
prefix=/usr/lib/mukaika

# The environment links to the interpreter by path: it has to be one a Debian package provides.
interpreter=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable))')
case $interpreter in
  /usr/bin/python3.[0-9]*) ;;
  *) echo "$interpreter is not Debian's: the package would need it on every machine (PYTHON=/usr/bin/python3)" >&2; exit 1 ;;
esac
version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$source/pyproject.toml")
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-$(git -C "$source" log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maintainer" ] || { echo "set DEB_MAINTAINER='Name <address>'" >&2; exit 1; }
changed=$(git -C "$source" log -1 --format=%aD 2>/dev/null || date -R)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

"${MAKE:-make}" -s -C "$source" install-files DESTDIR="$root" PREFIX="$prefix" BINDIR=/usr/bin
# A package puts units, users and folders in the vendor places; /etc/systemd/system,
# /etc/sysusers.d and /etc/tmpfiles.d are left to the admin's overrides.
mkdir -p "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
mv "$root/etc/systemd/system/"* "$root/lib/systemd/system/"
mv "$root/etc/sysusers.d/"* "$root/usr/lib/sysusers.d/"
mv "$root/etc/tmpfiles.d/"* "$root/usr/lib/tmpfiles.d/"
rmdir "$root/etc/systemd/system" "$root/etc/systemd" "$root/etc/sysusers.d" "$root/etc/tmpfiles.d"
# The key and the users file belong to each machine: postinst makes them there.
rm "$root/etc/mukaika/originals.key" "$root/etc/mukaika/users.toml"
# Debian keeps manual pages compressed (man reads them so).
if [ -d "$root/usr/share/man" ]; then
  find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +
fi

"$here/../build-venv.sh" --no-compile "$python" "$root$prefix/.venv" "$prefix/.venv"
find "$root$prefix" -name __pycache__ -type d -prune -exec rm -rf {} +
# Wheels install their bundled libraries executable; a library is loaded, never run.
find "$root$prefix" -type f \( -name '*.so' -o -name '*.so.*' \) -exec chmod 0644 {} +

doc=$root/usr/share/doc/mukaika
install -m 0644 "$here/copyright" "$doc/copyright"
printf '%s\n' "mukaika ($version) unstable; urgency=medium" "" \
  "  * Built from the source tree, with the Python packages it runs on from PyPI." "" \
  " -- $maintainer  $changed" | gzip -9n >"$doc/changelog.gz"
install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/mukaika"

# The oldest glibc the bundled compiled modules accept is the newest any of their wheels names.
glibc=$(sed -n 's/^Tag: .*manylinux_2_\([0-9]*\)_.*/\1/p; s/^Tag: .*manylinux2014_.*/17/p; s/^Tag: .*manylinux2010_.*/12/p; s/^Tag: .*manylinux1_.*/5/p' \
  "$root$prefix"/.venv/lib/python3*/site-packages/*.dist-info/WHEEL | sort -n | tail -1)
units=$(find "$root/lib/systemd/system" -maxdepth 1 \( -name '*.service' -o -name '*.socket' \) -printf '%f\n' | sort | paste -sd' ')

mkdir -m 0755 "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: mukaika
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --apparent-size "$root" | cut -f1)
Depends: ${interpreter##*/}, libc6 (>= 2.${glibc:-17}), libstdc++6, zlib1g, libmagic1, libarchive13, libseccomp2, systemd
Recommends: libreoffice-writer-nogui | libreoffice-writer, libreoffice-calc-nogui | libreoffice-calc, libreoffice-impress-nogui | libreoffice-impress, fonts-noto-cjk
Suggests: clamav-daemon, samba
Section: net
Priority: optional
Description: file-sanitisation gateway (CDR) for split LGWAN / internet networks
 mukaika takes the files staff drop into a transfer share, rebuilds them without
 active content (macros, scripts, embedded objects, links) in a confined worker,
 verifies the result and releases a clean copy on the other side of the network,
 or rejects the file with a reason staff can read (Japanese and English).
 .
 LibreOffice (recommended) converts office documents to PDF; without it the
 rules that ask for that conversion reject such files.
EOF
(cd "$root" && find etc -type f -printf '/%p\n' | sort) >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  sed "s|@UNITS@|$units|g" "$here/$script" >"$root/DEBIAN/$script"
  chmod 0755 "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

deb=$outdir/mukaika_${version}_${arch}.deb
# xz at its fastest: the default level takes forty seconds more for a file a sixth smaller.
dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$deb.new" >/dev/null
mv "$deb.new" "$deb"
echo "$deb"
