#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of the test machinery: what must FAIL does, without booting a VM.
# tests/run.sh on fake tests: a hanging one is killed at the limit with its process group and
# its namespaces, a PLAN it falls short of fails, a script bash stopped at a syntax error
# or at an unset variable under `set -u` fails (its EXIT trap exiting 0), leaked namespaces fail, and the failed
# checks are listed before the summary. tests/lib/vm_suite.sh with the real scripts/vmtest.sh
# in a copy of the tree whose scripts/vm/ and qemu are stand-ins: a project script that fails
# or lost its run bit, and a guest script without its run bit, FAIL; only apt having no
# package SKIPs. tests/vm/strongswan.sh with an espx whose `daemon --help` crashes FAILs.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_suite_guards
G=$(mktemp -d /tmp/espx-guards.XXXXXX)
TAG=g$$
trap 'rm -rf "$G"; finish' EXIT
trap 'fail guards-interrupted "SIGTERM"; exit 143' TERM
plan 17

# has TEXT PATTERN: TEXT has a line matching the extended regex
has() { grep -qE -- "$2" <<<"$1"; }
# expect NAME TEXT PATTERN: PASS if TEXT has PATTERN, else FAIL showing TEXT's tail
expect() {
	if has "$2" "$3"; then pass "$1"; else fail "$1" "no /$3/ in: $(tail -n 8 <<<"$2" | tr '\n' '|')"; fi
}

# --- tests/run.sh ---------------------------------------------------------------------
R=$G/run
mkdir -p "$R/tests/lib" "$R/build"
cp "$ROOT/tests/run.sh" "$R/tests/"
ln -s "$ESPX" "$R/build/espx"
# hangs, with a child in its process group and a namespace of its own (espxt<pid>-)
cat >"$R/tests/test_hang.sh" <<EOF
ip netns add espxt\$\$-hang$TAG
echo "PASS hang-started"
bash -c 'exec -a espx-guard-child-$TAG sleep 120' &
sleep 120
EOF
cat >"$R/tests/test_short.sh" <<'EOF'
echo "PLAN 3"
echo "PASS short-one"
EOF
cat >"$R/tests/test_exact.sh" <<'EOF'
echo "PLAN 2"
echo "PASS exact-one"
echo "SKIP exact-two: not here"
EOF
cat >"$R/tests/test_broken.sh" <<'EOF'
echo "FAIL broke: on purpose"
exit 1
EOF
# dies at a syntax error after one PASS; its EXIT trap exits 0, as espx_test.sh's finish does
cat >"$R/tests/test_syntax.sh" <<'EOF'
trap 'exit 0' EXIT
echo "PASS syntax-before"
if then fi
echo "PASS syntax-after"
EOF
# the same at an unset variable under set -u, as a test sourcing espx_test.sh would with
# `trap finish EXIT`
cat >"$R/tests/test_unbound.sh" <<'EOF'
set -u
trap 'exit 0' EXIT
echo "PASS unbound-before"
echo "$no_such_variable"
echo "PASS unbound-after"
EOF
cat >"$R/tests/test_leak.sh" <<EOF
ip netns add espxt\$\$-leak$TAG
echo "PASS leak-done"
EOF
t0=$SECONDS
out=$(ESPX_TEST_TIMEOUT=3 ESPX_BUILD=$R/build "$R/tests/run.sh" 2>&1)
rc=$?
took=$((SECONDS - t0))
expect runner-timeout-fails "$out" '^\[test_hang.sh\] FAIL: timed out after 3s'
if pids=$(pgrep -f "espx-guard-child-$TAG"); then
	fail runner-timeout-kills-group "the hanging test's child still runs: $pids"
	kill $pids
else
	pass runner-timeout-kills-group
fi
left=$(ip netns list | awk -v t="$TAG" '$1 ~ "^espxt[0-9]+-(hang|leak)" t "$" {print $1}')
if [[ -z $left ]] && has "$out" '^\[test_hang.sh\] FAIL: left namespaces behind \(removed now\): espxt[0-9]+-hang'; then
	pass runner-timeout-removes-netns
else
	fail runner-timeout-removes-netns "left: '$left'; runner said: $(grep test_hang <<<"$out" | tr '\n' '|')"
	for n in $left; do ip netns del "$n"; done
fi
expect runner-leak-fails "$out" '^\[test_leak.sh\] FAIL: left namespaces behind \(removed now\): espxt[0-9]+-leak'
expect runner-plan-short-fails "$out" '^\[test_short.sh\] FAIL: planned 3 results, reported 1$'
expect runner-syntax-error-fails "$out" '^\[test_syntax.sh\] FAIL: bash stopped it \(or a subshell of it\) at an error: .*syntax error'
expect runner-unbound-fails "$out" '^\[test_unbound.sh\] FAIL: bash stopped it \(or a subshell of it\) at an error: .*no_such_variable: unbound variable'
if has "$out" '^\[exact-one\] PASS' && ! has "$out" 'test_exact.sh\] FAIL'; then pass runner-plan-met-passes
else fail runner-plan-met-passes "$(grep -E 'exact' <<<"$out" | tr '\n' '|')"; fi
# the two last lines: the failed tests and their checks, then the counts
tail2=$(tail -n 2 <<<"$out")
want="failed: test_broken.sh (broke); test_hang.sh (timeout, namespaces left); test_leak.sh (namespaces left); test_short.sh (plan); test_syntax.sh (bash error); test_unbound.sh (bash error)
6 passed, 7 failed, 1 skipped"
if ((rc != 0 && took < 60)) && [[ $tail2 == "$want" ]]; then
	pass runner-lists-failures
else
	fail runner-lists-failures "exit $rc after ${took}s, last lines: $(tr '\n' '|' <<<"$tail2")"
fi

# --- tests/lib/vm_suite.sh and scripts/vmtest.sh --------------------------------------
V=$G/vm
mkdir -p "$V/scripts/vm" "$V/tests/lib" "$V/tests/vm" "$V/build" "$G/bin" "$G/kernel/lib/modules/6.12.0-fake" "$G/kernel/boot"
cp "$ROOT/scripts/vmtest.sh" "$V/scripts/"
cp "$ROOT/scripts/vm/init" "$ROOT/scripts/vm/build-initramfs.sh" "$ROOT/scripts/vm/fetch-kernel.sh" "$V/scripts/vm/"
cp "$ROOT/tests/lib/vm_suite.sh" "$ROOT/tests/lib/espx_test.sh" "$V/tests/lib/"
ln -s "$ESPX" "$V/build/espx"
touch "$G/kernel/boot/vmlinuz-6.12.0-fake"
# qemu's stand-in does what scripts/vm/guest-init.sh does: run cmd.sh with bash in the
# repository, its exit status into the shared directory
cat >"$G/bin/qemu-system-x86_64" <<'EOF'
#!/bin/bash
xch="" repo=""
while (($#)); do
	case $1 in
	-virtfs) [[ $2 == *mount_tag=vmout* ]] && { xch=${2#*path=}; xch=${xch%%,*}; }; shift 2 ;;
	-append) for w in $2; do [[ $w == espx.repo=* ]] && repo=${w#espx.repo=}; done; shift 2 ;;
	*) shift ;;
	esac
done
cd "$repo" || exit 1
: >"$xch/started"
bash "$xch/cmd.sh" </dev/null 2>&1 | tee "$xch/output.log"
echo "${PIPESTATUS[0]}" >"$xch/rc"
EOF
chmod +x "$G/bin/qemu-system-x86_64"
printf '#!/bin/bash\necho "PASS guard-guest-ran"\n' >"$V/tests/vm/ok.sh"
chmod +x "$V/tests/vm/ok.sh"
printf '#!/bin/bash\necho "PASS guard-guest-ran"\n' >"$V/tests/vm/norunbit.sh"
chmod -x "$V/tests/vm/norunbit.sh"

# stub FILE CODE [STDOUT]: a scripts/vm/ script that prints STDOUT and exits CODE
stub() { printf '#!/bin/bash\n%s\nexit %s\n' "${3:+echo $3}" "$2" >"$V/scripts/vm/$1"; chmod +x "$V/scripts/vm/$1"; }
# suite CMD...: vm_suite in the copy, with the stand-in qemu; sets out, rc
suite() {
	out=$(cd "$V" && PATH=$G/bin:$PATH ESPX_VM=1 ESPX_BUILD=build ESPX_VM_LOCK=$G/vm.lock \
		bash -c '. tests/lib/vm_suite.sh; vm_suite guard 60 "$@"' _ "$@" 2>&1)
	rc=$?
}
# suite_says NAME RC PATTERN CMD...: vm_suite exits RC and prints PATTERN
suite_says() {
	local n=$1 want=$2 pat=$3
	shift 3
	suite "$@"
	if ((rc == want)) && has "$out" "$pat"; then pass "$n"
	else fail "$n" "exit $rc (want $want), no /$pat/ in: $(tail -n 6 <<<"$out" | tr '\n' '|')"; fi
}

stub deps.sh 0
stub build-initramfs.sh 0
cp "$ROOT/scripts/vm/fetch-kernel.sh" "$V/scripts/vm/fetch-kernel.sh"
chmod -x "$V/scripts/vm/fetch-kernel.sh"
suite_says vm-setup-script-no-run-bit-fails 1 '^FAIL guard: VM setup failed: .*fetch-kernel.sh exited 126' tests/vm/ok.sh
stub fetch-kernel.sh 3
suite_says vm-no-kernel-package-skips 0 '^SKIP guard: VM cannot run here: no 6.12 kernel package' tests/vm/ok.sh
stub deps.sh 1
suite_says vm-deps-script-error-fails 1 '^FAIL guard: VM setup failed: scripts/vm/deps.sh exited 1' tests/vm/ok.sh
stub deps.sh 3
suite_says vm-no-host-packages-skips 0 '^SKIP guard: VM cannot run here: host packages cannot be installed' tests/vm/ok.sh
stub deps.sh 0
stub fetch-kernel.sh 0 "$G/kernel"
stub build-initramfs.sh 1
suite_says vm-initramfs-error-fails 1 '^FAIL guard: VM setup failed: initramfs build failed' tests/vm/ok.sh
printf '#!/bin/bash\n: >"$2"\n' >"$V/scripts/vm/build-initramfs.sh"
suite_says vm-guest-script-no-run-bit-fails 1 "^FAIL guard: the guest could not execute 'tests/vm/norunbit.sh'" tests/vm/norunbit.sh
suite_says vm-guest-script-runs 0 '^PASS guard-guest-ran' tests/vm/ok.sh

# --- tests/vm/strongswan.sh: `espx daemon --help` crashing ------------------------------
if [[ ! -x /usr/lib/ipsec/charon ]] || ! command -v swanctl >/dev/null; then
	skip strongswan-daemon-crash-fails "strongSwan not installed (charon, swanctl): scripts/vm/deps.sh installs it"
else
	printf '#!/bin/bash\nkill -SEGV $$\n' >"$G/espx-crash"
	chmod +x "$G/espx-crash"
	# a private /run/netns: the script's clean-up deletes swL/swR, which are not ours here
	out=$(cd "$ROOT" && ESPX_BIN=$G/espx-crash ESPX_VM_XFER_BYTES=1024 unshare -m --propagation private \
		bash -c 'mount -t tmpfs tmpfs /run/netns && exec bash tests/vm/strongswan.sh espx-aes128 espx-aes256' 2>&1)
	rc=$?
	if ((rc == 1)) && has "$out" '^FAIL strongswan-espx-aes128: .*daemon --help' &&
		has "$out" '^FAIL strongswan-espx-aes256: .*daemon --help' && ! has "$out" '^SKIP'; then
		pass strongswan-daemon-crash-fails
	else
		fail strongswan-daemon-crash-fails "exit $rc: $(tr '\n' '|' <<<"$out" | tail -c 400)"
	fi
fi
