#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx in libxdp's multi-program dispatcher, beside xdp-tools' own xdp-filter, run inside
# the 6.12 VM (the host kernel refuses extension programs, so libxdp attaches one program
# alone there). The K/E topology of tests/vm/ke.sh: K is a kernel-XFRM peer (tunnel mode,
# AES-GCM) between K's LAN and E's. libxdp 1.5.5 or newer comes from Debian testing
# (scripts/vm/fetch-xdp-tools.sh: ESPX_XDP_TOOLS_ROOT); its xdp-loader and xdp-filter, and
# espx itself where it must use that libxdp, run through that tree's dynamic loader.
# xdp-filter denies the inner UDP port 5556 in every part; 20 datagrams go from K's LAN
# to each of E's ports 5555 and 5556, so xdp-filter dropping exactly the 5556 ones shows
# that it saw the decrypted headers, after espx.
# 1. xdp-loader: espx.bpf.o loaded into the dispatcher with its maps pinned in espx's
#    directory for E, filled by `espx state`/`policy add` (receive only). Checks: one
#    dispatcher, espx first (its run config); `espx attach` refuses to add a second
#    receive program and names the first, leaving all as it was; decrypted datagrams pass
#    or are dropped by xdp-filter as above, espx counted all; `xdp-loader unload -i` takes
#    espx out alone and xdp-filter still filters plaintext.
# 2. espx attach: with xdp-filter's dispatcher on the device, `espx attach we` (with the
#    newer libxdp) joins it and attaches its tc programs as usual. Checks: espx built
#    with Debian 12's libxdp (1.3.1) cannot join and says why, changing nothing; the
#    newer one says it joined, the
#    order, `espx -j status` shows it; ping both ways through the tunnel (espx encrypts
#    too); the datagrams as above; `espx detach` leaves xdp-filter running and filtering;
#    nothing of espx's is left on the device.
# 3. Debian 12's own xdp-loader (1.3.1) still refuses espx with the kernel's message the
#    README quotes (when Debian 12 updates it, this check says the README is out of date).
# Usage: tests/vm/xdp_dispatcher.sh. Prints PASS/FAIL lines; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
K=xdK E=xdE
. tests/vm/ke.sh
XT=${ESPX_XDP_TOOLS_ROOT:-}
SPI=0x2001 SPI_EK=0x2002 REQID=1 REQID_EK=2
N=xdp-dispatcher
PIN=

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail $N "no $ESPX (run make first)"; exit 1; }
if [[ -z $XT || ! -x $XT/usr/sbin/xdp-loader ]]; then
	fail $N "no xdp-tools tree in ESPX_XDP_TOOLS_ROOT='$XT' (scripts/vm/fetch-xdp-tools.sh)"
	exit 1
fi
plan 26
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
# espx_new ARGS...: espx in E with the fetched tree's libxdp (and C library), and that
# libxdp's own dispatcher object (it looks in the system's directory first, where Debian
# 12's older one is)
espx_new() {
	ip netns exec $E env LIBXDP_OBJECT_PATH="$XT/usr/lib/x86_64-linux-gnu/bpf" \
		"$XT/usr/lib64/ld-linux-x86-64.so.2" \
		--library-path "$XT/usr/lib/x86_64-linux-gnu" "$ESPX" "$@"
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

# eq NAME GOT WANT WHAT: PASS if GOT is WANT, else FAIL saying WHAT
eq() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "$4: got '$2', want '$3'"; fi
}
# dispatcher_order: the dispatcher and its programs on we, in order
dispatcher_order() {
	echo "$(xt xdp-loader status we 2>/dev/null | awk '$1 != "=>" && $2 ~ /^xdp_/ {print $2}') $(status_progs)"
}
# devices: how many devices espx lists as attached in E
devices() { ej status | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))'; }
# espx_in ESPX_CMD: E's side of the tunnel in espx: the SA from K and the inbound policy
# its tunnel-mode packets are checked on (and with "both", the way back to K as well)
espx_in() {
	"$@" state add src $WK dst $WE proto esp spi $SPI reqid $REQID mode tunnel \
		replay-window $KE_WINDOW aead "$AEAD" "0x${KEYS[$SPI]}" 128 >/dev/null
	"$@" policy add src $NK dst $NE dir in tmpl src $WK dst $WE proto esp reqid $REQID \
		mode tunnel >/dev/null
}
espx_out() {
	"$@" state add src $WE dst $WK proto esp spi $SPI_EK reqid $REQID_EK mode tunnel \
		replay-window $KE_WINDOW aead "$AEAD" "0x${KEYS[$SPI_EK]}" 128 >/dev/null
	"$@" policy add src $NE dst $NK dir out tmpl src $WE dst $WK proto esp reqid $REQID_EK \
		mode tunnel >/dev/null
}
# filter_on: xdp-filter on we, denying the UDP port 5556
filter_on() {
	local out
	out=$(xt xdp-filter load -m skb we 2>&1 && xt xdp-filter port -p udp 5556 2>&1)
	eq "$1" $? 0 "xdp-filter load / port exited (${out: -300})"
}
# datagrams NAME FROM WHAT: the 20 + 20 datagrams from K (source FROM); port 5555's pass,
# port 5556's are dropped by xdp-filter
datagrams() {
	exchange "$2"
	eq "$1-passed" "$GOT5555" 20 "$3 datagrams on the port xdp-filter allows"
	eq "$1-dropped" "$GOT5556" 0 "$3 datagrams on the port xdp-filter denies"
}

ke_topology
# K: the kernel's ESP towards E (and E's address on E's LAN is covered by the tunnel)
sa $K $WK $WE $SPI $REQID
pol $K out "src $NK dst $NE" $WK $WE $REQID
PIN=/sys/fs/bpf/espx/net-$(stat -L -c %i /run/netns/$E)
[[ -d /sys/fs/bpf/espx ]] || mkdir -m 0700 /sys/fs/bpf/espx

## 1. xdp-loader
out=$(xt xdp-loader load -m skb -p "$PIN" -n espx_xdp_rx we build/espx.bpf.o 2>&1)
eq loader-espx-loads $? 0 "xdp-loader load exited (${out: -300})"
filter_on loader-xdp-filter-loads
eq loader-espx-first "$(dispatcher_order)" "xdp_dispatcher espx_xdp_rx xdpfilt_alw_all " \
	"the dispatcher and its programs in order"
# espx attach cannot add a second receive program: it names the one there
check_fails loader-attach-refused-second "already runs espx's receive program .*xdp-loader unload we -i" \
	espx_new attach we
eq loader-attach-left-all "$(status_progs) $(devices)" "espx_xdp_rx xdpfilt_alw_all  0" \
	"the programs on we and the devices espx lists, after the refused attach"
espx_in ip netns exec $E "$ESPX"
eq loader-espx-fills-the-maps "$(spis)" "$SPI" "the SAs espx carries in E"
datagrams loader-decrypted $IK decrypted
eq loader-espx-decrypted-all "$(epk $SPI)" 40 "packets espx counted on the SA"
id=$(prog_id espx_xdp_rx)
out=$(xt xdp-loader unload we -i "$id" 2>&1)
eq loader-espx-unloads-alone "$? $(status_progs)" "0 xdpfilt_alw_all " \
	"xdp-loader unload we -i '$id' (${out: -200}) and the programs left"
ip -n $K xfrm policy flush
datagrams loader-plaintext $WK plaintext	# from K's link address: no policy covers it

# reset: nothing of espx's, no XDP program
xt xdp-filter unload we >/dev/null 2>&1
ip netns exec $E "$ESPX" unload >/dev/null 2>&1
rm -rf "$PIN"

## 2. espx attach into xdp-filter's dispatcher
sa $K $WE $WK $SPI_EK $REQID_EK
pol $K out "src $NK dst $NE" $WK $WE $REQID
pol $K in "src $NE dst $NK" $WE $WK $REQID_EK
filter_on attach-xdp-filter-loads
# espx built with Debian 12's libxdp cannot join: it says why and changes nothing
check_fails old-libxdp-attach-refused "older than 1.5.5" ip netns exec $E "$ESPX" attach we
eq old-libxdp-attach-left-all "$(status_progs) $(devices)" "xdpfilt_alw_all  0" \
	"the programs on we and the devices espx lists, after the refused attach"
out=$(espx_new attach we 2>&1)
eq attach-joins-dispatcher "$?:$(grep -c "in libxdp's dispatcher" <<<"$out")" "0:1" "espx attach we said '${out: -300}'"
eq attach-espx-first "$(dispatcher_order)" "xdp_dispatcher espx_xdp_rx xdpfilt_alw_all " \
	"the dispatcher and its programs in order"
eq attach-status-says-dispatcher "$(ej status | $PY -c 'import json,sys; print([d["xdp_dispatcher"] for d in json.load(sys.stdin)["devices"]])')" \
	"[True]" "xdp_dispatcher of espx -j status's devices"
espx_in espx_new
espx_out espx_new
got=$(ip netns exec $K ping -c 5 -i 0.2 -W 2 -I $IK $IE 2>&1 | grep -o '[0-9]* received')
eq attach-ping-both-ways "$got" "5 received" "pings from K's LAN to E's through the tunnel"
datagrams attach-decrypted $IK decrypted
out=$(espx_new detach we 2>&1)
eq attach-detach-leaves-xdp-filter "$? $(status_progs)" "0 xdpfilt_alw_all " \
	"espx detach we (${out: -200}) and the programs left"
eq attach-detach-left-nothing "$(ip netns exec $E bpftool net show dev we | grep -c espx)$(espx_new -j status | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))')" \
	"00" "espx programs on we / devices espx lists after detach"
ip -n $K xfrm policy flush
datagrams attach-plaintext $WK plaintext

## 3. Debian 12's own xdp-loader, on fresh pins: the refusal the README quotes
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
