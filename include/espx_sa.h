/* SPDX-License-Identifier: GPL-2.0 */
/* Security Association layout shared by the datapath and user space.
 * Addresses and the SPI are in network byte order; everything else is host
 * order. The map is keyed like the kernel's xfrm_state: (daddr, SPI, family). */
#ifndef ESPX_SA_H
#define ESPX_SA_H

#include "espx_common.h"
#ifndef __bpf__
#include <linux/bpf.h>	/* struct bpf_spin_lock */
#endif

/* The crypto context is a referenced kptr on the BPF side; user space sees an
 * opaque 8-byte slot it must never write (map updates skip it). */
#ifdef __bpf__
#define ESPX_KPTR(type) type __attribute__((btf_type_tag("kptr"))) *
#else
#define ESPX_KPTR(type) __u64
#endif

struct espx_sa_key {
	__u32 daddr[4];		/* IPv4 in daddr[0], rest zero */
	__u32 spi;		/* network order */
	__u8  family;		/* AF_INET or AF_INET6 */
	__u8  pad[3];
};

/* One GF(2^128) element as two big-endian-valued 64-bit words. */
struct espx_gh {
	__u64 hi;
	__u64 lo;
};

/* One power P of the GHASH key H for the constant-time GHASH of
 * bpf/lib/ghash.h: the words P.lo, P.hi, P.lo ^ P.hi and their bit
 * reversals, each split into its parts masked with 0x1111.., 0x2222..,
 * 0x4444.., 0x8888.. (192 bytes). */
struct espx_ghpow {
	__u64 w[6][4];
};

/* H, H^2, H^3, H^4 (pow[i] = H^(i+1)): four blocks per reduction. */
struct espx_ghkey {
	struct espx_ghpow pow[4];
};

/* An XFRM selector (struct xfrm_selector): which inner packets an SA or a
 * policy covers. Addresses and ports in network order; a prefix length of 0
 * and a port mask of 0 match anything, proto 0 matches any protocol. */
struct espx_sel {
	__u32 daddr[4];
	__u32 saddr[4];
	__u16 dport;
	__u16 dport_mask;
	__u16 sport;
	__u16 sport_mask;
	__u8  family;		/* AF_INET, AF_INET6, or 0: any */
	__u8  prefixlen_d;
	__u8  prefixlen_s;
	__u8  proto;		/* IPPROTO_*, 0: any */
};

/* Lifetime limits, as struct xfrm_lifetime_cfg: ESPX_INF is "no limit". */
#define ESPX_INF		(~(__u64)0)

struct espx_lft {
	__u64 soft_bytes;
	__u64 hard_bytes;
	__u64 soft_packets;
	__u64 hard_packets;
};

enum espx_mode {
	ESPX_MODE_TRANSPORT = 0,	/* XFRM_MODE_TRANSPORT */
	ESPX_MODE_TUNNEL = 1,		/* XFRM_MODE_TUNNEL */
};

/* Who seals and opens an SA's packets. The AEAD backend is the kernel's own
 * rfc4106(gcm(aes)) through the espx_aead module (bpf/kmod/); espx's own GCM
 * (ecb(aes) kfunc + GHASH in BPF) is always set up as well, and takes any
 * packet the backend cannot (its vector unit busy at that moment). */
enum espx_backend {
	ESPX_BACKEND_AUTO = 0,	/* the AEAD backend where loaded, else espx's GCM */
	ESPX_BACKEND_BPF = 1,	/* espx's own GCM only */
	ESPX_BACKEND_AEAD = 2,	/* the AEAD backend; the SA is refused without it */
};

#define ESPX_REPLAY_MAX		4096	/* bits in the anti-replay window */
#define ESPX_REPLAY_WORDS	(ESPX_REPLAY_MAX / 64)

#define ESPX_SA_F_ESN		(1U << 0)	/* 64-bit sequence numbers (RFC 4303 App. A) */
#define ESPX_SA_F_ENCAP		(1U << 1)	/* ESP in UDP (RFC 3948) */
#define ESPX_SA_F_NOECN		(1U << 2)	/* XFRM_STATE_NOECN: no ECN to or from the outer header */
#define ESPX_SA_F_DECAP_DSCP	(1U << 3)	/* XFRM_STATE_DECAP_DSCP: outer DSCP onto the inner on receive */
#define ESPX_SA_F_NOPMTUDISC	(1U << 4)	/* XFRM_STATE_NOPMTUDISC: outer IPv4 DF never set */
#define ESPX_SA_F_DONT_ENCAP_DSCP (1U << 5)	/* XFRM_SA_XFLAG_DONT_ENCAP_DSCP: outer DSCP 0 */
#define ESPX_SA_F_SOFT_SENT	(1U << 8)	/* soft limit event sent (set by BPF) */
#define ESPX_SA_F_HARD_SENT	(1U << 9)	/* hard limit reached: SA unusable (set by BPF) */
#define ESPX_SA_F_READY		(1U << 31)	/* crypto context and GHASH key built */

/* The SA, keyed like xfrm_state by (daddr, SPI, family).
 * User space writes the configuration part when it installs the SA and never
 * afterwards (an update would lose the crypto context); the datapath owns
 * the state part (sequence numbers, window, counters), which user space
 * reads with BPF_F_LOCK for a consistent copy. */
struct espx_sa {
	ESPX_KPTR(struct bpf_crypto_ctx) ctx;	/* ecb(aes) context, owned by the map */
	__u32 flags;				/* ESPX_SA_F_* */
	__u8  salt[ESPX_GCM_SALT_LEN];		/* RFC 4106 nonce salt */
	__u8  key_len;				/* AES key bytes: 16, 24 or 32 */
	__u8  icv_len;				/* 8, 12 or 16 */
	__u8  mode;				/* enum espx_mode */
	__u8  family;				/* outer family, = key family */
	__u16 replay_window;			/* bits, 0..ESPX_REPLAY_MAX (0: no check) */
	__u16 encap_sport;			/* ESP in UDP ports, network order */
	__u16 encap_dport;
	__u8  backend;				/* enum espx_backend: asked for */
	__u8  pad0;
	__u32 reqid;
	__u32 saddr[4];				/* outer source (tunnel) / our address */
	__u32 daddr[4];				/* outer destination, = key daddr */
	struct espx_sel sel;			/* inner packets this SA may carry */
	struct espx_lft lft;
	__u64 add_time;				/* CLOCK_BOOTTIME ns, set by user space */
	__u64 aead;				/* the AEAD backend's context (handle,
						 * include/espx_aead.h), 0: none.
						 * Set by espx_sa_crypto_init only */

	/* GHASH key H = AES_K(0^128) and its powers, pre-split for the
	 * constant-time multiplication (768 bytes). Built by the
	 * espx_sa_ghash_init program, never by user space. */
	struct espx_ghkey ghkey;

	/* Everything above is read by every packet and written only at install.
	 * Everything a packet writes follows, in one 64-byte block: the numbers
	 * are one per SA (RFC 4303), so that block moves between the CPUs that
	 * use the SA whatever is done, but the counters add no second line to
	 * it and no write lands on a line that other CPUs only read. A map
	 * value is only 8-byte aligned: the 56 bytes before the block keep
	 * ghkey off the block's first cache line; the replay window (written
	 * by inbound packets only) is after it. */
	__u8  cold_gap[56];
	struct bpf_spin_lock lock;		/* guards seq and replay */
	__u32 pad1;
	__u64 oseq;				/* outbound: last sequence number sent */
	__u64 seq;				/* inbound: highest sequence number accepted */
	__u64 packets;				/* current lifetime (xfrm curlft) */
	__u64 bytes;				/* payload bytes, as XFRM counts them */
	__u64 use_time;				/* CLOCK_BOOTTIME ns of the last packet */
	__u64 replay_drops;			/* xfrm_stats.replay */
	__u64 integrity_failed;			/* xfrm_stats.integrity_failed */
	__u64 replay[ESPX_REPLAY_WORDS];	/* window bitmap, bit (s % MAX) for seq s */
};

_Static_assert(__builtin_offsetof(struct espx_sa, replay) -
	       __builtin_offsetof(struct espx_sa, lock) == 64,
	       "the per-packet fields of an SA are one 64-byte block");

/* Input of espx_sa_sync (syscall program, passed as its context): when espx
 * takes an SA (back) over from the kernel's own ESP, continue from where the
 * kernel is. Never lowers anything: oseq := max(oseq, oseq_min); if the
 * kernel has accepted a higher inbound number than espx (seq > sa->seq),
 * seq and the window are replaced by the kernel's. */
struct espx_sa_sync_req {
	struct espx_sa_key sa;
	__u64 oseq_min;				/* the kernel's last sent number */
	__u64 seq;				/* the kernel's highest accepted, 0: none */
	__u64 replay[ESPX_REPLAY_WORDS];	/* its window, in espx's layout */
	__u64 prev_oseq;			/* out: oseq just before the raise */
	__s32 err;				/* out: 0, -ENOENT, or -EAGAIN: the
						 * datapath won every compare-and-
						 * swap, nothing was raised */
	__u32 pad;
};

/* An SA of the kernel's database that espx leaves to the kernel (the
 * netlink daemon fills espx_kernel_sa; `espx state list` shows them). */
#define ESPX_WHY_LEN		64
struct espx_kernel_sa {
	char why[ESPX_WHY_LEN];			/* what espx does not support */
	__u32 reqid;
	__u8  proto;				/* IPPROTO_ESP, _AH, _COMP */
	__u8  mode;
	__u8  pad[2];
};

#endif
