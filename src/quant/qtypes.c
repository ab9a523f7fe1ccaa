/* qtypes.c - the target table and the row drivers (validation, threads). */
#include "config.h"
#include "qtypes.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "convert.h"
#include "q_common.h"

#define QT(id, blk, size, uses, req, fn) QTX(id, blk, size, uses, req, fn, fn)
/* QTX: a quantizer (q_*_x8.c) other than the scalar reference */
#define QTX(id, blk, size, uses, req, qfn, dqfn) \
	{ PJ_DT_##id, #id, blk, size, uses, req, pj_qrow_##qfn, pj_dqrow_##dqfn }

static const pj_qtype QTYPES[] = {
	QT(F32,     1,   4,   false, false, f32),
	QT(F16,     1,   2,   false, false, f16),
	QT(BF16,    1,   2,   false, false, bf16),
	QTX(Q8_0,    32,  34,  false, false, q8_0_x8, q8_0),
	QT(Q4_0,    32,  18,  true,  false, q4_0),
	QT(Q4_1,    32,  20,  true,  false, q4_1),
	QT(Q5_0,    32,  22,  true,  false, q5_0),
	QT(Q5_1,    32,  24,  true,  false, q5_1),
	QTX(Q2_K,    256, 84,  true,  false, q2_k_x8, q2_k),
	QTX(Q3_K,    256, 110, true,  false, q3_k_x8, q3_k),
	QTX(Q4_K,    256, 144, true,  false, q4_k_x8, q4_k),
	QTX(Q5_K,    256, 176, true,  false, q5_k_x8, q5_k),
	QTX(Q6_K,    256, 210, true,  false, q6_k_x8, q6_k),
	QT(IQ4_NL,  32,  18,  true,  false, iq4_nl),
	QT(IQ4_XS,  256, 136, true,  false, iq4_xs),
	QT(MXFP4,   32,  17,  false, false, mxfp4),
	QT(IQ3_XXS, 256, 98,  true,  false, iq3_xxs),
	QT(IQ3_S,   256, 110, true,  false, iq3_s),
	QT(IQ1_M,   256, 56,  true,  false, iq1_m),
	QT(IQ2_XXS, 256, 66,  true,  true,  iq2_xxs),
	QT(IQ2_XS,  256, 74,  true,  true,  iq2_xs),
	QT(IQ2_S,   256, 82,  true,  false, iq2_s),
	QT(IQ1_S,   256, 50,  true,  true,  iq1_s),
	QT(TQ1_0,   256, 54,  false, false, tq1_0),
	QT(TQ2_0,   256, 66,  false, false, tq2_0),
	QT(NVFP4,   64,  36,  false, false, nvfp4),
};
#undef QT
#undef QTX

const pj_qtype *pj_qtype_all(size_t *n)
{
	*n = sizeof QTYPES / sizeof QTYPES[0];
	return QTYPES;
}

const pj_qtype *pj_qtype_get(pj_dtype t)
{
	for (size_t i = 0; i < sizeof QTYPES / sizeof QTYPES[0]; i++)
		if (QTYPES[i].type == t)
			return &QTYPES[i];
	return NULL;
}

bool pj_qtype_supported(pj_dtype t) { return pj_qtype_get(t) != NULL; }

bool pj_qtype_requires_imatrix(pj_dtype t)
{
	const pj_qtype *q = pj_qtype_get(t);
	return q && q->requires_imatrix;
}

size_t pj_qtype_row_size(pj_dtype t, int64_t n_per_row)
{
	const pj_qtype *q = pj_qtype_get(t);
	if (!q || n_per_row <= 0 || n_per_row % q->block)
		return 0;
	return (size_t)(n_per_row / q->block) * q->type_size;
}

/* ---- the row driver -------------------------------------------------------
 *
 * Rows are handed out in chunks of about QCHUNK_ELEMS elements from a shared
 * counter, so a thread slowed down by other work on the machine takes fewer
 * chunks.  A chunk whose source is not f32 is decoded into the worker's own
 * buffer (allocated once per call, not per row) right before it is quantized,
 * while it is still in cache.  Every row is quantized on its own, so the
 * bytes do not depend on the thread count or on which thread took a chunk.
 * Non-finite inputs are found per chunk; the one reported is the first in
 * row-major order, whatever the scheduling. */

#define PJ_QMAX_THREADS 64
#define QCHUNK_ELEMS 32768

typedef struct qrun {
	const pj_qtype *q;
	pj_dtype src_type;
	const uint8_t *src;
	size_t src_row_bytes;
	uint8_t *dst;
	int64_t nrows, n_per_row, chunk_rows;
	size_t row_size;
	const float *qw;
	bool check_finite;
	int64_t next;               /* next chunk's first row (atomic) */
	pthread_mutex_t mu;         /* guards bad_* */
	int64_t bad_index;          /* first non-finite element, or -1 */
	float bad_value;
	bool oom;
} qrun;

/* src rows decoded to f32 without a copy when they already are aligned f32 */
static bool direct_f32(const qrun *r)
{
	return r->src_type == PJ_DT_F32 && ((uintptr_t)r->src % _Alignof(float)) == 0;
}

/* Decodes rows r0 .. r0+n-1 into buf.  BF16 is widened inline, and its
 * exponent bits tell Inf/NaN apart in the same pass; returns true when the
 * chunk may hold a non-finite value (then the caller looks for it). */
static bool decode_rows(const qrun *r, int64_t r0, int64_t n, float *buf)
{
	const uint8_t *s = r->src + (size_t)r0 * r->src_row_bytes;
	const size_t ne = (size_t)(n * r->n_per_row);
	if (r->src_type == PJ_DT_BF16) {
		unsigned special = 0;
		size_t i = 0;
#if defined(__SSE2__)
		/* interleaving a zero below each bf16 gives its f32 bits */
		const __m128i z = _mm_setzero_si128(), em = _mm_set1_epi16(0x7f80);
		__m128i sp = z;
		for (; i + 8 <= ne; i += 8) {
			const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i));
			sp = _mm_or_si128(sp, _mm_cmpeq_epi16(_mm_and_si128(h, em), em));
			_mm_storeu_si128((__m128i *)(void *)(buf + i), _mm_unpacklo_epi16(z, h));
			_mm_storeu_si128((__m128i *)(void *)(buf + i + 4), _mm_unpackhi_epi16(z, h));
		}
		special = _mm_movemask_epi8(sp) != 0;
#endif
		for (; i < ne; i++) {
			uint16_t h;
			memcpy(&h, s + 2 * i, 2);
			special |= (h & 0x7f80u) == 0x7f80u;
			const uint32_t u = (uint32_t)h << 16;
			memcpy(&buf[i], &u, 4);
		}
		return special != 0;
	}
	pj_convert_f32(r->src_type, s, buf, ne);
	return true;
}

/* true when x[0..ne) may hold Inf or NaN (all-ones exponent) */
static bool any_special(const float *x, int64_t ne)
{
	unsigned special = 0;
	for (int64_t i = 0; i < ne; i++) {
		uint32_t u;
		memcpy(&u, &x[i], 4);
		special |= (u & 0x7f800000u) == 0x7f800000u;
	}
	return special != 0;
}

static void note_bad(qrun *r, int64_t index, float v)
{
	pthread_mutex_lock(&r->mu);
	if (r->bad_index < 0 || index < r->bad_index) {
		r->bad_index = index;
		r->bad_value = v;
	}
	pthread_mutex_unlock(&r->mu);
}

static void *qrun_worker(void *arg)
{
	qrun *r = arg;
	float *buf = NULL;
	if (!direct_f32(r)) {
		buf = malloc((size_t)(r->chunk_rows * r->n_per_row) * sizeof *buf);
		if (!buf) {
			pthread_mutex_lock(&r->mu);
			r->oom = true;
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
	}
	for (;;) {
		const int64_t r0 = __atomic_fetch_add(&r->next, r->chunk_rows, __ATOMIC_RELAXED);
		if (r0 >= r->nrows)
			break;
		const int64_t n = PJ_MIN(r->chunk_rows, r->nrows - r0);
		const float *x;
		bool special;
		if (buf) {
			special = decode_rows(r, r0, n, buf);
			x = buf;
		} else {
			x = (const float *)(const void *)(r->src + (size_t)r0 * r->src_row_bytes);
			special = r->check_finite && any_special(x, n * r->n_per_row);
		}
		if (r->check_finite && special) {
			const int64_t ne = n * r->n_per_row;
			int64_t i = 0;
			while (i < ne && isfinite(x[i]))
				i++;
			if (i < ne) {
				note_bad(r, r0 * r->n_per_row + i, x[i]);
				continue;          /* the call fails; skip the kernel */
			}
		}
		for (int64_t k = 0; k < n; k++)
			r->q->quantize_row(x + k * r->n_per_row, r->dst + (size_t)(r0 + k) * r->row_size, r->n_per_row, r->qw);
	}
	free(buf);
	return NULL;
}

pj_status pj_quantize_rows_from(pj_dtype t, pj_dtype src_type, const void *src, void *dst, int64_t nrows,
                                int64_t n_per_row, const float *imatrix, unsigned nthreads, const char *what,
                                pj_error *err)
{
	const char *name = what ? what : "tensor";
	const pj_qtype *q = pj_qtype_get(t);
	if (!q)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot quantize to %s (no kernel for that type)", name,
		               pj_dtype_name(t));
	if (!pj_convert_supported(src_type))
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot read %s source rows", name, pj_dtype_name(src_type));
	if (nrows < 0 || n_per_row <= 0)
		return pj_fail(err, PJ_EUSAGE, "%s: bad shape (%lld rows of %lld)", name, (long long)nrows,
		               (long long)n_per_row);
	if (n_per_row % q->block)
		return pj_fail(err, PJ_EUSAGE,
		               "%s: rows of %lld elements are not a multiple of the %s block size %u "
		               "(choose a fallback type for this tensor)",
		               name, (long long)n_per_row, q->name, q->block);
	if (q->requires_imatrix && !imatrix)
		return pj_fail(err, PJ_EUSAGE, "%s: %s requires an importance matrix", name, q->name);
	if (q->block > 1 && imatrix)
		for (int64_t i = 0; i < n_per_row; i++)
			if (!isfinite(imatrix[i]))
				return pj_fail(err, PJ_EFORMAT, "%s: importance weight %lld is not finite", name, (long long)i);
	uint64_t esz = 0;
	pj_dtype_bytes(src_type, 1, &esz);

	qrun r = {
		.q = q, .src_type = src_type, .src = src, .src_row_bytes = (size_t)esz * (size_t)n_per_row,
		.dst = dst, .nrows = nrows, .n_per_row = n_per_row,
		.chunk_rows = PJ_MAX((int64_t)1, QCHUNK_ELEMS / n_per_row),
		.row_size = pj_qtype_row_size(t, n_per_row), .qw = q->uses_imatrix ? imatrix : NULL,
		/* a non-finite input makes a NaN/Inf scale, which llama.cpp's row
		 * validation rejects after the fact; refuse it up front */
		.check_finite = q->block > 1, .next = 0, .bad_index = -1,
	};
	pthread_mutex_init(&r.mu, NULL);

	const int64_t nchunks = (nrows + r.chunk_rows - 1) / r.chunk_rows;
	unsigned nt = nthreads < 1 ? 1 : nthreads;
	if (nt > PJ_QMAX_THREADS)
		nt = PJ_QMAX_THREADS;
	if ((int64_t)nt > nchunks)
		nt = nchunks > 0 ? (unsigned)nchunks : 1;

	pthread_t tid[PJ_QMAX_THREADS];
	bool started[PJ_QMAX_THREADS] = { false };
	for (unsigned i = 1; i < nt; i++)
		started[i] = pthread_create(&tid[i], NULL, qrun_worker, &r) == 0;
	qrun_worker(&r);           /* a thread that failed to start leaves its chunks to the others */
	for (unsigned i = 1; i < nt; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&r.mu);

	if (r.bad_index >= 0)
		return pj_fail(err, PJ_EFORMAT, "%s: non-finite value (%g) at row %lld, column %lld; cannot quantize to %s",
		               name, (double)r.bad_value, (long long)(r.bad_index / n_per_row),
		               (long long)(r.bad_index % n_per_row), q->name);
	if (r.oom)
		return pj_fail(err, PJ_ENOMEM, "%s: out of memory for the conversion buffers", name);
	return PJ_OK;
}

pj_status pj_quantize_rows(pj_dtype t, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                           const float *imatrix, unsigned nthreads, const char *what, pj_error *err)
{
	return pj_quantize_rows_from(t, PJ_DT_F32, src, dst, nrows, n_per_row, imatrix, nthreads, what, err);
}

pj_status pj_dequantize_rows(pj_dtype t, const void *src, float *dst, int64_t nrows, int64_t n_per_row,
                             pj_error *err)
{
	const pj_qtype *q = pj_qtype_get(t);
	if (!q)
		return pj_fail(err, PJ_EUNSUPPORTED, "cannot dequantize %s (no kernel for that type)",
		               pj_dtype_name(t));
	if (n_per_row <= 0 || n_per_row % q->block)
		return pj_fail(err, PJ_EUSAGE, "rows of %lld elements are not a multiple of the %s block size %u",
		               (long long)n_per_row, q->name, q->block);
	const size_t row_size = pj_qtype_row_size(t, n_per_row);
	for (int64_t r = 0; r < nrows; r++)
		q->dequantize_row((const uint8_t *)src + (size_t)r * row_size, dst + r * n_per_row, n_per_row);
	return PJ_OK;
}
