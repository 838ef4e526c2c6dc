#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The pod fast path (`espx attach VETH --redirect`, bpf/lib/redirect.h,
# user/platform/podpath.h): two nodes joined by an uplink, one pod behind
# each (routed, as Calico does), espx on both uplinks with one tunnel SA
# pair. With the fast path on both pod veths: traffic crosses, and the
# counters show that it went the fast way in both directions (XDP into the
# pod, encryption at the pod veth, TCP super-packets through the segmenter);
# forwarding's TTL decrement happens exactly once per node; a TTL that
# expires is answered by the node; only ESP on the uplink; without an SA the
# pod's packets are dropped, never sent in plaintext; GRO at the pod's end
# is on while attached and given back on detach and unload; a pod deleted
# with the fast path on leaves a stale link that a new pod of the same name
# replaces; wrong uses fail with a message that says what to do.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_fast_path
plan 32
trap finish EXIT INT TERM
T_PREFIX=fast-

AEAD="rfc4106(gcm(aes))"
netns_add N1 n1; netns_add N2 n2; netns_add P1 p1; netns_add P2 p2
NODES=("$N1" "$N2") PODS=("$P1" "$P2")
ex() { local ns=$1; shift; ip netns exec "$ns" "$ESPX" "$@"; }
# pod I behind node I: pod 10.244.I.10/32, gateway 169.254.1.1 (a fixed neighbour: the
# node-side veth's MAC), node route to the pod through its veth
pod_up() {
	local i=$1 n=${NODES[$1 - 1]} p=${PODS[$1 - 1]} mac
	ip link add vp$i netns "$n" type veth peer name eth0 netns "$p" || return 1
	ip -n "$n" link set vp$i up && ip -n "$p" link set eth0 up || return 1
	mac=$(ip -n "$n" -j link show vp$i | json_get "$(cat)" 'j[0]["address"]')
	ip -n "$p" addr add 10.244.$i.10/32 dev eth0 &&
	ip -n "$p" neigh add 169.254.1.1 lladdr "$mac" dev eth0 nud permanent &&
	ip -n "$p" route add 169.254.1.1 dev eth0 &&
	ip -n "$p" route add default via 169.254.1.1 dev eth0 &&
	ip -n "$n" route add 10.244.$i.10/32 dev vp$i &&
	ip -n "$p" addr add fd44:$i::10/128 dev eth0 nodad &&
	ip -n "$p" neigh add fe80::1 lladdr "$mac" dev eth0 nud permanent &&
	ip -n "$p" -6 route add default via fe80::1 dev eth0 &&
	ip -n "$n" -6 route add fd44:$i::10/128 dev vp$i
}
setup() {
	local i j k1 k2 n out in d
	veth_pair "$N1" up1 "$N2" up2 10.0.0.1/24 10.0.0.2/24 || return 1
	ip -n "$N1" addr add fd00::1/64 dev up1 nodad && ip -n "$N2" addr add fd00::2/64 dev up2 nodad ||
		return 1
	k1=$(hexkey 20) k2=$(hexkey 20) k3=$(hexkey 20) k4=$(hexkey 20)
	for i in 1 2; do
		j=$((3 - i)) n=${NODES[$i - 1]}
		ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
			return 1
		pod_up $i || return 1
		ip -n "$n" route add 10.244.$j.0/24 via 10.0.0.$j || return 1
		ip -n "$n" -6 route add fd44:$j::/64 via fd00::$j || return 1
		ex "$n" attach up$i >/dev/null || return 1
		ex "$n" state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x401 reqid 1 mode tunnel \
			aead "$AEAD" 0x$k1 128 sel src 10.244.1.0/24 dst 10.244.2.0/24 || return 1
		ex "$n" state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x402 reqid 2 mode tunnel \
			aead "$AEAD" 0x$k2 128 sel src 10.244.2.0/24 dst 10.244.1.0/24 || return 1
		out=$i in=$j
		ex "$n" policy add src 10.244.$i.0/24 dst 10.244.$j.0/24 dir out tmpl src 10.0.0.$i \
			dst 10.0.0.$j proto esp reqid $out mode tunnel || return 1
		for d in in fwd; do
			ex "$n" policy add src 10.244.$j.0/24 dst 10.244.$i.0/24 dir $d tmpl \
				src 10.0.0.$j dst 10.0.0.$i proto esp reqid $in mode tunnel || return 1
		done
		# IPv6 pods over an IPv6 uplink: their own SA pair
		ex "$n" state add src fd00::1 dst fd00::2 proto esp spi 0x601 reqid 11 mode tunnel \
			aead "$AEAD" 0x$k3 128 sel src fd44:1::/64 dst fd44:2::/64 || return 1
		ex "$n" state add src fd00::2 dst fd00::1 proto esp spi 0x602 reqid 12 mode tunnel \
			aead "$AEAD" 0x$k4 128 sel src fd44:2::/64 dst fd44:1::/64 || return 1
		ex "$n" policy add src fd44:$i::/64 dst fd44:$j::/64 dir out tmpl src fd00::$i \
			dst fd00::$j proto esp reqid 1$out mode tunnel || return 1
		for d in in fwd; do
			ex "$n" policy add src fd44:$j::/64 dst fd44:$i::/64 dir $d tmpl \
				src fd00::$j dst fd00::$i proto esp reqid 1$in mode tunnel || return 1
		done
	done
}
# fastpkts NS DIR: the node's fast-path packet count in DIR (in, out)
fastpkts() { ex "$1" -j stats | json_get "$(cat)" "j['drops']['$2'].get('fast-path', {}).get('packets', 0)"; }
gro() { ip netns exec "$1" ethtool -k eth0 | awk '/generic-receive-offload:/ {print $2}'; }
XFER=$(cat <<'EOF'
import hashlib, os, socket, sys
if sys.argv[1] == "srv":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 7000)); s.listen(1); print("ready", flush=True)
    s.settimeout(20); c, _ = s.accept(); c.settimeout(20); h = hashlib.sha256(); n = 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        h.update(b); n += len(b)
    print(n, h.hexdigest(), flush=True)
else:
    data = os.urandom(int(sys.argv[3]))
    c = socket.create_connection((sys.argv[2], 7000), timeout=20); c.sendall(data); c.close()
    print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
EOF
)
# xfer FROM TO TO_IP: 8 MB over TCP, the receiver's length and sha256 equal the sender's
xfer() {
	local out=/tmp/espx-fast-$$.srv sent got
	ip netns exec "$2" "$PY" -c "$XFER" srv >"$out" 2>&1 &
	local spid=$!
	wait_for 10 grep -qs ready "$out"
	sent=$(ip netns exec "$1" "$PY" -c "$XFER" cli "$3" 8388608 2>&1)
	wait "$spid"
	got=$(tail -n 1 "$out")
	rm -f "$out"
	[[ -n $sent && $sent == "$got" ]] || { note "sent '$sent', received '$got'"; return 1; }
}

if ! setup; then
	fail setup "building two nodes with a pod each and espx on their uplinks failed"
	exit 1
fi
check normal-path-ping ip netns exec "$P1" ping -c 2 -i 0.2 -W 2 10.244.2.10
gro0=$(gro "$P1")

# wrong uses
check_fails not-a-veth "is for a pod's veth" ex "$N1" attach lo --redirect
check_fails with-xdp-mode "drop --xdp-mode" ex "$N1" attach vp1 --redirect --xdp-mode native
check_fails uplink-first "attach espx to the uplink first" ex "$P1" attach eth0 --redirect

check attach-1 ex "$N1" attach vp1 --redirect
check attach-2 ex "$N2" attach vp2 --redirect
check_fails twice "already on for vp1" ex "$N1" attach vp1 --redirect
[[ $(gro "$P1") == on ]] && pass gro-on-at-pod-end || fail gro-on-at-pod-end "GRO at p1's eth0: $(gro "$P1")"
st=$(ex "$N1" -j status)
if [[ $(json_get "$st" '[d["dev"] for d in j["fast_path"]]') == "['vp1']" ]]; then pass status-lists-pod
else fail status-lists-pod "$st"; fi

# traffic, and proof it went the fast way
# what each node transmits on its uplink (-Q out: a receive tap sees packets after XDP
# decrypted them, and ICMP espx injects into its own receive path)
tpids=()
for i in 1 2; do
	ip netns exec "${NODES[$i - 1]}" tcpdump -Q out -i up$i -U -nn -w /tmp/espx-fast-$$-$i.pcap \
		2>/tmp/espx-fast-$$-$i.err &
	tpids+=($!)
	wait_for 10 grep -qs listening /tmp/espx-fast-$$-$i.err
done
o1=$(fastpkts "$N1" out) i2=$(fastpkts "$N2" in)
out=$(ip netns exec "$P1" ping -c 5 -i 0.1 -W 2 10.244.2.10 2>&1)
check ping-fast grep -q " 0% packet loss" <<<"$out"
# 64 - one hop per node: the fast path decrements as forwarding does, once
if grep -q "ttl=62" <<<"$out"; then pass ttl-once-per-node; else fail ttl-once-per-node "$(grep ttl <<<"$out" | head -n 1)"; fi
o1b=$(fastpkts "$N1" out) i2b=$(fastpkts "$N2" in)
if ((o1b - o1 >= 5 && i2b - i2 >= 4)); then pass counted-both-ways "node1 out +$((o1b - o1)), node2 in +$((i2b - i2))"
else fail counted-both-ways "node1 out +$((o1b - o1)), node2 in +$((i2b - i2)) (want >= 5 and >= 4)"; fi
out=$(ip netns exec "$P1" ping -6 -c 5 -i 0.1 -W 2 fd44:2::10 2>&1)
check v6-ping-fast grep -q " 0% packet loss" <<<"$out"
if grep -q "ttl=62" <<<"$out"; then pass v6-hop-limit-once-per-node; else fail v6-hop-limit-once-per-node "$(grep -m1 ttl <<<"$out")"; fi
o1v=$(fastpkts "$N1" out) i2v=$(fastpkts "$N2" in)
if ((o1v - o1b >= 5 && i2v - i2b >= 4)); then pass v6-counted-both-ways
else fail v6-counted-both-ways "node1 out +$((o1v - o1b)), node2 in +$((i2v - i2b)) (want >= 5 and >= 4)"; fi
o1b=$o1v
ob1=$(ex "$N1" -j stats | json_get "$(cat)" "j['drops']['out'].get('fast-path', {}).get('bytes', 0)")
check tcp-pod1-to-pod2 xfer "$P1" "$P2" 10.244.2.10
check tcp-pod2-to-pod1 xfer "$P2" "$P1" 10.244.1.10
o1c=$(fastpkts "$N1" out)
ob2=$(ex "$N1" -j stats | json_get "$(cat)" "j['drops']['out'].get('fast-path', {}).get('bytes', 0)")
# TSO on the pod's veth: some of what the fast path took were super-packets (segmenter)
if ((o1c > o1b && (ob2 - ob1) / (o1c - o1b) > 1500)); then pass tcp-gso-through-fast-path "$(((ob2 - ob1) / (o1c - o1b))) B per packet"
else fail tcp-gso-through-fast-path "out fast-path +$((o1c - o1b)) packets, +$((ob2 - ob1)) bytes"; fi
# the node answers a TTL that expires there (the fast path leaves it to the stack)
out=$(ip netns exec "$P1" ping -c 1 -t 1 -W 2 10.244.2.10 2>&1)
if grep -qi "time to live exceeded" <<<"$out"; then pass ttl-expired-answered
else fail ttl-expired-answered "$(tr '\n' ' ' <<<"$out")"; fi
# too big for the tunnel: the node answers as a router, from its own address
# (not the pod's destination's) and towards the pod
ip -n "$P1" route flush cache	# forget the path MTU the transfers taught it
out=$(ip netns exec "$P1" ping -M do -s 1472 -c 1 -W 2 10.244.2.10 2>&1)
if grep -q "From 10.0.0.1 .*mtu = 14" <<<"$out"; then pass too-big-from-node
else fail too-big-from-node "$(tr '\n' ' ' <<<"$out")"; fi
# fail closed: without the outbound SA nothing of the pod's leaves in plaintext
ex "$N1" state del src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x401 >/dev/null
ip netns exec "$P1" ping -c 3 -i 0.1 -W 1 10.244.2.10 >/dev/null 2>&1
nosa=$(ex "$N1" -j stats | json_get "$(cat)" "j['drops']['out'].get('policy-without-sa', {}).get('packets', 0)")
((nosa >= 3)) && pass no-sa-dropped "policy-without-sa $nosa" || fail no-sa-dropped "policy-without-sa: $nosa"
sleep 0.3
for p in "${tpids[@]}"; do stop "$p" INT; done
flt='(ip or ip6) and not esp and (net 10.244.0.0/16 or net fd44::/16)'
plain=0 nesp=0
for i in 1 2; do
	plain=$((plain + $(tcpdump -r /tmp/espx-fast-$$-$i.pcap -nn "$flt" 2>/dev/null | wc -l)))
	nesp=$((nesp + $(tcpdump -r /tmp/espx-fast-$$-$i.pcap -nn esp 2>/dev/null | wc -l)))
done
if ((plain == 0 && nesp > 100)); then pass uplink-only-esp
else fail uplink-only-esp "$plain plaintext pod packets, $nesp ESP: $(tcpdump -r /tmp/espx-fast-$$-1.pcap -nn "$flt" 2>/dev/null | head -n 2 | tr '\n' ' ')"; fi
rm -f /tmp/espx-fast-$$-*.pcap /tmp/espx-fast-$$-*.err

# detach gives GRO back; so does unload
check detach-1 ex "$N1" detach vp1
[[ $(gro "$P1") == "$gro0" ]] && pass detach-restores-gro || fail detach-restores-gro "GRO at p1's eth0: $(gro "$P1"), was $gro0"
if [[ -z $(ip netns exec "$N1" bpftool net show dev vp1 2>/dev/null | grep -i tcx) ]]; then pass detach-removes-tcx
else fail detach-removes-tcx "$(ip netns exec "$N1" bpftool net show dev vp1)"; fi
ex "$N2" detach vp2 >/dev/null
gro2=$(gro "$P2")
ex "$N2" attach vp2 --redirect >/dev/null
ex "$N2" unload >/dev/null
[[ $(gro "$P2") == "$gro2" ]] && pass unload-restores-gro || fail unload-restores-gro "GRO at p2's eth0: $(gro "$P2"), want $gro2"

# a pod deleted with the fast path on; a new one under the same veth name
check reattach-1 ex "$N1" attach vp1 --redirect
ip netns del "$P1"
wait_for 5 bash -c "! ip -n $N1 link show vp1 >/dev/null 2>&1"
if ex "$N1" status | grep -q "vp1: pod fast path.*(device gone)"; then pass status-device-gone
else fail status-device-gone "$(ex "$N1" status)"; fi
ip netns add "$P1" && ip -n "$P1" link set lo up && pod_up 1
check new-pod-same-name ex "$N1" attach vp1 --redirect
check new-pod-ping ip netns exec "$P1" ping -c 2 -i 0.2 -W 2 10.0.0.1

# espx stopped between pinning the pod link and saving GRO's old value, or the
# other way round: with only the saved record left, detach still puts GRO back
ex "$N1" detach vp1 >/dev/null
gro1=$(gro "$P1")
ex "$N1" attach vp1 --redirect >/dev/null
pin=/sys/fs/bpf/espx/net-$(stat -L -c %i /run/netns/"$N1")/links/vp1:pod
if [[ -e $pin ]] && rm -f "$pin" && out=$(ex "$N1" detach vp1 2>&1) && [[ $(gro "$P1") == "$gro1" ]]; then
	pass detach-saved-record-only
else
	fail detach-saved-record-only "pin $pin; detach said: $out; GRO $(gro "$P1"), want $gro1"
fi
# the same at unload
ex "$N1" attach vp1 --redirect >/dev/null
rm -f "$pin"
ex "$N1" unload >/dev/null 2>&1
[[ $(gro "$P1") == "$gro1" ]] && pass unload-saved-record-only ||
	fail unload-saved-record-only "GRO $(gro "$P1"), want $gro1"
