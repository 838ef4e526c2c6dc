/* SPDX-License-Identifier: GPL-2.0 */
/* Device settings espx changes while attached, and restores on detach.
 *
 * A TC program sees packets before the kernel segments them: TCP hands
 * over GSO super-packets whatever the device's TSO/GSO settings, and an
 * encrypted packet can no longer be segmented. With the device's
 * gso_max_segs at 1 the stack builds one-segment packets instead (what
 * `ip link set DEV gso_max_segs 1` does). The original value is saved in
 * /run/espx/ (so a later `espx detach`, even after a crash, restores it)
 * and put back on detach. (Checksums left to the device are handled in the
 * TC program: esp_tx.h.) */
#ifndef ESPX_DEVCFG_H
#define ESPX_DEVCFG_H

#include <linux/types.h>

/* IFLA_GSO_MAX_SEGS of a device: read (set 0) or write (set 1). */
int devcfg_gso_max_segs(const char *ifname, __u32 *val, int set);

/* Save and change; 0 or -errno (message printed; nothing left changed). */
int devcfg_apply(const char *ifname);
/* Put back what devcfg_apply saved; 0 if there was nothing to restore. */
int devcfg_restore(const char *ifname);
/* After unload: drop what is saved for devices that are gone. */
void devcfg_forget_all(void);

/* Where network sysctls are read and written: /proc/sys/net, or
 * $ESPX_PROC_SYS_NET (an absolute path) where a container runtime mounts
 * /proc/sys read-only and the host's /proc/sys/net is bind-mounted
 * elsewhere, writable (docs/containers.md). A net sysctl file speaks for
 * the network namespace of the process that opens it, whichever procfs
 * mount it is reached through. */
const char *devcfg_proc_sys_net(void);

#endif
