// SPDX-License-Identifier: GPL-2.0
/* The one table of pinned objects (objects.h). */
#include <stddef.h>
#include "espx.skel.h"
#include "platform/objects.h"
#include "platform/pins.h"

struct espx_obj_desc {
	const char *name;
	const char *sub;	/* pin subdirectory; NULL: the pin root */
	size_t skel_off;	/* of its struct bpf_map * or bpf_program * in struct espx */
};

/* offsetof() fails to compile if the skeleton has no such map or program */
#define MAP(id, n)  [id] = { #n, NULL, offsetof(struct espx, maps.n) }
#define PROG(id, n) [id] = { #n, ESPX_PIN_PROGS, offsetof(struct espx, progs.n) }

static const struct espx_obj_desc espx_objs[ESPX_OBJ__COUNT] = {
	MAP(ESPX_MAP_SA, espx_sa),
	MAP(ESPX_MAP_SA_SETUP, espx_sa_setup),
	MAP(ESPX_MAP_KERNEL_SA, espx_kernel_sa),
	MAP(ESPX_MAP_SA_HWM, espx_sa_hwm),
	MAP(ESPX_MAP_SA_SPLIT, espx_sa_split),
	MAP(ESPX_MAP_DROPS, espx_drops),
	MAP(ESPX_MAP_POLICY, espx_policy),
	MAP(ESPX_MAP_POLICY_HASH, espx_policy_hash),
	MAP(ESPX_MAP_POL_LPM, espx_pol_lpm),
	MAP(ESPX_MAP_POL_BIN, espx_pol_bin),
	MAP(ESPX_MAP_IKE, espx_ike),
	MAP(ESPX_MAP_CONFIG, espx_config),
	MAP(ESPX_MAP_EVENTS, espx_events),
	MAP(ESPX_MAP_ACQ, espx_acq),
	MAP(ESPX_MAP_SEG, espx_seg),
	MAP(ESPX_MAP_REDIRECT, espx_redirect),
	MAP(ESPX_MAP_DAEMON, espx_daemon),
	PROG(ESPX_PROG_SA_CRYPTO_INIT, espx_sa_crypto_init),
	PROG(ESPX_PROG_SA_GHASH_INIT, espx_sa_ghash_init),
	PROG(ESPX_PROG_SA_SYNC, espx_sa_sync),
	/* program espx_anchor; what is pinned is its link, in the pin root */
	[ESPX_LINK_ANCHOR] = { ESPX_PIN_ANCHOR, NULL, offsetof(struct espx, progs.espx_anchor) },
};

const char *espx_obj_name(enum espx_obj o)
{
	return espx_objs[o].name;
}

void espx_obj_path(char *buf, size_t n, enum espx_obj o)
{
	espx_pin_path(buf, n, espx_objs[o].sub, espx_objs[o].name);
}

int espx_obj_open(enum espx_obj o)
{
	return espx_pinned_fd(espx_objs[o].sub, espx_objs[o].name);
}

void *espx_obj_skel(struct espx *skel, enum espx_obj o)
{
	return *(void **)((char *)skel + espx_objs[o].skel_off);
}

const char *espx_obj_sub(enum espx_obj o)
{
	return espx_objs[o].sub;
}
