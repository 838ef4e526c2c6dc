/* SPDX-License-Identifier: GPL-2.0 */
/* `espx attach|detach|unload|status`: the datapath on devices and off
 * again, in the order docs/architecture.md ("Transitions") gives.
 *
 * Loading and pinning is platform/datapath.h's; pins are laid out as
 * platform/pins.h describes.
 * Links are pinned so the datapath outlives the espx process and a later
 * `espx detach`, even after a crash, finds exactly what was attached. */
#ifndef ESPX_ATTACH_H
#define ESPX_ATTACH_H

enum espx_xdp_mode {
	ESPX_XDP_AUTO = 0,	/* native where the driver has it, else generic */
	ESPX_XDP_NATIVE,
	ESPX_XDP_GENERIC,
};

int espx_attach(const char *ifname, enum espx_xdp_mode mode);
int espx_detach(const char *ifname);
/* Detach everything and remove all pins (maps, programs, links). */
int espx_unload(void);
int espx_status(int json);
/* Devices espx is attached to in this namespace, not counting `except`
 * (NULL: all). */
int espx_attached_count(const char *except);

#endif
