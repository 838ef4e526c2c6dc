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
CHARON=/usr/lib/ipsec/charon
WL=10.0.0.1 WR=10.0.0.2 IL=192.168.1.1 IR=192.168.2.1 NL=192.168.1.0/24 NR=192.168.2.0/24
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

# swan_conf SIDE ESP_PROPOSALS [CHILD_LINES]: strongswan.conf and swanctl.conf for SIDE
# (L or R) in $T/SIDE: IKEv2 with a PSK, tunnel mode between the LANs; CHILD_LINES go
# into the child's section (limits, start_action)
swan_conf() {
	local s=$1 d=$T/$1 esp=$2 child=${3:-} me peer lts rts myid peerid
	if [[ $s == "$L" ]]; then me=$WL peer=$WR lts=$NL rts=$NR myid=$L peerid=$R
	else me=$WR peer=$WL lts=$NR rts=$NL myid=$R peerid=$L; fi
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
