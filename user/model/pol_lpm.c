// SPDX-License-Identifier: GPL-2.0
/* espx_pol_lpm contents: which scanned policies could match an address.
 *
 * For each (family, which) table, every distinct selector prefix P gets
 * one entry whose bits are the policies whose prefix contains P. A trie
 * lookup of an address A finds the longest such P containing A, and a
 * policy's prefix Q contains A exactly when Q contains P: Q and P both
 * contain A, so one contains the other, and Q is no longer than P since
 * Q itself is an entry containing A. So the bits are exactly the policies
 * whose prefix contains A; no entry found means none does. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "model/pol_lpm.h"

static __u32 full_len(__u8 family)
{
	return family == AF_INET ? 32 : 128;
}

/* addr[] masked to its first plen bits (network order words). */
static void mask_addr(__u32 addr[4], __u32 plen)
{
	__u32 i, bits;

	for (i = 0; i < 4; i++) {
		bits = plen > i * 32 ? plen - i * 32 : 0;
		if (bits >= 32)
			continue;
		addr[i] &= bits ? htonl(~0U << (32 - bits)) : 0;
	}
}

int pol_lpm_prefix(const struct espx_sel *sel, __u8 family, __u8 which, __u32 addr[4],
		   __u32 *plen)
{
	__u32 len = which == ESPX_LPM_DADDR ? sel->prefixlen_d : sel->prefixlen_s;

	memset(addr, 0, 16);
	if (!sel->family) {
		/* any family: the datapath compares the selector's prefix in
		 * the packet's family, so only /0 is a safe (superset) bin */
		*plen = 0;
		return 0;
	}
	if (sel->family != family)
		return -1;
	if (len > full_len(family))
		len = full_len(family);
	memcpy(addr, which == ESPX_LPM_DADDR ? sel->daddr : sel->saddr,
	       family == AF_INET ? 4 : 16);
	mask_addr(addr, len);
	*plen = len;
	return 0;
}

int pol_lpm_contains(const __u32 a[4], __u32 alen, const __u32 b[4], __u32 blen)
{
	__u32 m[4];

	if (alen > blen)
		return 0;
	memcpy(m, b, sizeof(m));
	mask_addr(m, alen);
	return !memcmp(m, a, sizeof(m));
}

int pol_lpm_build(const struct espx_sel *sel, __u32 n, __u8 half, __u8 dir,
		  struct pol_lpm_entry *out)
{
	static const __u8 fams[] = { AF_INET, AF_INET6 };
	__u32 addr[ESPX_MAX_POLICY][4], plen[ESPX_MAX_POLICY];
	int in[ESPX_MAX_POLICY];
	__u32 f, which, i, j, first = 0, k;
	struct pol_lpm_entry *e;
	int cnt = 0;

	if (n > ESPX_MAX_POLICY)
		return -EINVAL;
	for (f = 0; f < 2; f++) {
		for (which = ESPX_LPM_DADDR; which <= ESPX_LPM_SADDR; which++) {
			for (i = 0; i < n; i++)
				in[i] = !pol_lpm_prefix(&sel[i], fams[f], (__u8)which, addr[i],
							&plen[i]);
			first = (__u32)cnt;
			for (i = 0; i < n; i++) {
				if (!in[i])
					continue;
				for (k = first; k < (__u32)cnt; k++)	/* seen already? */
					if (out[k].key.prefixlen == ESPX_LPM_HDR_BITS + plen[i] &&
					    !memcmp(out[k].key.addr, addr[i], 16))
						break;
				if (k < (__u32)cnt)
					continue;
				e = &out[cnt++];
				memset(e, 0, sizeof(*e));
				e->key.prefixlen = ESPX_LPM_HDR_BITS + plen[i];
				e->key.family = fams[f];
				e->key.dir = dir;
				e->key.half = half;
				e->key.which = (__u8)which;
				memcpy(e->key.addr, addr[i], 16);
				for (j = 0; j < n; j++)
					if (in[j] && pol_lpm_contains(addr[j], plen[j], addr[i], plen[i]))
						e->bits.w[j / 64] |= 1ULL << (j % 64);
			}
		}
	}
	return cnt;
}
