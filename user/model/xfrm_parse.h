/* SPDX-License-Identifier: GPL-2.0 */
/* Parsing `ip xfrm state` and `ip xfrm policy` words into the datapath's
 * structs, without touching any map, so every accepted and refused line can
 * be unit tested without root.
 *
 * Every parser returns 0, or -EINVAL with one line in err->msg that names
 * the offending word (never key material) and what is accepted. Words that
 * ip xfrm knows but espx does not implement are refused the same way:
 * silently ignoring one (an "enc" algorithm, a mark) would install
 * something other than what the user asked for. */
#ifndef ESPX_XFRM_PARSE_H
#define ESPX_XFRM_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include "espx_sa.h"
#include "espx_policy.h"
#include "model/sa_table.h"

#define XP_AEAD_NAME	"rfc4106(gcm(aes))"

struct xp_err {
	char msg[256];
};

/* `state add`: the map key and value (ctx, ghkey and the state part left
 * zero; add_time is for the caller to set) and the AES key. aes_key is
 * secret: wipe the whole struct with xp_state_wipe() when done. */
struct xp_state {
	struct espx_sa_key key;
	struct espx_sa sa;
	uint8_t aes_key[ESPX_AES_MAX_KEY];
	size_t aes_key_len;
	enum espx_aes_driver driver;
	int key_arg;		/* argv index of the key word, -1 if none */
};

int xp_parse_state_add(int argc, char **argv, struct xp_state *st, struct xp_err *err);
void xp_state_wipe(struct xp_state *st);

/* `state del`: dst ADDR proto esp spi SPI (src ADDR accepted, unused). */
int xp_parse_state_id(int argc, char **argv, struct espx_sa_key *key, struct xp_err *err);

/* `state flush [proto esp]`. */
int xp_parse_state_flush(int argc, char **argv, struct xp_err *err);

/* `policy add` and `policy del`. For del, either a selector and dir or an
 * index (with or without dir) names the policy. */
struct xp_policy {
	struct espx_policy pol;
	int has_sel;		/* src or dst given */
	int has_dir;
	int has_index;
};

int xp_parse_policy_add(int argc, char **argv, struct xp_policy *p, struct xp_err *err);
int xp_parse_policy_del(int argc, char **argv, struct xp_policy *p, struct xp_err *err);

/* Where a policy's template points: the destination an SA must have. 0, or
 * -EINVAL for a transport template with no address and a selector that is
 * not one host (the kernel would need the packet to decide). */
int xp_tmpl_daddr(const struct espx_policy *p, __u32 daddr[4], __u8 *family);

/* SA flag words as ip xfrm state spells them, in its order (NULL name
 * ends a table). flag: the ESPX_SA_F_* bit it sets (0: accepted, no
 * effect on espx); refused: why espx refuses it, or NULL. */
struct xp_flag_name {
	const char *name;
	__u32 flag;
	const char *refused;
};
extern const struct xp_flag_name *const xp_sa_flags;		/* `flag` */
extern const struct xp_flag_name *const xp_sa_extra_flags;	/* `extra-flag` */

/* Small helpers shared with the listing code. */
int xp_parse_addr(const char *s, __u32 addr[4], __u8 *family);
const char *xp_proto_name(__u8 proto, char *buf, size_t n);
const char *xp_dir_name(__u8 dir);
const char *xp_mode_name(__u8 mode);

#endif
