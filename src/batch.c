/* batch.c - the --batch --pure path: plan one type for every quantizable
 * tensor the way llama-quantize --pure does, then stream the GGUF out.
 *
 * The rules are llama.cpp's (src/llama-quant.cpp, read for facts): which
 * tensors are never quantized, the per-type shape fallback when a row is not
 * a multiple of the block, which tensors need an importance matrix, the
 * ftype numbers written to general.file_type, the tensor order of the output
 * (llama_model_loader's weights_map: layer number, then name) and the
 * metadata edits.  Following them to the letter is what makes our file equal
 * llama-quantize's byte for byte. */
#include "config.h"
#include "batch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "model/model.h"
#include "quant/convert.h"
#include "quant/imatrix.h"
#include "quant/qtypes.h"
#include "report/gguf_write.h"
#include "report/hf2gguf.h"

/* ---- tables ---------------------------------------------------------------- */

/* llama-quantize's type names -> llama_ftype value (general.file_type) and
 * the tensor type that ftype's --pure run writes (llama_ftype_get_default_type).
 * "Q3_K"/"Q4_K"/"Q5_K" are llama-quantize's aliases for the _M mixes. */
#define PJ_FTYPES(X)                                   \
	X("F32",       0,  F32)     X("F16",      1,  F16)  \
	X("BF16",      32, BF16)    X("Q4_0",     2,  Q4_0) \
	X("Q4_1",      3,  Q4_1)    X("Q5_0",     8,  Q5_0) \
	X("Q5_1",      9,  Q5_1)    X("Q8_0",     7,  Q8_0) \
	X("Q2_K",      10, Q2_K)    X("Q2_K_S",   21, Q2_K) \
	X("Q3_K_S",    11, Q3_K)    X("Q3_K_M",   12, Q3_K) \
	X("Q3_K_L",    13, Q3_K)    X("Q3_K",     12, Q3_K) \
	X("Q4_K_S",    14, Q4_K)    X("Q4_K_M",   15, Q4_K) \
	X("Q4_K",      15, Q4_K)    X("Q5_K_S",   16, Q5_K) \
	X("Q5_K_M",    17, Q5_K)    X("Q5_K",     17, Q5_K) \
	X("Q6_K",      18, Q6_K)    X("IQ2_XXS",  19, IQ2_XXS) \
	X("IQ2_XS",    20, IQ2_XS)  X("IQ2_S",    28, IQ2_XS) \
	X("IQ2_M",     29, IQ2_S)   X("IQ3_XS",   22, IQ3_S) \
	X("IQ3_XXS",   23, IQ3_XXS) X("IQ3_S",    26, IQ3_S) \
	X("IQ3_M",     27, IQ3_S)   X("IQ1_S",    24, IQ1_S) \
	X("IQ1_M",     31, IQ1_M)   X("IQ4_NL",   25, IQ4_NL) \
	X("IQ4_XS",    30, IQ4_XS)  X("TQ1_0",    36, TQ1_0) \
	X("TQ2_0",     37, TQ2_0)   X("MXFP4_MOE", 38, MXFP4)

typedef struct ftype_info {
	const char *name;
	unsigned ftype;
	pj_dtype type;
} ftype_info;

static const ftype_info FTYPES[] = {
#define PJ_FT_ROW(n, v, t) { n, v, PJ_DT_##t },
	PJ_FTYPES(PJ_FT_ROW)
#undef PJ_FT_ROW
};
#define LLAMA_FTYPE_MOSTLY_Q2_K_S 21

/* Tensors llama.cpp never quantizes (tensor_allows_quantization): they are
 * copied in their source type.  Besides these: tensors of fewer than two
 * (non-trivial) dimensions and names not ending in "weight". */
typedef enum { M_SUBSTR, M_EXACT } match_kind;
static const struct keep_rule {
	match_kind how;
	const char *text;
	const char *why;
} KEEP[] = {
	{ M_SUBSTR, "_norm.weight",             "norm" },
	{ M_SUBSTR, "ffn_gate_inp.weight",      "expert router" },
	{ M_SUBSTR, "ffn_gate_tid2eid.weight",  "token-to-expert table" },
	{ M_SUBSTR, "altup",                    "tiny (altup)" },
	{ M_SUBSTR, "laurel",                   "tiny (laurel)" },
	{ M_SUBSTR, "per_layer_model_proj",     "small projection" },
	{ M_EXACT,  "position_embd.weight",     "position embedding" },
	{ M_EXACT,  "token_types.weight",       "token types" },
	{ M_SUBSTR, "ssm_conv1d",               "SSM conv1d" },
	{ M_SUBSTR, "shortconv.conv.weight",    "short conv" },
	{ M_SUBSTR, "indexer.k_proj.weight",    "tiny indexer" },
	{ M_SUBSTR, "indexer.q_proj.weight",    "tiny indexer" },
	{ M_SUBSTR, "time_mix_first.weight",    "RWKV" },
	{ M_SUBSTR, "time_mix_w0.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_w1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_w2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_v0.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_v1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_v2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_a0.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_a1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_a2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_g1.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_g2.weight",       "RWKV" },
	{ M_SUBSTR, "time_mix_decay_w1.weight", "RWKV" },
	{ M_SUBSTR, "time_mix_decay_w2.weight", "RWKV" },
	{ M_SUBSTR, "time_mix_lerp_fused.weight", "RWKV" },
	{ M_SUBSTR, "attn_rel_b.weight",        "relative position bias" },
	{ M_SUBSTR, ".position_embd",           "vision position embedding" },
	{ M_SUBSTR, "sam.pos_embd",             "vision" },
	{ M_SUBSTR, "sam.neck.",                "vision" },
	{ M_SUBSTR, "sam.net_",                 "vision" },
	{ M_SUBSTR, ".rel_pos",                 "vision" },
	{ M_SUBSTR, ".patch_embd",              "vision patch embedding" },
	{ M_SUBSTR, ".patch_merger",            "vision patch merger" },
	{ M_SUBSTR, "a.rvq.codebook",           "audio codebook" },
	{ M_SUBSTR, "mm.a.code_embd",           "audio codebook" },
};

/* Shape fallback (tensor_type_fallback): when a row is not a multiple of the
 * target's block, the type on the right; if that does not fit either, F16. */
static const struct { pj_dtype from, to; } FALLBACK[] = {
	{ PJ_DT_IQ1_S, PJ_DT_IQ4_NL },   { PJ_DT_IQ1_M, PJ_DT_IQ4_NL },  { PJ_DT_IQ2_XXS, PJ_DT_IQ4_NL },
	{ PJ_DT_IQ2_XS, PJ_DT_IQ4_NL },  { PJ_DT_IQ2_S, PJ_DT_IQ4_NL },  { PJ_DT_IQ3_XXS, PJ_DT_IQ4_NL },
	{ PJ_DT_IQ3_S, PJ_DT_IQ4_NL },   { PJ_DT_IQ4_XS, PJ_DT_IQ4_NL },
	{ PJ_DT_Q2_K, PJ_DT_Q4_0 },      { PJ_DT_Q3_K, PJ_DT_Q4_0 },     { PJ_DT_TQ1_0, PJ_DT_Q4_0 },
	{ PJ_DT_TQ2_0, PJ_DT_Q4_0 },     { PJ_DT_Q4_K, PJ_DT_Q5_0 },     { PJ_DT_Q5_K, PJ_DT_Q5_1 },
	{ PJ_DT_Q6_K, PJ_DT_Q8_0 },
};

/* Types llama.cpp refuses to write without importance weights
 * (tensor_requires_imatrix); Q2_K only inside a Q2_K_S file.  token_embd
 * and output are exempt (they never get imatrix data). */
static const pj_dtype NEEDS_IMATRIX[] = {
	PJ_DT_IQ3_XXS, PJ_DT_IQ2_XXS, PJ_DT_IQ2_XS, PJ_DT_IQ2_S, PJ_DT_IQ1_M, PJ_DT_IQ1_S,
};

/* Metadata llama-quantize drops (a single output file). */
static const char *const DROP_KEYS[] = { "split.no", "split.count", "split.tensors.count", NULL };

/* ---- planning ---------------------------------------------------------------- */

typedef struct plan_t {
	const pj_tensor *src;
	int n_dims;            /* ggml_n_dims: trailing 1s do not count */
	int64_t nmat;          /* stacked matrices (ne[2] * ne[3]) */
	pj_dtype type;
	bool quantize;         /* type != source type */
	bool fell_back;
	bool needs_imatrix;
	const char *kept;      /* why it is copied (NULL when quantizable) */
} plan_t;

static const ftype_info *ftype_find(const char *name)
{
	for (size_t i = 0; i < sizeof FTYPES / sizeof FTYPES[0]; i++)
		if (strcasecmp(FTYPES[i].name, name) == 0)
			return &FTYPES[i];
	return NULL;
}

static int ggml_n_dims(const pj_tensor *t)
{
	for (int d = PJ_MAX_DIMS - 1; d >= 1; d--)
		if (t->ne[d] > 1)
			return d + 1;
	return 1;
}

static const char *keep_reason(const pj_tensor *t, int n_dims)
{
	if (n_dims < 2)
		return "1-D";
	const size_t n = strlen(t->name);
	if (n < 6 || strcmp(t->name + n - 6, "weight") != 0)
		return "not a weight";
	for (size_t i = 0; i < sizeof KEEP / sizeof KEEP[0]; i++) {
		const struct keep_rule *k = &KEEP[i];
		if (k->how == M_EXACT ? strcmp(t->name, k->text) == 0 : strstr(t->name, k->text) != NULL)
			return k->why;
	}
	return NULL;
}

static bool fallback_of(pj_dtype t, pj_dtype *out)
{
	for (size_t i = 0; i < sizeof FALLBACK / sizeof FALLBACK[0]; i++)
		if (FALLBACK[i].from == t) {
			*out = FALLBACK[i].to;
			return true;
		}
	return false;
}

static bool is_embd_or_output(const char *name)
{
	return strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0 ||
	       strcmp(name, "output.weight") == 0;
}

static bool needs_imatrix(const char *name, pj_dtype t, unsigned ftype)
{
	if (is_embd_or_output(name))
		return false;
	if (t == PJ_DT_Q2_K)
		return ftype == LLAMA_FTYPE_MOSTLY_Q2_K_S;
	for (size_t i = 0; i < sizeof NEEDS_IMATRIX / sizeof NEEDS_IMATRIX[0]; i++)
		if (NEEDS_IMATRIX[i] == t)
			return true;
	return false;
}

static pj_status plan_tensor(const pj_tensor *t, const ftype_info *ft, plan_t *p, pj_error *err)
{
	memset(p, 0, sizeof *p);
	p->src = t;
	p->n_dims = ggml_n_dims(t);
	p->nmat = t->ne[2] * t->ne[3];
	p->kept = keep_reason(t, p->n_dims);
	p->type = t->dtype;
	if (!p->kept) {
		p->type = ft->type;
		const pj_dtype_info *di = pj_dtype_info_of(ft->type);
		if (di->quantized && t->ne[0] % di->block) {
			pj_dtype fb;
			if (!fallback_of(ft->type, &fb))
				return pj_fail(err, PJ_EUNSUPPORTED,
				               "%s: rows of %lld are not a multiple of %u and %s has no fallback type", t->name,
				               (long long)t->ne[0], di->block, di->name);
			if (t->ne[0] % pj_dtype_info_of(fb)->block)
				fb = PJ_DT_F16;   /* llama.cpp: "must use F16 due to unusual shape" */
			p->type = fb;
			p->fell_back = true;
		}
		p->needs_imatrix = needs_imatrix(t->name, p->type, ft->ftype);
	}
	p->quantize = p->type != t->dtype;
	if (p->quantize && !pj_qtype_supported(p->type))
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: no %s kernel yet", t->name, pj_dtype_name(p->type));
	if (p->quantize && !pj_convert_rows_supported(t->dtype))
		return pj_fail(err, PJ_EUNSUPPORTED, "%s: cannot read %s source data", t->name, pj_dtype_name(t->dtype));
	return PJ_OK;
}

/* llama_model_loader's weights_map order: layer number ("blk.N."; others
 * first, as -1), then name. */
static int layer_of(const char *name)
{
	int l = -1;
	if (sscanf(name, "blk.%d.", &l) != 1)
		l = -1;
	return l;
}

static int plan_cmp(const void *a, const void *b)
{
	const char *x = ((const plan_t *)a)->src->name, *y = ((const plan_t *)b)->src->name;
	int lx = layer_of(x), ly = layer_of(y);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* ---- signals ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	pj_gguf_write_signal_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int CAUGHT[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void signals_install(struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof CAUGHT / sizeof CAUGHT[0]; i++)
		sigaction(CAUGHT[i], &sa, &old[i]);
	/* a file size limit must fail write() with EFBIG, not kill us mid-file */
	signal(SIGXFSZ, SIG_IGN);
}

static void signals_restore(const struct sigaction *old)
{
	for (size_t i = 0; i < sizeof CAUGHT / sizeof CAUGHT[0]; i++)
		sigaction(CAUGHT[i], &old[i], NULL);
}

/* ---- the run ---------------------------------------------------------------------- */

typedef struct run {
	const pj_batch_opts *o;
	const ftype_info *ft;
	pj_model *m;
	pj_imatrix im;
	bool have_im;
	pj_hf2gguf *hf;        /* HF input: the converter's GGUF, computed */
	bool hf_converter;     /* --pure F32/F16/BF16 from HF: exactly the converter's file */
	plan_t *p;
	size_t n;
	bool tty;
} run;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *msg, int rc)
{
	fprintf(stderr, "pajamas-tui: %s\n", msg);
	return rc;
}

/* Importance weights need data and a kernel that uses them. */
static bool takes_imatrix(const plan_t *p)
{
	const pj_qtype *q = pj_qtype_get(p->type);
	return p->quantize && q && q->block > 1;
}

static void report_coverage(run *r)
{
	pj_imatrix_query *q = pj_xcalloc(r->n ? r->n : 1, sizeof *q);
	size_t nq = 0;
	for (size_t i = 0; i < r->n; i++) {
		const plan_t *p = &r->p[i];
		/* token_embd is a lookup, never a matmul input: llama-imatrix has no data for it */
		if (takes_imatrix(p) && strcmp(p->src->name, "token_embd.weight") != 0)
			q[nq++] = (pj_imatrix_query){ p->src->name, p->src->ne[0], p->nmat };
	}
	pj_imatrix_coverage c;
	pj_imatrix_coverage_of(&r->im, q, nq, &c);
	free(q);
	fprintf(stderr, "pajamas-tui: imatrix %s: %zu entries, data for %zu of %zu tensors\n", r->o->imatrix, r->im.n,
	        c.n_found, c.n_wanted);
	for (size_t i = 0; i < c.n_missing; i++)
		fprintf(stderr, "pajamas-tui: warning: imatrix has no data for %s: quantized unweighted\n", c.missing[i]);
	for (size_t i = 0; i < c.n_zero; i++)
		fprintf(stderr, "pajamas-tui: warning: %s expert %lld saw no calibration input%s: uniform weights\n",
		        c.zero[i].tensor, (long long)c.zero[i].expert, c.zero_inferred ? " (all-1.0 slice in the .dat)" : "");
	pj_imatrix_coverage_free(&c);
}

/* HF input: each matrix comes from the converter's recipe (hf2gguf.h) as
 * the f32 values its file would hold, then goes the same way. */
static pj_status write_tensor_hf(run *r, pj_gguf_writer *w, const plan_t *p, float **f32, size_t *f32_cap,
                                 uint8_t **q, size_t *q_cap, pj_error *err)
{
	const pj_tensor *t = p->src;
	const size_t idx = (size_t)(t - pj_hf2gguf_catalog(r->hf)->t);
	const int64_t ne0 = t->ne[0], rows = pj_tensor_nrows(t) / p->nmat;
	const size_t row_size = pj_qtype_row_size(p->type, ne0), nf = (size_t)(ne0 * rows);
	if (*f32_cap < nf) {
		free(*f32);
		*f32 = pj_xmalloc(nf * sizeof(float));
		*f32_cap = nf;
	}
	if (*q_cap < row_size * (size_t)rows) {
		free(*q);
		*q_cap = row_size * (size_t)rows;
		*q = pj_xmalloc(*q_cap);
	}
	for (int64_t m = 0; m < p->nmat; m++) {
		pj_status st = pj_hf2gguf_read_mat(r->hf, idx, m, *f32, err);
		const float *imw = NULL;
		if (!st && r->have_im && takes_imatrix(p))
			st = pj_imatrix_weights(&r->im, t->name, ne0, t->ne[2], m % t->ne[2], &imw, err);
		if (!st)
			st = pj_quantize_rows(p->type, *f32, *q, rows, ne0, imw, (unsigned)r->o->threads, t->name, err);
		if (!st)
			st = pj_gguf_write_data(w, *q, row_size * (size_t)rows, err);
		if (st)
			return st;
	}
	return PJ_OK;
}

/* Decodes, quantizes and writes one tensor, one stacked matrix at a time. */
static pj_status write_tensor(run *r, pj_gguf_writer *w, const plan_t *p, float **f32, size_t *f32_cap,
                              uint8_t **q, size_t *q_cap, pj_error *err)
{
	const pj_tensor *t = p->src;
	if (r->hf)
		return write_tensor_hf(r, w, p, f32, f32_cap, q, q_cap, err);
	const uint8_t *data = pj_catalog_data(&r->m->cat, t, err);
	if (!data)
		return err->code ? err->code : PJ_EIO;
	if (!p->quantize)
		return pj_gguf_write_data(w, data, (size_t)t->nbytes, err);
	const int64_t ne0 = t->ne[0], rows = pj_tensor_nrows(t) / p->nmat;
	const size_t in_mat = (size_t)(t->nbytes / (uint64_t)p->nmat);
	const size_t row_size = pj_qtype_row_size(p->type, ne0);
	const size_t nf = (size_t)(ne0 * rows);
	if (*f32_cap < nf) {
		free(*f32);
		*f32 = pj_xmalloc(nf * sizeof(float));
		*f32_cap = nf;
	}
	if (*q_cap < row_size * (size_t)rows) {
		free(*q);
		*q_cap = row_size * (size_t)rows;
		*q = pj_xmalloc(*q_cap);
	}
	for (int64_t m = 0; m < p->nmat; m++) {
		pj_status st = pj_convert_rows_f32(t->dtype, data + (size_t)m * in_mat, *f32, rows, ne0, t->name, err);
		const float *imw = NULL;
		if (!st && r->have_im && takes_imatrix(p))
			st = pj_imatrix_weights(&r->im, t->name, ne0, t->ne[2], m % t->ne[2], &imw, err);
		if (!st)
			st = pj_quantize_rows(p->type, *f32, *q, rows, ne0, imw, (unsigned)r->o->threads, t->name, err);
		if (!st)
			st = pj_gguf_write_data(w, *q, row_size * (size_t)rows, err);
		if (st)
			return st;
	}
	return PJ_OK;
}

static int plan_all(run *r, pj_error *err)
{
	const pj_catalog *cat = r->hf ? pj_hf2gguf_catalog(r->hf) : &r->m->cat;
	r->n = cat->n;
	r->p = pj_xcalloc(r->n ? r->n : 1, sizeof *r->p);
	for (size_t i = 0; i < r->n; i++)
		if (plan_tensor(&cat->t[i], r->ft, &r->p[i], err) != PJ_OK)
			return fail(err->msg, PJ_EXIT_MODEL);
	if (!r->hf_converter)   /* the converter's own order otherwise */
		qsort(r->p, r->n, sizeof *r->p, plan_cmp);

	/* Refuse before writing anything, as llama-quantize does. */
	for (size_t i = 0; i < r->n; i++) {
		const plan_t *p = &r->p[i];
		if (!p->needs_imatrix)
			continue;
		char msg[1400];
		if (!r->have_im) {
			snprintf(msg, sizeof msg,
			         "%s requires an importance matrix (--imatrix FILE): tensor %s would be %s "
			         "without one (llama-quantize refuses this too)",
			         r->ft->name, p->src->name, pj_dtype_name(p->type));
			return fail(msg, PJ_EXIT_USAGE);
		}
		const float *w = NULL;
		if (pj_imatrix_weights(&r->im, p->src->name, p->src->ne[0], p->src->ne[2], 0, &w, err) != PJ_OK)
			return fail(err->msg, PJ_EXIT_MODEL);
		if (!w) {
			snprintf(msg, sizeof msg, "%s: no importance data for %s, which %s needs (llama-quantize refuses too)",
			         r->o->imatrix, p->src->name, pj_dtype_name(p->type));
			return fail(msg, PJ_EXIT_MODEL);
		}
	}
	/* Any other size mismatch is fatal in llama-quantize too: check it now. */
	for (size_t i = 0; r->have_im && i < r->n; i++) {
		const float *w;
		const plan_t *p = &r->p[i];
		if (takes_imatrix(p) &&
		    pj_imatrix_weights(&r->im, p->src->name, p->src->ne[0], p->src->ne[2], 0, &w, err) != PJ_OK)
			return fail(err->msg, PJ_EXIT_MODEL);
	}
	return PJ_EXIT_OK;
}

static int write_all(run *r, pj_error *err)
{
	pj_gguf_wtensor *wt = pj_xcalloc(r->n ? r->n : 1, sizeof *wt);
	for (size_t i = 0; i < r->n; i++) {
		const plan_t *p = &r->p[i];
		wt[i].name = p->src->name;
		wt[i].n_dims = p->n_dims;
		for (int d = 0; d < 4; d++)
			wt[i].ne[d] = p->src->ne[d];
		wt[i].type = p->type;
		uint64_t nb = 0;
		pj_dtype_bytes(p->type, (uint64_t)pj_tensor_nelem(p->src), &nb);
		wt[i].nbytes = nb;
	}
	/* llama-quantize: quantization_version, file_type, then the --imatrix
	 * overrides; strings cut at 127 bytes like its kv override buffer. */
	char file127[128] = "", ds127[128] = "";
	pj_gguf_wkv set[6];
	size_t ns = 0;
	set[ns++] = (pj_gguf_wkv){ .key = "general.quantization_version", .type = PJ_GGUF_UINT32, .u = 2 };
	set[ns++] = (pj_gguf_wkv){ .key = "general.file_type", .type = PJ_GGUF_UINT32, .u = r->ft->ftype };
	if (r->have_im) {
		snprintf(file127, sizeof file127, "%s", r->o->imatrix);
		set[ns++] = (pj_gguf_wkv){ .key = "quantize.imatrix.file", .type = PJ_GGUF_STRING, .s = file127 };
		if (r->im.n_datasets) {
			snprintf(ds127, sizeof ds127, "%s", r->im.datasets[0]);
			set[ns++] = (pj_gguf_wkv){ .key = "quantize.imatrix.dataset", .type = PJ_GGUF_STRING, .s = ds127 };
		}
		set[ns++] = (pj_gguf_wkv){ .key = "quantize.imatrix.entries_count", .type = PJ_GGUF_UINT32, .u = r->im.n };
		if (r->im.chunk_count > 0)
			set[ns++] = (pj_gguf_wkv){ .key = "quantize.imatrix.chunks_count", .type = PJ_GGUF_UINT32,
			                           .u = r->im.chunk_count };
	}
	pj_gguf_wspec spec = { .src = r->m->gguf, .drop = DROP_KEYS, .set = set, .n_set = ns, .t = wt, .n_t = r->n };
	pj_gguf_wkv *hkv = NULL;
	if (r->hf) {
		/* the converter's metadata; edited as llama-quantize edits it
		 * (its keys removed, then appended) unless this is the converter's
		 * own output type */
		size_t nh, k = 0;
		const pj_gguf_wkv *h = pj_hf2gguf_kv(r->hf, &nh);
		hkv = pj_xcalloc(nh + ns, sizeof *hkv);
		for (size_t i = 0; i < nh; i++) {
			bool edited = false;
			for (size_t j = 0; j < ns && !r->hf_converter; j++)
				edited |= strcmp(h[i].key, set[j].key) == 0;
			if (!edited)
				hkv[k++] = h[i];
		}
		for (size_t j = 0; j < ns && !r->hf_converter; j++)
			hkv[k++] = set[j];
		spec.set = hkv;
		spec.n_set = k;
	}
	pj_gguf_writer *w;
	pj_status st = pj_gguf_write_begin(&w, r->o->output, &spec, err);
	free(wt);
	free(hkv);
	if (st)
		return fail(err->msg, st == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_RUNTIME);

	const double t0 = now_s();
	uint64_t in_bytes = 0, n_el = 0;
	size_t n_requant = 0, n_fallback = 0;
	float *f32 = NULL;
	uint8_t *q = NULL;
	size_t f32_cap = 0, q_cap = 0;
	for (size_t i = 0; i < r->n && !st; i++) {
		const plan_t *p = &r->p[i];
		in_bytes += p->src->nbytes;
		n_el += (uint64_t)pj_tensor_nelem(p->src);
		n_fallback += p->fell_back;
		if (p->quantize && pj_convert_is_requant(p->src->dtype)) {
			n_requant++;
			fprintf(stderr, "%spajamas-tui: warning: requantizing %s from %s to %s loses quality\n",
			        r->tty ? "\r\033[K" : "", p->src->name, pj_dtype_name(p->src->dtype), pj_dtype_name(p->type));
		}
		if (r->tty) {
			fprintf(stderr, "\r\033[K[%4zu/%4zu] %-40s %-7s -> %s", i + 1, r->n, p->src->name,
			        pj_dtype_name(p->src->dtype), pj_dtype_name(p->type));
			fflush(stderr);
		}
		st = write_tensor(r, w, p, &f32, &f32_cap, &q, &q_cap, err);
	}
	free(f32);
	free(q);
	if (r->tty)
		fputs("\r\033[K", stderr);
	const uint64_t out_bytes = pj_gguf_write_file_size(w);
	if (st) {
		pj_gguf_write_abort(w);
		fprintf(stderr, "pajamas-tui: %s; no output written\n", err->msg);
		return st == PJ_EIO ? PJ_EXIT_RUNTIME : PJ_EXIT_MODEL;
	}
	if ((st = pj_gguf_write_commit(w, err)) != PJ_OK)
		return fail(err->msg, PJ_EXIT_RUNTIME);
	fprintf(stderr,
	        "pajamas-tui: wrote %s: %zu tensors as %s (pure), %.2f MiB -> %.2f MiB, %.2f bpw, "
	        "%zu shape fallbacks, %zu requantized, %.2f s\n",
	        r->o->output, r->n, r->ft->name, in_bytes / 1048576.0, out_bytes / 1048576.0,
	        n_el ? out_bytes * 8.0 / (double)n_el : 0.0, n_fallback, n_requant, now_s() - t0);
	return PJ_EXIT_OK;
}

int pj_batch_main(const pj_batch_opts *o)
{
	char msg[1400];
	if (!o->pure)
		return fail("--batch needs --pure TYPE (presets and plan files come later)", PJ_EXIT_USAGE);
	if (!o->output)
		return fail("--batch needs -o OUT.gguf", PJ_EXIT_USAGE);
	run r = { .o = o, .tty = isatty(STDERR_FILENO) == 1 };
	r.ft = ftype_find(o->pure);
	if (!r.ft) {
		int k = snprintf(msg, sizeof msg, "--pure: unknown type '%s'; one of:", o->pure);
		for (size_t i = 0; i < sizeof FTYPES / sizeof FTYPES[0] && k < (int)sizeof msg - 16; i++)
			if (pj_qtype_supported(FTYPES[i].type))
				k += snprintf(msg + k, sizeof msg - (size_t)k, " %s", FTYPES[i].name);
		return fail(msg, PJ_EXIT_USAGE);
	}
	if (!pj_qtype_supported(r.ft->type)) {
		snprintf(msg, sizeof msg, "--pure %s: no %s kernel yet", r.ft->name, pj_dtype_name(r.ft->type));
		return fail(msg, PJ_EXIT_USAGE);
	}

	pj_error err = { 0 };
	if (pj_model_open(o->model, &r.m, &err) != PJ_OK)
		return fail(err.msg, err.code == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
	int rc = PJ_EXIT_OK;
	if (r.m->format != PJ_FMT_GGUF) {
		/* HF input: what convert_hf_to_gguf.py would write (--outtype of
		 * the pure type when it is F32/F16/BF16, else auto), then the same
		 * plan as for that GGUF */
		const pj_dtype t = r.ft->type;
		r.hf_converter = t == PJ_DT_F32 || t == PJ_DT_F16 || t == PJ_DT_BF16;
		if (pj_hf2gguf_open(r.m, r.hf_converter ? t : PJ_DT_COUNT, &r.hf, &err) != PJ_OK) {
			rc = fail(err.msg, err.code == PJ_EUNSUPPORTED ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
			goto out;
		}
	}
	if (o->imatrix) {
		if (pj_imatrix_load(o->imatrix, &r.im, &err) != PJ_OK) {
			rc = fail(err.msg, PJ_EXIT_MODEL);
			goto out;
		}
		r.have_im = true;
	}
	if ((rc = plan_all(&r, &err)) != PJ_EXIT_OK)
		goto out;
	if (r.have_im)
		report_coverage(&r);

	struct sigaction old[sizeof CAUGHT / sizeof CAUGHT[0]];
	signals_install(old);
	rc = write_all(&r, &err);
	signals_restore(old);
out:
	free(r.p);
	pj_hf2gguf_free(r.hf);
	if (r.have_im)
		pj_imatrix_free(&r.im);
	pj_model_close(r.m);
	return rc;
}
