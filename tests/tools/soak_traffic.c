// SPDX-License-Identifier: GPL-2.0
/* Checked bulk traffic for the soak and two-CPU tests (tests/test_soak.py,
 * tests/test_two_cpu.py): a sender, a receiver that checks every datagram,
 * and a wire counter that reads the ESP a device sends. Each prints "ready"
 * once set up (send: none) and one line of JSON at the end.
 *
 *   soak_traffic send --dst ADDR --port P --count N [--id K] [--src ADDR]
 *                     [--cpu C] [--min B] [--max B] [--batch M] [--pps R]
 *       N UDP datagrams (sendmmsg, M at a time) numbered 0..N-1. Datagram n
 *       of sender K has a payload length between --min and --max (64..1400)
 *       derived from (K, n) and carries a header (magic, K, n, length) and
 *       then a byte pattern derived from (K, n): nothing in it repeats from
 *       one datagram to another. --cpu pins the sender (sched_setaffinity);
 *       the CPUs it ran on are reported. --pps paces it. SIGTERM ends it
 *       early (exit 0, the datagrams sent so far reported).
 *   soak_traffic recv --bind ADDR --port P --count N [--senders S]
 *                     [--min B] [--max B] [--idle SEC] [--timeout SEC]
 *       Expects N datagrams from each of senders 0..S-1; checks each one's
 *       length, header and pattern; counts duplicates, corrupted (anything
 *       that is not exactly what some sender sent) and missing. Ends when
 *       all arrived, after --idle seconds without a datagram (once one
 *       came; default 3), at --timeout (default none) or on SIGTERM. The
 *       socket's own drops (full receive buffer, SO_RXQ_OVFL) are reported:
 *       they explain missing datagrams that the network did not lose.
 *   soak_traffic wire --dev DEV --spi SPI --first SEQ --span N
 *                     [--window W] [--plain-src ADDR --plain-dst ADDR]
 *                     [--port P] [--timeout SEC]
 *       Reads what DEV sends (AF_PACKET, outgoing frames, headers only)
 *       until SIGTERM (or --timeout; default none). For ESP of SPI: the
 *       64-bit sequence number from the IV (espx's IV is the number,
 *       big-endian), which must agree with the header's low 32 bits and
 *       with the high bits a receiver infers (RFC 4303 Appendix A, window
 *       W, from the highest so far); each number in (SEQ, SEQ + N] must appear at most once
 *       (dup, out_of_range otherwise); gaps below the highest; how far
 *       packets came out of order; the numbers seen within 8 of each
 *       multiple of 2^32. Plaintext: any other IPv4/IPv6 frame between the
 *       plain addresses (either way), or UDP to --port not inside ESP. The
 *       socket's drops are reported: a count with drops checked less.
 *
 * No key is involved: the tool sees only datagrams and ciphertext. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC		0x534f414bU	/* "SOAK" */
#define HDR_LEN		18		/* magic, sender, number, length */
#define MAX_PAYLOAD	1472
#define MAX_SENDERS	64
#define MAX_BATCH	256
#define SNAP		128
#define AROUND		8		/* numbers kept either side of k * 2^32 */
#define AROUND_MAX	64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t seed_of(uint32_t id, uint64_t n)
{
	return ((uint64_t)id << 48) ^ n ^ 0x5f0a4e5e00000000ULL;
}

static unsigned int len_of(uint32_t id, uint64_t n, unsigned int min, unsigned int max)
{
	uint64_t s = seed_of(id, n) ^ 0xa5a5a5a5a5a5a5a5ULL;

	return min + (unsigned int)(splitmix(&s) % (max - min + 1));
}

/* The datagram sender id sends as number n, len bytes. */
static void fill(uint8_t *b, uint32_t id, uint64_t n, unsigned int len)
{
	uint64_t s = seed_of(id, n), r = 0;
	uint32_t m = htonl(MAGIC), i32 = htonl(id);
	uint16_t l16 = htons((uint16_t)len);
	unsigned int i;

	memcpy(b, &m, 4);
	memcpy(b + 4, &i32, 4);
	for (i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(n >> (56 - 8 * i));
	memcpy(b + 16, &l16, 2);
	for (i = HDR_LEN; i < len; i++) {
		if ((i - HDR_LEN) % 8 == 0)
			r = splitmix(&s);
		b[i] = (uint8_t)r;
		r >>= 8;
	}
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, int port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	fprintf(stderr, "soak_traffic: '%s' is not an IPv4 or IPv6 address\n", s);
	return -1;
}

struct opts {
	const char *dst, *src, *bind, *dev, *plain_src, *plain_dst;
	int port, cpu, batch;
	uint32_t id, senders, spi, window;
	uint64_t count, first, span;
	unsigned int min, max;
	double pps, idle, timeout;
};

/* ---- send ---- */

static int do_send(const struct opts *o)
{
	static uint8_t buf[MAX_BATCH][MAX_PAYLOAD];
	struct mmsghdr msg[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct sockaddr_storage ss;
	uint64_t n = 0, bytes = 0, cpus = 0, enobufs = 0;
	double t0, t;
	socklen_t sl;
	int fd, fam, i, sz = 4 << 20;

	if (o->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "soak_traffic: pinning to CPU %d: %s\n", o->cpu, strerror(errno));
			return 1;
		}
	}
	fam = parse_addr(o->dst, &ss, &sl, o->port);
	if (fam < 0)
		return 2;
	fd = socket(fam, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("soak_traffic: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (o->src) {
		struct sockaddr_storage bs;
		socklen_t bl;

		if (parse_addr(o->src, &bs, &bl, 0) != fam) {
			fprintf(stderr, "soak_traffic: --src and --dst must be of one family\n");
			return 2;
		}
		if (bind(fd, (struct sockaddr *)&bs, bl)) {
			fprintf(stderr, "soak_traffic: bind %s: %s\n", o->src, strerror(errno));
			return 1;
		}
	}
	if (connect(fd, (struct sockaddr *)&ss, sl)) {
		fprintf(stderr, "soak_traffic: connect %s: %s\n", o->dst, strerror(errno));
		return 1;
	}
	t0 = now();
	while (n < o->count && !stop) {
		int m = (int)(o->count - n < (uint64_t)o->batch ? o->count - n : (uint64_t)o->batch);
		int done = 0, r;
		int c = sched_getcpu();

		if (c >= 0 && c < 64)
			cpus |= 1ULL << c;
		for (i = 0; i < m; i++) {
			unsigned int len = len_of(o->id, n + i, o->min, o->max);

			fill(buf[i], o->id, n + i, len);
			iov[i].iov_base = buf[i];
			iov[i].iov_len = len;
			memset(&msg[i], 0, sizeof(msg[i]));
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		while (done < m && !stop) {
			r = sendmmsg(fd, msg + done, m - done, 0);
			if (r < 0) {
				if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
					/* the datagram was not taken: offer it again */
					enobufs++;
					usleep(200);
					continue;
				}
				fprintf(stderr, "soak_traffic: sendmmsg after %llu datagrams: %s\n",
					(unsigned long long)(n + done), strerror(errno));
				close(fd);
				return 1;
			}
			for (i = done; i < done + r; i++)
				bytes += iov[i].iov_len;
			done += r;
		}
		n += done;
		if (o->pps > 0) {
			double due = t0 + n / o->pps;

			t = now();
			if (due > t)
				usleep((useconds_t)((due - t) * 1e6));
		}
	}
	t = now();
	close(fd);
	/* start and end on CLOCK_MONOTONIC: whether two senders overlapped */
	printf("{\"role\":\"send\",\"id\":%u,\"sent\":%llu,\"bytes\":%llu,\"seconds\":%.3f,"
	       "\"start\":%.6f,\"end\":%.6f,\"retries\":%llu,\"cpus\":[", o->id,
	       (unsigned long long)n, (unsigned long long)bytes, t - t0, t0, t,
	       (unsigned long long)enobufs);
	for (i = 0, fam = 0; i < 64; i++)
		if (cpus & (1ULL << i))
			printf("%s%d", fam++ ? "," : "", i);
	printf("]}\n");
	return n == o->count || stop ? 0 : 1;	/* SIGTERM: an end the caller chose */
}

/* ---- recv ---- */

static int test_and_set(uint8_t *bm, uint64_t i)
{
	int was = bm[i >> 3] >> (i & 7) & 1;

	bm[i >> 3] |= (uint8_t)(1 << (i & 7));
	return was;
}

/* 0 if b is datagram (id, n) exactly as sent; else why (and id, n if known) */
static const char *check_dgram(const uint8_t *b, unsigned int len, const struct opts *o,
			       uint32_t *id, uint64_t *n)
{
	static uint8_t want[MAX_PAYLOAD];
	uint32_t m;
	unsigned int i, l;

	if (len < HDR_LEN)
		return "shorter than the header";
	memcpy(&m, b, 4);
	if (ntohl(m) != MAGIC)
		return "no magic";
	memcpy(&m, b + 4, 4);
	*id = ntohl(m);
	for (*n = 0, i = 0; i < 8; i++)
		*n = *n << 8 | b[8 + i];
	if (*id >= o->senders)
		return "unknown sender";
	if (*n >= o->count)
		return "number out of range";
	l = len_of(*id, *n, o->min, o->max);
	if (len != l)
		return "wrong length";
	fill(want, *id, *n, l);
	if (memcmp(want, b, l))
		return "wrong content";
	return NULL;
}

static int do_recv(const struct opts *o)
{
	static uint8_t buf[MAX_BATCH][MAX_PAYLOAD + 1];
	static char ctl[MAX_BATCH][CMSG_SPACE(sizeof(uint32_t))];
	struct mmsghdr msg[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct sockaddr_storage ss;
	uint8_t *bm[MAX_SENDERS];
	uint64_t uniq[MAX_SENDERS] = { 0 };
	uint64_t got = 0, dup = 0, bad = 0, bytes = 0, all, total = 0;
	uint32_t ovfl = 0;
	struct timeval tv = { .tv_usec = 100000 };
	double t0 = now(), last = 0, first = 0;
	socklen_t sl;
	int fd, fam, i, on = 1, sz = 64 << 20;

	if (o->senders < 1 || o->senders > MAX_SENDERS) {
		fprintf(stderr, "soak_traffic: --senders must be 1..%d\n", MAX_SENDERS);
		return 2;
	}
	for (i = 0; i < (int)o->senders; i++) {
		bm[i] = calloc(o->count / 8 + 1, 1);
		if (!bm[i]) {
			fprintf(stderr, "soak_traffic: out of memory\n");
			return 1;
		}
	}
	all = o->count * o->senders;
	fam = parse_addr(o->bind, &ss, &sl, o->port);
	if (fam < 0)
		return 2;
	fd = socket(fam, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("soak_traffic: socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&ss, sl)) {
		fprintf(stderr, "soak_traffic: bind %s port %d: %s\n", o->bind, o->port, strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		double t = now();
		int r;

		if (total == all)
			break;
		if (got && t - last > o->idle)
			break;
		if (o->timeout > 0 && t - t0 > o->timeout)
			break;
		for (i = 0; i < MAX_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&msg[i], 0, sizeof(msg[i]));
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
			msg[i].msg_hdr.msg_control = ctl[i];
			msg[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		r = recvmmsg(fd, msg, MAX_BATCH, MSG_WAITFORONE, NULL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("soak_traffic: recvmmsg");
			return 1;
		}
		last = now();
		if (!got)
			first = last;
		for (i = 0; i < r; i++) {
			struct cmsghdr *c;
			const char *why;
			uint32_t id = 0;
			uint64_t n = 0;
			unsigned int len = msg[i].msg_len;

			for (c = CMSG_FIRSTHDR(&msg[i].msg_hdr); c; c = CMSG_NXTHDR(&msg[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
					memcpy(&ovfl, CMSG_DATA(c), sizeof(ovfl));
			got++;
			bytes += len;
			why = (msg[i].msg_hdr.msg_flags & MSG_TRUNC) ? "longer than any datagram sent" :
			      check_dgram(buf[i], len, o, &id, &n);
			if (why) {
				if (bad++ < 5)
					fprintf(stderr, "soak_traffic: corrupted datagram (%u bytes): %s"
						" (sender %u, number %llu)\n", len, why, id,
						(unsigned long long)n);
				continue;
			}
			if (test_and_set(bm[id], n)) {
				if (dup++ < 5)
					fprintf(stderr, "soak_traffic: duplicate: sender %u number %llu\n",
						id, (unsigned long long)n);
				continue;
			}
			uniq[id]++;
			total++;
		}
	}
	close(fd);
	printf("{\"role\":\"recv\",\"received\":%llu,\"unique\":%llu,\"dup\":%llu,\"corrupt\":%llu,"
	       "\"missing\":%llu,\"sock_drops\":%u,\"bytes\":%llu,\"seconds\":%.3f,\"per_sender\":[",
	       (unsigned long long)got, (unsigned long long)total, (unsigned long long)dup,
	       (unsigned long long)bad, (unsigned long long)(all - total), ovfl,
	       (unsigned long long)bytes, got ? last - first : 0.0);
	for (i = 0; i < (int)o->senders; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)uniq[i]);
	printf("]}\n");
	return 0;
}

/* ---- wire ---- */

struct wire {
	const struct opts *o;
	uint8_t *bm;
	uint64_t esp, dup, oor, lo_mis, inf_mis, plain, other_ip, other_spi, non_ip, in_frames;
	uint64_t top, min, max, max_reorder, beyond_window;
	uint64_t around[AROUND_MAX];
	int n_around;
	struct in6_addr ps, pd;		/* plain addresses, v4-mapped for IPv4 */
	int have_plain;
};

/* RFC 4303 Appendix A: the high bits a receiver whose highest number is top
 * gives seq_lo, with window w */
static uint64_t infer(uint64_t top, uint32_t lo, uint32_t w)
{
	uint32_t tl = (uint32_t)top, th = (uint32_t)(top >> 32);

	if (!w)
		w = 1;
	if (tl >= w - 1) {
		if (lo < tl - w + 1)
			th++;
	} else if (lo >= tl - w + 1) {
		if (th)
			th--;
	}
	return (uint64_t)th << 32 | lo;
}

static void v4_mapped(struct in6_addr *a, const uint8_t *v4)
{
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = a->s6_addr[11] = 0xff;
	memcpy(&a->s6_addr[12], v4, 4);
}

static int to_in6(const char *s, struct in6_addr *a)
{
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		v4_mapped(a, v4);
		return 0;
	}
	return inet_pton(AF_INET6, s, a) == 1 ? 0 : -1;
}

static void wire_esp(struct wire *w, const uint8_t *esp, unsigned int len)
{
	const struct opts *o = w->o;
	uint32_t spi, lo;
	uint64_t seq = 0, idx, inf;
	unsigned int i;

	if (len < 16) {
		w->other_ip++;
		return;
	}
	spi = (uint32_t)esp[0] << 24 | esp[1] << 16 | esp[2] << 8 | esp[3];
	lo = (uint32_t)esp[4] << 24 | esp[5] << 16 | esp[6] << 8 | esp[7];
	if (spi != o->spi) {
		w->other_spi++;
		return;
	}
	for (i = 0; i < 8; i++)
		seq = seq << 8 | esp[8 + i];
	w->esp++;
	if ((uint32_t)seq != lo)
		w->lo_mis++;
	inf = infer(w->top, lo, o->window);
	if (inf != seq && w->inf_mis++ < 5)
		fprintf(stderr, "soak_traffic: seq 0x%llx: a receiver at 0x%llx infers 0x%llx\n",
			(unsigned long long)seq, (unsigned long long)w->top, (unsigned long long)inf);
	if (seq > w->top)
		w->top = seq;
	else if (w->top - seq > w->max_reorder)
		w->max_reorder = w->top - seq;
	if (seq < w->top && w->top - seq >= o->window)
		w->beyond_window++;
	if (!w->min || seq < w->min)
		w->min = seq;
	if (seq > w->max)
		w->max = seq;
	if (((seq + AROUND) & 0xffffffffULL) < 2 * AROUND && seq >= AROUND &&
	    w->n_around < AROUND_MAX)
		w->around[w->n_around++] = seq;
	if (seq <= o->first || seq - o->first > o->span) {
		if (w->oor++ < 5)
			fprintf(stderr, "soak_traffic: seq 0x%llx outside (0x%llx, 0x%llx]\n",
				(unsigned long long)seq, (unsigned long long)o->first,
				(unsigned long long)(o->first + o->span));
		return;
	}
	idx = seq - o->first - 1;
	if (test_and_set(w->bm, idx) && w->dup++ < 5)
		fprintf(stderr, "soak_traffic: SPI 0x%08x seq 0x%llx twice on the wire\n", spi,
			(unsigned long long)seq);
}

static int is_plain_pair(const struct wire *w, const struct in6_addr *s, const struct in6_addr *d)
{
	if (!w->have_plain)
		return 0;
	return (!memcmp(s, &w->ps, 16) && !memcmp(d, &w->pd, 16)) ||
	       (!memcmp(s, &w->pd, 16) && !memcmp(d, &w->ps, 16));
}

static void wire_frame(struct wire *w, const uint8_t *f, unsigned int len)
{
	const uint8_t *ip = f + ETH_HLEN, *l4;
	struct in6_addr s, d;
	unsigned int iplen, proto;
	uint16_t et;

	if (len < ETH_HLEN) {
		w->non_ip++;
		return;
	}
	et = (uint16_t)(f[12] << 8 | f[13]);
	iplen = len - ETH_HLEN;
	if (et == ETH_P_IP && iplen >= 20) {
		unsigned int ihl = (ip[0] & 0xf) * 4;

		if (ihl < 20 || iplen < ihl) {
			w->other_ip++;
			return;
		}
		proto = ip[9];
		v4_mapped(&s, ip + 12);
		v4_mapped(&d, ip + 16);
		l4 = ip + ihl;
		iplen -= ihl;
	} else if (et == ETH_P_IPV6 && iplen >= 40) {
		proto = ip[6];
		memcpy(&s, ip + 8, 16);
		memcpy(&d, ip + 24, 16);
		l4 = ip + 40;
		iplen -= 40;
	} else {
		w->non_ip++;
		return;
	}
	if (proto == IPPROTO_ESP) {
		wire_esp(w, l4, iplen);
		return;
	}
	if (is_plain_pair(w, &s, &d) ||
	    (proto == IPPROTO_UDP && iplen >= 4 && w->o->port &&
	     (l4[2] << 8 | l4[3]) == w->o->port)) {
		if (w->plain++ < 5)
			fprintf(stderr, "soak_traffic: plaintext on the wire: IP proto %u, %u bytes\n",
				proto, len);
		return;
	}
	w->other_ip++;
}

static int do_wire(const struct opts *o)
{
	static uint8_t buf[MAX_BATCH][SNAP];
	static struct sockaddr_ll from[MAX_BATCH];
	struct sock_filter code[] = { { BPF_RET | BPF_K, 0, 0, SNAP } };
	struct sock_fprog prog = { .len = 1, .filter = code };
	struct mmsghdr msg[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	struct tpacket_stats st = { 0 };
	socklen_t stl = sizeof(st);
	struct sockaddr_ll ll = { 0 };
	struct timeval tv = { .tv_usec = 100000 };
	struct wire w = { .o = o };
	double t0 = now();
	uint64_t gaps = 0, i, drops = 0;
	int fd, sz = 256 << 20, r, j, draining = 0;

	w.top = o->first;
	if (o->plain_src && o->plain_dst) {
		if (to_in6(o->plain_src, &w.ps) || to_in6(o->plain_dst, &w.pd)) {
			fprintf(stderr, "soak_traffic: bad --plain-src/--plain-dst\n");
			return 2;
		}
		w.have_plain = 1;
	}
	w.bm = calloc(o->span / 8 + 1, 1);
	if (!w.bm) {
		fprintf(stderr, "soak_traffic: out of memory for a %llu-number bitmap\n",
			(unsigned long long)o->span);
		return 1;
	}
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = (int)if_nametoindex(o->dev);
	if (!ll.sll_ifindex) {
		fprintf(stderr, "soak_traffic: no device %s here\n", o->dev);
		return 1;
	}
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("soak_traffic: AF_PACKET socket (needs root)");
		return 1;
	}
	/* headers only: the filter truncates every frame to SNAP bytes */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    bind(fd, (struct sockaddr *)&ll, sizeof(ll))) {
		fprintf(stderr, "soak_traffic: capturing on %s: %s\n", o->dev, strerror(errno));
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &stl);	/* resets them */
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (stop && !draining)
			draining = 1;	/* read what is queued, then end */
		if (o->timeout > 0 && now() - t0 > o->timeout)
			break;
		for (j = 0; j < MAX_BATCH; j++) {
			iov[j].iov_base = buf[j];
			iov[j].iov_len = SNAP;
			memset(&msg[j], 0, sizeof(msg[j]));
			msg[j].msg_hdr.msg_iov = &iov[j];
			msg[j].msg_hdr.msg_iovlen = 1;
			msg[j].msg_hdr.msg_name = &from[j];
			msg[j].msg_hdr.msg_namelen = sizeof(from[j]);
		}
		r = recvmmsg(fd, msg, MAX_BATCH, draining ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (draining)
					break;
				continue;
			}
			perror("soak_traffic: recvmmsg");
			return 1;
		}
		for (j = 0; j < r; j++) {
			if (from[j].sll_pkttype != PACKET_OUTGOING) {
				w.in_frames++;
				continue;
			}
			wire_frame(&w, buf[j], msg[j].msg_len < SNAP ? msg[j].msg_len : SNAP);
		}
	}
	stl = sizeof(st);
	if (!getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &stl))
		drops = st.tp_drops;
	close(fd);
	if (w.max > o->first)
		for (i = 0; i < w.max - o->first && i < o->span; i++)
			if (!(w.bm[i >> 3] >> (i & 7) & 1))
				gaps++;
	printf("{\"role\":\"wire\",\"esp\":%llu,\"dup\":%llu,\"out_of_range\":%llu,"
	       "\"lo_mismatch\":%llu,\"infer_mismatch\":%llu,\"gaps\":%llu,\"min\":%llu,\"max\":%llu,"
	       "\"max_reorder\":%llu,\"beyond_window\":%llu,\"plain\":%llu,\"other_ip\":%llu,"
	       "\"other_spi\":%llu,\"non_ip\":%llu,\"in_frames\":%llu,\"drops\":%llu,\"around\":[",
	       (unsigned long long)w.esp, (unsigned long long)w.dup, (unsigned long long)w.oor,
	       (unsigned long long)w.lo_mis, (unsigned long long)w.inf_mis,
	       (unsigned long long)gaps, (unsigned long long)w.min, (unsigned long long)w.max,
	       (unsigned long long)w.max_reorder, (unsigned long long)w.beyond_window,
	       (unsigned long long)w.plain, (unsigned long long)w.other_ip,
	       (unsigned long long)w.other_spi, (unsigned long long)w.non_ip,
	       (unsigned long long)w.in_frames, (unsigned long long)drops);
	for (j = 0; j < w.n_around; j++)
		printf("%s%llu", j ? "," : "", (unsigned long long)w.around[j]);
	printf("]}\n");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: soak_traffic send --dst ADDR --port P --count N [--id K] [--src ADDR] [--cpu C]\n"
		"                         [--min B] [--max B] [--batch M] [--pps R]\n"
		"       soak_traffic recv --bind ADDR --port P --count N [--senders S] [--min B] [--max B]\n"
		"                         [--idle SEC] [--timeout SEC]\n"
		"       soak_traffic wire --dev DEV --spi SPI --first SEQ --span N [--window W]\n"
		"                         [--plain-src ADDR --plain-dst ADDR] [--port P] [--timeout SEC]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dst", 1, 0, 'd' }, { "src", 1, 0, 's' }, { "bind", 1, 0, 'b' },
		{ "port", 1, 0, 'p' }, { "count", 1, 0, 'n' }, { "id", 1, 0, 'i' },
		{ "cpu", 1, 0, 'c' }, { "min", 1, 0, 'm' }, { "max", 1, 0, 'M' },
		{ "batch", 1, 0, 'B' }, { "pps", 1, 0, 'r' }, { "senders", 1, 0, 'S' },
		{ "idle", 1, 0, 'I' }, { "timeout", 1, 0, 't' }, { "dev", 1, 0, 'D' },
		{ "spi", 1, 0, 'P' }, { "first", 1, 0, 'f' }, { "span", 1, 0, 'N' },
		{ "window", 1, 0, 'w' }, { "plain-src", 1, 0, 'x' }, { "plain-dst", 1, 0, 'y' },
		{ 0 }
	};
	struct opts o = { .cpu = -1, .batch = 64, .senders = 1, .min = 64, .max = 1400,
			  .idle = 3, .window = 128 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *mode;
	int c;

	if (argc < 2) {
		usage();
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dst = optarg; break;
		case 's': o.src = optarg; break;
		case 'b': o.bind = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'n': o.count = strtoull(optarg, NULL, 0); break;
		case 'i': o.id = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'm': o.min = (unsigned int)atoi(optarg); break;
		case 'M': o.max = (unsigned int)atoi(optarg); break;
		case 'B': o.batch = atoi(optarg); break;
		case 'r': o.pps = atof(optarg); break;
		case 'S': o.senders = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'I': o.idle = atof(optarg); break;
		case 't': o.timeout = atof(optarg); break;
		case 'D': o.dev = optarg; break;
		case 'P': o.spi = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'f': o.first = strtoull(optarg, NULL, 0); break;
		case 'N': o.span = strtoull(optarg, NULL, 0); break;
		case 'w': o.window = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'x': o.plain_src = optarg; break;
		case 'y': o.plain_dst = optarg; break;
		default: usage(); return 2;
		}
	}
	if (o.min < HDR_LEN || o.max > MAX_PAYLOAD || o.min > o.max || o.batch < 1 ||
	    o.batch > MAX_BATCH) {
		fprintf(stderr, "soak_traffic: need %d <= --min <= --max <= %d and 1 <= --batch <= %d\n",
			HDR_LEN, MAX_PAYLOAD, MAX_BATCH);
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!strcmp(mode, "send") && o.dst && o.port && o.count)
		return do_send(&o);
	if (!strcmp(mode, "recv") && o.bind && o.port && o.count)
		return do_recv(&o);
	if (!strcmp(mode, "wire") && o.dev && o.spi && o.span)
		return do_wire(&o);
	usage();
	return 2;
}
