/* forward_act.c - `--act llama`: the activation rounding of llama.cpp's CPU
 * matmuls, applied to a copy of a matmul's input rows.
 *
 * ggml's CPU backend converts the activations of a matmul to the "vec_dot
 * type" of the weight's type (ggml-cpu.c, type_traits_cpu[].vec_dot_type)
 * and multiplies those: Q8_K for the k-quants, IQ2/IQ3/IQ1/IQ4_XS and the
 * ternary types, Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4/NVFP4/Q1_0, Q8_1 for
 * Q4_1/Q5_1, BF16 for BF16, F16 for F16; F32 weights take f32.  Here each
 * row is quantized to that type and dequantized again; the matmul kernel is
 * unchanged.  Facts from ggml; the code is ours. */
#include "config.h"
#include "quant/forward_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/fp16.h"
#include "quant/q_common.h"

pj_dtype fwd_act_vec_dot_type(pj_dtype w)
{
	switch (w) {
	case PJ_DT_F16:
		return PJ_DT_F16;
	case PJ_DT_BF16:
		return PJ_DT_BF16;
	case PJ_DT_Q4_0: case PJ_DT_Q5_0: case PJ_DT_Q8_0: case PJ_DT_IQ4_NL:
	case PJ_DT_MXFP4: case PJ_DT_NVFP4: case PJ_DT_Q1_0:
		return PJ_DT_Q8_0;
	case PJ_DT_Q4_1: case PJ_DT_Q5_1: case PJ_DT_Q8_1:
		return PJ_DT_Q8_1;
	case PJ_DT_Q2_K: case PJ_DT_Q3_K: case PJ_DT_Q4_K: case PJ_DT_Q5_K: case PJ_DT_Q6_K:
	case PJ_DT_IQ2_XXS: case PJ_DT_IQ2_XS: case PJ_DT_IQ2_S: case PJ_DT_IQ3_XXS: case PJ_DT_IQ3_S:
	case PJ_DT_IQ1_S: case PJ_DT_IQ1_M: case PJ_DT_IQ4_XS: case PJ_DT_TQ1_0: case PJ_DT_TQ2_0:
		return PJ_DT_Q8_K;
	default:
		return PJ_DT_F32;
	}
}

/* Q8_K as ggml's reference quantize_row_q8_K (which the x86 build calls):
 * the scale comes from the signed value of largest magnitude, -127/max, so
 * that value maps to -127 and the opposite extreme may reach 128 (clamped
 * to 127); d = 1/iscale is kept in f32. */
void fwd_act_q8_K(const float *x, int8_t *qs, float *d, size_t n)
{
	for (size_t b = 0; b + 256 <= n; b += 256) {
		float amax = 0, max = 0;
		for (size_t j = b; j < b + 256; j++)
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		if (amax == 0) {
			d[b / 256] = 0;
			memset(qs + b, 0, 256);
			continue;
		}
		const float iscale = -127.f / max;
		for (size_t j = b; j < b + 256; j++) {
			const int v = pj_nearest_int(iscale * x[j]);
			qs[j] = (int8_t)(v < 127 ? v : 127);
		}
		d[b / 256] = 1 / iscale;
	}
}

/* Q8_0 and Q8_1 as the x86 AVX2 quantize_row_q8_0/_1 the peer runs (the
 * scalar reference differs: id = 1/d and roundf): id = 127/amax, ties to
 * even, the scale stored as f16.  Q8_1's sum term only matters to Q4_1/Q5_1
 * dot products and is not modelled. */
static void round_q8_0(const float *x, float *y, size_t n)
{
	for (size_t b = 0; b + 32 <= n; b += 32) {
		float amax = 0;
		for (size_t j = b; j < b + 32; j++)
			amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
		const float id = amax != 0 ? 127.f / amax : 0;
		const float d = pj_h2f(pj_f2h(amax / 127.f));
		for (size_t j = b; j < b + 32; j++)
			y[j] = (float)pj_nearest_int(x[j] * id) * d;
	}
}

static void round_q8_K(const float *x, float *y, size_t n)
{
	int8_t qs[256];
	float d;
	for (size_t b = 0; b + 256 <= n; b += 256) {
		fwd_act_q8_K(x + b, qs, &d, 256);
		for (size_t j = 0; j < 256; j++)
			y[b + j] = d * (float)qs[j];
	}
}

void fwd_act_round_row(pj_dtype vd, const float *x, float *y, size_t n)
{
	size_t blk = 1;
	switch (vd) {
	case PJ_DT_F16:
		for (size_t j = 0; j < n; j++)
			y[j] = pj_fp16_to_fp32(pj_fp32_to_fp16(x[j]));
		return;
	case PJ_DT_BF16:
		for (size_t j = 0; j < n; j++)
			y[j] = pj_bf16_to_fp32(pj_fp32_to_bf16(x[j]));
		return;
	case PJ_DT_Q8_0: case PJ_DT_Q8_1:
		blk = 32;
		break;
	case PJ_DT_Q8_K:
		blk = 256;
		break;
	default:
		break;
	}
	/* a weight of a block type always has whole blocks per row */
	if (blk == 1 || n % blk) {
		memmove(y, x, sizeof(float) * n);
		return;
	}
	if (blk == 32)
		round_q8_0(x, y, n);
	else
		round_q8_K(x, y, n);
}

typedef struct act_op {
	pj_dtype vd;
	const float *x;
	float *y;
	size_t in;
} act_op;

static void act_range(void *arg, size_t i0, size_t i1)
{
	const act_op *o = arg;
	for (size_t i = i0; i < i1; i++)
		fwd_act_round_row(o->vd, o->x + i * o->in, o->y + i * o->in, o->in);
}

void fwd_matmul_t(pj_fwd *f, pj_dtype vd, const float *x, size_t n, size_t in, const float *w, const float *bias,
                  size_t out, float *y, size_t ldy)
{
	if (f->act != PJ_FWD_ACT_LLAMA || vd == PJ_DT_F32 || !n) {
		fwd_matmul(f, x, n, in, w, bias, out, y, ldy);
		return;
	}
	act_op o = { vd, x, pj_xmalloc(sizeof(float) * n * in), in };
	fwd_par_for(f, n, act_range, &o);
	fwd_matmul(f, o.y, n, in, w, bias, out, y, ldy);
	free(o.y);
}

void fwd_act_kv(pj_fwd *f, float *x, size_t n)
{
	if (f->act == PJ_FWD_ACT_LLAMA)
		fwd_act_round_row(PJ_DT_F16, x, x, n);
}
