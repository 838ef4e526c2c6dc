#!/bin/bash
# Install what espx needs to build and test, idempotently.
#
# Toolchain choices (measured on Debian 12, kernel 6.18):
#  - clang-16: clang 14 drops btf_type_tag("kptr") when the pointee struct is
#    complete, and the verifier then rejects bpf_kptr_xchg.
#  - libbpf 1.4.6 and bpftool 7.5 from bookworm-backports (tcx attach, bpf_for,
#    kfunc prototypes in vmlinux.h). The backports mirror is derived from the
#    machine's own apt sources; no host name is written anywhere.
# Usage: scripts/deps.sh [--check] [--build]
#   --check: only report, exit 1 if missing
#   --build: only what `make build/espx` needs (the Containerfile's build stage),
#            not the test tools
#   --runtime: only the shared libraries build/espx runs with (the Containerfile's
#            runtime stage)
set -euo pipefail

BUILD_PKGS=(clang-16 llvm-16 make gcc pkg-config libelf-dev zlib1g-dev libmnl-dev libxdp-dev)
# gnuplot-nox: the A/B chart (tests/test_bench_ab.sh runs before the VM
# suite, whose scripts/vm/deps.sh also has it); libclang-rt-16-dev:
# clang-16's libFuzzer and sanitizer runtimes, for the fuzz harnesses (make
# fuzz, tests/test_fuzz.sh); build/espx itself does not need it
TEST_PKGS=(iproute2 ethtool tcpdump tshark python3 python3-scapy python3-cryptography
      iperf3 gnuplot-nox xdp-tools iputils-ping util-linux podman runc debootstrap libclang-rt-16-dev
      mandoc man-db dpkg-dev prometheus prometheus-node-exporter)
RUNTIME_PKGS=(libelf1 zlib1g libmnl0 libxdp1)
BPO_PKGS=(libbpf-dev bpftool)
LIBBPF=libbpf-dev	# the package whose version must be the backported one
STAMP=/var/lib/espx/deps.v1
CHECK=0
PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
for a in "$@"; do
	case $a in
	--check) CHECK=1 ;;
	--build) PKGS=("${BUILD_PKGS[@]}") ;;
	--runtime) PKGS=("${RUNTIME_PKGS[@]}") BPO_PKGS=(libbpf1) LIBBPF=libbpf1 ;;
	*) echo "usage: scripts/deps.sh [--check] [--build | --runtime]" >&2; exit 2 ;;
	esac
done

have_all() {
	local p
	for p in "${PKGS[@]}" "${BPO_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || return 1
	done
	# backported libbpf must be the one in use (>= 1.4)
	dpkg --compare-versions "$(dpkg-query -W -f='${Version}' "$LIBBPF")" ge 1:1.4 || return 1
}

if have_all; then
	exit 0
fi
if ((CHECK)); then
	echo "espx: build dependencies missing; run: make deps" >&2
	exit 1
fi
if [[ $(id -u) != 0 ]]; then
	echo "espx: installing dependencies needs root (apt-get)" >&2
	exit 1
fi

add_backports() {
	local codename src uri key
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	if grep -rqs -- "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	# Take the URI and key of the existing Debian main archive entry.
	src=$(grep -ls "^Suites:.*\b${codename}\b" /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
	if [[ -n $src ]]; then
		uri=$(awk '/^URIs:/{print $2; exit}' "$src")
		key=$(awk '/^Signed-By:/{print $2; exit}' "$src")
	else
		uri=$(awk -v c="$codename" '$1=="deb" && $3==c {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
		key=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	if [[ -z ${uri:-} ]]; then
		echo "espx: cannot find the Debian archive in apt sources to add ${codename}-backports" >&2
		exit 1
	fi
	cat >/etc/apt/sources.list.d/espx-backports.sources <<EOT
Types: deb
URIs: $uri
Suites: ${codename}-backports
Components: main
Signed-By: ${key:-/usr/share/keyrings/debian-archive-keyring.gpg}
EOT
	echo "espx: added ${codename}-backports (mirror taken from existing apt sources)"
}

add_backports
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root may capture; answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
# prometheus and node_exporter are test tools (promtool, a scrape over a test
# namespace's loopback): installing them must not start their services
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	printf '#!/bin/sh\n# espx deps.sh: no service starts while it installs\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
apt-get install -y -qq --no-install-recommends -t "${codename}-backports" "${BPO_PKGS[@]}" >/dev/null
mkdir -p "$(dirname "$STAMP")" && touch "$STAMP"
have_all || { echo "espx: dependency install incomplete" >&2; exit 1; }
echo "espx: dependencies installed"
