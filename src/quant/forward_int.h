/* forward_int.h - what forward.c and its block files share: the resolved
 * configuration, one layer's weights, and the threaded kernels. */
#ifndef PJ_FORWARD_INT_H
#define PJ_FORWARD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant/forward.h"

/* Architecture flags: everything that differs between families and cannot
 * be read off the tensors present (QK-norm, biases, post-norms, MLA and MoE
 * are detected from the tensors). */
enum {
	FWD_NORM_PLUS1   = 1u << 0,  /* RMSNorm scales by (1 + w), in f32 (Gemma) */
	FWD_EMBED_SCALE  = 1u << 1,  /* embeddings times sqrt(hidden) (Gemma) */
	FWD_ROPE_INTERLEAVE = 1u << 2, /* rotate pairs (2i, 2i+1), not (i, i+d/2) (DeepSeek rope_interleave) */
	FWD_TOPK_NORM    = 1u << 3,  /* always renormalise the top-k weights (Mixtral) */
	FWD_ROUTE_SIGMOID = 1u << 4, /* sigmoid scores, score-correction bias for selection only (DeepSeek-V3) */
	FWD_GELU_TANH    = 1u << 5,  /* default activation gelu_pytorch_tanh (Gemma) */
	FWD_GROUP_TOP2   = 1u << 6,  /* group score = sum of its top-2 (noaux_tc), else its max */
	FWD_QK_PERMUTED  = 1u << 7,  /* GGUF llama: q/k rows in the converter's interleaved rope order */
};

typedef enum { FWD_ACT_SILU, FWD_ACT_GELU_TANH, FWD_ACT_GELU } fwd_act;

typedef struct fwd_rope {
	double theta;
	int type;                 /* FWD_ROPE_* */
	double factor;
	double orig_ctx;          /* original_max_position_embeddings */
	double beta_fast, beta_slow, mscale, mscale_all_dim, attn_factor;
	double low_freq_factor, high_freq_factor;
	bool truncate;
	const float *factors;     /* NULL, or rot/2 divisors of the frequencies (GGUF rope_freqs) */
} fwd_rope;

enum { FWD_ROPE_DEFAULT, FWD_ROPE_LINEAR, FWD_ROPE_YARN, FWD_ROPE_LLAMA3 };

typedef struct fwd_cfg {
	unsigned flags;
	int hidden, n_layers, n_heads, n_kv, head_dim, vocab;
	float eps;
	fwd_act act;
	float embed_scale;        /* 1 unless FWD_EMBED_SCALE */
	float attn_scale;         /* multiplies q.k (standard attention) */
	float mla_scale;          /* ... for MLA layers */
	float attn_softcap, final_softcap;  /* 0: none */
	int rot_dim;              /* rotated dims per head (partial rotary) */
	fwd_rope rope_global, rope_local;
	bool has_local_rope;
	/* MoE */
	int n_experts, top_k, n_group, topk_group;
	bool norm_topk;
	float routed_scale;
	/* MLA */
	int q_lora, kv_lora, nope, rope_dim, v_dim;
	int *window;              /* per layer: sliding window (0: global) */
	float *rope_factors;      /* owns rope_global.factors */
} fwd_cfg;

/* Expert projections, in the order of these indices. */
enum { FWD_EG, FWD_EU, FWD_ED, FWD_NEXP };

/* One layer's weights as f32 (NULL where the layer has no such tensor). */
typedef struct fwd_layer {
	const pj_tensor *t[PJ_ROLE_COUNT];
	float *w[PJ_ROLE_COUNT];
	const pj_tensor *bt[PJ_ROLE_COUNT]; /* bias of that projection, if any */
	float *b[PJ_ROLE_COUNT];
	const pj_tensor **et[FWD_NEXP];   /* per-expert tensors [n_experts], or one stacked */
	float **ew[FWD_NEXP];             /* per-expert matrices [n_experts] */
	float *estack[FWD_NEXP];          /* backing store of a stacked tensor */
	bool stacked[FWD_NEXP];
	int n_experts;
	int32_t *route;                   /* NULL, or [n_tok][top_k]: the selected experts */
	pj_tensor kvb;                    /* GGUF: kv_b rebuilt from attn_k_b + attn_v_b (t[MLA_KV_B]) */
	pj_dtype vd[PJ_ROLE_COUNT];       /* vec_dot type of each weight (PJ_FWD_ACT_LLAMA) */
	pj_dtype evd[FWD_NEXP];           /* ... of the experts (expert 0's) */
} fwd_layer;

#define FWD_SPARE 16

struct pj_fwd {
	pj_model *m;
	fwd_cfg c;
	pj_pool *pool;
	unsigned threads;
	pj_fwd_act act;
	/* rope tables for the last context length asked for */
	float *cs_global, *cs_local;
	size_t cs_ctx;
	/* weight buffers of the last block, reused by the next (forward.c) */
	float *spare[FWD_SPARE];
	size_t spare_n[FWD_SPARE];
};

/* ---- GGUF input (forward_gguf.c) ---------------------------------------------- */

/* The configuration from GGUF metadata (what hf_config reads from config.json). */
pj_status fwd_gguf_config(pj_model *m, fwd_cfg *c, pj_error *err);
/* Brings a loaded layer to the layout the blocks compute with (the Hugging
 * Face one): un-permutes llama's q/k rows, rebuilds MLA's kv_b from
 * attn_k_b/attn_v_b.  A no-op for HF input. */
pj_status fwd_layout_fix(pj_fwd *f, fwd_layer *L, pj_error *err);

/* ---- threaded kernels (forward.c) ------------------------------------------ */

typedef void (*fwd_range_fn)(void *op, size_t i0, size_t i1);
/* Runs fn over [0, n) split in contiguous ranges on the pool. */
void fwd_par_for(pj_fwd *f, size_t n, fwd_range_fn fn, void *op);
/* y[n][out] = x[n][in] . W[out][in]^T (+ bias[out]).  ldy: y's row stride.
 * Each element's summation order is fixed by `in` and the kernel
 * (forward_mm.c), whatever the thread count. */
void fwd_matmul(pj_fwd *f, const float *x, size_t n, size_t in, const float *w, const float *bias, size_t out,
                float *y, size_t ldy);
/* fwd_matmul of x rounded through vec_dot type vd under PJ_FWD_ACT_LLAMA
 * (a rounded copy; F32: none), of x itself otherwise (forward_act.c). */
void fwd_matmul_t(pj_fwd *f, pj_dtype vd, const float *x, size_t n, size_t in, const float *w, const float *bias,
                  size_t out, float *y, size_t ldy);
/* The vec_dot type ggml's CPU backend gives activations multiplied by
 * weights of type w (F32: none). */
pj_dtype fwd_act_vec_dot_type(pj_dtype w);
/* y = x quantized to vd (Q8_K, Q8_0/Q8_1, F16, BF16) and back; y may be x. */
void fwd_act_round_row(pj_dtype vd, const float *x, float *y, size_t n);
/* ggml's reference Q8_K quantization of n values (whole 256-blocks). */
void fwd_act_q8_K(const float *x, int8_t *qs, float *d, size_t n);
/* Keys/values through f16 (the KV cache) under PJ_FWD_ACT_LLAMA. */
void fwd_act_kv(pj_fwd *f, float *x, size_t n);
/* sum a[k] * b[k], in the order of the matmul kernel's accumulators. */
float fwd_dot(const float *a, const float *b, size_t n);
/* y[k] += a * x[k] (fused under AVX2). */
void fwd_axpy(float a, const float *x, float *y, size_t n);
/* The kernel of fwd_matmul/fwd_dot: AVX2+FMA where the CPU has both, else
 * the baseline ISA; PJ_KERNELS=base forces the baseline.  _set returns the
 * previous one (tests run both; AVX2 falls back to base where absent). */
typedef enum { FWD_MM_BASE, FWD_MM_AVX2 } fwd_mm_kernel;
fwd_mm_kernel fwd_mm_kernel_get(void);
fwd_mm_kernel fwd_mm_kernel_set(fwd_mm_kernel k);
/* RMSNorm of n rows of d floats (stride ld), y may equal x. */
void fwd_rmsnorm(pj_fwd *f, const float *x, float *y, size_t n, size_t d, size_t ld, const float *w);
/* Applies rope to rot dims at `off` of each of nh head vectors (stride hs)
 * of each token row (stride ld); token t is at position t % n_ctx. */
void fwd_rope_apply(pj_fwd *f, float *x, size_t n_tok, size_t n_ctx, size_t ld, int nh, size_t hs, size_t off,
                    const float *cs, int rot);
/* cos/sin table [n_ctx][rot/2][2] for a rope configuration. */
float *fwd_rope_table(const fwd_rope *r, int rot, size_t n_ctx);
/* y = act(g) * u, elementwise, n values. */
void fwd_glu(pj_fwd *f, const float *g, const float *u, float *y, size_t n);

typedef struct fwd_attn {
	const float *q, *k, *v;
	float *out;
	size_t n_seq, n_ctx;
	int n_heads, n_kv, qk_dim, v_dim;
	size_t q_ld, k_ld, v_ld, out_ld;   /* row strides (per token) */
	int window;                        /* 0: causal over the whole sequence */
	float scale, softcap;
} fwd_attn;
void fwd_attention(pj_fwd *f, const fwd_attn *a);

/* ---- blocks ------------------------------------------------------------------ */

/* Attention sub-block: out[n_tok][hidden] from the normed input h. */
pj_status fwd_attn_block(pj_fwd *f, const fwd_layer *L, int layer, const float *h, size_t n_seq, size_t n_ctx,
                         const float *rope_cs, float *out, pj_error *err);
/* FFN sub-block (dense, or MoE with optional shared experts). */
pj_status fwd_ffn_block(pj_fwd *f, const fwd_layer *L, const float *h, size_t n_tok, float *out, pj_error *err);

#endif
