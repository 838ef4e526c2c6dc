#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Debian package: scripts/mkdeb.sh (make deb) builds it with dpkg-deb
# and dpkg-shlibdeps; apt-get installs it, the installed espx works (check,
# -j status in a namespace of ours, man espx), apt-get purge removes it and
# leaves nothing of it behind. Runs only where no espx package is installed
# already (it would replace the operator's).
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_deb
cd "$(dirname "$0")/.." || exit 1
plan 9
ours=0
cleanup() {
	((ours)) && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq espx >/dev/null 2>&1
	finish
}
trap cleanup EXIT INT TERM

if dpkg-query -W -f='${Status}' espx 2>/dev/null | grep -q 'install ok'; then
	for n in deb_build deb_depends deb_contents apt_install installed_check installed_status \
		 installed_man purge_removes purge_leaves_nothing; do
		skip "$n" "an espx package is installed on this machine; not replacing it"
	done
	exit 0
fi
deb=$(scripts/mkdeb.sh "$BUILD" 2>"$BUILD/mkdeb.err")
if [[ -f $deb ]]; then pass deb_build
else fail deb_build "scripts/mkdeb.sh: $(tail -n 3 "$BUILD/mkdeb.err")"; exit 1; fi
dep=$(dpkg-deb -f "$deb" Depends)
check "deb_depends ($dep)" grep -q 'libbpf1' <<<"$dep"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
missing=""
for f in ./usr/sbin/espx ./usr/share/man/man8/espx.8.gz ./usr/share/bash-completion/completions/espx \
	 ./usr/lib/systemd/system/espx-daemon.service ./etc/default/espx ./usr/share/doc/espx/copyright; do
	grep -qx -- "$f" <<<"$files" || missing+=" $f"
done
if [[ -z $missing ]]; then pass deb_contents; else fail deb_contents "missing:$missing"; fi

ours=1
if out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$(realpath "$deb")" 2>&1); then
	pass apt_install
else
	fail apt_install "$(echo "$out" | tail -n 3)"
	exit 1
fi
check installed_check /usr/sbin/espx check
netns_add A deb
if json_get "$(ip netns exec "$A" /usr/sbin/espx -j status)" 'j' >/dev/null 2>&1; then
	pass installed_status
else
	fail installed_status "espx -j status: $(ip netns exec "$A" /usr/sbin/espx -j status 2>&1 | head -2)"
fi
check installed_man test "$(man -w espx 2>/dev/null)" = /usr/share/man/man8/espx.8.gz

listed=$(dpkg -L espx | while read -r f; do [[ -f $f ]] && echo "$f"; done)
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq espx >/dev/null 2>&1 &&
   ! dpkg-query -W -f='${Status}' espx 2>/dev/null | grep -q 'install ok'; then
	pass purge_removes
	ours=0
else
	fail purge_removes "apt-get purge espx failed or left it installed"
fi
left=""
for f in $listed /etc/default/espx; do [[ -e $f ]] && left+=" $f"; done
if [[ -z $left ]]; then pass purge_leaves_nothing; else fail purge_leaves_nothing "still there:$left"; fi
