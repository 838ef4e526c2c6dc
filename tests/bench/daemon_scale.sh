#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# How long `espx daemon` takes to mirror N SAs (default 10000) and what they cost in
# memory. Needs kernel ESP: run in the VM (`scripts/vmtest.sh -- tests/bench/daemon_scale.sh`,
# part of `make bench`). Under TCG the time is a functional figure, not performance.
# Prints one summary line and a JSON line (prefix "json:").
#   N SAs (tunnel, AES-GCM-128, one /32 selector each) and P (default N, at most
#   16384: espx's host-to-host policies per direction) host-to-host outbound policies,
#   one for each of the first P SAs, go into the kernel with one `ip -b` batch; then the daemon starts and the
#   time to its "ready" line (dump + N installs + policies) is measured, and the kernel's
#   memory (MemAvailable, Slab) and the daemon's RSS before and after.
set -u
cd "$(dirname "$0")/../.." || exit 1
N=${1:-10000}
P=${2:-$((N < 16384 ? N : 16384))}
ESPX=$PWD/build/espx
NS=scale
TMP=$(mktemp -d /tmp/espx-scale.XXXXXX)
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; ip netns exec $NS "$ESPX" unload >/dev/null 2>&1; ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
DPID=
modprobe -a esp4 xfrm_user 2>/dev/null
ip netns add $NS || exit 1
ip -n $NS link set lo up
ip -n $NS link add d0 type veth peer name d1
ip -n $NS addr add 10.0.0.1/8 dev d0; ip -n $NS link set d0 up; ip -n $NS link set d1 up
key=0x$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
for ((i = 0; i < N; i++)); do
	h=$((i >> 8 & 255)) l=$((i & 255))
	echo "xfrm state add src 10.0.0.1 dst 10.1.$h.$l proto esp spi $((0x10000 + i)) reqid $((i + 1)) mode tunnel replay-window 64 aead rfc4106(gcm(aes)) $key 128 sel src 192.168.0.1/32 dst 172.16.$h.$l/32"
	((i < P)) && echo "xfrm policy add src 192.168.0.1/32 dst 172.16.$h.$l/32 dir out tmpl src 10.0.0.1 dst 10.1.$h.$l proto esp reqid $((i + 1)) mode tunnel"
done >"$TMP/batch"
ip -n $NS -b "$TMP/batch" || { echo "FAIL scale: ip -b"; exit 1; }
have=$(ip -n $NS xfrm state count 2>/dev/null | grep -o '[0-9]*' | head -n1)
mem() { awk '/^MemAvailable:/{a=$2} /^Slab:/{s=$2} END{print a, s}' /proc/meminfo; }
sync; echo 3 >/proc/sys/vm/drop_caches
read -r a0 s0 <<<"$(mem)"
t0=$(date +%s.%N)
ip netns exec $NS "$ESPX" daemon dev d0 >"$TMP/log" 2>&1 &
DPID=$!
for ((t = 0; t < 6000; t++)); do grep -q ready "$TMP/log" && break; sleep 0.1; done
t1=$(date +%s.%N)
grep -q ready "$TMP/log" || { echo "FAIL scale: daemon not ready: $(tail -n 3 "$TMP/log")"; exit 1; }
read -r a1 s1 <<<"$(mem)"
rss=$(awk '/^VmRSS:/{print $2}' /proc/$DPID/status)
pols=$(ip netns exec $NS "$ESPX" -j policy list | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
got=$(ip netns exec $NS "$ESPX" -j status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["sa_count"])')
secs=$(echo "$t1 - $t0" | bc)
per=$(( (a0 - a1) * 1024 / N ))
echo "scale: $got of $N SAs (kernel had $have) and $pols of $P policies mirrored in ${secs}s; memory per SA $per bytes (MemAvailable), slab +$(( (s1 - s0) * 1024 / N )) B/SA; daemon RSS ${rss} KiB; kernel $(uname -r)"
echo "json: {\"sas\": $N, \"mirrored\": $got, \"policies\": $pols, \"policies_asked\": $P, \"seconds\": $secs, \"bytes_per_sa\": $per, \"slab_bytes_per_sa\": $(( (s1 - s0) * 1024 / N )), \"daemon_rss_kib\": $rss, \"kernel\": \"$(uname -r)\"}"
[[ $got == "$N" && $pols == "$P" ]]
