#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx's receive program under libxdp's multi-program dispatcher, beside xdp-tools' own
# xdp-filter, run inside the 6.12 VM (the host kernel refuses extension programs). The
# K/E topology of tests/vm/ke.sh: K is a kernel-XFRM peer that sends ESP (tunnel mode,
# AES-GCM) from its LAN to E's; in E, xdp-loader (Debian testing's, 1.5.5 or newer, from
# scripts/vm/fetch-xdp-tools.sh: ESPX_XDP_TOOLS_ROOT) loads espx.bpf.o into the
# dispatcher with its maps pinned in espx's directory for E, and xdp-filter loads after it
# with the decrypted inner port 5556 denied; `espx state add` / `espx policy add` fill
# espx's maps.
# Checks: both programs run in one dispatcher, espx first (its run config); `espx attach`
# refuses the device and says why, leaving the dispatcher as it was; what espx
# decrypts reaches xdp-filter, which drops the inner port it denies and passes the other
# (so it saw the inner headers, not ESP); espx counted every packet; unloading espx
# alone leaves xdp-filter running and filtering; Debian 12's xdp-loader (1.3.1) still
# refuses espx with the kernel's message the README quotes (when Debian 12 updates it,
# this check says the README is out of date).
# Usage: tests/vm/xdp_dispatcher.sh. Prints PASS/FAIL lines; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
K=xdK E=xdE
. tests/vm/ke.sh
XT=${ESPX_XDP_TOOLS_ROOT:-}
SPI=0x2001 REQID=1
N=xdp-dispatcher
PIN=

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail $N "no $ESPX (run make first)"; exit 1; }
if [[ -z $XT || ! -x $XT/usr/sbin/xdp-loader ]]; then
	fail $N "no xdp-tools tree in ESPX_XDP_TOOLS_ROOT='$XT' (scripts/vm/fetch-xdp-tools.sh)"
	exit 1
fi
plan 14
TMP=$(mktemp -d /tmp/xdpd.XXXXXX)
# shellcheck disable=SC2317
cleanup() {
	[[ -n $PIN ]] && xt xdp-loader unload we --all >/dev/null 2>&1
	[[ -n $PIN ]] && xt xdp-filter unload we >/dev/null 2>&1
	ke_cleanup
	rm -rf "$TMP"
}
trap 'cleanup; finish' EXIT

# xt TOOL ARGS...: a tool of the fetched xdp-tools in E, with its own C library, in this
# mount namespace (nsenter, not ip netns exec: the pins must stay visible here)
xt() {
	nsenter --net=/run/netns/$E env LIBXDP_OBJECT_PATH="$XT/usr/lib/x86_64-linux-gnu/bpf" \
		"$XT/usr/lib64/ld-linux-x86-64.so.2" --library-path "$XT/usr/lib/x86_64-linux-gnu" \
		"$XT/usr/sbin/$1" "${@:2}"
}
# status_progs: the programs on we, in dispatcher order, as "name name ..."
status_progs() {
	xt xdp-loader status we 2>/dev/null | awk '$1 == "=>" {print $3}' | tr '\n' ' '
}
# prog_id NAME: the id of the dispatcher's program NAME on we
prog_id() {
	xt xdp-loader status we 2>/dev/null | awk -v n="$1" '$1 == "=>" && $3 == n {print $4}'
}
# udp_count PORT SECONDS: datagrams E's LAN address receives on PORT within SECONDS
# (started in the background; prints the count when done)
udp_count() {
	ip netns exec $E timeout $(($2 + 5)) "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(0.2)
n, end = 0, time.time() + float(sys.argv[3])
print("listening", file=sys.stderr, flush=True)
while time.time() < end:
    try:
        s.recv(2048); n += 1
    except socket.timeout:
        pass
print(n)' "$IE" "$1" "$2"
}
# send FROM_ADDR PORT COUNT: COUNT datagrams from K (source FROM_ADDR) to E's LAN address
send() {
	ip netns exec $K "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[4])):
    s.sendto(b"espx-dispatcher-%d" % i, (sys.argv[2], int(sys.argv[3]))); time.sleep(0.02)' \
		"$1" "$IE" "$2" "$3"
}
# exchange: 20 datagrams from K's LAN to each of E's ports 5555 and 5556; sets GOT5555/6
exchange() {
	local p5 p6
	udp_count 5555 4 >"$TMP/5555" 2>"$TMP/5555.err" & p5=$!
	udp_count 5556 4 >"$TMP/5556" 2>"$TMP/5556.err" & p6=$!
	wait_for 10 grep -q listening "$TMP/5555.err"
	wait_for 10 grep -q listening "$TMP/5556.err"
	send "$1" 5555 20
	send "$1" 5556 20
	wait $p5 $p6
	GOT5555=$(<"$TMP/5555") GOT5556=$(<"$TMP/5556")
}

ke_topology
# K: the kernel's ESP towards E (and E's address on E's LAN is covered by the tunnel)
sa $K $WK $WE $SPI $REQID
pol $K out "src $NK dst $NE" $WK $WE $REQID
PIN=/sys/fs/bpf/espx/net-$(stat -L -c %i /run/netns/$E)
[[ -d /sys/fs/bpf/espx ]] || mkdir -m 0700 /sys/fs/bpf/espx

# eq NAME GOT WANT WHAT: PASS if GOT is WANT, else FAIL saying WHAT
eq() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "$4: got '$2', want '$3'"; fi
}

out=$(xt xdp-loader load -m skb -p "$PIN" -n espx_xdp_rx we build/espx.bpf.o 2>&1)
eq espx-loads-into-dispatcher $? 0 "xdp-loader load exited (${out: -300})"
out=$(xt xdp-filter load -m skb we 2>&1 && xt xdp-filter port -p udp 5556 2>&1)
eq xdp-filter-loads-beside-espx $? 0 "xdp-filter load / port exited (${out: -300})"
eq espx-first-in-one-dispatcher "$(xt xdp-loader status we 2>/dev/null | awk '$1 != "=>" && $2 ~ /^xdp_/ {print $2}') $(status_progs)" \
	"xdp_dispatcher espx_xdp_rx xdpfilt_alw_all " "the dispatcher and its programs in order"

# espx's own attach would take the hook from the dispatcher: it refuses, naming it
check_fails espx-attach-refuses-dispatcher "libxdp's dispatcher" ip netns exec $E "$ESPX" attach we
eq espx-attach-left-dispatcher "$(status_progs)" "espx_xdp_rx xdpfilt_alw_all " "the programs on we after espx attach"

# E: the same SA in espx, and the inbound policy its tunnel-mode packets are checked on
ip netns exec $E "$ESPX" state add src $WK dst $WE proto esp spi $SPI reqid $REQID mode tunnel \
	replay-window $KE_WINDOW aead "$AEAD" "0x${KEYS[$SPI]}" 128 >/dev/null
ip netns exec $E "$ESPX" policy add src $NK dst $NE dir in tmpl src $WK dst $WE proto esp \
	reqid $REQID mode tunnel >/dev/null
eq espx-fills-the-maps "$(spis)" "$SPI" "the SAs espx carries in E"

exchange $IK
eq decrypted-pass-xdp-filter "$GOT5555" 20 "datagrams on the inner port xdp-filter allows"
eq decrypted-dropped-by-xdp-filter "$GOT5556" 0 "datagrams on the inner port xdp-filter denies"
eq espx-decrypted-all "$(epk $SPI)" 40 "packets espx counted on the SA"

# espx out of the dispatcher: xdp-filter stays, and filters what now arrives in plaintext
id=$(prog_id espx_xdp_rx)
out=$(xt xdp-loader unload we -i "$id" 2>&1)
eq espx-unloads-alone $? 0 "xdp-loader unload we -i '$id' exited (${out: -300})"
eq xdp-filter-still-runs "$(status_progs)" "xdpfilt_alw_all " "the programs left on we"
ip -n $K xfrm policy flush
exchange $WK	# plaintext now, from K's link address (no policy covers it)
eq plaintext-passed-by-xdp-filter "$GOT5555" 20 "plaintext datagrams on the allowed port"
eq plaintext-dropped-by-xdp-filter "$GOT5556" 0 "plaintext datagrams on the denied port"

# Debian 12's own xdp-loader, on fresh pins: the refusal the README quotes
xt xdp-filter unload we >/dev/null 2>&1
ip netns exec $E "$ESPX" unload >/dev/null 2>&1
rm -rf "$PIN"
out=$(nsenter --net=/run/netns/$E xdp-loader load -vv -m skb -p "$PIN" -n espx_xdp_rx we \
	build/espx.bpf.o 2>&1)
rc=$?
if ((rc != 0)) && grep -q 'Extension program changes packet data, while original does not' <<<"$out"; then
	pass debian12-xdp-loader-refused-as-documented
else
	fail debian12-xdp-loader-refused-as-documented \
		"Debian 12's xdp-loader ($(dpkg-query -W -f '${Version}' xdp-tools 2>/dev/null)) exited $rc: '$(grep -v '^ *libbpf: ' <<<"$out" | tail -n 3)'; README (\"xdp-loader\") is out of date"
fi
