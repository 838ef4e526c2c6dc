#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The AEAD backend on Debian 13's backports kernel, 7.3 (scripts/vmtest.sh -k 7.3), where
# the x86 AES-GCM is synchronous and taken as it is: tests/test_vm_aead.sh there. The
# module is built in a Debian 13 chroot (scripts/vm/build-module.sh: gcc 14). The VM's
# other 6.17 suites stay on 6.17: its headers are no longer in the archive's index.
# Skips only where the kernel, its headers or the chroot's packages cannot be had.
ESPX_VM_AEAD_KERNEL=7.3 ESPX_VM_AEAD_SUFFIX=-7.3 exec "$(dirname "$0")/test_vm_aead.sh"
