/* forward_mm.c - the forward pass's matrix product y = x . W^T (+ bias) and
 * the dot products of attention.
 *
 * Blocking: output rows are cut into blocks whose weights fit in MM_L2
 * bytes, tokens into blocks of MM_NB; a work item is one (row block, token
 * block) pair, so a block's weights come from memory once per token block
 * and from cache for every 4-token tile of it.  The micro-kernel computes
 * 4 tokens x 3 rows from registers: each weight vector loaded feeds 4
 * tokens, each token vector 3 rows.
 *
 * Summation order: every output element has its own accumulator of W lanes
 * (8 with AVX2+FMA, 4 in the baseline ISA): lane j sums x[k] * w[k] over
 * k = j mod W in increasing k (fused multiply-adds under AVX2), the lanes are
 * reduced in a fixed tree, then the in % W tail and the bias are added.  The
 * order depends on `in` and the kernel only, never on the tile an element
 * falls in, the blocking or the thread count: results are deterministic on a
 * given machine, identical whatever the thread count, and the two kernels
 * differ by rounding only (PJ_KERNELS=base forces the baseline one; the
 * tests compare them).  This is not the byte-matched quantizer code: FMA is
 * fine here. */
#include "config.h"
#include "quant/forward_int.h"

#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define MM_DISPATCH 1
#else
#define MM_DISPATCH 0
#endif

#define MM_TT 4                 /* tokens per tile */
#define MM_RT 3                 /* weight rows per tile */
#define MM_NB 128               /* tokens per work item */
#define MM_L2 (256 * 1024)      /* bytes of weights per row block */

/* ---- kernel choice ------------------------------------------------------------ */

static int mm_kernel = -1;

fwd_mm_kernel fwd_mm_kernel_get(void)
{
	int k = __atomic_load_n(&mm_kernel, __ATOMIC_RELAXED);
	if (k < 0) {
		k = FWD_MM_BASE;
#if MM_DISPATCH
		const char *e = getenv("PJ_KERNELS");
		__builtin_cpu_init();
		if (!(e && strcmp(e, "base") == 0) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			k = FWD_MM_AVX2;
#endif
		__atomic_store_n(&mm_kernel, k, __ATOMIC_RELAXED);
	}
	return (fwd_mm_kernel)k;
}

fwd_mm_kernel fwd_mm_kernel_set(fwd_mm_kernel k)
{
	const fwd_mm_kernel old = fwd_mm_kernel_get();
	if (k == FWD_MM_AVX2 && !MM_DISPATCH)
		k = FWD_MM_BASE;
	__atomic_store_n(&mm_kernel, (int)k, __ATOMIC_RELAXED);
	return old;
}

/* ---- baseline kernel: 4-lane vectors (SSE2 on x86-64), no FMA ------------------ */

typedef float v4f __attribute__((vector_size(16)));

static inline v4f ld4(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline float hsum4(v4f a)
{
	return (a[0] + a[2]) + (a[1] + a[3]);
}

static float tail(const float *x, const float *w, size_t k, size_t n, float s)
{
	for (; k < n; k++)
		s += x[k] * w[k];
	return s;
}

#define MM_ROW3(ACC, X, W0, W1, W2, OP) \
	ACC##0 = OP(X, W0, ACC##0);        \
	ACC##1 = OP(X, W1, ACC##1);        \
	ACC##2 = OP(X, W2, ACC##2)

#define MM_MADD4(x, w, a) ((a) + (x) * (w))

static void tile_base(const float *const *xr, const float *const *wr, size_t in, float res[MM_TT][MM_RT])
{
	v4f a0 = { 0 }, a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0, c0 = a0, c1 = a0, c2 = a0, d0 = a0, d1 = a0,
	    d2 = a0;
	size_t k = 0;
	for (; k + 4 <= in; k += 4) {
		const v4f w0 = ld4(wr[0] + k), w1 = ld4(wr[1] + k), w2 = ld4(wr[2] + k);
		v4f x = ld4(xr[0] + k);
		MM_ROW3(a, x, w0, w1, w2, MM_MADD4);
		x = ld4(xr[1] + k);
		MM_ROW3(b, x, w0, w1, w2, MM_MADD4);
		x = ld4(xr[2] + k);
		MM_ROW3(c, x, w0, w1, w2, MM_MADD4);
		x = ld4(xr[3] + k);
		MM_ROW3(d, x, w0, w1, w2, MM_MADD4);
	}
	const v4f acc[MM_TT][MM_RT] = { { a0, a1, a2 }, { b0, b1, b2 }, { c0, c1, c2 }, { d0, d1, d2 } };
	for (int t = 0; t < MM_TT; t++)
		for (int r = 0; r < MM_RT; r++)
			res[t][r] = tail(xr[t], wr[r], k, in, hsum4(acc[t][r]));
}

static float dot_base(const float *a, const float *b, size_t n)
{
	v4f acc = { 0 };
	size_t k = 0;
	for (; k + 4 <= n; k += 4)
		acc += ld4(a + k) * ld4(b + k);
	return tail(a, b, k, n, hsum4(acc));
}

/* ---- AVX2 + FMA kernel: 8 lanes ------------------------------------------------- */

#if MM_DISPATCH
#define MM_AVX2 __attribute__((target("avx2,fma")))

static inline MM_AVX2 float hsum8(__m256 a)
{
	/* lanes j + j+4, then (0+2) + (1+3): the baseline's tree on the halves */
	const __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
	const __m128 p = _mm_add_ps(s, _mm_movehl_ps(s, s));
	return _mm_cvtss_f32(_mm_add_ss(p, _mm_shuffle_ps(p, p, 1)));
}

static MM_AVX2 void tile_avx2(const float *const *xr, const float *const *wr, size_t in, float res[MM_TT][MM_RT])
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0, c0 = a0, c1 = a0, c2 = a0,
	       d0 = a0, d1 = a0, d2 = a0;
	const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *w0p = wr[0], *w1p = wr[1], *w2p = wr[2];
	size_t k = 0;
	for (; k + 8 <= in; k += 8) {
		const __m256 w0 = _mm256_loadu_ps(w0p + k), w1 = _mm256_loadu_ps(w1p + k), w2 = _mm256_loadu_ps(w2p + k);
		__m256 x = _mm256_loadu_ps(x0 + k);
		MM_ROW3(a, x, w0, w1, w2, _mm256_fmadd_ps);
		x = _mm256_loadu_ps(x1 + k);
		MM_ROW3(b, x, w0, w1, w2, _mm256_fmadd_ps);
		x = _mm256_loadu_ps(x2 + k);
		MM_ROW3(c, x, w0, w1, w2, _mm256_fmadd_ps);
		x = _mm256_loadu_ps(x3 + k);
		MM_ROW3(d, x, w0, w1, w2, _mm256_fmadd_ps);
	}
	const __m256 acc[MM_TT][MM_RT] = { { a0, a1, a2 }, { b0, b1, b2 }, { c0, c1, c2 }, { d0, d1, d2 } };
	for (int t = 0; t < MM_TT; t++)
		for (int r = 0; r < MM_RT; r++)
			res[t][r] = tail(xr[t], wr[r], k, in, hsum8(acc[t][r]));
}

static MM_AVX2 float dot_avx2(const float *a, const float *b, size_t n)
{
	__m256 acc = _mm256_setzero_ps();
	size_t k = 0;
	for (; k + 8 <= n; k += 8)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
	return tail(a, b, k, n, hsum8(acc));
}
#endif

float fwd_dot(const float *a, const float *b, size_t n)
{
#if MM_DISPATCH
	if (fwd_mm_kernel_get() == FWD_MM_AVX2)
		return dot_avx2(a, b, n);
#endif
	return dot_base(a, b, n);
}

/* ---- the blocked product ------------------------------------------------------------ */

typedef void (*tile_fn)(const float *const *xr, const float *const *wr, size_t in, float res[MM_TT][MM_RT]);

typedef struct mm_op {
	const float *x, *w, *bias;
	float *y;
	size_t n, in, out, ldy;
	size_t rows;     /* rows per row block (a multiple of MM_RT) */
	size_t n_tb;     /* token blocks */
	tile_fn tile;
} mm_op;

static size_t min_z(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Items run row block by row block, token blocks inside: consecutive items
 * of a thread reuse the weights in cache.  Tiles at the edges repeat their
 * last token or row (the copies are computed and dropped). */
static void mm_range(void *arg, size_t i0, size_t i1)
{
	const mm_op *o = arg;
	for (size_t it = i0; it < i1; it++) {
		const size_t r0 = it / o->n_tb * o->rows, r1 = min_z(r0 + o->rows, o->out);
		const size_t t0 = it % o->n_tb * MM_NB, t1 = min_z(t0 + MM_NB, o->n);
		for (size_t t = t0; t < t1; t += MM_TT) {
			const float *xr[MM_TT];
			const int nt = (int)min_z(MM_TT, t1 - t);
			for (int i = 0; i < MM_TT; i++)
				xr[i] = o->x + (t + (size_t)(i < nt ? i : nt - 1)) * o->in;
			for (size_t r = r0; r < r1; r += MM_RT) {
				const float *wr[MM_RT];
				const int nr = (int)min_z(MM_RT, r1 - r);
				for (int j = 0; j < MM_RT; j++)
					wr[j] = o->w + (r + (size_t)(j < nr ? j : nr - 1)) * o->in;
				float res[MM_TT][MM_RT];
				o->tile(xr, wr, o->in, res);
				for (int i = 0; i < nt; i++)
					for (int j = 0; j < nr; j++)
						o->y[(t + (size_t)i) * o->ldy + r + (size_t)j] =
							res[i][j] + (o->bias ? o->bias[r + (size_t)j] : 0.0f);
			}
		}
	}
}

void fwd_matmul(pj_fwd *f, const float *x, size_t n, size_t in, const float *w, const float *bias, size_t out,
                float *y, size_t ldy)
{
	if (!n || !out)
		return;
	size_t rows = MM_L2 / (sizeof(float) * (in ? in : 1)) / MM_RT * MM_RT;
	if (rows < MM_RT)
		rows = MM_RT;
	mm_op o = { x, w, bias, y, n, in, out, ldy, rows, (n + MM_NB - 1) / MM_NB, tile_base };
#if MM_DISPATCH
	if (fwd_mm_kernel_get() == FWD_MM_AVX2)
		o.tile = tile_avx2;
#endif
	fwd_par_for(f, o.n_tb * ((out + rows - 1) / rows), mm_range, &o);
}
