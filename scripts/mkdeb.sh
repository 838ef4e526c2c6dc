#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build a Debian package of espx from this tree with Debian's own tools:
# `make install` into a staging root, dependencies from dpkg-shlibdeps (the
# libraries build/espx links), dpkg-deb to pack. Output: build/espx_VER_ARCH.deb
# (its path on stdout). Usage: scripts/mkdeb.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
die() { echo "mkdeb: $*" >&2; exit 1; }
for t in dpkg-deb dpkg-shlibdeps dpkg-architecture; do
	command -v "$t" >/dev/null || die "$t is missing: apt-get install dpkg-dev (make deps)"
done
[[ -x $BUILD/espx ]] || die "$BUILD/espx is not built: run make"
ver=$("$BUILD/espx" version | awk '{print $2}')
[[ -n $ver ]] || die "cannot read the version from $BUILD/espx version"
ver+="-1"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
stage=$(realpath -m "$BUILD/deb")
root=$stage/root
rm -rf "$stage"
mkdir -p "$root/DEBIAN" "$stage/shl/debian"
make -s install BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr >/dev/null
gzip -9n "$root/usr/share/man/man8/espx.8"
install -d "$root/usr/share/doc/espx"
printf 'espx: IPsec ESP datapath in eBPF.\nLicense: GPL-2.0 (SPDX identifiers in each file);\nsee /usr/share/common-licenses/GPL-2.\n' \
	>"$root/usr/share/doc/espx/copyright"
# dpkg-shlibdeps wants a source tree around it: a control file of two stanzas
printf 'Source: espx\n\nPackage: espx\nArchitecture: any\n' >"$stage/shl/debian/control"
deps=$(cd "$stage/shl" && dpkg-shlibdeps -O -e "$root/usr/sbin/espx" 2>/dev/null |
       sed -n 's/^shlibs:Depends=//p')
[[ -n $deps ]] || die "dpkg-shlibdeps found no dependencies for usr/sbin/espx"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOT
Package: espx
Version: $ver
Architecture: $arch
Maintainer: espx developers <root@localhost>
Installed-Size: $size
Depends: $deps
Recommends: iproute2, xdp-tools
Section: net
Priority: optional
Description: IPsec ESP datapath in eBPF (XDP receive, TC transmit)
 espx carries IPsec ESP (RFC 4303, AES-GCM per RFC 4106) in eBPF programs:
 XDP decrypts what arrives, tcx egress encrypts what leaves. Its maps mirror
 the kernel's XFRM database (espx daemon), so strongSwan and libreswan work
 unchanged. Needs Linux 6.10 or newer with BPF crypto.
EOT
echo /etc/default/espx >"$root/DEBIAN/conffiles"
# systemd: reload units; stop the daemon (which hands SAs back) before removal
cat >"$root/DEBIAN/postinst" <<'EOT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOT
cat >"$root/DEBIAN/prerm" <<'EOT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl stop espx-daemon.service 2>/dev/null || true
	systemctl disable espx-daemon.service 2>/dev/null || true
fi
EOT
cat >"$root/DEBIAN/postrm" <<'EOT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
out=$BUILD/espx_${ver}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
