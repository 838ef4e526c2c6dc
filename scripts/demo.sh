#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job on its embedded default: two sites (network namespaces)
# joined by a veth "wire", espx attached at both ends of the wire.
#
# Today the datapath programs are pass-through placeholders, so this shows
# the loader's part: kernel check, attach (XDP + tcx egress), pinned state,
# status, traffic over the wire, detach with nothing left behind.
# Only addresses inside the namespaces created here are used.
set -euo pipefail
cd "$(dirname "$0")/.."
ESPX=${ESPX:-build/espx}
SITE_A=espx-demo-a
SITE_B=espx-demo-b

say() { printf '\n== %s\n' "$*"; }

cleanup() {
	local ns
	for ns in $SITE_A $SITE_B; do
		if ip netns list | grep -qw "$ns"; then
			ip netns exec "$ns" "$ESPX" unload >/dev/null 2>&1 || true
			ip netns del "$ns"
		fi
	done
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

[[ $(id -u) == 0 ]] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
cleanup	# a previous run killed hard

say "what this kernel offers espx"
"$ESPX" check

say "two sites joined by a veth wire"
ip netns add $SITE_A
ip netns add $SITE_B
ip link add wire-a netns $SITE_A type veth peer name wire-b netns $SITE_B
ip -n $SITE_A addr add 192.0.2.1/24 dev wire-a
ip -n $SITE_B addr add 192.0.2.2/24 dev wire-b
ip -n $SITE_A link set wire-a up
ip -n $SITE_B link set wire-b up
echo "$SITE_A: wire-a 192.0.2.1/24  <-- veth -->  $SITE_B: wire-b 192.0.2.2/24"

say "attach espx at both ends"
ip netns exec $SITE_A "$ESPX" attach wire-a
ip netns exec $SITE_B "$ESPX" attach wire-b

say "status (one pinned state per namespace)"
ip netns exec $SITE_A "$ESPX" status
ip netns exec $SITE_B "$ESPX" -j status

say "traffic crosses the wire through both programs"
ip netns exec $SITE_A ping -c 3 -i 0.2 -W 2 192.0.2.2

say "detach and unload: nothing left behind"
ip netns exec $SITE_A "$ESPX" detach wire-a
ip netns exec $SITE_A "$ESPX" unload
ip netns exec $SITE_B "$ESPX" unload
ip -n $SITE_A -d link show wire-a | grep -q 'prog/xdp' && { echo "XDP still attached"; exit 1; }
echo "demo done"
