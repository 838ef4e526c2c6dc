/* SPDX-License-Identifier: GPL-2.0 */
/* Loading the datapath, attaching it to devices and taking it off again.
 *
 * Pins are laid out as pins.h describes.
 * Links are pinned so the datapath outlives the espx process and a later
 * `espx detach`, even after a crash, finds exactly what was attached. */
#ifndef ESPX_ATTACH_H
#define ESPX_ATTACH_H

#include "lock.h"	/* espx_lock(): commands that change pinned state */

enum espx_xdp_mode {
	ESPX_XDP_AUTO = 0,	/* native where the driver has it, else generic */
	ESPX_XDP_NATIVE,
	ESPX_XDP_GENERIC,
};

/* Load the datapath and pin its maps and set-up programs without attaching
 * it anywhere (state and policy commands call it, so configuration may come
 * before attach). Loading again reuses what is pinned. 0 or -errno. */
int espx_load(void);
int espx_attach(const char *ifname, enum espx_xdp_mode mode);
int espx_detach(const char *ifname);
/* Detach everything and remove all pins (maps, programs, links). */
int espx_unload(void);
int espx_status(int json);
/* Devices espx is attached to in this namespace, not counting `except`
 * (NULL: all). */
int espx_attached_count(const char *except);

#endif
