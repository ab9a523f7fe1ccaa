/* qtypes.c - the target table and the row drivers (validation, threads). */
#include "config.h"
#include "qtypes.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "q_common.h"

#define QT(id, blk, size, uses, req, fn) \
	{ PJ_DT_##id, #id, blk, size, uses, req, pj_qrow_##fn, pj_dqrow_##fn }

static const pj_qtype QTYPES[] = {
	QT(F32,     1,   4,   false, false, f32),
	QT(F16,     1,   2,   false, false, f16),
	QT(BF16,    1,   2,   false, false, bf16),
	QT(Q8_0,    32,  34,  false, false, q8_0),
	QT(Q4_0,    32,  18,  true,  false, q4_0),
	QT(Q4_1,    32,  20,  true,  false, q4_1),
	QT(Q5_0,    32,  22,  true,  false, q5_0),
	QT(Q5_1,    32,  24,  true,  false, q5_1),
	QT(Q2_K,    256, 84,  true,  false, q2_k),
	QT(Q3_K,    256, 110, true,  false, q3_k),
	QT(Q4_K,    256, 144, true,  false, q4_k),
	QT(Q5_K,    256, 176, true,  false, q5_k),
	QT(Q6_K,    256, 210, true,  false, q6_k),
	QT(IQ4_NL,  32,  18,  true,  false, iq4_nl),
	QT(IQ4_XS,  256, 136, true,  false, iq4_xs),
	QT(MXFP4,   32,  17,  false, false, mxfp4),
	QT(IQ3_XXS, 256, 98,  true,  false, iq3_xxs),
	QT(IQ3_S,   256, 110, true,  false, iq3_s),
	QT(IQ1_M,   256, 56,  true,  false, iq1_m),
};
#undef QT

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

typedef struct qjob {
	const pj_qtype *q;
	const float *src;
	uint8_t *dst;
	int64_t row0, row1, n_per_row;
	size_t row_size;
	const float *imatrix;
} qjob;

static void run_rows(const qjob *j)
{
	for (int64_t r = j->row0; r < j->row1; r++)
		j->q->quantize_row(j->src + r * j->n_per_row, j->dst + (size_t)r * j->row_size, j->n_per_row,
		                   j->imatrix);
}

static void *qjob_thread(void *arg)
{
	run_rows(arg);
	return NULL;
}

#define PJ_QMAX_THREADS 64

pj_status pj_quantize_rows(pj_dtype t, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                           const float *imatrix, unsigned nthreads, const char *what, pj_error *err)
{
	const char *name = what ? what : "tensor";
	const pj_qtype *q = pj_qtype_get(t);
	if (!q)
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot quantize to %s (no kernel for that type)", name,
		               pj_dtype_name(t));
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
	if (q->block > 1) {
		/* a non-finite input makes a NaN/Inf scale, which llama.cpp's row
		 * validation rejects after the fact; refuse it up front */
		const int64_t total = nrows * n_per_row;
		for (int64_t i = 0; i < total; i++)
			if (!isfinite(src[i]))
				return pj_fail(err, PJ_EFORMAT,
				               "%s: non-finite value (%g) at row %lld, column %lld; cannot quantize to %s",
				               name, (double)src[i], (long long)(i / n_per_row), (long long)(i % n_per_row),
				               q->name);
		if (imatrix)
			for (int64_t i = 0; i < n_per_row; i++)
				if (!isfinite(imatrix[i]))
					return pj_fail(err, PJ_EFORMAT, "%s: importance weight %lld is not finite", name,
					               (long long)i);
	}
	const size_t row_size = pj_qtype_row_size(t, n_per_row);
	const float *qw = q->uses_imatrix ? imatrix : NULL;

	unsigned nt = nthreads < 1 ? 1 : nthreads;
	if (nt > PJ_QMAX_THREADS)
		nt = PJ_QMAX_THREADS;
	if ((int64_t)nt > nrows)
		nt = nrows > 0 ? (unsigned)nrows : 1;

	qjob jobs[PJ_QMAX_THREADS];
	pthread_t tid[PJ_QMAX_THREADS];
	bool started[PJ_QMAX_THREADS] = { false };
	for (unsigned i = 0; i < nt; i++) {
		jobs[i] = (qjob){ q, src, dst, nrows * i / nt, nrows * (i + 1) / nt, n_per_row, row_size, qw };
	}
	for (unsigned i = 1; i < nt; i++)
		started[i] = pthread_create(&tid[i], NULL, qjob_thread, &jobs[i]) == 0;
	run_rows(&jobs[0]);
	for (unsigned i = 1; i < nt; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			run_rows(&jobs[i]);      /* no thread: do it here */
	}
	return PJ_OK;
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
