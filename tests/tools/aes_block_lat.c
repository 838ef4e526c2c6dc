// SPDX-License-Identifier: GPL-2.0
/* What one AES-128 block costs with AES-NI on this CPU, one block at a time:
 * the instruction part of the kernel's single-block `aes-aesni` cipher, which
 * ecb(aes) uses for BPF crypto on AES-NI hosts (docs/benchmarks.md,
 * "Projection"). Userspace, so without the kernel's per-block FPU section
 * (kernel_fpu_begin/end) or the ecb template's loop: those are not here.
 *
 *   chain  each block's input is the previous block's output (latency bound:
 *          ten dependent AES rounds, as in CBC encryption)
 *   call   independent blocks, one per call through a function pointer that
 *          loads the round keys from memory each time, as crypto_ecb_crypt()
 *          calls cia_encrypt() = aesni_encrypt() -> aesni_enc() per block
 *
 *   ghz    the core clock while it runs: a chain of dependent integer adds
 *          (one cycle each on every x86 core), so ns convert to cycles even
 *          where /proc/cpuinfo shows a nominal clock and no PMU is exposed
 *
 * The round keys are fixed arbitrary values: AES-NI timing does not depend on
 * them, and nothing here is secret or checked for correctness.
 * Usage: aes_block_lat [BLOCKS]   -> "chain NS call NS ghz GHZ" (ns per
 * block, best of 7 runs; clock from the fastest add run). Exits 2 when the
 * CPU has no AES-NI. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>

#define ROUNDS 10	/* AES-128 */
#define RUNS 7

struct aes_key128 {
	__m128i rk[ROUNDS + 1];
};

__attribute__((target("aes,sse2"), noinline))
static void enc1(const struct aes_key128 *k, uint8_t *out, const uint8_t *in)
{
	__m128i s = _mm_xor_si128(_mm_loadu_si128((const __m128i *)in), k->rk[0]);
	int i;

	for (i = 1; i < ROUNDS; i++)
		s = _mm_aesenc_si128(s, k->rk[i]);
	_mm_storeu_si128((__m128i *)out, _mm_aesenclast_si128(s, k->rk[ROUNDS]));
}

/* one block per indirect call, blocks independent (what ecb does) */
static void (*volatile enc_fn)(const struct aes_key128 *, uint8_t *, const uint8_t *) = enc1;

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

__attribute__((target("aes,sse2")))
static double run_chain(const struct aes_key128 *k, long n)
{
	__m128i s = _mm_set1_epi32(0x5a5a5a5a);
	double t0 = now_ns();
	long b;
	int i;

	for (b = 0; b < n; b++) {
		s = _mm_xor_si128(s, k->rk[0]);
		for (i = 1; i < ROUNDS; i++)
			s = _mm_aesenc_si128(s, k->rk[i]);
		s = _mm_aesenclast_si128(s, k->rk[ROUNDS]);
	}
	t0 = now_ns() - t0;
	__asm__ volatile("" : : "x"(s));	/* keep the result alive */
	return t0 / n;
}

/* ns per dependent add: 1000 adds a round, each needing the previous one */
static double run_adds(long rounds)
{
	uint64_t x = 1, y = 3;
	double t0 = now_ns();
	long r;

	/* register + register: some cores fold add-immediate at rename */
	for (r = 0; r < rounds; r++)
		__asm__ volatile(".rept 1000\n\taddq %1, %0\n\t.endr" : "+r"(x) : "r"(y));
	t0 = now_ns() - t0;
	__asm__ volatile("" : : "r"(x));
	return t0 / ((double)rounds * 1000);
}

static double run_call(const struct aes_key128 *k, uint8_t *buf, long n)
{
	double t0 = now_ns();
	long b;

	/* 4 KiB buffer of counter-like blocks, encrypted in place, like the
	 * kfunc's one call over the counter blocks */
	for (b = 0; b < n; b++) {
		uint8_t *p = buf + (b & 255) * 16;

		enc_fn(k, p, p);
	}
	return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	static uint8_t buf[256 * 16];
	struct aes_key128 k;
	double chain = 1e30, call = 1e30, add = 1e30, v;
	int i;

	if (n < 1000) {
		fprintf(stderr, "aes_block_lat: BLOCKS must be >= 1000\n");
		return 1;
	}
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("aes")) {
		fprintf(stderr, "aes_block_lat: this CPU has no AES-NI (no 'aes' in cpuid)\n");
		return 2;
	}
	for (i = 0; i <= ROUNDS; i++)
		k.rk[i] = _mm_set_epi32(0x01020304 * (i + 1), 0x0a0b0c0d ^ i, 0x10203040 + i,
					0x7f6e5d4c - i);
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	for (i = 0; i < RUNS; i++) {
		v = run_chain(&k, n);
		chain = v < chain ? v : chain;
		v = run_call(&k, buf, n);
		call = v < call ? v : call;
		v = run_adds(n / 50);
		add = v < add ? v : add;
	}
	printf("chain %.3f call %.3f ghz %.3f\n", chain, call, 1.0 / add);
	return 0;
}
