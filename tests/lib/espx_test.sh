# SPDX-License-Identifier: GPL-2.0
# Helpers for the shell tests: result lines for tests/run.sh and network
# namespaces that the test creates and always removes. Source it.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${ESPX_BUILD:-$ROOT/build}
ESPX=$BUILD/espx
PY=/usr/bin/python3
NS_PREFIX=espxt$$
_failed=0
_netns=()

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; _failed=1; }
skip() { echo "SKIP $1: $2"; }
# plan N: this test prints N PASS/FAIL/SKIP lines; tests/run.sh FAILs it if it reports
# another number (it stopped early)
plan() { echo "PLAN $1"; }

# check NAME CMD...: PASS if CMD succeeds
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "'$*' failed"; fi
}

# check_fails NAME PATTERN CMD...: CMD must fail and say PATTERN on stderr/stdout
check_fails() {
	local name=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 0)); then
		fail "$name" "'$*' succeeded; expected failure"
	elif ! grep -qE -- "$pat" <<<"$out"; then
		fail "$name" "'$*' said '$out'; expected /$pat/"
	else
		pass "$name"
	fi
}

# json_get JSON PYEXPR: evaluate PYEXPR with the parsed document as j
json_get() {
	"$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# netns_add VAR SHORT: create namespace $NS_PREFIX-SHORT, name it in VAR.
# Not called in $(...): the list of namespaces to remove lives in this shell.
netns_add() {
	local ns=$NS_PREFIX-$2
	ip netns add "$ns" && ip -n "$ns" link set lo up && _netns+=("$ns")
	printf -v "$1" '%s' "$ns"
}

# veth_pair NS1 DEV1 NS2 DEV2 ADDR1/PLEN ADDR2/PLEN
veth_pair() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
	ip -n "$1" addr add "$5" dev "$2" && ip -n "$3" addr add "$6" dev "$4" &&
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

cleanup_netns() {
	local ns
	for ns in "${_netns[@]}"; do
		ip netns exec "$ns" "$ESPX" unload >/dev/null 2>&1
		ip netns del "$ns" 2>/dev/null
	done
	_netns=()
}

finish() {
	cleanup_netns
	exit $_failed
}

need_root() {
	if [[ $(id -u) != 0 ]]; then
		skip "$1" "needs root"
		exit 0
	fi
}
