/* test_pool.c - the job pool, element decoders and the statistics job. */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/convert.h"
#include "quant/pool.h"
#include "quant/qtypes.h"
#include "quant/stats.h"
#include "tap.h"

/* ---- pool ------------------------------------------------------------------ */

static atomic_int counter;

static void bump(void *arg)
{
	atomic_fetch_add(&counter, (int)(intptr_t)arg);
}

static void test_runs_all(unsigned threads, size_t queue)
{
	pj_pool *p = pj_pool_new(threads, queue);
	atomic_store(&counter, 0);
	for (int i = 0; i < 1000; i++)
		pj_pool_submit(p, bump, (void *)(intptr_t)1);
	pj_pool_join(p);
	is_int(atomic_load(&counter), 1000, "%u threads, queue %zu: 1000 jobs all ran", threads, queue);
	pj_pool_free(p);
}

/* A job that holds its worker until the gate opens. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;

static void gate_job(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate_lock);
	gate_entered = true;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void gate_close(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = false;
	gate_entered = false;
	pthread_mutex_unlock(&gate_lock);
}

static void gate_wait_entered(void)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void gate_release(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void test_try_submit(void)
{
	pj_pool *p = pj_pool_new(1, 1);
	gate_close();
	pj_pool_submit(p, gate_job, NULL);
	gate_wait_entered();                    /* the worker is busy, the ring empty */
	atomic_store(&counter, 0);
	ok(pj_pool_try_submit(p, bump, (void *)(intptr_t)1), "try_submit succeeds while a slot is free");
	ok(!pj_pool_try_submit(p, bump, (void *)(intptr_t)1), "try_submit fails when the ring is full");
	is_int(pj_pool_busy(p), 2, "busy counts the running and the queued job");
	gate_release();
	pj_pool_join(p);
	is_int(atomic_load(&counter), 1, "the queued job ran after the gate opened");
	is_int(pj_pool_busy(p), 0, "idle after join");
	pj_pool_free(p);
}

static atomic_int saw_cancel, ran;
static pj_pool *cancel_pool;

static void cancellable(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	if (pj_pool_cancelled(cancel_pool))
		atomic_fetch_add(&saw_cancel, 1);
}

static void test_cancel(void)
{
	pj_pool *p = pj_pool_new(2, 64);
	cancel_pool = p;
	gate_close();
	pj_pool_submit(p, gate_job, NULL);
	pj_pool_submit(p, gate_job, NULL);
	atomic_store(&ran, 0);
	atomic_store(&saw_cancel, 0);
	for (int i = 0; i < 50; i++)
		pj_pool_submit(p, cancellable, NULL);
	pj_pool_cancel(p);
	ok(pj_pool_cancelled(p), "cancel raises the flag");
	gate_release();
	pj_pool_join(p);
	is_int(atomic_load(&ran), 50, "cancelled jobs still run (so they can clean up)");
	is_int(atomic_load(&saw_cancel), 50, "every queued job saw the cancel flag");
	ok(!pj_pool_cancelled(p), "join lowers the cancel flag");
	pj_pool_submit(p, cancellable, NULL);
	pj_pool_join(p);
	is_int(atomic_load(&saw_cancel), 50, "jobs after join run uncancelled");
	pj_pool_free(p);
}

/* ---- decoders -------------------------------------------------------------- */

static bool same_float(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b && signbit(a) == signbit(b);
}

/* Straightforward formula, independent of the bit tricks in convert.c. */
static float ref_minifloat(unsigned v, int ebits, int mbits, int bias, bool ieee_special, bool fn)
{
	int sign = (v >> (ebits + mbits)) & 1;
	int e = (v >> mbits) & ((1 << ebits) - 1);
	int m = v & ((1 << mbits) - 1);
	int emax = (1 << ebits) - 1;
	float r;
	if (ieee_special && e == emax)
		r = m ? NAN : INFINITY;
	else if (fn && e == emax && m == (1 << mbits) - 1)
		r = NAN;
	else if (e == 0)
		r = ldexpf((float)m, 1 - bias - mbits);
	else
		r = ldexpf(1.0f + (float)m / (float)(1 << mbits), e - bias);
	return sign ? -r : r;
}

static void test_decoders(void)
{
	static const struct { uint16_t h; float f; } f16[] = {
		{ 0x0000, 0.0f }, { 0x8000, -0.0f }, { 0x0001, 0x1p-24f }, { 0x03ff, 1023 * 0x1p-24f },
		{ 0x0400, 0x1p-14f }, { 0x3c00, 1.0f }, { 0xc000, -2.0f }, { 0x7bff, 65504.0f },
		{ 0x7c00, INFINITY }, { 0xfc00, -INFINITY }, { 0x3555, 0.333251953125f },
	};
	bool all = true;
	for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++)
		if (!same_float(pj_f16_to_f32(f16[i].h), f16[i].f)) {
			all = false;
			tap_diag("f16 %04x -> %a, want %a", f16[i].h, pj_f16_to_f32(f16[i].h), f16[i].f);
		}
	ok(all, "f16: zero, -0, subnormals, min normal, max, Inf, 1/3");
	ok(isnan(pj_f16_to_f32(0x7e00)) && isnan(pj_f16_to_f32(0xfc01)), "f16: NaN encodings decode to NaN");
	all = true;
	for (unsigned v = 0; v < 65536; v++)
		all &= same_float(pj_f16_to_f32((uint16_t)v), ref_minifloat(v, 5, 10, 15, true, false));
	ok(all, "f16: all 65536 patterns match the formula");

	ok(same_float(pj_bf16_to_f32(0x3f80), 1.0f) && same_float(pj_bf16_to_f32(0x8000), -0.0f) &&
	   same_float(pj_bf16_to_f32(0x0001), 0x1p-133f) && same_float(pj_bf16_to_f32(0x7f7f), 0x1.fep127f) &&
	   same_float(pj_bf16_to_f32(0x7f80), INFINITY) && same_float(pj_bf16_to_f32(0xff80), -INFINITY) &&
	   isnan(pj_bf16_to_f32(0x7fc0)) && isnan(pj_bf16_to_f32(0x7f81)),
	   "bf16: 1, -0, subnormal 2^-133, max, +-Inf, NaN");

	all = true;
	for (unsigned v = 0; v < 256; v++)
		all &= same_float(pj_fp8_e4m3_to_f32((uint8_t)v), ref_minifloat(v, 4, 3, 7, false, true));
	ok(all, "fp8 e4m3fn: all 256 patterns match the formula");
	ok(same_float(pj_fp8_e4m3_to_f32(0x01), 0x1p-9f) && same_float(pj_fp8_e4m3_to_f32(0x08), 0x1p-6f) &&
	   same_float(pj_fp8_e4m3_to_f32(0x38), 1.0f) && same_float(pj_fp8_e4m3_to_f32(0x7e), 448.0f) &&
	   same_float(pj_fp8_e4m3_to_f32(0xfe), -448.0f) && same_float(pj_fp8_e4m3_to_f32(0x80), -0.0f) &&
	   isnan(pj_fp8_e4m3_to_f32(0x7f)) && isnan(pj_fp8_e4m3_to_f32(0xff)) &&
	   same_float(pj_fp8_e4m3_to_f32(0x78), 256.0f),
	   "fp8 e4m3fn: min subnormal, min normal, 1, +-448, -0, NaN, no Inf (0x78 = 256)");

	all = true;
	for (unsigned v = 0; v < 256; v++)
		all &= same_float(pj_fp8_e5m2_to_f32((uint8_t)v), ref_minifloat(v, 5, 2, 15, true, false));
	ok(all, "fp8 e5m2: all 256 patterns match the formula");
	ok(same_float(pj_fp8_e5m2_to_f32(0x01), 0x1p-16f) && same_float(pj_fp8_e5m2_to_f32(0x3c), 1.0f) &&
	   same_float(pj_fp8_e5m2_to_f32(0x7b), 57344.0f) && same_float(pj_fp8_e5m2_to_f32(0x7c), INFINITY) &&
	   same_float(pj_fp8_e5m2_to_f32(0xfc), -INFINITY) && isnan(pj_fp8_e5m2_to_f32(0x7d)),
	   "fp8 e5m2: subnormal, 1, max 57344, +-Inf, NaN");
	ok(same_float(pj_e8m0_to_f32(127), 1.0f) && same_float(pj_e8m0_to_f32(0), 0x1p-127f) &&
	   same_float(pj_e8m0_to_f32(130), 8.0f) && isnan(pj_e8m0_to_f32(0xff)), "e8m0: 1, 2^-127, 8, NaN");

	/* Row conversion, from deliberately unaligned sources. */
	uint8_t raw[1 + 4 * 8];
	float out[8];
	const uint16_t hv[4] = { 0x3c00, 0xc000, 0x0001, 0x7c00 };
	memcpy(raw + 1, hv, sizeof hv);
	is_int(pj_convert_f32(PJ_DT_F16, raw + 1, out, 4), PJ_OK, "convert F16 from an odd address");
	ok(out[0] == 1 && out[1] == -2 && out[2] == 0x1p-24f && isinf(out[3]), "F16 row values");
	const int8_t i8[4] = { -128, -1, 0, 127 };
	pj_convert_f32(PJ_DT_I8, i8, out, 4);
	ok(out[0] == -128 && out[1] == -1 && out[2] == 0 && out[3] == 127, "I8 by value");
	const uint8_t u8[3] = { 0, 200, 255 };
	pj_convert_f32(PJ_DT_U8, u8, out, 3);
	ok(out[0] == 0 && out[1] == 200 && out[2] == 255, "U8 by value");
	const int16_t i16[2] = { -32768, 32767 };
	memcpy(raw + 1, i16, sizeof i16);
	pj_convert_f32(PJ_DT_I16, raw + 1, out, 2);
	ok(out[0] == -32768 && out[1] == 32767, "I16 by value (unaligned)");
	const int32_t i32[2] = { -1000000, 16777216 };
	pj_convert_f32(PJ_DT_I32, i32, out, 2);
	ok(out[0] == -1000000 && out[1] == 16777216, "I32 by value");
	const double f64[2] = { 0.5, -1e300 };
	memcpy(raw + 1, f64, sizeof f64);
	pj_convert_f32(PJ_DT_F64, raw + 1, out, 2);
	ok(out[0] == 0.5f && isinf(out[1]) && out[1] < 0, "F64 rounds to f32 (overflow to -Inf)");
	const uint16_t bv[2] = { 0x4049, 0xbf80 };
	pj_convert_f32(PJ_DT_BF16, bv, out, 2);
	ok(out[0] == 3.140625f && out[1] == -1.0f, "BF16 row values");
	is_int(pj_convert_f32(PJ_DT_Q4_K, raw, out, 1), PJ_EUNSUPPORTED, "Q4_K: unsupported for now");
	ok(!pj_convert_supported(PJ_DT_Q8_0) && pj_convert_supported(PJ_DT_F8_E4M3),
	   "pj_convert_supported: Q8_0 no, F8_E4M3 yes");
}

/* ---- statistics ------------------------------------------------------------ */

static void test_stats_known(void)
{
	float v[8] = { 1, -2, 3, -4, NAN, INFINITY, -INFINITY, 0 };
	pj_tstats s;
	is_int(pj_stats_compute(PJ_DT_F32, v, 8, NULL, &s), PJ_OK, "stats of a known array");
	is_int(s.state, PJ_TS_DONE, "state DONE");
	ok(s.n == 8 && s.n_finite == 5 && s.n_nan == 1 && s.n_inf == 2, "counts: 8 elements, 5 finite, 1 NaN, 2 Inf");
	ok(s.min == -4 && s.max == 3 && pj_tstats_max_abs(&s) == 4, "min -4, max 3, max|x| 4");
	ok(fabs(pj_tstats_mean_abs(&s) - 2.0) < 1e-12, "mean|x| = 10/5");
	ok(fabs(pj_tstats_rms(&s) - sqrt(30.0 / 5)) < 1e-12, "RMS = sqrt(30/5)");
	is_int(s.n_outlier, 0, "no outliers in a small spread");

	/* 999 ones and one 100: RMS = sqrt(10999/1000) ~ 3.32, 6 RMS ~ 19.9. */
	float *w = malloc(1000 * sizeof *w);
	for (int i = 0; i < 1000; i++)
		w[i] = 1;
	w[500] = 100;
	pj_stats_compute(PJ_DT_F32, w, 1000, NULL, &s);
	ok(s.n_outlier == 1 && fabs(pj_tstats_outlier_frac(&s) - 0.001) < 1e-12,
	   "one value above 6 RMS -> outlier fraction 0.001");
	free(w);

	/* Large enough to span several chunks, in bf16. */
	uint16_t *b = malloc(20000 * sizeof *b);
	for (int i = 0; i < 20000; i++)
		b[i] = (i % 2) ? 0xbf80 : 0x3f80;    /* -1, 1 */
	pj_stats_compute(PJ_DT_BF16, b, 20000, NULL, &s);
	ok(s.n == 20000 && pj_tstats_rms(&s) == 1 && pj_tstats_mean_abs(&s) == 1 && s.min == -1 && s.max == 1,
	   "bf16 over several chunks: RMS 1, mean|x| 1, range [-1, 1]");
	free(b);

	atomic_bool stop = true;
	pj_stats_ctl ctl = { .cancel = &stop };
	is_int(pj_stats_compute(PJ_DT_F32, v, 8, &ctl, &s), PJ_ECANCELED, "a raised cancel flag stops at once");
	ok(s.state == PJ_TS_PARTIAL && s.n == 0, "cut short: PARTIAL, nothing counted");
	is_int(pj_stats_compute(PJ_DT_Q4_K, v, 8, NULL, &s), PJ_EUNSUPPORTED, "Q4_K, 8 elements (not a block): unsupported");
	is_int(s.state, PJ_TS_UNSUPPORTED, "state UNSUPPORTED");
	ok(isnan(pj_tstats_rms(&s)) && isnan(pj_tstats_outlier_frac(&s)), "no figures for unsupported");

	/* Quantized data: the statistics of the values it decodes to.  A ramp
	 * with one spike, as Q8_0 (32-element blocks) and Q4_K (256), over
	 * several chunks. */
	enum { NQ = 3 * 8192 + 512 };
	float *x = malloc(NQ * sizeof *x), *dq = malloc(NQ * sizeof *dq);
	for (int i = 0; i < NQ; i++)
		x[i] = (float)((i % 97) - 48) / 16.0f;
	x[777] = 300.0f;
	static const pj_dtype QT[] = { PJ_DT_Q8_0, PJ_DT_Q4_K };
	for (size_t k = 0; k < sizeof QT / sizeof QT[0]; k++) {
		pj_error e;
		const size_t rs = pj_qtype_row_size(QT[k], NQ);
		uint8_t *q = malloc(rs);
		pj_tstats sq, sf;
		bool made = pj_quantize_rows(QT[k], x, q, 1, NQ, NULL, 1, "ramp", &e) == PJ_OK &&
		            pj_dequantize_rows(QT[k], q, dq, 1, NQ, &e) == PJ_OK;
		ok(made && pj_stats_compute(QT[k], q, NQ, NULL, &sq) == PJ_OK, "%s: decoded for statistics",
		   pj_dtype_name(QT[k]));
		pj_stats_compute(PJ_DT_F32, dq, NQ, NULL, &sf);
		ok(sq.state == PJ_TS_DONE && sq.n == NQ && sq.min == sf.min && sq.max == sf.max &&
		   sq.sum_abs == sf.sum_abs && sq.sum_sq == sf.sum_sq && sq.n_outlier == sf.n_outlier && sq.n_outlier == 1 &&
		   fabs(pj_tstats_max_abs(&sq) - 300) < 300 * 0.02,
		   "%s: figures equal the dequantized values' (max|x| %.2f, 1 outlier)", pj_dtype_name(QT[k]),
		   pj_tstats_max_abs(&sq));
		free(q);
	}
	free(x);
	free(dq);

	pj_tstats a, c;
	float x1[3] = { 1, 2, 3 }, x2[2] = { -5, 4 };
	pj_stats_compute(PJ_DT_F32, x1, 3, NULL, &a);
	pj_stats_compute(PJ_DT_F32, x2, 2, NULL, &c);
	pj_tstats m;
	pj_tstats_merge(&m, &a, true);
	pj_tstats_merge(&m, &c, false);
	ok(m.state == PJ_TS_DONE && m.n == 5 && m.min == -5 && m.max == 4 &&
	   fabs(pj_tstats_rms(&m) - sqrt(55.0 / 5)) < 1e-12, "merge: counts, range and RMS of the union");
	c.state = PJ_TS_PARTIAL;
	pj_tstats_merge(&m, &c, false);
	is_int(m.state, PJ_TS_PARTIAL, "merging a PARTIAL part gives PARTIAL");
}

/* A catalog over a temporary file: f32, bf16, f16, i8, a stacked 3-D
 * expert tensor and a Q4_K tensor; apart (N_T..N_ALL), a stacked Q8_0
 * expert tensor. */
enum { N_T = 7, N_ALL = 8 };
static char tmp_path[] = "/tmp/pj-test-pool.XXXXXX";

static void build_catalog(pj_catalog *c)
{
	int fd = mkstemp(tmp_path);
	FILE *f = fdopen(fd, "wb");
	uint64_t off = 0;
	uint32_t fi;
	pj_error err;
	unsigned seed = 12345;

	pj_catalog_init(c);
	struct { const char *name; pj_dtype dt; int nd; int64_t ne[3]; int nexp; } spec[N_ALL] = {
		{ "a.f32", PJ_DT_F32, 2, { 256, 64, 1 }, 0 },
		{ "b.bf16", PJ_DT_BF16, 2, { 512, 96, 1 }, 0 },
		{ "c.f16", PJ_DT_F16, 1, { 3000, 1, 1 }, 0 },
		{ "d.i8", PJ_DT_I8, 1, { 1000, 1, 1 }, 0 },
		{ "e.exps", PJ_DT_BF16, 3, { 128, 64, 8 }, 8 },
		{ "f.q4k", PJ_DT_Q4_K, 2, { 256, 4, 1 }, 0 },
		{ "g.f32big", PJ_DT_F32, 2, { 1024, 40, 1 }, 0 },
		{ "h.q8exps", PJ_DT_Q8_0, 3, { 64, 32, 8 }, 8 },
	};
	/* Sizes first, to know the file length. */
	uint64_t sizes[N_ALL], total = 0;
	for (int i = 0; i < N_ALL; i++) {
		uint64_t n = (uint64_t)(spec[i].ne[0] * spec[i].ne[1] * spec[i].ne[2]);
		pj_dtype_bytes(spec[i].dt, n, &sizes[i]);
		total += sizes[i];
	}
	fi = pj_catalog_add_file(c, tmp_path, total);
	for (int i = 0; i < N_ALL; i++) {
		pj_catalog_add(c, tmp_path, spec[i].name, strlen(spec[i].name), spec[i].dt, spec[i].nd,
		               spec[i].ne, fi, off, sizes[i], &err);
		c->t[i].n_experts = spec[i].nexp;
		for (uint64_t k = 0; k < sizes[i]; k++) {
			seed = seed * 1103515245u + 12345u;
			uint8_t byte = (uint8_t)(seed >> 16);
			/* keep bf16/f16 exponents tame and avoid NaN noise */
			if ((spec[i].dt == PJ_DT_BF16 || spec[i].dt == PJ_DT_F16) && (k & 1))
				byte = (uint8_t)(0x3c + (byte & 1) * 0x80);
			if (spec[i].dt == PJ_DT_F32 && (k & 3) == 3)
				byte = (uint8_t)(0x3e + (byte & 1) * 0x80);
			/* Q8_0 blocks: an f16 scale (tame exponent), 32 int8 */
			if (spec[i].dt == PJ_DT_Q8_0 && k % 34 == 1)
				byte = (uint8_t)(0x20 + (byte & 1) * 0x80);
			fputc(byte, f);
		}
		off += sizes[i];
	}
	fclose(f);
}

typedef struct collect {
	pthread_mutex_t lock;
	pj_tstats whole[N_ALL];
	pj_tstats slice[8];
	int n_whole, n_slice, finished;
	atomic_uintptr_t job;      /* when set, cancel it on the first result */
} collect;

static void on_result(void *ctx, size_t t, int expert, const pj_tstats *s)
{
	collect *c = ctx;
	pthread_mutex_lock(&c->lock);
	if (expert < 0) {
		c->whole[t] = *s;
		c->n_whole++;
	} else {
		c->slice[expert] = *s;
		c->n_slice++;
	}
	pthread_mutex_unlock(&c->lock);
	pj_stats_job *j = (pj_stats_job *)atomic_load(&c->job);
	if (j)
		pj_stats_job_cancel(j);
}

static void on_finished(void *ctx)
{
	collect *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->finished++;
	pthread_mutex_unlock(&c->lock);
}

static void run_job(pj_catalog *cat, unsigned threads, collect *out, bool cancel_on_first,
                    const size_t *order, size_t n)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_init(&out->lock, NULL);
	pj_pool *p = pj_pool_new(threads, 0);
	pj_stats_sink sink = { on_result, on_finished, out };
	if (cancel_on_first) {
		/* Hold the only worker so the job's pointer is published first. */
		gate_close();
		pj_pool_submit(p, gate_job, NULL);
		gate_wait_entered();
	}
	pj_stats_job *j = pj_stats_job_start(p, cat, order, n, &sink);
	if (cancel_on_first) {
		atomic_store(&out->job, (uintptr_t)j);
		gate_release();
	}
	pj_pool_join(p);
	pj_progress_snap snap;
	pj_progress_snapshot(pj_stats_job_progress(j), &snap);
	if (!cancel_on_first) {
		ok(snap.finished && snap.items_done == n && snap.units_done == snap.units_total,
		   "%u threads: progress complete (%llu/%llu tensors, %llu/%llu bytes)", threads,
		   (unsigned long long)snap.items_done, (unsigned long long)n,
		   (unsigned long long)snap.units_done, (unsigned long long)snap.units_total);
	}
	pj_stats_job_free(j);
	pj_pool_free(p);
	pthread_mutex_destroy(&out->lock);
}

/* Field by field: struct padding must not decide the comparison. */
static bool same_stats(const pj_tstats *a, const pj_tstats *b)
{
	return a->state == b->state && a->n == b->n && a->n_finite == b->n_finite && a->n_nan == b->n_nan &&
	       a->n_inf == b->n_inf && a->n_outlier == b->n_outlier && a->n_outlier_seen == b->n_outlier_seen &&
	       same_float(a->min, b->min) && same_float(a->max, b->max) && a->sum_abs == b->sum_abs &&
	       a->sum_sq == b->sum_sq;
}

static void test_stats_job(void)
{
	pj_catalog cat;
	build_catalog(&cat);
	size_t order[N_T];
	for (size_t i = 0; i < N_T; i++)
		order[i] = N_T - 1 - i;

	static collect r1, r2, r8;
	run_job(&cat, 1, &r1, false, order, N_T);
	run_job(&cat, 2, &r2, false, order, N_T);
	run_job(&cat, 8, &r8, false, order, N_T);
	is_int(r1.n_whole, N_T, "every tensor reported once");
	is_int(r1.n_slice, 8, "the stacked tensor reported per expert");
	is_int(r1.finished, 1, "finished called once");
	bool same = true;
	for (int i = 0; i < N_T; i++)
		same &= same_stats(&r1.whole[i], &r2.whole[i]) && same_stats(&r1.whole[i], &r8.whole[i]);
	for (int e = 0; e < 8; e++)
		same &= same_stats(&r1.slice[e], &r8.slice[e]);
	ok(same, "results identical with 1, 2 and 8 threads");
	bool done = true;
	for (int i = 0; i < N_T; i++)
		done &= r1.whole[i].state == PJ_TS_DONE;
	ok(done, "every tensor DONE, the Q4_K one too");
	pj_error err;
	{
		/* the Q4_K tensor's figures are its dequantized values' */
		const void *q = pj_catalog_data(&cat, &cat.t[5], &err);
		float *f = malloc(256 * 4 * sizeof *f);
		pj_tstats sf;
		pj_dequantize_rows(PJ_DT_Q4_K, q, f, 4, 256, &err);
		pj_stats_compute(PJ_DT_F32, f, 256 * 4, NULL, &sf);
		ok(same_stats(&sf, &r1.whole[5]), "Q4_K tensor: the statistics of its dequantized values");
		free(f);
	}

	/* The stacked tensor's figures equal the merge of its slices, and a
	 * direct computation over the whole buffer. */
	const void *data = pj_catalog_data(&cat, &cat.t[4], &err);
	pj_tstats whole;
	pj_stats_compute(PJ_DT_BF16, data, 128 * 64 * 8, NULL, &whole);
	ok(whole.n == r1.whole[4].n && whole.min == r1.whole[4].min && whole.max == r1.whole[4].max &&
	   whole.n_nan == r1.whole[4].n_nan && fabs(whole.sum_sq - r1.whole[4].sum_sq) <= 1e-9 * whole.sum_sq,
	   "stacked tensor: merged slices match a single pass (count, range, sums)");

	/* A stacked quantized tensor: per expert too, each slice its own
	 * blocks (slice 3 equals a direct computation on its bytes). */
	static collect rq;
	size_t only_q8[1] = { N_T };
	run_job(&cat, 2, &rq, false, only_q8, 1);
	const uint8_t *q8 = pj_catalog_data(&cat, &cat.t[N_T], &err);
	uint64_t per_b = 0;
	pj_dtype_bytes(PJ_DT_Q8_0, 64 * 32, &per_b);
	pj_tstats s3, sall;
	pj_stats_compute(PJ_DT_Q8_0, q8 + 3 * per_b, 64 * 32, NULL, &s3);
	pj_stats_compute(PJ_DT_Q8_0, q8, 64 * 32 * 8, NULL, &sall);
	ok(rq.n_slice == 8 && rq.whole[N_T].state == PJ_TS_DONE && same_stats(&rq.slice[3], &s3) &&
	   rq.whole[N_T].n == sall.n && rq.whole[N_T].min == sall.min && rq.whole[N_T].max == sall.max &&
	   fabs(rq.whole[N_T].sum_sq - sall.sum_sq) <= 1e-9 * sall.sum_sq,
	   "stacked Q8_0 experts: 8 slices, slice 3 and the merge match direct computations");

	/* Cancel from inside the first result with one thread: the rest stay
	 * PENDING and are never reported. */
	static collect rc;
	run_job(&cat, 1, &rc, true, order, N_T);
	is_int(rc.n_whole, 1, "cancelled after the first tensor: one result");
	is_int(rc.finished, 1, "cancelled job still reports finished once");
	int pending = 0;
	for (int i = 0; i < N_T; i++)
		pending += rc.whole[i].state == PJ_TS_PENDING;
	is_int(pending, N_T - 1, "the other tensors are left PENDING");

	/* Cancel inside a stacked tensor: the tensor is reported PARTIAL from
	 * the slices that finished. */
	size_t only_exps[1] = { 4 };
	run_job(&cat, 1, &rc, true, only_exps, 1);
	is_int(rc.n_slice, 1, "cancelled after the first expert slice");
	is_int(rc.whole[4].state, PJ_TS_PARTIAL, "stacked tensor marked PARTIAL");
	is_int(rc.whole[4].n, 128 * 64, "partial figures cover exactly one slice");

	/* Nothing to do: finished still arrives. */
	static collect r0;
	run_job(&cat, 2, &r0, false, order, 0);
	is_int(r0.finished, 1, "empty job reports finished");

	pj_catalog_free(&cat);
	unlink(tmp_path);
}

int main(void)
{
	test_runs_all(1, 1);
	test_runs_all(4, 4);
	test_runs_all(8, 0);
	test_try_submit();
	test_cancel();
	test_decoders();
	test_stats_known();
	test_stats_job();
	return done_testing();
}
