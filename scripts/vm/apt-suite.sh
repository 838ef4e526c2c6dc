# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by scripts/vm/fetch-*.sh: an apt state of our own for another Debian suite
# (trixie-backports for a kernel, forky for a newer libxdp), so that nothing of the
# system's sources changes. The mirror is the one the system's Debian entry names; the
# keys are debian-archive-keyring's. Needs CACHE.
APT=()	# options that point apt at the private state, set by apt_suite

# apt_suite SUITE: set APT for SUITE, with an index at most a day old. Returns 3 when the
# archive cannot be read (the callers' "nothing to be had": a test skips).
apt_suite() {
	local suite=$1 dir=$CACHE/apt-$1 uri src
	src=$(grep -ls '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
	if [[ -n $src ]]; then
		uri=$(awk '/^URIs:/{print $2; exit}' "$src")
	else
		uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	fi
	[[ -n ${uri:-} ]] || { echo "apt-suite: no Debian archive in the apt sources" >&2; return 3; }
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
		>"$dir/sources.list"
	APT=(-o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	     -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache"
	     -o APT::Default-Release="$suite")
	if [[ -z $(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null) ]]; then
		apt-get "${APT[@]}" update -qq >&2 || return 3
	fi
}
