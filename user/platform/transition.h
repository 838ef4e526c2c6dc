/* SPDX-License-Identifier: GPL-2.0 */
/* The datapath onto devices and off again (`espx attach|detach|unload`,
 * and the daemon's devices), in the order docs/architecture.md
 * ("Transitions") gives: the transition guard, the sequence-number
 * handover, links, the kernel's IPsec off or on, the segmenter.
 *
 * Loading and pinning is datapath.h's; pins are laid out as pins.h
 * describes. Links are pinned so the datapath outlives the espx process
 * and a later `espx detach`, even after a crash, finds exactly what was
 * attached. Each says what it did on stdout, as the commands print it. */
#ifndef ESPX_TRANSITION_H
#define ESPX_TRANSITION_H

enum espx_xdp_mode {
	ESPX_XDP_AUTO = 0,	/* native where the driver has it, else generic */
	ESPX_XDP_NATIVE,
	ESPX_XDP_GENERIC,
};

/* espx_attach flags */
#define ESPX_ATTACH_DISPATCHER	0x1	/* XDP through libxdp's dispatcher even on a
					 * device with no XDP program (one with the
					 * dispatcher is always joined) */

/* 0 or -errno (message printed). */
int espx_attach(const char *ifname, enum espx_xdp_mode mode, unsigned int flags);
int espx_detach(const char *ifname);
/* Detach everything and remove all pins (maps, programs, links). */
int espx_unload(void);

/* An XDP attach mode (XDP_ATTACHED_*) by name: native, generic, ... */
const char *xdp_mode_name(int attach_mode);

#endif
