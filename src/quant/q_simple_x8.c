/* q_simple_x8.c - Q8_0 along the row, W = 4 (SSE2) or 8 (AVX2) elements per
 * vector.
 *
 * Q8_0 has no search: every element is rounded on its own, and the block
 * maximum is exact in any order (max is not an inexact operation), so this
 * kernel vectorises along the row while staying byte-identical to the
 * scalar pj_qrow_q8_0 (q_simple.c).  roundf (half away from zero) is done
 * without a libm call: t = trunc(v) and v - t are exact for |v| < 2^23 (here
 * |v| <= 127), and t moves one step away from zero when |v - t| >= 0.5. */
#include "config.h"

#include "q_common.h"
#include "q_simd.h"

/* An unaligned vector load: GCC's memcpy of 32 bytes into a vector is two
 * 16-byte halves stored and read back whole (a store-forwarding stall that
 * took most of the kernel's time). */
typedef float q80_in4 __attribute__((vector_size(16), aligned(4), may_alias));
typedef float q80_in8 __attribute__((vector_size(32), aligned(4), may_alias));

#define Q80_ROW(W, A)                                                                               \
	PJ_X8_INLINE A void q80_row_w##W(const float *x, void *vy, int64_t n, const float *qw)         \
	{                                                                                            \
		(void)qw;                                                                                \
		pj_blk_q8_0 *y = vy;                                                                     \
		for (int64_t ib = 0; ib < n / PJ_QK32; ib++) {                                           \
			const float *xb = x + ib * PJ_QK32;                                                  \
			pj_vf##W v[32 / W], a = pj_vsplat##W(0.f);                                           \
			for (int c = 0; c < 32 / W; c++) {                                                   \
				v[c] = *(const q80_in##W *)(xb + W * c);                                         \
				const pj_vf##W ax = pj_vabs##W(v[c]);                                            \
				a = pj_vself##W(a > ax, a, ax);                                                  \
			}                                                                                    \
			float amax = 0.0f;                                                                   \
			for (int k = 0; k < W; k++)                                                          \
				amax = PJ_MAX(amax, a[k]);                                                       \
			const float d = amax / 127;                                                          \
			const float id = d ? 1.0f / d : 0.0f;                                                \
			y[ib].d = pj_f2h(d);                                                                 \
			for (int c = 0; c < 32 / W; c++) {                                                   \
				const pj_vf##W s = v[c] * id;                                                    \
				const pj_vi##W t = __builtin_convertvector(s, pj_vi##W); /* toward zero */       \
				const pj_vf##W r = s - pj_vtof##W(t);                                            \
				const pj_vi##W q = t - (r >= 0.5f) + (r <= -0.5f);      /* masks are -1 */       \
				for (int k = 0; k < W; k++)                                                      \
					y[ib].qs[W * c + k] = (int8_t)q[k];                                          \
			}                                                                                    \
		}                                                                                        \
	}

Q80_ROW(4, )
Q80_ROW(8, PJ_X8_TARGET_AVX2)

PJ_X8_ENTRY(pj_qrow_q8_0_x8, q80_row_w8, q80_row_w4)
