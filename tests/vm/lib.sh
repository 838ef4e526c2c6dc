# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts of tests/vm/ (run in the VM): tests/lib/espx_test.sh (results,
# waits, keys), then a checked TCP transfer, espx's per-SA packet count and the wait for
# `espx daemon`'s ready line. For xfer the caller sets DATA (the file to send), WANT
# ("LEN SHA256" of it) and SIZE; ESPX may be set after sourcing (another build).
# tests/vm/ke.sh adds the K/E topology, tests/vm/swan.sh the strongSwan set-up.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/espx_test.sh"
XFER=$ROOT/tests/vm/tcpxfer.py

# xfer NAME SERVER_NS SERVER_ADDR CLIENT_NS CLIENT_ADDR PORT [TIMEOUT]: send DATA from
# the client to the server; PASS NAME-<SIZE>B-sha256 if length and SHA-256 arrived intact.
xfer() {
	local n=$1 sns=$2 saddr=$3 cns=$4 caddr=$5 port=$6 tmo=${7:-90} res cerr sp t out
	out=$(mktemp /tmp/espx-xfer.XXXXXX)
	ip netns exec "$sns" $PY "$XFER" server "$saddr" "$port" "$tmo" >"$out" 2>&1 &
	sp=$!
	for ((t = 0; t < 200; t++)); do grep -q listening "$out" && break; sleep 0.1; done
	cerr=$(ip netns exec "$cns" timeout "$tmo" $PY "$XFER" client "$saddr" "$port" "$caddr" "$DATA" 2>&1)
	wait "$sp" 2>/dev/null
	res=$(tail -n 1 "$out")
	rm -f "$out"
	if [[ $res == "$WANT" ]]; then pass "$n-${SIZE}B-sha256"
	else fail "$n-${SIZE}B-sha256" "got '${res:-nothing}', want '$WANT'; client: ${cerr: -200}"; fi
}

# espx_packets NS SPI: packets espx counted on the SA(s) with this SPI (hex), in NS
espx_packets() {
	ip netns exec "$1" "$ESPX" -j stats 2>/dev/null | $PY -c '
import json, sys
j = json.load(sys.stdin)
print(sum(s["packets"] for s in j.get("sas", []) if s["spi"] == int(sys.argv[1], 16)))' "$2"
}

# daemon_ready LOG PID: up to 30 s for `espx daemon` (PID) to log its ready line; gives
# up early if it ended. Succeeds if the line is there.
daemon_ready() {
	for _ in $(seq 300); do
		grep -qs ready "$1" && break
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	grep -qs ready "$1"
}
