#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job on its embedded default: two sites joined by an AES-GCM
# tunnel that espx runs at both ends.
#
#   site A (netns)                                        site B (netns)
#   192.168.1.1 -- espx on wire-a == veth wire == espx on wire-b -- 192.168.2.1
#                  10.0.0.1         ESP only         10.0.0.2
#
# Random keys (never shown), ping and a TCP transfer with a content
# checksum through the tunnel, live per-SA counters, and a capture of the
# wire showing that only ESP crosses it. Everything lives in namespaces
# created here and is removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ESPX=$(pwd)/${ESPX:-build/espx}
PY=/usr/bin/python3
A=espx-demo-a
B=espx-demo-b
WORK=$(mktemp -d /tmp/espx-demo.XXXXXX)
AEAD="rfc4106(gcm(aes))"

say() { printf '\n== %s\n' "$*"; }
in_a() { ip netns exec $A "$@"; }
in_b() { ip netns exec $B "$@"; }

cleanup() {
	local ns
	[[ -n ${CAP_A:-} ]] && kill "$CAP_A" "$CAP_B" 2>/dev/null || true
	for ns in $A $B; do
		if ip netns list | grep -qw "$ns"; then
			ip netns exec "$ns" "$ESPX" unload >/dev/null 2>&1 || true
			ip netns del "$ns"
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

[[ $(id -u) == 0 ]] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
cleanup	# a previous run killed hard
WORK=$(mktemp -d /tmp/espx-demo.XXXXXX)

say "what this kernel offers espx"
"$ESPX" check

say "two sites and a wire"
ip netns add $A
ip netns add $B
ip link add wire-a netns $A type veth peer name wire-b netns $B
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A addr add 10.0.0.1/24 dev wire-a
ip -n $B addr add 10.0.0.2/24 dev wire-b
ip -n $A link set wire-a up
ip -n $B link set wire-b up
ip -n $A addr add 192.168.1.1/32 dev lo
ip -n $B addr add 192.168.2.1/32 dev lo
ip -n $A route add 192.168.2.0/24 via 10.0.0.2 src 192.168.1.1
ip -n $B route add 192.168.1.0/24 via 10.0.0.1 src 192.168.2.1
echo "site A 192.168.1.0/24 via 10.0.0.1  <== wire ==>  10.0.0.2, site B 192.168.2.0/24"

say "espx at both ends of the wire, SAs with random keys, policies"
KEY_AB=0x$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')	# AES-128 key + 4-byte salt
KEY_BA=0x$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
for ns in $A $B; do
	ip netns exec $ns "$ESPX" attach wire-${ns##*-}
	ip netns exec $ns "$ESPX" state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001 \
		reqid 1 mode tunnel replay-window 128 aead "$AEAD" "$KEY_AB" 128
	ip netns exec $ns "$ESPX" state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x1002 \
		reqid 2 mode tunnel replay-window 128 aead "$AEAD" "$KEY_BA" 128
done
unset KEY_AB KEY_BA
in_a "$ESPX" policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir out \
	tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel
in_a "$ESPX" policy add src 192.168.2.0/24 dst 192.168.1.0/24 dir in \
	tmpl src 10.0.0.2 dst 10.0.0.1 proto esp reqid 2 mode tunnel
in_b "$ESPX" policy add src 192.168.2.0/24 dst 192.168.1.0/24 dir out \
	tmpl src 10.0.0.2 dst 10.0.0.1 proto esp reqid 2 mode tunnel
in_b "$ESPX" policy add src 192.168.1.0/24 dst 192.168.2.0/24 dir in \
	tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel
in_a "$ESPX" state list
in_a "$ESPX" policy list

# the wire, as both ends transmit it (receive taps see decrypted packets)
# (ip netns exec execs tcpdump: $! is tcpdump itself, for the kill below)
ip netns exec $A tcpdump --immediate-mode -Q out -i wire-a -U -w "$WORK/a.pcap" ip 2>/dev/null &
CAP_A=$!
ip netns exec $B tcpdump --immediate-mode -Q out -i wire-b -U -w "$WORK/b.pcap" ip 2>/dev/null &
CAP_B=$!
sleep 1

say "ping from site A to site B through the tunnel"
in_a ping -c 4 -i 0.3 -I 192.168.1.1 192.168.2.1

say "TCP: 16 MB from A to B, compared by SHA-256, with live per-SA counters"
head -c 16M /dev/urandom > "$WORK/data"
SENT=$(sha256sum < "$WORK/data" | cut -d' ' -f1)
in_b $PY -c '
import hashlib, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.168.2.1", 5001)); s.listen(1); c, _ = s.accept(); h = hashlib.sha256()
while (d := c.recv(1 << 16)): h.update(d)
print(h.hexdigest())' > "$WORK/received" &
SINK=$!
sleep 0.5
in_a $PY -c '
import socket, sys
s = socket.socket(); s.bind(("192.168.1.1", 0)); s.connect(("192.168.2.1", 5001))
with open(sys.argv[1], "rb") as f: s.sendfile(f)
s.close()' "$WORK/data" &
SRC=$!
while kill -0 $SRC 2>/dev/null; do
	in_a "$ESPX" stats | sed -n 's/^SA /  site A SA /p'
	sleep 1
done
wait $SRC
wait $SINK
RECEIVED=$(cat "$WORK/received")
echo "sent     $SENT"
echo "received $RECEIVED"
[[ $SENT == "$RECEIVED" ]] || { echo "demo: transfer corrupted" >&2; exit 1; }
echo "content identical"

say "what crossed the wire"
sleep 0.5
kill $CAP_A $CAP_B 2>/dev/null || true
wait $CAP_A $CAP_B 2>/dev/null || true
CAP_A=
count() { tcpdump -r "$1" -n "${@:2}" 2>/dev/null | wc -l; }
total=$(($(count "$WORK/a.pcap") + $(count "$WORK/b.pcap")))
esp=$(($(count "$WORK/a.pcap" esp) + $(count "$WORK/b.pcap" esp)))
tcpdump -r "$WORK/a.pcap" -n -c 3 2>/dev/null
tcpdump -r "$WORK/b.pcap" -n -c 3 2>/dev/null
echo "$total IP packets on the wire, $esp of them ESP"
[[ $total -gt 0 && $total == "$esp" ]] || { echo "demo: plaintext on the wire" >&2; exit 1; }

say "drops and pass-throughs by reason, site B"
in_b "$ESPX" stats

say "detach and unload: nothing left behind"
in_a "$ESPX" unload
in_b "$ESPX" unload
echo "demo done"
