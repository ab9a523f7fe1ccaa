/* forward_mm.c - the forward pass's matrix product y = x . W^T (+ bias) and
 * the dot products of attention.
 *
 * Blocking: a work item is MM_ROWS output rows x MM_NB tokens, computed in
 * passes over MM_KC in-values: a pass's weights (192 KiB) stay in L2 while
 * every 4-token tile of the item goes by, and a tile's activations (8 KiB)
 * in L1 while the item's rows go by.  The micro-kernel computes 4 tokens x 3
 * rows from registers: each weight vector loaded feeds 4 tokens, each token
 * vector 3 rows.  Between passes the tiles' accumulators wait in memory.
 * (Sizes measured on a Zen 5 with 48 KiB L1d and 1 MiB L2: fewer rows per
 * item re-read the activations too often; 105 GFLOP/s per core with AVX2,
 * about its FMA peak; an AVX-512 copy of the kernel was slower there.)
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
#define MM_NT (MM_TT * MM_RT)   /* accumulators per tile */
#define MM_NB 128               /* tokens per work item */
#define MM_ROWS 96              /* weight rows per work item (a multiple of MM_RT) */
#define MM_KC 512               /* in-values per pass over an item (a multiple of 8) */

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

/* A tile kernel: 4 tokens x 3 rows over in-values [k0, k1), k0 and k1
 * multiples of 8 but for k1 = in.  The lane accumulators are carried in acc
 * (MM_NT vectors) between calls: `first` starts them at 0, `last` reduces
 * them, adds the tail of k1 = in and writes res[token][row]. */
#define MM_TILE(NAME, ATTR, V, W, ZERO, LD, ST, FMA, HSUM)                                                \
	static ATTR void NAME(const float *const *xr, const float *const *wr, size_t k0, size_t k1, float *acc,  \
	                      bool first, bool last, float res[MM_TT][MM_RT])                                   \
	{                                                                                                       \
		V a0, a1, a2, b0, b1, b2, c0, c1, c2, d0, d1, d2;                                                   \
		if (first) {                                                                                        \
			a0 = a1 = a2 = b0 = b1 = b2 = c0 = c1 = c2 = d0 = d1 = d2 = ZERO;                               \
		} else {                                                                                            \
			a0 = LD(acc), a1 = LD(acc + W), a2 = LD(acc + 2 * W), b0 = LD(acc + 3 * W);                     \
			b1 = LD(acc + 4 * W), b2 = LD(acc + 5 * W), c0 = LD(acc + 6 * W), c1 = LD(acc + 7 * W);         \
			c2 = LD(acc + 8 * W), d0 = LD(acc + 9 * W), d1 = LD(acc + 10 * W), d2 = LD(acc + 11 * W);       \
		}                                                                                                   \
		const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];                                     \
		const float *w0p = wr[0], *w1p = wr[1], *w2p = wr[2];                                               \
		size_t k = k0;                                                                                      \
		for (; k + W <= k1; k += W) {                                                                       \
			const V w0 = LD(w0p + k), w1 = LD(w1p + k), w2 = LD(w2p + k);                                   \
			V x = LD(x0 + k);                                                                               \
			MM_ROW3(a, x, w0, w1, w2, FMA);                                                                 \
			x = LD(x1 + k);                                                                                 \
			MM_ROW3(b, x, w0, w1, w2, FMA);                                                                 \
			x = LD(x2 + k);                                                                                 \
			MM_ROW3(c, x, w0, w1, w2, FMA);                                                                 \
			x = LD(x3 + k);                                                                                 \
			MM_ROW3(d, x, w0, w1, w2, FMA);                                                                 \
		}                                                                                                   \
		const V all[MM_NT] = { a0, a1, a2, b0, b1, b2, c0, c1, c2, d0, d1, d2 };                            \
		for (int i = 0; i < MM_NT; i++) {                                                                   \
			if (last)                                                                                       \
				res[i / MM_RT][i % MM_RT] = tail(xr[i / MM_RT], wr[i % MM_RT], k, k1, HSUM(all[i]));         \
			else                                                                                            \
				ST(acc + i * W, all[i]);                                                                    \
		}                                                                                                   \
	}

static inline v4f ld4(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void st4(float *p, v4f v)
{
	memcpy(p, &v, sizeof v);
}

#define MM_MADD4(x, w, a) ((a) + (x) * (w))

MM_TILE(tile_base, , v4f, 4, (v4f){ 0 }, ld4, st4, MM_MADD4, hsum4)

static float dot_base(const float *a, const float *b, size_t n)
{
	v4f acc = { 0 };
	size_t k = 0;
	for (; k + 4 <= n; k += 4)
		acc += ld4(a + k) * ld4(b + k);
	return tail(a, b, k, n, hsum4(acc));
}

static void axpy_base(float a, const float *x, float *y, size_t n)
{
	size_t k = 0;
	for (; k + 4 <= n; k += 4)
		st4(y + k, ld4(y + k) + a * ld4(x + k));
	for (; k < n; k++)
		y[k] += a * x[k];
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

MM_TILE(tile_avx2, MM_AVX2, __m256, 8, _mm256_setzero_ps(), _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps,
        hsum8)

static MM_AVX2 float dot_avx2(const float *a, const float *b, size_t n)
{
	__m256 acc = _mm256_setzero_ps();
	size_t k = 0;
	for (; k + 8 <= n; k += 8)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
	return tail(a, b, k, n, hsum8(acc));
}

static MM_AVX2 void axpy_avx2(float a, const float *x, float *y, size_t n)
{
	const __m256 av = _mm256_set1_ps(a);
	size_t k = 0;
	for (; k + 8 <= n; k += 8)
		_mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
	for (; k < n; k++)
		y[k] += a * x[k];
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

void fwd_axpy(float a, const float *x, float *y, size_t n)
{
#if MM_DISPATCH
	if (fwd_mm_kernel_get() == FWD_MM_AVX2) {
		axpy_avx2(a, x, y, n);
		return;
	}
#endif
	axpy_base(a, x, y, n);
}

/* ---- the blocked product ------------------------------------------------------------ */

typedef void (*tile_fn)(const float *const *xr, const float *const *wr, size_t k0, size_t k1, float *acc,
                        bool first, bool last, float res[MM_TT][MM_RT]);

typedef struct mm_op {
	const float *x, *w, *bias;
	float *y;
	size_t n, in, out, ldy;
	size_t n_tb;     /* token blocks */
	tile_fn tile;
} mm_op;

static size_t min_z(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* One item: MM_ROWS rows x MM_NB tokens, in passes of MM_KC in-values; the
 * tiles' accumulators wait in `acc` between passes.  Items run row block by
 * row block, token blocks inside (a thread's consecutive items share
 * weights).  Tiles at the edges repeat their last token or row (the copies
 * are computed and dropped). */
static void mm_item(const mm_op *o, size_t it, float *acc)
{
	const size_t r0 = it / o->n_tb * MM_ROWS, r1 = min_z(r0 + MM_ROWS, o->out);
	const size_t t0 = it % o->n_tb * MM_NB, t1 = min_z(t0 + MM_NB, o->n);
	for (size_t k0 = 0; k0 < o->in || k0 == 0; k0 += MM_KC) {
		const size_t k1 = min_z(k0 + MM_KC, o->in);
		const bool first = k0 == 0, last = k1 == o->in;
		float *a = acc;
		for (size_t t = t0; t < t1; t += MM_TT) {
			const float *xr[MM_TT];
			const int nt = (int)min_z(MM_TT, t1 - t);
			for (int i = 0; i < MM_TT; i++)
				xr[i] = o->x + (t + (size_t)(i < nt ? i : nt - 1)) * o->in;
			for (size_t r = r0; r < r1; r += MM_RT, a += MM_NT * 8) {
				const float *wr[MM_RT];
				const int nr = (int)min_z(MM_RT, r1 - r);
				for (int j = 0; j < MM_RT; j++)
					wr[j] = o->w + (r + (size_t)(j < nr ? j : nr - 1)) * o->in;
				float res[MM_TT][MM_RT];
				o->tile(xr, wr, k0, k1, a, first, last, res);
				for (int i = 0; last && i < nt; i++)
					for (int j = 0; j < nr; j++)
						o->y[(t + (size_t)i) * o->ldy + r + (size_t)j] =
							res[i][j] + (o->bias ? o->bias[r + (size_t)j] : 0.0f);
			}
		}
		if (last)
			break;
	}
}

static void mm_range(void *arg, size_t i0, size_t i1)
{
	const mm_op *o = arg;
	float *acc = o->in > MM_KC ? pj_xmalloc(sizeof(float) * MM_NB * MM_ROWS * 8) : NULL;
	for (size_t it = i0; it < i1; it++)
		mm_item(o, it, acc);
	free(acc);
}

void fwd_matmul(pj_fwd *f, const float *x, size_t n, size_t in, const float *w, const float *bias, size_t out,
                float *y, size_t ldy)
{
	if (!n || !out)
		return;
	mm_op o = { x, w, bias, y, n, in, out, ldy, (n + MM_NB - 1) / MM_NB, tile_base };
#if MM_DISPATCH
	if (fwd_mm_kernel_get() == FWD_MM_AVX2)
		o.tile = tile_avx2;
#endif
	fwd_par_for(f, o.n_tb * ((out + MM_ROWS - 1) / MM_ROWS), mm_range, &o);
}
