#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx's state belongs to a network namespace's identity, not its name
# (platform/nsstate.h): anonymous namespaces (unshare -n, as containers
# make) are isolated from each other and from the root namespace; a
# namespace re-created under a name used before starts empty; when a
# namespace is gone, one espx command run elsewhere releases everything
# it had pinned (links, programs, maps, /run/espx files); `espx status
# --all` lists the namespaces alive, and the released ones once.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_netns_identity
plan 26
_anon=()
cleanup() {
	local p
	for p in "${_anon[@]}"; do stop "$p" KILL; done
	cleanup_netns
	"$ESPX" status >/dev/null 2>&1	# releases what the anonymous ones had
	exit $_failed
}
trap cleanup EXIT INT TERM

AEAD="rfc4106(gcm(aes))"
sa_line() { echo "src 10.77.0.1 dst 10.77.0.2 proto esp spi $1 mode tunnel aead $AEAD 0x$(hexkey 20) 128"; }
ino_of() { stat -L -c %i "$1"; }
# an anonymous namespace: a process in one of its own, no name anywhere
anon() {
	unshare -n sleep 600 &
	_anon+=($!)
	wait_for 5 bash -c "[[ \$(stat -L -c %i /proc/$!/ns/net) != $(ino_of /proc/self/ns/net) ]]"
	printf -v "$1" '%s' $!
}
in_pid() { local p=$1; shift; nsenter --net=/proc/"$p"/ns/net "$ESPX" "$@"; }
spis() { json_get "$1" "sorted(s['spi'] for s in j)"; }
# status --all entry of namespace $2 in JSON $1: "state sa_count" or "absent"
entry() { json_get "$1" "next((e['state'] + ' ' + str(e['sa_count']) for e in j if e['netns_ino'] == $2), 'absent')"; }

# ---- two anonymous namespaces, isolated from each other and the root ----
anon P1
anon P2
I1=$(ino_of /proc/"$P1"/ns/net) I2=$(ino_of /proc/"$P2"/ns/net)
check anon_add_first in_pid "$P1" state add $(sa_line 0x7101)
check anon_add_second in_pid "$P2" state add $(sa_line 0x7202)
check anon_first_sees_own test "$(spis "$(in_pid "$P1" -j state list)")" = "[28929]"
check anon_second_sees_own test "$(spis "$(in_pid "$P2" -j state list)")" = "[29186]"
root_js=$("$ESPX" -j state list 2>/dev/null)
if [[ $root_js != *29953* && $root_js != *29186* ]]; then pass anon_root_sees_neither
else fail anon_root_sees_neither "root lists: $root_js"; fi
D1=/sys/fs/bpf/espx/net-$I1
check anon_dir_per_identity test -e "$D1/anchor" -a -e "$D1/espx_sa" -a -e "/sys/fs/bpf/espx/net-$I2/anchor"
js=$("$ESPX" -j status --all)
check status_all_lists_both test "$(entry "$js" "$I1")/$(entry "$js" "$I2")" = "alive 1/alive 1"

# the first one's namespace dies: the next command anywhere releases it, once
stop "$P1" KILL
wait_for 10 bash -c "[[ \$(bpftool -j link show pinned $D1/anchor 2>/dev/null) == *'\"netns_ino\":0'* ]]" ||
	note "the anchor of $D1 still names its namespace"
js=$("$ESPX" -v -j status --all 2>"$BUILD/.nsid_err")
check status_all_says_released test "$(entry "$js" "$I1")/$(entry "$js" "$I2")" = "released 1/alive 1"
check release_said_at_info grep -q "released the espx state of network namespace $I1 (gone): 0 device link(s), 1 SA(s)" "$BUILD/.nsid_err"
js=$("$ESPX" -j status --all)
out=$("$ESPX" status --all)
check status_all_text grep -q "^net-$I2: alive, 1 SA(s), devices: none$" <<<"$out"
check status_all_then_forgets test "$(entry "$js" "$I1")/$(entry "$js" "$I2")" = "absent/alive 1"
check released_dir_gone test ! -e "$D1"
rm -f "$BUILD/.nsid_err"

# ---- a named namespace deleted with espx attached, re-created under its name ----
netns_add N named
netns_add O other
veth_pair "$N" vn "$O" vo 10.78.0.1/24 10.78.0.2/24
check named_attach ip netns exec "$N" "$ESPX" attach vn
check named_add ip netns exec "$N" "$ESPX" state add $(sa_line 0x7303)
DN=$(pin_dir "$N") IN=$(ino_of "/run/netns/$N")
js=$("$ESPX" -j status --all)
check status_all_names_named test "$(json_get "$js" "[e['name'] for e in j if e['netns_ino'] == $IN]")" = "['$N']"
# every map and link of that namespace, by id, to see them freed
MAPS=$(for f in "$DN"/espx_*; do bpftool -j map show pinned "$f"; echo; done |
	"$PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["id"]) for l in sys.stdin if l.strip()))')
LINKS=$(for f in "$DN"/links/* "$DN"/anchor; do bpftool -j link show pinned "$f"; echo; done |
	"$PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["id"]) for l in sys.stdin if l.strip()))')
[[ $(wc -w <<<"$MAPS") -ge 10 && $(wc -w <<<"$LINKS") -ge 3 ]] || note "maps: $MAPS links: $LINKS"
ls /run/espx/net-"$IN".* >/dev/null 2>&1 || note "no /run/espx/net-$IN.* files to see go"
ip netns del "$N"
# namespaces die in a kernel work item after their last reference: wait
# for the anchor to say so, then one command elsewhere
wait_for 10 bash -c "[[ \$(bpftool -j link show pinned $DN/anchor 2>/dev/null) == *'\"netns_ino\":0'* ]]" ||
	note "the anchor of $DN still names its namespace"
ip netns exec "$O" "$ESPX" status >/dev/null 2>&1
check deleted_dir_released test ! -e "$DN"
check deleted_run_files_released bash -c "! ls /run/espx/net-$IN.* 2>/dev/null"
still() {
	for id in $MAPS; do bpftool map show id "$id" >/dev/null 2>&1 && echo "map $id"; done
	for id in $LINKS; do bpftool link show id "$id" >/dev/null 2>&1 && echo "link $id"; done
}
# the kernel frees a map after its last program, a program after an RCU
# grace period: unpinned, they go within moments
for _ in $(seq 50); do left=$(still); [[ -z $left ]] && break; sleep 0.2; done
if [[ -n $MAPS && -n $LINKS && -z $left ]]; then pass deleted_maps_and_links_freed
else fail deleted_maps_and_links_freed "maps [$MAPS] links [$LINKS], still there: $(xargs <<<"$left")"; fi

ip netns add "$N" && ip -n "$N" link set lo up
ip link add vn netns "$N" type veth peer name vo2 netns "$O"
# before any espx command there, the name's old state must not show
out=$(ip netns exec "$N" "$ESPX" -j state list 2>&1)
if [[ $out == *"not loaded"* && $out != *29443* ]]; then pass recreated_starts_empty
else fail recreated_starts_empty "state list in the new $N: $out"; fi
check recreated_attaches ip netns exec "$N" "$ESPX" attach vn
check recreated_has_no_sa test "$(ip netns exec "$N" "$ESPX" -j state list)" = "[]"
check recreated_new_dir test "$(pin_dir "$N")" = "/sys/fs/bpf/espx/net-$(ino_of "/run/netns/$N")"

# ---- the daemon releases a dead namespace's state without any command ----
DLOG=$(mktemp /tmp/espx-nsid-d.XXXXXX)
ip netns exec "$O" "$ESPX" -v daemon --interval 100 >"$DLOG" 2>&1 &
DPID=$!
netns_add G gone
check daemon_case_add ip netns exec "$G" "$ESPX" state add $(sa_line 0x7404)
DG=$(pin_dir "$G") IG=$(ino_of "/run/netns/$G")
ip netns del "$G"
# the directory is renamed away first, the line said once it is all gone
msg="released the espx state of network namespace $IG (gone): 0 device link(s), 1 SA(s)"
if wait_for 15 grep -qF "$msg" "$DLOG"; then pass daemon_says_released
else fail daemon_says_released "no '$msg'; daemon log: $(tail -n 3 "$DLOG" | xargs)"; fi
check daemon_releases_dead_namespace bash -c "! ls -d $DG /sys/fs/bpf/espx/gone-net-$IG-* 2>/dev/null"
stop "$DPID"
rm -f "$DLOG"

# ---- a device that returns to the root namespace when its namespace dies ----
# (a physical NIC: no rtnl_link_ops) keeps espx's XDP and tcx links unless
# the release detaches them; veth, ifb, macvlan, vxlan die with the namespace
skip physical_device_link_detached "no device here goes back to the root namespace when its namespace dies (no dummy/netdevsim module; only the host's own NIC, which a test must not move)"
