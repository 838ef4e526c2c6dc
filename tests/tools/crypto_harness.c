// SPDX-License-Identifier: GPL-2.0
/* Drives the crypto-core test programs (bpf/espx_crypto_test.bpf.c) with
 * BPF_PROG_TEST_RUN. Reads one command per line on stdin and answers one line
 * on stdout, so a script can feed it published vectors:
 *
 *   sa KEY_HEX SALT_HEX ESN(0|1) ICV_LEN [kernel|generic]
 *       -> ok bpf|aead | err ERRNO   (installs the one test SA; who will seal
 *                                     and open it: espx's GCM or the AEAD
 *                                     backend, as ESPX_SA_BACKEND=bpf (default),
 *                                     aead or auto asks)
 *   gcm seal|open xdp|tc IV_HEX AAD_HEX DATA_HEX [TAG_HEX]   ("-" = empty)
 *       -> ok RET DATA_HEX TAG_HEX
 *   esp seal|open xdp|tc SEQ_HI ESP_HEX   (ESP_HEX = SPI SN IV data ICV)
 *       -> ok RET ESP_HEX
 *   churn N [kernel|generic]
 *       -> ok ADDED READY LEFT       (adds N SAs, checks them, removes them)
 *   replay WINDOW ESN(0|1) TOP       (re-creates the test SA for replay tests:
 *       -> ok                         window bits, highest accepted number TOP)
 *   rx SEQ_LO  -> ok VERDICT SEQ64  (0 = accepted, else espx_drop reason)
 *   bench esp-seal|esp-open|restore|ecb|ghash|nop DATA_LEN CALLS [REPEAT]
 *       -> ok MEDIAN_NS P10_NS P90_NS   (ns per run; CALLS samples of
 *       REPEAT back-to-back runs each). esp-open restores the pristine
 *       packet in-program before each run; `restore` is that copy alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx_crypto_test.skel.h"
#include "espx_crypto.h"
#include "platform/sa_install.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_PKT (ESPX_TEST_ETH_LEN + 16 + ESPX_GCM_MAX_DATA + 16)

static struct espx_crypto_test *skel;
static struct espx_sa_fds fds;
static struct espx_sa_key test_key = { .daddr = { 0x0100000a }, .spi = 0x01000000, .family = AF_INET };

static int req_write(const struct espx_gcm_test_req *r)
{
	uint32_t zero = 0;

	return bpf_map__update_elem(skel->maps.espx_test_req, &zero, sizeof(zero), r,
				    sizeof(*r), BPF_ANY);
}

static int req_read(struct espx_gcm_test_req *r)
{
	uint32_t zero = 0;

	return bpf_map__lookup_elem(skel->maps.espx_test_req, &zero, sizeof(zero), r,
				    sizeof(*r), 0);
}

/* Run prog on pkt (in place); returns test_run errno or 0. */
static int run_n(struct bpf_program *prog, uint8_t *pkt, uint32_t len, uint32_t *duration,
		 int repeat)
{
	uint8_t out[MAX_PKT];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		return -errno;
	if (opts.data_size_out == len)
		memcpy(pkt, out, len);
	if (duration)
		*duration = opts.duration;
	return 0;
}

static int run(struct bpf_program *prog, uint8_t *pkt, uint32_t len, uint32_t *duration)
{
	return run_n(prog, pkt, len, duration, 1);
}

static int hex_or_empty(const char *s, uint8_t *out, size_t max)
{
	if (!s || !strcmp(s, "-"))
		return 0;
	return hex_parse(s, out, max);
}

static void print_hex(const uint8_t *p, size_t n)
{
	char buf[2 * MAX_PKT + 1];

	if (!n) {
		fputs(" -", stdout);
		return;
	}
	hex_format(p, n, buf);
	printf(" %s", buf);
}

static __u8 sa_backend = ESPX_BACKEND_BPF;

static int cmd_sa(char **a, int n)
{
	struct espx_sa sa = { 0 };
	enum espx_aes_driver drv = ESPX_AES_KERNEL;
	uint8_t key[32];
	int klen, err;

	if (n < 5)
		return -EINVAL;
	klen = hex_parse(a[1], key, sizeof(key));
	if (klen < 0 || hex_parse(a[2], sa.salt, 4) != 4)
		return -EINVAL;
	sa.flags = atoi(a[3]) ? ESPX_SA_F_ESN : 0;
	sa.icv_len = (uint8_t)atoi(a[4]);
	if (n > 5 && espx_aes_driver_parse(a[5], &drv))
		return -EINVAL;
	sa.backend = sa_backend;
	espx_sa_remove(&fds, &test_key);	/* and its AEAD context */
	err = espx_sa_install(&fds, &test_key, &sa, key, (size_t)klen, drv, 0);
	wipe(key, sizeof(key));
	if (!err) {
		struct espx_sa *v = calloc(1, sizeof(*v));

		/* say who will seal and open: "ok bpf" or "ok aead" */
		err = !v ? -ENOMEM : bpf_map_lookup_elem(fds.sa_map, &test_key, v) ? -errno : 0;
		if (!err)
			printf("ok %s\n", v->aead ? "aead" : "bpf");
		free(v);
		return err ? err : 1;
	}
	return err;
}

static int cmd_replay(char **a, int n)
{
	struct espx_sa *sa;
	int err;

	if (n < 4)
		return -EINVAL;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return -ENOMEM;
	sa->replay_window = (uint16_t)atoi(a[1]);
	sa->flags = atoi(a[2]) ? ESPX_SA_F_ESN : 0;
	sa->seq = strtoull(a[3], NULL, 0);
	bpf_map_delete_elem(fds.sa_map, &test_key);
	err = bpf_map_update_elem(fds.sa_map, &test_key, sa, BPF_NOEXIST) ? -errno : 0;
	free(sa);
	return err;
}

static int cmd_rx(char **a, int n)
{
	struct espx_gcm_test_req r = { .sa = test_key };
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));
	uint64_t seq;
	int err;

	if (n < 2)
		return -EINVAL;
	r.seq_hi = (uint32_t)strtoul(a[1], NULL, 0);
	if ((err = req_write(&r)) ||
	    bpf_prog_test_run_opts(bpf_program__fd(skel->progs.test_replay), &o) ||
	    (err = req_read(&r)))
		return err ? err : -errno;
	memcpy(&seq, r.tag, sizeof(seq));
	printf("ok %d %llu\n", r.ret, (unsigned long long)seq);
	return 0;
}

static struct bpf_program *pick(const char *kind, const char *op, const char *hook)
{
	int seal = !strcmp(op, "seal"), xdp = !strcmp(hook, "xdp");

	if (!strcmp(kind, "gcm"))
		return seal ? (xdp ? skel->progs.test_gcm_seal_xdp : skel->progs.test_gcm_seal_tc)
			    : (xdp ? skel->progs.test_gcm_open_xdp : skel->progs.test_gcm_open_tc);
	return seal ? (xdp ? skel->progs.test_esp_seal_xdp : skel->progs.test_esp_seal_tc)
		    : (xdp ? skel->progs.test_esp_open_xdp : skel->progs.test_esp_open_tc);
}

static int cmd_gcm(char **a, int n)
{
	struct espx_gcm_test_req r = { .sa = test_key };
	static uint8_t pkt[MAX_PKT];
	int iv_len, aad_len, dlen, tlen, err;

	if (n < 6)
		return -EINVAL;
	memset(pkt, 0, sizeof(pkt));
	iv_len = hex_parse(a[3], r.iv, sizeof(r.iv));
	aad_len = hex_or_empty(a[4], r.aad, sizeof(r.aad));
	dlen = hex_or_empty(a[5], pkt + ESPX_TEST_ETH_LEN, ESPX_GCM_MAX_DATA);
	tlen = hex_or_empty(n > 6 ? a[6] : NULL, pkt + ESPX_TEST_ETH_LEN + (dlen > 0 ? dlen : 0), 16);
	if (iv_len <= 0 || aad_len < 0 || dlen < 0 || tlen < 0)
		return -EINVAL;
	r.iv_len = (uint32_t)iv_len;
	r.aad_len = (uint32_t)aad_len;
	r.data_len = (uint32_t)dlen;
	r.ret = -9999;
	if (req_write(&r))
		return -errno;
	err = run(pick("gcm", a[1], a[2]), pkt, ESPX_TEST_ETH_LEN + dlen + 16, NULL);
	if (err)
		return err;
	if (req_read(&r))
		return -errno;
	printf("ok %d", r.ret);
	print_hex(pkt + ESPX_TEST_ETH_LEN, dlen);
	print_hex(pkt + ESPX_TEST_ETH_LEN + dlen, 16);
	putchar('\n');
	return 0;
}

static int cmd_esp(char **a, int n)
{
	struct espx_gcm_test_req r = { .sa = test_key };
	static uint8_t pkt[MAX_PKT];
	struct espx_sa sa;
	int len, err;

	if (n < 5)
		return -EINVAL;
	if (bpf_map_lookup_elem(fds.sa_map, &test_key, &sa))
		return -ENOENT;
	len = hex_parse(a[4], pkt + ESPX_TEST_ETH_LEN, MAX_PKT - ESPX_TEST_ETH_LEN);
	if (len < 16 + sa.icv_len)
		return -EINVAL;
	r.seq_hi = (uint32_t)strtoul(a[3], NULL, 0);
	r.data_len = (uint32_t)(len - 16 - sa.icv_len);
	r.ret = -9999;
	if (req_write(&r))
		return -errno;
	err = run(pick("esp", a[1], a[2]), pkt, ESPX_TEST_ETH_LEN + len, NULL);
	if (err)
		return err;
	if (req_read(&r))
		return -errno;
	printf("ok %d", r.ret);
	print_hex(pkt + ESPX_TEST_ETH_LEN, len);
	putchar('\n');
	return 0;
}

static int cmd_churn(char **a, int n)
{
	enum espx_aes_driver drv = ESPX_AES_KERNEL;
	int count, i, added = 0, ready = 0, left = 0, err = 0;
	struct espx_sa_key k = test_key, next;
	struct espx_sa sa = { .icv_len = 16, .backend = sa_backend };
	uint8_t key[16] = { 1, 2, 3 };

	if (n < 2)
		return -EINVAL;
	count = atoi(a[1]);
	if (n > 2 && espx_aes_driver_parse(a[2], &drv))
		return -EINVAL;
	bpf_map_delete_elem(fds.sa_map, &test_key);
	for (i = 0; i < count; i++) {
		k.spi = htonl(0x1000 + (uint32_t)i);
		key[15] = (uint8_t)i;
		err = espx_sa_install(&fds, &k, &sa, key, sizeof(key), drv, 0);
		if (err)
			break;
		added++;
	}
	for (i = 0; i < added; i++) {
		struct espx_sa v;

		k.spi = htonl(0x1000 + (uint32_t)i);
		if (!bpf_map_lookup_elem(fds.sa_map, &k, &v) && (v.flags & ESPX_SA_F_READY))
			ready++;
	}
	/* (user space never sees the kptr: lookups copy it as 0; READY is set only
	 * after the context existed and H was computed with it.)
	 * Report while the contexts exist, so the caller can read /proc/crypto. */
	printf("added %d ready %d\n", added, ready);
	fflush(stdout);
	{
		char line[64];

		if (!fgets(line, sizeof(line), stdin))	/* wait for "go" */
			return -EIO;
	}
	for (i = 0; i < added; i++) {
		k.spi = htonl(0x1000 + (uint32_t)i);
		espx_sa_remove(&fds, &k);
	}
	while (!bpf_map_get_next_key(fds.sa_map, left ? &next : NULL, &next))
		left++;
	printf("ok %d %d %d\n", added, ready, left);
	return err;
}

static int fill_bench_pkt(const uint8_t *esp, uint32_t len)
{
	struct bpf_map *m = skel->maps.espx_bench_pkt;
	int ncpu = libbpf_num_possible_cpus(), i, err;
	size_t vs = (bpf_map__value_size(m) + 7) / 8 * 8;
	uint32_t zero = 0;
	uint8_t *v;

	if (ncpu < 1)
		return -EIO;
	v = calloc((size_t)ncpu, vs);
	if (!v)
		return -ENOMEM;
	for (i = 0; i < ncpu; i++)
		memcpy(v + (size_t)i * vs, esp, len);
	err = bpf_map__update_elem(m, &zero, sizeof(zero), v, (size_t)ncpu * vs, BPF_ANY);
	free(v);
	return err;
}

/* CPU cycles of this thread, kernel included (BPF_PROG_TEST_RUN runs the
 * program in the calling thread), from the PMU: -1 when there is none (a VM
 * without a virtual PMU answers ENOENT). */
static int cycles_fd = -2;

static int cycles_open(void)
{
	struct perf_event_attr pa = { .size = sizeof(pa), .type = PERF_TYPE_HARDWARE,
				      .config = PERF_COUNT_HW_CPU_CYCLES, .exclude_hv = 1 };

	if (cycles_fd == -2)
		cycles_fd = (int)syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
	return cycles_fd;
}

static uint64_t cycles_now(void)
{
	uint64_t v = 0;

	if (cycles_fd < 0 || read(cycles_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static int cmd_bench(char **a, int n)
{
	struct espx_gcm_test_req r = { .sa = test_key };
	static uint8_t pkt[MAX_PKT], orig[MAX_PKT];
	struct bpf_program *prog;
	uint32_t *d, *cyc, plen, len, calls, i;
	uint64_t c0;
	struct espx_sa sa;
	int err = 0, repeat = n > 4 ? atoi(a[4]) : 1;

	if (n < 4)
		return -EINVAL;
	if (bpf_map_lookup_elem(fds.sa_map, &test_key, &sa))
		return -ENOENT;
	plen = (uint32_t)atoi(a[2]);	/* ESP payload incl. trailer */
	calls = (uint32_t)atoi(a[3]);
	if (plen > ESPX_GCM_MAX_DATA || !calls || repeat < 1)
		return -EINVAL;
	len = ESPX_TEST_ETH_LEN + 16 + plen + sa.icv_len;
	memset(pkt, 0xa5, sizeof(pkt));
	r.data_len = plen;
	if (!strcmp(a[1], "esp-seal")) {
		prog = skel->progs.test_esp_seal_xdp;
	} else if (!strcmp(a[1], "esp-open") || !strcmp(a[1], "restore")) {
		/* a valid packet to open, copied to every CPU's pristine slot */
		err = req_write(&r) ? -errno : run(skel->progs.test_esp_seal_xdp, pkt, len, NULL);
		if (!err)
			err = fill_bench_pkt(pkt + ESPX_TEST_ETH_LEN, len - ESPX_TEST_ETH_LEN);
		if (err)
			return err;
		prog = !strcmp(a[1], "restore") ? skel->progs.bench_restore
						 : skel->progs.bench_esp_open;
	} else if (!strcmp(a[1], "ecb")) {
		r.nblk = (plen + 15) / 16;	/* + J0: the same blocks GCM needs */
		prog = skel->progs.bench_ecb;
	} else if (!strcmp(a[1], "ghash")) {
		/* AAD block + data blocks + length block */
		r.nblk = (plen + 15) / 16 + 2;
		prog = skel->progs.bench_ghash;
	} else if (!strcmp(a[1], "ghash-table")) {
		/* the former 8-bit tables, over the same blocks; table built
		 * from the test SA's H first (not timed) */
		r.nblk = (plen + 15) / 16 + 2;
		err = req_write(&r) ? -errno : run(skel->progs.bench_ghash_table_init, pkt, len, NULL);
		if (!err && !req_read(&r) && r.ret)
			err = r.ret;
		if (err)
			return err;
		prog = skel->progs.bench_ghash_table;
	} else if (!strcmp(a[1], "nop")) {
		prog = skel->progs.bench_nop;
	} else {
		return -EINVAL;
	}
	memcpy(orig, pkt, len);
	d = calloc(calls, sizeof(*d));
	cyc = calloc(calls, sizeof(*cyc));
	if (!d || !cyc) {
		free(d);
		free(cyc);
		return -ENOMEM;
	}
	cycles_open();
	for (i = 0; i < calls && !err; i++) {
		if (req_write(&r)) {
			err = -errno;
			break;
		}
		memcpy(pkt, orig, len);	/* each call starts from the same packet */
		c0 = cycles_now();
		err = run_n(prog, pkt, len, &d[i], repeat);
		/* per run, rounded; the syscall's own cost is spread over repeat */
		cyc[i] = (uint32_t)((cycles_now() - c0 + (uint64_t)repeat / 2) / (uint64_t)repeat);
		if (!err && prog != skel->progs.bench_nop && !req_read(&r) && r.ret)
			err = r.ret;
	}
	if (!err) {
		qsort(d, calls, sizeof(*d), cmp_u32);
		qsort(cyc, calls, sizeof(*cyc), cmp_u32);
		/* ns median, p10, p90; then cycles per run (median) or "-" */
		printf("ok %u %u %u", d[calls / 2], d[calls / 10], d[calls * 9 / 10]);
		if (cycles_fd >= 0)
			printf(" %u\n", cyc[calls / 2]);
		else
			printf(" -\n");
	}
	free(d);
	free(cyc);
	return err;
}

int main(int argc, char **argv)
{
	char line[2 * MAX_PKT + 512];
	int err;

	espx_log_setup_libbpf();
	if (argc > 1 && !strcmp(argv[1], "-v"))
		espx_log_set_level(LOG_DEBUG);
	skel = espx_crypto_test__open_and_load();
	if (!skel) {
		fprintf(stderr, "crypto_harness: loading test programs failed: %s\n",
			strerror(errno));
		return 1;
	}
	fds.sa_map = bpf_map__fd(skel->maps.espx_sa);
	fds.setup_map = bpf_map__fd(skel->maps.espx_sa_setup);
	fds.hwm_map = -1;	/* fresh private maps: nothing to carry over */
	fds.crypto_init_prog = bpf_program__fd(skel->progs.espx_sa_crypto_init);
	fds.ghash_init_prog = bpf_program__fd(skel->progs.espx_sa_ghash_init);
	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		/* the SAs' backend: espx's own GCM unless asked (the VM's AEAD
		 * suite asks for aead) */
		const char *b = getenv("ESPX_SA_BACKEND");

		sa_backend = !b || !strcmp(b, "bpf") ? ESPX_BACKEND_BPF :
			     !strcmp(b, "aead") ? ESPX_BACKEND_AEAD : ESPX_BACKEND_AUTO;
	}

	while (fgets(line, sizeof(line), stdin)) {
		char *a[16], *save = NULL, *t;
		int n = 0;

		for (t = strtok_r(line, " \t\n", &save); t && n < 16; t = strtok_r(NULL, " \t\n", &save))
			a[n++] = t;
		if (!n || a[0][0] == '#')
			continue;
		if (!strcmp(a[0], "sa"))
			err = cmd_sa(a, n);
		else if (!strcmp(a[0], "gcm"))
			err = cmd_gcm(a, n);
		else if (!strcmp(a[0], "esp"))
			err = cmd_esp(a, n);
		else if (!strcmp(a[0], "churn"))
			err = cmd_churn(a, n);
		else if (!strcmp(a[0], "bench"))
			err = cmd_bench(a, n);
		else if (!strcmp(a[0], "replay"))
			err = cmd_replay(a, n);
		else if (!strcmp(a[0], "rx"))
			err = cmd_rx(a, n);
		else
			err = -EINVAL;
		if (err < 0)
			printf("err %d\n", err);
		else if (!err && (!strcmp(a[0], "sa") || !strcmp(a[0], "replay")))
			printf("ok\n");
	}
	espx_crypto_test__destroy(skel);
	return 0;
}
