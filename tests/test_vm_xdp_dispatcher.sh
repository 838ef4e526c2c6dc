#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx's receive program in libxdp's multi-program dispatcher beside xdp-filter:
# tests/vm/xdp_dispatcher.sh in the 6.12 VM (the host kernel refuses extension programs,
# so libxdp falls back to one program there). libxdp 1.5.5 or newer is needed and Debian
# 12 and 13 ship older ones: scripts/vm/fetch-xdp-tools.sh unpacks Debian testing's
# packages into a cache; SKIP when apt cannot provide them.
# Env: ESPX_VM_XDP_DISPATCHER_TIMEOUT (default 300 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
vm_fetch xt vm-xdp-dispatcher "xdp-tools 1.5.5 or newer from Debian" scripts/vm/fetch-xdp-tools.sh
vm_suite vm-xdp-dispatcher "${ESPX_VM_XDP_DISPATCHER_TIMEOUT:-300}" \
	env ESPX_XDP_TOOLS_ROOT="${xt:-}" tests/vm/xdp_dispatcher.sh
