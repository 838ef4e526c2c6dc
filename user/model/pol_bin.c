// SPDX-License-Identifier: GPL-2.0
/* espx_pol_bin contents: which scanned policies could match a protocol,
 * destination port and source port.
 *
 * Each of the three fields of a selector either names one value (a
 * protocol, a port under the full mask), names none (any), or, for ports,
 * has a partial mask. The datapath looks up the packet's value and, when
 * no entry has it, the field's ANY entry. The exact entry for v holds the
 * slots naming v and every slot not naming a single value; ANY holds the
 * latter alone, since a value without an entry is named by no slot. So
 * the lookup is exactly the slots whose field admits the value, except
 * that partial masks are in every entry (a superset: sel_match decides),
 * and the AND of the three lookups is the slots whose protocol and ports
 * admit the packet. */
#include <errno.h>
#include <string.h>
#include "model/pol_bin.h"

enum bin_class {
	BIN_ANY,	/* the field selects nothing */
	BIN_EXACT,	/* one value */
	BIN_PARTIAL,	/* a port under a partial mask */
};

/* What sel selects in the field of kind (ESPX_BIN_PROTO, _DPORT, _SPORT). */
static enum bin_class bin_field(const struct espx_sel *sel, __u8 kind, __u16 *value)
{
	__u16 v, mask;

	switch (kind) {
	case ESPX_BIN_PROTO:
		*value = sel->proto;
		return sel->proto ? BIN_EXACT : BIN_ANY;
	case ESPX_BIN_DPORT:
		v = sel->dport;
		mask = sel->dport_mask;
		break;
	default:
		v = sel->sport;
		mask = sel->sport_mask;
		break;
	}
	*value = v;
	return !mask ? BIN_ANY : mask == 0xffff ? BIN_EXACT : BIN_PARTIAL;
}

static struct pol_bin_entry *bin_new(struct pol_bin_entry *e, __u8 half, __u8 dir, __u8 kind,
				     __u16 value)
{
	memset(e, 0, sizeof(*e));	/* the key's padding too: it is hashed */
	e->key.half = half;
	e->key.dir = dir;
	e->key.kind = kind;
	e->key.value = value;
	return e;
}

int pol_bin_build(const struct espx_sel *sel, __u32 n, __u8 half, __u8 dir,
		  struct pol_bin_entry *out, __u32 max)
{
	static const __u8 kinds[][2] = {	/* exact, ANY */
		{ ESPX_BIN_PROTO, ESPX_BIN_PROTO_ANY },
		{ ESPX_BIN_DPORT, ESPX_BIN_DPORT_ANY },
		{ ESPX_BIN_SPORT, ESPX_BIN_SPORT_ANY },
	};
	enum bin_class cls[ESPX_MAX_POLICY];
	__u16 val[ESPX_MAX_POLICY];
	struct espx_pol_bits any;
	__u32 i, j, k, f, first, cnt = 0;
	struct pol_bin_entry *e;
	int nany;

	if (n > ESPX_MAX_POLICY)
		return -EINVAL;
	for (f = 0; f < sizeof(kinds) / sizeof(kinds[0]); f++) {
		memset(&any, 0, sizeof(any));
		nany = 0;
		for (i = 0; i < n; i++) {
			cls[i] = bin_field(&sel[i], kinds[f][0], &val[i]);
			if (cls[i] != BIN_EXACT) {
				any.w[i / 64] |= 1ULL << (i % 64);
				nany = 1;
			}
		}
		first = cnt;
		for (i = 0; i < n; i++) {
			if (cls[i] != BIN_EXACT)
				continue;
			for (k = first; k < cnt; k++)	/* seen already? */
				if (out[k].key.value == val[i])
					break;
			if (k < cnt)
				continue;
			if (cnt == max)
				return -ENOSPC;
			e = bin_new(&out[cnt++], half, dir, kinds[f][0], val[i]);
			e->bits = any;
			for (j = i; j < n; j++)
				if (cls[j] == BIN_EXACT && val[j] == val[i])
					e->bits.w[j / 64] |= 1ULL << (j % 64);
		}
		if (nany) {
			if (cnt == max)
				return -ENOSPC;
			e = bin_new(&out[cnt++], half, dir, kinds[f][1], 0);
			e->bits = any;
		}
	}
	return (int)cnt;
}
