# SPDX-License-Identifier: GPL-2.0
# strongSwan beside espx, shared by tests/vm/strongswan.sh and strongswan_trap.sh: the two
# namespaces L and R with a veth between them, and one charon in each with its own
# strongswan.conf (STRONGSWAN_CONF), VICI socket, log and /run in $T/<namespace>.
#   L [DEV_L 10.0.0.1/24] ---- veth ---- [DEV_R 10.0.0.2/24] R
#   lo 192.168.1.1 (192.168.1.0/24)          lo 192.168.2.1 (192.168.2.0/24)
# Source after tests/vm/lib.sh; the caller names the namespaces (L, R), sets T (a temp
# dir), and for swan_conf SWAN_CONN (the connection's name), SWAN_PSK, SWAN_LOG (log
# levels beyond `default = 1`, one `subsystem = level` a line), optionally SWAN_CHARON
# (more lines for charon's section) and SWAN_CONN_EXTRA (more for the connection's).
# Other topologies (tests/vm/strongswan_more.sh): swan_topology6 (the same over IPv6) and
# swan_topology_nat (L behind a NAT namespace); they set the address variables below.
CHARON=/usr/lib/ipsec/charon
WL=10.0.0.1 WR=10.0.0.2 IL=192.168.1.1 IR=192.168.2.1 NL=192.168.1.0/24 NR=192.168.2.0/24
# RPEER: L's address as R sees it (differs behind a NAT); SWAN_R_PEER: R's remote_addrs
RPEER=$WL SWAN_R_PEER=
SWAN_CHARON= SWAN_CONN_EXTRA=

# swan_have: charon and swanctl are installed
swan_have() { [[ -x $CHARON ]] && command -v swanctl >/dev/null; }

# swan_topology DEV_L DEV_R: the namespaces (IPv6 off), the veth, the LAN addresses on lo
# and the route to the other LAN
swan_topology() {
	local s
	ip netns add $L && ip netns add $R || return 1
	for s in $L $R; do
		ip -n $s link set lo up
		ip netns exec $s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add "$1" netns $L type veth peer name "$2" netns $R
	ip -n $L addr add $WL/24 dev "$1"; ip -n $R addr add $WR/24 dev "$2"
	ip -n $L link set "$1" up; ip -n $R link set "$2" up
	ip -n $L addr add $IL/32 dev lo; ip -n $R addr add $IR/32 dev lo
	ip -n $L route add $NR via $WR src $IL; ip -n $R route add $NL via $WL src $IR
}

# swan_topology6 DEV_L DEV_R: the same over IPv6, outside and inside (no DAD: usable at once)
#   L [DEV_L fd00::1/64] ---- veth ---- [DEV_R fd00::2/64] R
#   lo fd01::1 (fd01::/64)                  lo fd02::1 (fd02::/64)
swan_topology6() {
	local s
	WL=fd00::1 WR=fd00::2 IL=fd01::1 IR=fd02::1 NL=fd01::/64 NR=fd02::/64 RPEER=fd00::1
	ip netns add $L && ip netns add $R || return 1
	for s in $L $R; do
		ip -n $s link set lo up
		ip netns exec $s sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.accept_ra=0
	done
	ip link add "$1" netns $L type veth peer name "$2" netns $R
	ip -n $L addr add $WL/64 dev "$1" nodad; ip -n $R addr add $WR/64 dev "$2" nodad
	ip -n $L link set "$1" up; ip -n $R link set "$2" up
	# SWAN_R_INNER_DEV: the device that holds R's inside address (default lo)
	ip -n $L addr add $IL/128 dev lo; ip -n $R addr add $IR/128 dev "${SWAN_R_INNER_DEV:-lo}" nodad
	ip -n $L route add $NR via $WR src $IL; ip -n $R route add $NL via $WL src $IR
}

# swan_topology_nat DEV_L DEV_R: L behind a NAT namespace N (nftables masquerade), IPv4
# (IPv6 off). R knows only N's outside address; L's traffic leaves N from 10.0.0.1.
#   L [DEV_L 10.0.1.1/24] -- [nl 10.0.1.2] N [nr 10.0.0.1] -- [DEV_R 10.0.0.2/24] R
#   lo 192.168.1.1                      masquerade out of nr        lo 192.168.2.1
# N's devices: N_DEV_L (nl) and N_DEV_R (nr), given by the caller with N (the namespace)
swan_topology_nat() {
	local s
	WL=10.0.1.1 WR=10.0.0.2 RPEER=10.0.0.1 IL=192.168.1.1 IR=192.168.2.1
	NL=192.168.1.0/24 NR=192.168.2.0/24
	ip netns add $L && ip netns add $N && ip netns add $R || return 1
	for s in $L $N $R; do
		ip -n $s link set lo up
		ip netns exec $s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add "$1" netns $L type veth peer name "$N_DEV_L" netns $N
	ip link add "$N_DEV_R" netns $N type veth peer name "$2" netns $R
	ip -n $L addr add $WL/24 dev "$1"; ip -n $N addr add 10.0.1.2/24 dev "$N_DEV_L"
	ip -n $N addr add $RPEER/24 dev "$N_DEV_R"; ip -n $R addr add $WR/24 dev "$2"
	ip -n $L link set "$1" up; ip -n $R link set "$2" up
	ip -n $N link set "$N_DEV_L" up; ip -n $N link set "$N_DEV_R" up
	ip netns exec $N sysctl -qw net.ipv4.ip_forward=1
	ip netns exec $N nft -f - <<-EOF || return 1
	table ip swnat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "$N_DEV_R" masquerade
		}
	}
	EOF
	ip -n $L addr add $IL/32 dev lo; ip -n $R addr add $IR/32 dev lo
	ip -n $L route add default via 10.0.1.2
	ip -n $L route add $NR via 10.0.1.2 src $IL; ip -n $R route add $NL via $RPEER src $IR
}

# wire_start DEV_L DEV_R: capture what L and R transmit into $T/wire-<namespace>.pcap. -Q
# out: a receive tap would also see the kernel's decapsulated packets (re-injected on the
# same device), and on R the packets after espx's XDP decrypted them. The tcpdumps' pids
# go into WIRE_PIDS (and BG, for cleanup).
wire_start() {
	local s dev
	WIRE_PIDS=()
	for s in $L $R; do
		dev=$1; [[ $s == "$R" ]] && dev=$2
		ip netns exec $s tcpdump -i $dev -Q out -U -nn -w "$T/wire-$s.pcap" 2>"$T/tcpdump-$s.err" &
		WIRE_PIDS+=($!) BG+=($!)
		for _ in $(seq 50); do grep -qs listening "$T/tcpdump-$s.err" && break; sleep 0.1; done
	done
}
# wire_stop: end the captures wire_start began (their last packets written)
wire_stop() {
	local p
	for p in "${WIRE_PIDS[@]}"; do kill -INT "$p"; wait "$p" 2>/dev/null; done
	WIRE_PIDS=()
}
# wire_check NAME MIN_ESP: after wire_stop, PASS NAME-wire-only-esp-and-ike if L and R sent
# nothing but ESP, IKE (UDP 500/4500) and ARP, over MIN_ESP ESP packets and some IKE
wire_check() {
	local s flt='not arp and not esp and not (udp port 500 or udp port 4500)'
	local plain=0 nesp=0 nike=0 sample=""
	for s in $L $R; do
		plain=$((plain + $(tcpdump -r "$T/wire-$s.pcap" -nn "$flt" 2>/dev/null | wc -l)))
		nesp=$((nesp + $(tcpdump -r "$T/wire-$s.pcap" -nn esp 2>/dev/null | wc -l)))
		nike=$((nike + $(tcpdump -r "$T/wire-$s.pcap" -nn 'udp port 500 or udp port 4500' 2>/dev/null | wc -l)))
		sample+="$s: $(tcpdump -r "$T/wire-$s.pcap" -nn "$flt" 2>/dev/null | head -n 2 | tr '\n' ' ') "
	done
	if ((plain == 0 && nesp > $2 && nike > 0)); then pass "$1-wire-only-esp-and-ike ($nesp ESP, $nike IKE packets)"
	else fail "$1-wire-only-esp-and-ike" "$plain other packets, $nesp ESP, $nike IKE: $sample"; fi
}

# spis NS: the ESP SPIs in NS's XFRM database, sorted
spis() { ip -n "$1" xfrm state | grep -o 'proto esp spi 0x[0-9a-f]*' | awk '{print $4}' | sort; }
# kcount NS SRC DST SPI: packets the kernel counts for an SA
kcount() {
	ip -n "$1" -s xfrm state get src "$2" dst "$3" proto esp spi "$4" 2>/dev/null |
		awk '/lifetime current:/{getline; sub(/\(packets\)/, "", $2); print $2; exit}'
}
# espx_drops NS DIR REASON: packets espx in NS dropped in DIR (in, out) for REASON
espx_drops() {
	ip netns exec "$1" "$ESPX" -j stats 2>/dev/null | $PY -c '
import json, sys
d = json.load(sys.stdin).get("drops", {})
print(d.get(sys.argv[1], {}).get(sys.argv[2], {}).get("packets", 0))' "$2" "$3"
}
# swan_settle NAME NS SRC DST: 20 pings on one SA pair that no rekey replaces meanwhile
# (the rekeying side's limits may strike at any packet), so that the counter checks that
# follow have a current pair that carried traffic both ways, and the last rekey's old
# inbound SA is gone (delete_rekeyed_delay is 1 s). A rekey during the pings: once more
# (it resets the count, so at most once more). None may be lost in a round without a
# rekey. Adds the losses to LOST.
swan_settle() {
	local n=$1 ns=$2 src=$3 dst=$4 try s1 s2 sent=0 slost=0 rx out
	for try in 1 2 3; do
		s1=$(spis "$ns" | xargs)
		out=$(ip netns exec "$ns" ping -q -c 20 -i 0.01 -W 2 -I "$src" "$dst" 2>&1)
		rx=$(grep -o '[0-9]* received' <<<"$out" | cut -d' ' -f1)
		sent=$((sent + 20)) slost=$((slost + 20 - ${rx:-0}))
		sleep 2
		s2=$(spis "$ns" | xargs)
		[[ $s1 == "$s2" && $(wc -w <<<"$s2") == 2 ]] && break
		note "$n: a rekey during the settling pings ($s1 -> $s2), once more"
	done
	LOST=$((LOST + slost))
	if ((slost <= 3 * (try - 1))); then pass "$n-ping-after-rekeys ($sent sent, $slost lost, $try round(s))"
	else fail "$n-ping-after-rekeys" "$slost of $sent lost over $try round(s): $(tail -n 2 <<<"$out" | tr '\n' ' ')"; fi
}
# ping_check NAME NS SRC DST COUNT ALLOWED: pass if at most ALLOWED of COUNT pings are
# lost (IPv4 or IPv6: ping picks the family from the addresses); sets LOST
ping_check() {
	local n=$1 ns=$2 src=$3 dst=$4 cnt=$5 allowed=$6 out rx
	out=$(ip netns exec "$ns" ping -q -c "$cnt" -i 0.01 -W 2 -I "$src" "$dst" 2>&1)
	rx=$(grep -o '[0-9]* received' <<<"$out" | cut -d' ' -f1)
	rx=${rx:-0}
	if ((cnt - rx <= allowed)); then pass "$n ($rx/$cnt, $((cnt - rx)) lost)"
	else fail "$n" "$rx/$cnt received, more than $allowed lost: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; fi
	LOST=$((cnt - rx))
}

# swan_conf SIDE ESP_PROPOSALS [CHILD_LINES]: strongswan.conf and swanctl.conf for SIDE
# (L or R) in $T/SIDE: IKEv2 with a PSK, tunnel mode between the LANs; CHILD_LINES go
# into the child's section (limits, start_action)
swan_conf() {
	local s=$1 d=$T/$1 esp=$2 child=${3:-} me peer lts rts myid peerid
	if [[ $s == "$L" ]]; then me=$WL peer=$WR lts=$NL rts=$NR myid=$L peerid=$R
	else me=$WR peer=${SWAN_R_PEER:-$WL} lts=$NR rts=$NL myid=$R peerid=$L; fi
	mkdir -p "$d/run"
	cat >"$d/strongswan.conf" <<-EOF
	charon {
		load = random nonce aes sha1 sha2 hmac gmp kdf kernel-netlink socket-default vici
		install_routes = no
		retransmit_timeout = 2
		$SWAN_CHARON
		filelog {
			log {
				path = $d/charon.log
				time_format = %H:%M:%S
				flush_line = yes
				default = 1
				$SWAN_LOG
			}
		}
		plugins {
			vici {
				socket = unix://$d/charon.vici
			}
		}
	}
	swanctl {
		load = random nonce aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey vici
	}
	EOF
	cat >"$d/swanctl.conf" <<-EOF
	connections {
		$SWAN_CONN {
			version = 2
			local_addrs = $me
			remote_addrs = $peer
			proposals = aes128-sha256-modp2048
			$SWAN_CONN_EXTRA
			local {
				auth = psk
				id = $myid
			}
			remote {
				auth = psk
				id = $peerid
			}
			children {
				net {
					mode = tunnel
					local_ts = $lts
					remote_ts = $rts
					esp_proposals = $esp
					$child
				}
			}
		}
	}
	secrets {
		ike-$SWAN_CONN {
			id-1 = $L
			id-2 = $R
			secret = "$SWAN_PSK"
		}
	}
	EOF
}

# charon_start SIDE: charon in SIDE's namespace, its own /run; wait for its VICI socket,
# then load the configuration
charon_start() {
	local s=$1 d=$T/$1
	# the pid file is /var/run/charon.pid (fixed at build time): give each charon its own
	# /run (ip netns exec runs it in a mount namespace of its own, mounts there stay there)
	ip netns exec "$s" env STRONGSWAN_CONF="$d/strongswan.conf" bash -c \
		'mount --bind "$1/run" /run && echo $$ >"$1/charon.pidfile" && exec "$2"' _ "$d" "$CHARON" \
		>"$d/charon.out" 2>&1 &
	for _ in $(seq 150); do [[ -S $d/charon.vici ]] && break; sleep 0.1; done
	[[ -S $d/charon.vici ]] || return 1
	swctl "$s" --load-all --file "$d/swanctl.conf" >"$d/load.out" 2>&1
}
# swctl SIDE COMMAND [ARGS]: swanctl against SIDE's charon (the command must come first)
swctl() {
	local s=$1 c=$2
	shift 2
	STRONGSWAN_CONF=$T/$s/strongswan.conf swanctl "$c" --uri "unix://$T/$s/charon.vici" "$@"
}
# charon_stop: end both charons (SIGTERM, SIGKILL after 5 s)
charon_stop() {
	local s
	for s in $L $R; do
		[[ -f $T/$s/charon.pidfile ]] || continue
		stop_or_kill "$(<"$T/$s/charon.pidfile")"
		rm -f "$T/$s/charon.pidfile"
	done
}
