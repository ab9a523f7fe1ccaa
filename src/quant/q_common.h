/* q_common.h - private to the quantization kernels (q_*.c, qtypes.c).
 *
 * Block layouts are ggml's (little-endian, no padding); every struct is
 * checked against its size.  Kernels take one row: n elements of x (a
 * multiple of the block), optional importance weights qw of the same length,
 * and write n/block blocks to y. */
#ifndef PJ_Q_COMMON_H
#define PJ_Q_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fp16.h"

#define PJ_QK_K 256
#define PJ_QK32 32

#define PJ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PJ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* all-zero thresholds of the reference quantizers */
#define PJ_GROUP_EPS 1e-15f

/* Rounds to the nearest integer, ties to even, by adding 1.5*2^23 and reading
 * the mantissa: the exact trick of the reference (valid for |f| < 2^22; the
 * same bits come out of it beyond that, which matters for clamped callers). */
static inline int pj_nearest_int(float f)
{
	float v = f + 12582912.f;
	int32_t i;
	memcpy(&i, &v, sizeof i);
	return (i & 0x007fffff) - 0x00400000;
}

typedef uint16_t pj_half;

static inline float pj_h2f(pj_half h) { return pj_fp16_to_fp32(h); }
static inline pj_half pj_f2h(float f) { return pj_fp32_to_fp16(f); }

typedef struct { pj_half d; uint8_t qs[16]; } pj_blk_q4_0;
typedef struct { pj_half d, m; uint8_t qs[16]; } pj_blk_q4_1;
typedef struct { pj_half d; uint8_t qh[4]; uint8_t qs[16]; } pj_blk_q5_0;
typedef struct { pj_half d, m; uint8_t qh[4]; uint8_t qs[16]; } pj_blk_q5_1;
typedef struct { pj_half d; int8_t qs[32]; } pj_blk_q8_0;
typedef struct { uint8_t e; uint8_t qs[16]; } pj_blk_mxfp4;
typedef struct { pj_half d; uint8_t qs[16]; } pj_blk_iq4_nl;
typedef struct { uint8_t scales[16]; uint8_t qs[64]; pj_half d, dmin; } pj_blk_q2_k;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; pj_half d; } pj_blk_q3_k;
typedef struct { pj_half d, dmin; uint8_t scales[12]; uint8_t qs[128]; } pj_blk_q4_k;
typedef struct { pj_half d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } pj_blk_q5_k;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; pj_half d; } pj_blk_q6_k;
typedef struct { pj_half d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } pj_blk_iq4_xs;
typedef struct { pj_half d; uint8_t qs[96]; } pj_blk_iq3_xxs;
typedef struct { pj_half d; uint8_t qs[64]; uint8_t qh[8]; uint8_t signs[32]; uint8_t scales[4]; } pj_blk_iq3_s;
typedef struct { uint8_t qs[32]; uint8_t qh[16]; uint8_t scales[8]; } pj_blk_iq1_m;

_Static_assert(sizeof(pj_blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(pj_blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(pj_blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(pj_blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(pj_blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(pj_blk_mxfp4) == 17, "mxfp4");
_Static_assert(sizeof(pj_blk_iq4_nl) == 18, "iq4_nl");
_Static_assert(sizeof(pj_blk_q2_k) == 84, "q2_k");
_Static_assert(sizeof(pj_blk_q3_k) == 110, "q3_k");
_Static_assert(sizeof(pj_blk_q4_k) == 144, "q4_k");
_Static_assert(sizeof(pj_blk_q5_k) == 176, "q5_k");
_Static_assert(sizeof(pj_blk_q6_k) == 210, "q6_k");
_Static_assert(sizeof(pj_blk_iq4_xs) == 136, "iq4_xs");
_Static_assert(sizeof(pj_blk_iq3_xxs) == 98, "iq3_xxs");
_Static_assert(sizeof(pj_blk_iq3_s) == 110, "iq3_s");
_Static_assert(sizeof(pj_blk_iq1_m) == 56, "iq1_m");

/* the 16 non-linear levels of IQ4_NL / IQ4_XS */
extern const int8_t pj_iq4nl_levels[16];
/* E2M1 levels doubled (MXFP4, NVFP4), and the code nearest to x at half-scale
 * d: the first of equally near ones, so +0 before -0 */
extern const int8_t pj_fp4_levels[16];
static inline uint8_t pj_fp4_nearest(float x, float d)
{
	uint8_t best = 0;
	float best_err = fabsf(pj_fp4_levels[0] * d - x);
	for (int i = 1; i < 16; i++) {
		const float err = fabsf(pj_fp4_levels[i] * d - x);
		if (err < best_err) {
			best = (uint8_t)i;
			best_err = err;
		}
	}
	return best;
}

/* Scale searches shared by several families (q_kquants.c).  Same arithmetic,
 * same order as ggml's make_qx_quants (rmse_type 1: weights qw, or x^2 when
 * qw is NULL) and make_qkx3_quants. */
float pj_make_qx(int n, int nmax, const float *x, int8_t *L, const float *qw);
float pj_make_qkx3(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min,
                   uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad);

/* make_qp_quants: levels in [0, nmax] for the sub-block scales themselves,
 * weighted by the sub-blocks' total weights. */
float pj_make_qp(int n, int nmax, const float *x, uint8_t *L, const float *qw);
/* Q4_K/Q5_K 6-bit scale and min of sub-block j in the 12 scale bytes. */
void pj_put_scale_min_k4(uint8_t *s, int j, uint8_t ls, uint8_t lm);
void pj_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m);

/* IQ4 super-block (shared by IQ4_NL, sb = 32, and IQ4_XS, sb = 256). */
void pj_iq4_superblock(int sb, const float *x, pj_half *dh, uint8_t *q4, uint16_t *scales_h,
                       uint8_t *scales_l, const float *qw);

/* Q2_K / Q3_K super-block steps around the final levels (q_kquants.c, also
 * used by the lane kernels): the stored scales from the 16 sub-block
 * searches' results (sw: the sub-blocks' total importance weights, NULL
 * without them), the signed Q3_K scale of sub-block j, and the packing of
 * the final levels L. */
void pj_q2k_scales(pj_blk_q2_k *y, const float *scales, const float *mins, const float *sw);
void pj_q2k_pack(pj_blk_q2_k *y, const uint8_t *L);
void pj_q3k_scales(pj_blk_q3_k *y, const float *scales, const float *sw);
int pj_q3k_scale(const uint8_t *s, int j);
void pj_q3k_pack(pj_blk_q3_k *y, const int8_t *L);

/* Kernel entry points: one row each. */
typedef void (*pj_qrow_fn)(const float *x, void *y, int64_t n, const float *qw);
typedef void (*pj_dqrow_fn)(const void *x, float *y, int64_t n);

#define PJ_KERNEL(name) \
	void pj_qrow_##name(const float *x, void *y, int64_t n, const float *qw); \
	void pj_dqrow_##name(const void *x, float *y, int64_t n);
PJ_KERNEL(f32)
PJ_KERNEL(f16)
PJ_KERNEL(bf16)
PJ_KERNEL(q4_0)
PJ_KERNEL(q4_1)
PJ_KERNEL(q5_0)
PJ_KERNEL(q5_1)
PJ_KERNEL(q8_0)
PJ_KERNEL(mxfp4)
PJ_KERNEL(iq4_nl)
PJ_KERNEL(iq2_xxs)
PJ_KERNEL(iq2_xs)
PJ_KERNEL(iq2_s)
PJ_KERNEL(iq1_s)
PJ_KERNEL(q2_k)
PJ_KERNEL(q3_k)
PJ_KERNEL(q4_k)
PJ_KERNEL(q5_k)
PJ_KERNEL(q6_k)
PJ_KERNEL(iq4_xs)
PJ_KERNEL(iq3_xxs)
PJ_KERNEL(iq3_s)
PJ_KERNEL(iq1_m)
PJ_KERNEL(tq1_0)
PJ_KERNEL(tq2_0)
PJ_KERNEL(nvfp4)
#undef PJ_KERNEL

/* The same row quantizers, several (sub-)blocks per vector (q_*_x8.c):
 * byte-identical to the scalar ones above, which stay as the reference. */
void pj_qrow_q8_0_x8(const float *x, void *y, int64_t n, const float *qw);
void pj_qrow_q4_k_x8(const float *x, void *y, int64_t n, const float *qw);
void pj_qrow_q5_k_x8(const float *x, void *y, int64_t n, const float *qw);
void pj_qrow_q6_k_x8(const float *x, void *y, int64_t n, const float *qw);
void pj_qrow_q2_k_x8(const float *x, void *y, int64_t n, const float *qw);
void pj_qrow_q3_k_x8(const float *x, void *y, int64_t n, const float *qw);

#endif
