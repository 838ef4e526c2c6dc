#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx as a container (Containerfile, scripts/container-entrypoint.sh,
# scripts/k8s/espx-daemonset.yaml, docs/containers.md).
#
# 1. The entrypoint started the way a runtime starts the DaemonSet's
#    container, without a runtime: its own mount and PID namespaces (espx is
#    PID 1), its own root (a tmpfs with /usr and /etc read-only, the binary
#    and entrypoint copied in as the image has them), a fresh /proc with
#    /proc/sys read-only (the runtime's readonlyPaths), the root read-only
#    (readOnlyRootFilesystem), a private /run with
#    the host's /run/espx bound in, the host's bpffs bound at /sys/fs/bpf,
#    the host's /proc/sys/net at /host/proc/sys/net, and a capability
#    bounding set of what the manifest grants (BPF, PERFMON, NET_ADMIN).
#    hostNetwork is the node's network namespace: here a namespace of the
#    test's (a test must not attach to the machine's own devices):
#
#      [ node: espxt<pid>-node ]                    [ espxt<pid>-peer ]
#        container (mnt+pid ns, root, caps) ---
#        espx daemon dev ctr-<pid>a  ctr-<pid>a <--veth--> ctr-<pid>b
#
#    Checks: the daemon starts; `espx status` in the container sees it
#    running (the liveness probe), and so does `espx status` on the host
#    (another PID namespace); its state is pinned in the host's bpffs
#    under the node namespace's inode; it attached to the device and set its
#    sysctls through the read-only /proc/sys; SIGTERM: exit 0, detached,
#    settings restored, heartbeat cleared, no saved settings left in the
#    host's /run/espx. After the daemon is killed (-9): `espx unload` in a
#    container without the host's /proc/sys/net fails, naming the sysctl,
#    and keeps the original values, which an attach and detach then restore;
#    `espx unload` leaves nothing pinned.
#    A container in a pod network namespace of its own keeps its state under
#    that namespace's inode. Without CAP_PERFMON, or without a writable
#    /proc/sys/net, the entrypoint refuses, naming what is missing.
# 2. The image itself under Podman, if it can run here (see CONTAINER_RUNTIME).
source "$(dirname "$0")/lib/espx_test.sh"

# --- inside the container's namespaces: set up its root, drop to its caps --
# (re-executed by this script under unshare; not a test entry point)
if [[ ${1:-} == --in-container ]]; then
	shift
	w=$1 caps=$2 sysnet=$3 devs=$4
	shift 4
	r=$w/root
	set -e
	mkdir -p "$r"
	mount -t tmpfs -o mode=0755 espx-ctr-root "$r"
	mkdir -p "$r"/{usr,etc,proc,sys,dev,run,tmp,opt/espx,host/proc/sys/net}
	for l in bin sbin lib lib64; do ln -s "usr/$l" "$r/$l"; done
	for d in usr etc; do mount --bind "/$d" "$r/$d"; mount -o remount,bind,ro "$r/$d"; done
	mount --rbind /dev "$r/dev"
	mount -t tmpfs tmpfs "$r/tmp"
	cp "$BUILD/espx" "$r/opt/espx/espx"
	cp "$ROOT/scripts/container-entrypoint.sh" "$r/opt/espx/espx-entrypoint"
	mount -t proc proc "$r/proc"
	mount -t sysfs sysfs "$r/sys"
	mount --bind /sys/fs/bpf "$r/sys/fs/bpf"		# hostPath /sys/fs/bpf
	mount -t tmpfs -o mode=0755 tmpfs "$r/run"
	mkdir -m 0700 "$r/run/espx"
	mount --bind /run/espx "$r/run/espx"			# hostPath /run/espx
	[[ $sysnet == yes ]] && mount --bind "$r/proc/sys/net" "$r/host/proc/sys/net"
	mount --bind "$r/proc/sys" "$r/proc/sys"		# readonlyPaths: /proc/sys
	mount -o remount,bind,ro "$r/proc/sys"
	mount -o remount,ro "$r"				# readOnlyRootFilesystem
	set +e
	exec chroot "$r" /usr/bin/setpriv --bounding-set="$caps" --inh-caps=-all -- \
		/usr/bin/env -i PATH=/usr/sbin:/usr/bin ESPX=/opt/espx/espx ESPX_DEVICES="$devs" \
		ESPX_INTERVAL_MS=200 /opt/espx/espx-entrypoint "$@"
fi

need_root test_container
T_PREFIX=ctr-
CAPS=-all,+bpf,+perfmon,+net_admin	# what the DaemonSet grants
W=$(mktemp -d /tmp/espx-ctr.XXXXXX)
UPIDS=()
cleanup() {
	local p
	# a container still running: SIGTERM to its PID 1 (espx detaches), then
	# its unshare, whose end kills what is left (--kill-child)
	for p in "${UPIDS[@]}"; do
		kill -TERM "$(init_of "$p")" 2>/dev/null
		stop_or_kill "$p" 5
	done
	command -v podman >/dev/null && podman rm -f "ctr-$$" >/dev/null 2>&1
	cleanup_netns
	# the container roots were mounted in the containers' own mount namespaces
	rm -rf "$W"
	exit $_failed
}
trap cleanup EXIT INT TERM

for t in unshare nsenter setpriv chroot; do
	command -v $t >/dev/null || { skip container "no $t (util-linux, coreutils)"; exit 0; }
done
# the host's bpffs and /run/espx, as on a node set up by docs/containers.md
[[ $(stat -f -c %T /sys/fs/bpf) == bpf_fs ]] || mount -t bpf bpf /sys/fs/bpf -o mode=0700
mkdir -p -m 0700 /run/espx

netns_add N node
netns_add O peer
A=ctr-$$a B=ctr-$$b
veth_pair "$N" "$A" "$O" "$B" 10.91.0.1/24 10.91.0.2/24
if ! ip -n "$N" xfrm policy list >/dev/null 2>&1; then
	skip container "no XFRM netlink here (modprobe xfrm_user): espx daemon cannot run"
	exit 0
fi
plan 24
INO=$(stat -L -c %i "/run/netns/$N")
PIN=/sys/fs/bpf/espx/net-$INO

# container NETNS CAPS SYSNET DEVICES LOG [ENTRYPOINT-ARGS...]: start one in the
# background; its unshare's pid in UPID
container() {
	local ns=$1 caps=$2 sysnet=$3 devs=$4 log=$5
	shift 5
	mkdir -p "$W/$ns"
	nsenter --net="/run/netns/$ns" unshare --mount --pid --fork --kill-child --propagation private \
		bash "$0" --in-container "$W/$ns" "$caps" "$sysnet" "$devs" "$@" >"$log" 2>&1 &
	UPID=$!
	UPIDS+=("$UPID")
}
# ctr_wait UPID: its exit status; no longer ours to stop (its pid may be reused)
ctr_wait() {
	local rc p keep=()
	wait "$1"
	rc=$?
	for p in "${UPIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
	UPIDS=("${keep[@]}")
	return $rc
}
# the container's PID 1 (the entrypoint, then espx), as the host sees it
init_of() { pgrep -P "$1" | head -n1; }
# in_ctr PID CMD...: run in the container's namespaces and root, with its caps
in_ctr() {
	nsenter -t "$1" -m -p -r -w -n setpriv --bounding-set="$CAPS" --inh-caps=-all -- \
		env ESPX=/opt/espx/espx "${@:2}"
}
knobs() {
	local d
	for d in ipv4/conf/$A/disable_xfrm ipv4/conf/$A/disable_policy ipv6/conf/$A/disable_policy; do
		ip netns exec "$N" cat "/proc/sys/net/$d" 2>/dev/null || echo -
	done | xargs
}
gso() { ip -n "$N" -d link show "$A" | grep -o 'gso_max_segs [0-9]*' | awk '{print $2}'; }
KNOBS0=$(knobs) GSO0=$(gso)

# ---- the DaemonSet's container: hostNetwork (the node's namespace) ----
LOG=$W/node.log
container "$N" "$CAPS" yes "$A" "$LOG"
U=$UPID
if wait_for 30 grep -q 'espx daemon: ready' "$LOG"; then pass daemon_starts
else fail daemon_starts "no 'ready' in 30 s: $(tail -n 4 "$LOG" | xargs)"; fi
C=$(init_of "$U")
st=$(in_ctr "$C" /opt/espx/espx status 2>&1)
check status_inside_running grep -qE '^daemon: running, pid 1,' <<<"$st"
check probe_inside in_ctr "$C" /opt/espx/espx-entrypoint probe
check same_netns_as_node test "$(stat -L -c %i /proc/"$C"/ns/net)" = "$INO"
check pinned_in_host_bpffs test -e "$PIN/espx_daemon"
if ip -n "$N" -d link show "$A" | grep -q 'prog/xdp' && [[ -n $(ls "$PIN/links" 2>/dev/null) ]]; then pass attached_to_device
else fail attached_to_device "$(ip -n "$N" -d link show "$A" | head -n 3 | xargs); links: $(ls "$PIN/links" 2>&1 | xargs)"; fi
check settings_through_readonly_proc_sys test "$(knobs)/$(gso)" = "1 1 1/1"
# from the node (the host's PID namespace): the heartbeat's pid 1 is the container's
st=$(nsenter --net="/run/netns/$N" "$ESPX" status 2>&1)
check host_status_sees_container_daemon grep -qE '^daemon: running, pid 1,' <<<"$st"

kill -TERM "$C"
ctr_wait "$U"
check sigterm_exit_0 test $? = 0
check sigterm_detached bash -c "! ip -n '$N' -d link show '$A' | grep -q prog/xdp && [[ -z \$(ls '$PIN/links') ]]"
check sigterm_settings_restored test "$(knobs)/$(gso)" = "$KNOBS0/$GSO0"
# (net-INO.daemon, the one-daemon-per-namespace lock file, stays until the namespace goes)
check sigterm_no_saved_settings_left bash -c "! ls /run/espx/net-$INO.*.xfrm /run/espx/net-$INO.*.gso_max_segs 2>/dev/null"
check sigterm_heartbeat_cleared grep -qx 'daemon: none' <<<"$(ip netns exec "$N" "$ESPX" status 2>&1)"
note "after SIGTERM, pinned in $PIN: $(ls "$PIN" | xargs) (maps stay for the next daemon: counters survive a restart)"

# started again, then killed (kill -9, an OOM kill): the datapath stays attached;
# `espx unload` in a container detaches, restores the device, leaves nothing pinned
container "$N" "$CAPS" yes "$A" "$W/node2.log"
U=$UPID
if wait_for 30 grep -q 'espx daemon: ready' "$W/node2.log" && [[ $(knobs) == "1 1 1" ]]; then
	pass daemon_restarts
else
	fail daemon_restarts "knobs $(knobs); $(tail -n 4 "$W/node2.log" | xargs)"
fi
kill -KILL "$(init_of "$U")"
ctr_wait "$U"
# without the host's /proc/sys/net the sysctls cannot be put back: unload says
# so, fails, and keeps the originals saved; an attach and detach restore them
container "$N" "$CAPS" no "" "$W/unload-ro.log" unload
ctr_wait "$UPID"
rc=$?
if ((rc != 0)) && grep -q "restoring /proc/sys/net/ipv4/conf/$A/disable_xfrm to 0: Read-only file system" "$W/unload-ro.log" &&
	[[ -e /run/espx/net-$INO.$A.xfrm ]]; then
	pass unload_without_sysctls_fails_keeps_originals
else
	fail unload_without_sysctls_fails_keeps_originals "rc $rc, saved: $(ls /run/espx/net-"$INO".* 2>&1 | xargs); $(xargs <"$W/unload-ro.log")"
fi
container "$N" "$CAPS" yes "" "$W/attach.log" attach "$A"
ctr_wait "$UPID"
container "$N" "$CAPS" yes "" "$W/detach.log" detach "$A"
ctr_wait "$UPID"
check reattach_detach_restores_originals test "$(knobs)/$(gso)" = "$KNOBS0/$GSO0"
container "$N" "$CAPS" yes "" "$W/unload.log" unload
ctr_wait "$UPID"
check unload_in_container_exit_0 test $? = 0
check unload_leaves_nothing_pinned test ! -e "$PIN"

# ---- a container in a network namespace of its own (a pod without hostNetwork) ----
netns_add P pod
PINO=$(stat -L -c %i "/run/netns/$P")
container "$P" "$CAPS" yes "" "$W/pod.log"
U=$UPID
if wait_for 30 grep -q 'espx daemon: ready' "$W/pod.log"; then pass pod_netns_starts
else fail pod_netns_starts "$(tail -n 4 "$W/pod.log" | xargs)"; fi
check pod_netns_own_state test -e "/sys/fs/bpf/espx/net-$PINO/espx_daemon" -a "$PINO" != "$INO" -a ! -e "$PIN"
C=$(init_of "$U")
kill -TERM "$C"
ctr_wait "$U"
check pod_netns_sigterm_exit_0 test $? = 0
container "$P" "$CAPS" yes "" "$W/unload2.log" unload
ctr_wait "$UPID"

# ---- refusals: a capability the manifest grants missing; /proc/sys/net not mounted ----
container "$N" -all,+bpf,+net_admin yes "$A" "$W/noperfmon.log"
ctr_wait "$UPID"
rc=$?
if ((rc != 0)) && grep -q 'missing capabilities' "$W/noperfmon.log" && grep -q 'CAP_PERFMON' "$W/noperfmon.log" &&
	! grep -q 'CAP_BPF\|CAP_NET_ADMIN (' "$W/noperfmon.log" && [[ ! -e $PIN ]]; then
	pass without_perfmon_refused
else
	fail without_perfmon_refused "rc $rc, pinned: $(ls "$PIN" 2>&1 | head -n 1); $(xargs <"$W/noperfmon.log")"
fi
container "$N" "$CAPS" no "$A" "$W/nosysnet.log"
ctr_wait "$UPID"
rc=$?
if ((rc != 0)) && grep -q '/proc/sys/net is read-only' "$W/nosysnet.log" && [[ $(knobs) == "$KNOBS0" ]]; then
	pass without_sysctl_mount_refused
else
	fail without_sysctl_mount_refused "rc $rc, knobs $(knobs); $(xargs <"$W/nosysnet.log")"
fi

# ---- the image under a real runtime: Podman ----
# Options every podman command here needs on this kind of machine, not for
# espx: runc (crun refuses hybrid cgroup v1/v2 hosts), modest ulimits (root
# podman raises them to the maximum, which root without CAP_SYS_RESOURCE
# cannot), the host's network for the build's apt-get (no CNI/netavark here).
BASE=localhost/espx-debian:bookworm IMG=localhost/espx:test CN=ctr-$$
RT=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
image_run() {
	local out
	if ! podman image exists "$BASE"; then
		out=$("$ROOT/scripts/container-base.sh" "$BASE" 2>&1) ||
			{ skip container-runtime "no Debian base image and none can be made here: $(tail -n 2 <<<"$out" | xargs)"; return; }
	fi
	out=$(podman run --rm "${RT[@]}" --network=none "$BASE" true 2>&1) ||
		{ skip container-runtime "podman cannot run a container on this machine: $(tail -n 1 <<<"$out")"; return; }
	# the build stage tagged too: its cached layers (the toolchain) then have a
	# tagged child and survive the prune below
	local b
	for b in "--target build -t $IMG-build" "-t $IMG"; do
		# shellcheck disable=SC2086
		out=$(podman build --network=host "${RT[@]}" --build-arg BASE="$BASE" $b -f "$ROOT/Containerfile" "$ROOT" 2>&1) ||
			{ fail container-runtime "podman build $b: $(tail -n 3 <<<"$out" | xargs)"; return; }
	done
	# with the runtime's default seccomp profile: refused, and the entrypoint says why
	podman run --name "$CN" "${RT[@]}" --network=ns:/run/netns/"$N" --read-only \
		--cap-drop=all --cap-add=bpf,perfmon,net_admin \
		-v /sys/fs/bpf:/sys/fs/bpf -v /run/espx:/run/espx -v /proc/sys/net:/host/proc/sys/net \
		-e ESPX_DEVICES="$A" "$IMG" >"$W/seccomp.log" 2>&1
	rc=$?
	podman rm -f "$CN" >/dev/null 2>&1
	if ((rc == 0)); then
		note "podman's default seccomp profile allows bpf(2) here: nothing to refuse"
	elif ! grep -q 'seccomp=unconfined' "$W/seccomp.log"; then
		fail container-runtime "refused under the default seccomp profile without saying why: $(tail -n 3 "$W/seccomp.log" | xargs)"
		return
	fi
	# the DaemonSet's grants and limits, on the node's network (here: namespace $N); seccomp:
	# Podman's default profile (golang-github-containers-common 0.50) allows bpf(2) only with
	# CAP_SYS_ADMIN (docs/containers.md)
	podman run -d --name "$CN" "${RT[@]}" --network=ns:/run/netns/"$N" --read-only --memory 384m \
		--cap-drop=all --cap-add=bpf,perfmon,net_admin --security-opt seccomp=unconfined \
		-v /sys/fs/bpf:/sys/fs/bpf -v /run/espx:/run/espx -v /proc/sys/net:/host/proc/sys/net \
		-e ESPX_DEVICES="$A" -e ESPX_INTERVAL_MS=200 "$IMG" >/dev/null 2>&1 ||
		{ fail container-runtime "podman run: $(podman logs "$CN" 2>&1 | tail -n 2 | xargs)"; return; }
	if ! wait_for 30 bash -c "podman logs $CN 2>&1 | grep -q 'espx daemon: ready'"; then
		fail container-runtime "no 'ready' from the container: $(podman logs "$CN" 2>&1 | tail -n 3 | xargs)"
		return
	fi
	if ! podman exec "$CN" espx-entrypoint probe >/dev/null 2>&1; then
		fail container-runtime "probe in the container: $(podman exec "$CN" espx status 2>&1 | xargs)"
		return
	fi
	if [[ $(knobs)/$(gso) != "1 1 1/1" ]] || ! ip -n "$N" -d link show "$A" | grep -q prog/xdp; then
		fail container-runtime "not attached to $A: knobs/gso $(knobs)/$(gso)"
		return
	fi
	podman stop -t 10 "$CN" >/dev/null 2>&1
	out=$(podman inspect -f '{{.State.ExitCode}}' "$CN" 2>&1)
	if [[ $out != 0 || $(knobs)/$(gso) != "$KNOBS0/$GSO0" ]] || ip -n "$N" -d link show "$A" | grep -q prog/xdp; then
		fail container-runtime "podman stop: exit $out, knobs/gso $(knobs)/$(gso); $(podman logs "$CN" 2>&1 | tail -n 2 | xargs)"
		return
	fi
	pass container-runtime
}
if ! command -v podman >/dev/null; then
	skip container-runtime "podman is not installed (scripts/deps.sh installs it)"
else
	t0=$SECONDS
	image_run
	podman rm -f "$CN" >/dev/null 2>&1
	# what this build superseded (untagged, no child: not the cached layers)
	podman image prune -f --filter label=espx.build=1 >/dev/null 2>&1
	note "podman: $((SECONDS - t0)) s (images $BASE, $IMG-build and $IMG kept as the build cache)"
fi
