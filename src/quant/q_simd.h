/* q_simd.h - private to the *_x8.c kernels: GCC vector types and the exact
 * lane-wise versions of the scalar helpers in q_common.h.
 *
 * THE LANE INVARIANT.  The reference quantizers (ggml's *_ref and *_impl
 * code) work on one (sub-)block at a time, and their scale searches are
 * sequences of single-precision IEEE operations whose order decides the
 * result bits.  The *_x8.c kernels never change that order inside a block:
 * they run W independent (sub-)blocks side by side, one per vector lane, and
 * every lane performs exactly the scalar operation sequence of its own
 * block - the same additions in the same order, the same products grouped
 * the same way, the same correctly rounded divisions and square roots, the
 * same comparisons.  There is no reduction across lanes, no reassociation,
 * no FMA (the library is built with -ffp-contract=off, and no target below
 * enables FMA anyway).  Branches of the scalar code become masks: a lane
 * computes both sides and keeps the one its own scalar run would have taken.
 * Results are therefore bit-identical to the scalar kernels for every
 * input, which tests/test_golden checks against llama.cpp's bytes.
 *
 * Each kernel is compiled twice: 4 lanes for the baseline ISA (SSE2 on
 * x86-64) and 8 lanes with target("avx2"); pj_x8_avx2() picks one at run
 * time.  PJ_KERNELS=base in the environment forces the baseline copy (the
 * tests run both). */
#ifndef PJ_Q_SIMD_H
#define PJ_Q_SIMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PJ_X8_TARGET_AVX2 __attribute__((target("avx2")))
#define PJ_X8_HAVE_DISPATCH 1
#else
#define PJ_X8_TARGET_AVX2
#define PJ_X8_HAVE_DISPATCH 0
#endif
#define PJ_X8_INLINE static inline __attribute__((always_inline))

/* Vectors are only passed between always-inline static functions, never
 * across an ABI boundary, so GCC's note about vector argument passing
 * without AVX does not apply. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* True when the AVX2 copies may run (decided once; benign race). */
static inline bool pj_x8_avx2(void)
{
#if PJ_X8_HAVE_DISPATCH
	static int level = -1;
	int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
	if (l < 0) {
		const char *e = getenv("PJ_KERNELS");
		__builtin_cpu_init();
		l = (e && strcmp(e, "base") == 0) ? 0 : __builtin_cpu_supports("avx2") ? 1 : 0;
		__atomic_store_n(&level, l, __ATOMIC_RELAXED);
	}
	return l == 1;
#else
	return false;
#endif
}

/* W-lane float and int32 vectors for W = 4 and 8, and per width:
 *   vnint:  pj_nearest_int lane-wise (add 1.5*2^23, read the mantissa)
 *   vself/vseli: mask ? a : b (mask lanes all ones or all zeros)
 *   vabs:   fabsf (clears the sign bit, as fabsf does)
 *   vmini/vmaxi: integer PJ_MIN/PJ_MAX
 *   vtof:   int -> float (exact for the small levels used here)
 * The 8-lane helpers, and every function that uses them, are compiled for
 * AVX2: they only ever run inside the AVX2 copies. */
#define PJ_X8_DEFINE(W, A)                                                                                \
	typedef float pj_vf##W __attribute__((vector_size(4 * (W))));                                       \
	typedef int32_t pj_vi##W __attribute__((vector_size(4 * (W))));                                     \
	PJ_X8_INLINE A pj_vf##W pj_vsplat##W(float f)                                                      \
	{                                                                                                \
		return (pj_vf##W){ 0 } + f;                                                                  \
	}                                                                                                \
	PJ_X8_INLINE A pj_vi##W pj_vnint##W(pj_vf##W f)                                                    \
	{                                                                                                \
		const pj_vf##W v = f + 12582912.f;                                                           \
		return ((pj_vi##W)v & 0x007fffff) - 0x00400000;                                              \
	}                                                                                                \
	PJ_X8_INLINE A pj_vf##W pj_vself##W(pj_vi##W m, pj_vf##W a, pj_vf##W b)                            \
	{                                                                                                \
		return (pj_vf##W)((m & (pj_vi##W)a) | (~m & (pj_vi##W)b));                                   \
	}                                                                                                \
	PJ_X8_INLINE A pj_vi##W pj_vseli##W(pj_vi##W m, pj_vi##W a, pj_vi##W b)                            \
	{                                                                                                \
		return (m & a) | (~m & b);                                                                   \
	}                                                                                                \
	PJ_X8_INLINE A pj_vf##W pj_vabs##W(pj_vf##W f)                                                     \
	{                                                                                                \
		return (pj_vf##W)((pj_vi##W)f & 0x7fffffff);                                                 \
	}                                                                                                \
	PJ_X8_INLINE A pj_vi##W pj_vmini##W(pj_vi##W a, pj_vi##W b)                                        \
	{                                                                                                \
		return pj_vseli##W(a < b, a, b);                                                             \
	}                                                                                                \
	PJ_X8_INLINE A pj_vi##W pj_vmaxi##W(pj_vi##W a, pj_vi##W b)                                        \
	{                                                                                                \
		return pj_vseli##W(a > b, a, b);                                                             \
	}                                                                                                \
	PJ_X8_INLINE A pj_vf##W pj_vtof##W(pj_vi##W i)                                                     \
	{                                                                                                \
		return __builtin_convertvector(i, pj_vf##W);                                                 \
	}

#define PJ_X8_CAT_(a, b) a##b
#define PJ_X8_CAT(a, b) PJ_X8_CAT_(a, b)

PJ_X8_DEFINE(4, )
PJ_X8_DEFINE(8, PJ_X8_TARGET_AVX2)

/* PJ_X8_ENTRY(name, body_avx2, body_base): the exported row quantizer
 * `name`, dispatching to body_avx2 (inlined into a target("avx2") function)
 * or body_base (the baseline ISA). */
#define PJ_X8_ENTRY(name, body_avx2, body_base)                                                    \
	PJ_X8_TARGET_AVX2 static void name##_avx2(const float *x, void *y, int64_t n, const float *qw) \
	{                                                                                          \
		body_avx2(x, y, n, qw);                                                                \
	}                                                                                          \
	static void name##_base(const float *x, void *y, int64_t n, const float *qw)               \
	{                                                                                          \
		body_base(x, y, n, qw);                                                                \
	}                                                                                          \
	void name(const float *x, void *y, int64_t n, const float *qw)                             \
	{                                                                                          \
		if (pj_x8_avx2())                                                                      \
			name##_avx2(x, y, n, qw);                                                          \
		else                                                                                   \
			name##_base(x, y, n, qw);                                                          \
	}

#endif
