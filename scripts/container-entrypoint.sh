#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The espx container's entrypoint (Containerfile, docs/containers.md): checks
# what `espx daemon` needs, says what is missing and how to grant it, then
# execs the daemon, which then receives the runtime's SIGTERM itself (it
# detaches and hands the SAs back to the kernel).
# Usage:
#   espx-entrypoint [ DAEMON-ARGS... ]  e.g. dev eth0 --interval 500; without
#                                       arguments: dev $ESPX_DEVICES (blank
#                                       separated), --interval $ESPX_INTERVAL_MS
#   espx-entrypoint probe               exit 0 if the daemon of this network
#                                       namespace is running (liveness probe)
#   espx-entrypoint COMMAND ARGS...     any other espx command (status, stats...)
# Environment: ESPX_DEVICES, ESPX_INTERVAL_MS (default 1000), ESPX_PROC_SYS_NET
# (where the host's /proc/sys/net is mounted writable; /host/proc/sys/net is
# taken if there and /proc/sys is read-only), ESPX (the binary).
set -uo pipefail
ESPX=${ESPX:-/usr/local/bin/espx}
BPFFS=/sys/fs/bpf
RUN=/run/espx
HOST_SYS_NET=/host/proc/sys/net

say() { echo "espx-entrypoint: $*" >&2; }
die() { say "$*"; exit 1; }

# network sysctls: where espx finds them writable (all commands: detach and
# unload restore what attach changed)
knob=ipv4/conf/all/disable_policy
if [[ -z ${ESPX_PROC_SYS_NET:-} && ! -w /proc/sys/net/$knob && -w $HOST_SYS_NET/$knob ]]; then
	export ESPX_PROC_SYS_NET=$HOST_SYS_NET
fi
sysnet=${ESPX_PROC_SYS_NET:-/proc/sys/net}

case ${1:-} in
probe)
	line=$("$ESPX" status 2>&1 | grep '^daemon: ')
	[[ $line == "daemon: running"* ]] && exit 0
	say "${line:-no espx state here ($("$ESPX" status 2>&1 | head -n1))}"
	exit 1 ;;
check | attach | detach | status | unload | state | policy | stats | monitor | version | help)
	exec "$ESPX" "$@" ;;
daemon) shift ;;
esac

[[ $(id -u) == 0 ]] || die "runs as root (uid $(id -u) here): espx's pins are root's, mode 0600, and /run/espx is root's alone; do not set --user / runAsUser"

# --- capabilities: each one the daemon needs, what fails without it -------
capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
has_cap() { (((16#$capeff >> $1) & 1)); }
missing=()
has_cap 39 || missing+=("CAP_BPF (creating maps, loading programs, pinning)")
has_cap 38 || missing+=("CAP_PERFMON (without it the verifier applies its Spectre rules and rejects the datapath: 'pointer arithmetic of map value goes out of range, prohibited for !root'; espx says 'loading the datapath failed: Permission denied')")
has_cap 12 || missing+=("CAP_NET_ADMIN (XDP and tcx attach, the sk_lookup namespace anchor, XFRM netlink, device settings)")
if ((${#missing[@]})); then
	say "missing capabilities:"
	for m in "${missing[@]}"; do say "  $m"; done
	die "grant them: podman/docker run --cap-add=BPF --cap-add=PERFMON --cap-add=NET_ADMIN; Kubernetes: securityContext.capabilities.add [BPF, PERFMON, NET_ADMIN] (docs/containers.md)"
fi

# --- the kernel, as this container may use it: a seccomp filter that
#     refuses bpf(2) looks like a kernel without BPF to `espx check`
if ! out=$("$ESPX" check 2>&1); then
	printf '%s\n' "$out" | grep -v '^  ok ' >&2
	if [[ $(awk '/^Seccomp:/ {print $2}' /proc/self/status) == 2 ]]; then
		die "a seccomp filter is on (Seccomp: 2 in /proc/self/status), and some runtimes' default profiles allow bpf(2) only with CAP_SYS_ADMIN (Podman's in Debian 12): podman/docker --security-opt seccomp=unconfined; Kubernetes: securityContext.seccompProfile.type: Unconfined (docs/containers.md)"
	fi
	die "espx check failed: the kernel lacks what espx needs (above)"
fi

# --- bpffs: the host's, so that the datapath and its state outlive us -----
if [[ $(stat -f -c %T "$BPFFS" 2>/dev/null) != bpf_fs ]]; then
	if has_cap 21 && mount -t bpf bpf "$BPFFS" -o mode=0700 2>/dev/null; then
		say "mounted a bpffs of this container's own on $BPFFS: espx's state and datapath go when the container stops; bind-mount the host's $BPFFS to keep them"
	else
		die "no bpffs at $BPFFS: on the host, mount -t bpf bpf $BPFFS (systemd mounts it at boot), then give it to the container: podman/docker -v $BPFFS:$BPFFS; Kubernetes: a hostPath volume $BPFFS (docs/containers.md)"
	fi
fi

# --- /run/espx: the lock shared with espx on the host, saved device settings
if ! mkdir -p -m 0700 "$RUN" 2>/dev/null || [[ ! -w $RUN ]] || ! touch "$RUN/.entrypoint" 2>/dev/null; then
	die "$RUN is not writable: give the container the host's $RUN (podman/docker -v $RUN:$RUN; Kubernetes: hostPath $RUN, type DirectoryOrCreate): it holds the lock espx commands share and each device's saved settings, restored on detach even after a restart"
fi
rm -f "$RUN/.entrypoint"

# --- network sysctls (disable_xfrm, disable_policy): /proc/sys is read-only
#     in an unprivileged container; the host's /proc/sys/net mounted elsewhere
#     speaks for the namespace of whoever opens it, i.e. ours
[[ -w $sysnet/$knob ]] ||
	die "$sysnet is read-only here (the runtime mounts /proc/sys read-only): mount the host's /proc/sys/net writable at $HOST_SYS_NET (podman/docker -v /proc/sys/net:$HOST_SYS_NET:rw; Kubernetes: hostPath /proc/sys/net), or set ESPX_PROC_SYS_NET to where it is"

# --- the daemon's arguments and devices -----------------------------------
if (($# == 0)); then
	set -- --interval "${ESPX_INTERVAL_MS:-1000}"
	for d in ${ESPX_DEVICES:-}; do set -- "$@" dev "$d"; done
fi
netns=$(stat -L -c %i /proc/self/ns/net)
devs=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	[[ ${args[i]} == dev ]] && devs+=("${args[i + 1]:-}")
done
for d in "${devs[@]}"; do
	# /proc/self/net/dev lists this process's network namespace
	awk -F: -v d="$d" 'NR > 2 { gsub(/ /, "", $1); if ($1 == d) f = 1 } END { exit !f }' /proc/self/net/dev ||
		die "no device '$d' in this network namespace (net:[$netns]): is the container on the host's network? (podman/docker --network=host; Kubernetes: hostNetwork: true)"
done
((${#devs[@]})) || say "no device given (ESPX_DEVICES or 'dev DEV'): the daemon mirrors XFRM into espx but attaches nowhere"
say "network namespace net:[$netns], state in $BPFFS/espx/net-$netns, devices: ${devs[*]:-none}"
exec "$ESPX" daemon "$@"
