# SPDX-License-Identifier: GPL-2.0
# The K/E topology of tests/vm/daemon.sh, enforce.sh and transitions.sh, and their look
# at both sides. Namespace K: a peer with kernel XFRM only (gateway WK, LAN host IK on lo);
# namespace E: the same SAs and policies in its kernel (`ip xfrm`, tunnel mode AES-GCM,
# as an IKE daemon installs them), mirrored by `espx daemon dev we`. Source after
# tests/vm/lib.sh; the caller names the namespaces (K, E) and sets TMP and IVL (the
# daemon's interval, ms).
#   K [wk 10.0.0.1/24] ---- veth ---- [we 10.0.0.2/24] E
#   lo 192.168.1.1 (LAN 192.168.1.0/24)   lo 192.168.2.1 (LAN 192.168.2.0/24)
AEAD="rfc4106(gcm(aes))"
WK=10.0.0.1 WE=10.0.0.2 IK=192.168.1.1 IE=192.168.2.1 NK=192.168.1.0/24 NE=192.168.2.0/24
KE_WINDOW=64	# the SAs' replay window
KE_SEL=0	# 1: the SAs carry the LANs as selector (else none, as strongSwan installs them)
DPID=
declare -A KEYS	# SPI -> key: the same SA in both namespaces

# ke_topology [E_ROUTE_WORDS]: the namespaces, the veth between them, LAN addresses and
# the routes to the other LAN (E's with E_ROUTE_WORDS appended, e.g. `mtu 1400`)
ke_topology() {
	ip netns add $K && ip netns add $E || return 1
	ip -n $K link set lo up; ip -n $E link set lo up
	ip link add wk netns $K type veth peer name we netns $E
	ip -n $K addr add $WK/24 dev wk; ip -n $E addr add $WE/24 dev we
	ip -n $K link set wk up; ip -n $E link set we up
	ip -n $K addr add $IK/32 dev lo; ip -n $E addr add $IE/32 dev lo
	ip -n $K route add $NE via $WE src $IK; ip -n $E route add $NK via $WK src $IE "$@"
}
# ke_cleanup: espx unloaded from E, both namespaces gone (after the caller's own stops)
ke_cleanup() {
	ip netns exec $E "$ESPX" unload >/dev/null 2>&1
	ip netns del $K 2>/dev/null
	ip netns del $E 2>/dev/null
}

# sa NS SRC DST SPI REQID [WORDS]: the same SA into a namespace's kernel
sa() {
	local ns=$1 s=$2 d=$3 spi=$4 reqid=$5 k sel=()
	shift 5
	k=${KEYS[$spi]:-}
	[[ -z $k ]] && { k=$(hexkey 20); KEYS[$spi]=$k; }
	if ((KE_SEL)); then
		sel=(sel src "$NK" dst "$NE")
		[[ $s == "$WE" ]] && sel=(sel src "$NE" dst "$NK")
	fi
	ip -n "$ns" xfrm state add src "$s" dst "$d" proto esp spi "$spi" reqid "$reqid" mode tunnel \
		replay-window $KE_WINDOW aead "$AEAD" "0x$k" 128 "${sel[@]}" "$@"
}
# pol NS DIR SELECTOR TMPL_SRC TMPL_DST REQID [add|update]
pol() {
	# shellcheck disable=SC2086
	ip -n "$1" xfrm policy ${7:-add} $3 dir "$2" tmpl src "$4" dst "$5" proto esp reqid "$6" mode tunnel
}
# pols_sel NS LOCAL_W PEER_W OUT_REQID IN_REQID OUT_SEL IN_SEL [add|update]: out, in and
# fwd, as charon installs them
pols_sel() {
	pol "$1" out "$6" "$2" "$3" "$4" "${8:-add}" && pol "$1" in "$7" "$3" "$2" "$5" "${8:-add}" &&
		pol "$1" fwd "$7" "$3" "$2" "$5" "${8:-add}"
}
# pols NS SIDE(k|e) OUT_REQID IN_REQID [add|update]: the three between the LANs
pols() {
	if [[ $2 == k ]]; then pols_sel "$1" $WK $WE "$3" "$4" "src $NK dst $NE" "src $NE dst $NK" "${5:-add}"
	else pols_sel "$1" $WE $WK "$3" "$4" "src $NE dst $NK" "src $NK dst $NE" "${5:-add}"; fi
}

# espx in E, JSON, errors dropped
ej() { ip netns exec $E "$ESPX" -j "$@" 2>/dev/null; }
# spis: the SPIs espx carries in E (not those left to the kernel), sorted
spis() { ej state list | $PY -c 'import json,sys; print(" ".join(sorted("%#x" % s["spi"] for s in json.load(sys.stdin) if not s.get("kernel"))))'; }
spis_eq() { [[ $(spis) == "$1" ]]; }
spis_has() { [[ " $(spis) " == *" $1 "* ]]; }
# epk SPI: espx's packets on an SPI (hex) in E
epk() { espx_packets $E "$1"; }
# kpk NS SPI: the kernel's curlft packets in NS on an SPI
kpk() {
	ip -n "$1" -s xfrm state list spi "$2" 2>/dev/null |
		awk '/lifetime current:/{getline; sub(/\(packets\)/, "", $2); print $2; exit}'
}
# eoseq SPI / koseq SPI: the output sequence number of an SA in espx / in E's kernel
eoseq() { ej state list | $PY -c 'import json,sys; print([s["oseq"] for s in json.load(sys.stdin) if s["spi"]==int(sys.argv[1],16)][0])' "$1"; }
koseq() { printf '%d' "$(ip -n $E -s xfrm state list spi "$1" | grep -o 'oseq 0x[0-9a-f]*' | head -n1 | cut -d' ' -f2)"; }

# start_daemon [OPTIONS]: `espx daemon` in E on we (DPID, log $TMP/daemon.log); waits
# up to 30 s for its ready line
start_daemon() {
	: >"$TMP/daemon.log"
	ip netns exec $E "$ESPX" daemon --interval $IVL "$@" dev we >>"$TMP/daemon.log" 2>&1 &
	DPID=$!
	wait_for 30 grep -q ready "$TMP/daemon.log"
}
