/* batch.c - headless mode: build the plan (--preset, --pure, --plan, --rule),
 * print it (--dry-run), export it (--emit-plan, --emit-tensor-type-file), and
 * stream the GGUF out.
 *
 * The llama.cpp rules that make the output equal llama-quantize's byte for
 * byte - which tensors are never quantized, shape fallbacks, imatrix
 * requirements, ftype numbers, the ftype mixes, the tensor order
 * (llama_model_loader's weights_map: layer number, then name) - live in
 * quant/plan.c and quant/presets.c; this file adds the metadata edits and
 * the run. */
#include "config.h"
#include "batch.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "model/model.h"
#include "quant/convert.h"
#include "quant/imatrix.h"
#include "quant/plan.h"
#include "quant/plan_json.h"
#include "quant/presets.h"
#include "quant/qtypes.h"
#include "report/gguf_write.h"
#include "report/hf2gguf.h"
#include "report/info.h"

/* Metadata llama-quantize drops (a single output file). */
static const char *const DROP_KEYS[] = { "split.no", "split.count", "split.tensors.count", NULL };

/* One output tensor, as the writer needs it (from the plan's entry). */
typedef struct plan_t {
	const pj_tensor *src;
	int n_dims;            /* ggml_n_dims: trailing 1s do not count */
	int64_t nmat;          /* stacked matrices (ne[2] * ne[3]) */
	pj_dtype type;
	bool quantize;         /* type != source type */
	bool fell_back;
	bool needs_imatrix;
} plan_t;

static int src_order_cmp(const void *a, const void *b)
{
	const pj_tensor *x = ((const plan_t *)a)->src, *y = ((const plan_t *)b)->src;
	return x < y ? -1 : x > y;
}

/* ---- metadata ------------------------------------------------------------------ */

/* --override-kv KEY=TYPE:VALUE as llama-quantize parses and writes it: int
 * as UINT32, float as FLOAT32, bool (true/false), str; KEY under 128 bytes.
 * Stricter: a number must be all number, an int from 0 to 2^32-1 (llama-
 * quantize writes |int|).  The key (malloc'd) goes to kv->key. */
static bool parse_kv_override(const char *arg, pj_gguf_wkv *kv, char *msg, size_t len)
{
	const char *eq = strchr(arg, '='), *v = eq ? eq + 1 : NULL;
	char *end = NULL;
	memset(kv, 0, sizeof *kv);
	if (!eq || eq == arg || eq - arg >= 128) {
		snprintf(msg, len, "--override-kv '%s': not KEY=TYPE:VALUE (KEY 1 to 127 bytes)", arg);
		return false;
	}
	errno = 0;
	if (strncmp(v, "int:", 4) == 0) {
		const long long n = strtoll(v + 4, &end, 10);
		if (errno || end == v + 4 || *end || n < 0 || n > 4294967295LL) {
			snprintf(msg, len, "--override-kv '%s': int is a number from 0 to 4294967295 (written as uint32)", arg);
			return false;
		}
		*kv = (pj_gguf_wkv){ .type = PJ_GGUF_UINT32, .u = (uint64_t)n };
	} else if (strncmp(v, "float:", 6) == 0) {
		const double d = strtod(v + 6, &end);
		if (errno || end == v + 6 || *end || !isfinite(d)) {
			snprintf(msg, len, "--override-kv '%s': float is a finite number", arg);
			return false;
		}
		*kv = (pj_gguf_wkv){ .type = PJ_GGUF_FLOAT32, .f = d };
	} else if (strncmp(v, "bool:", 5) == 0) {
		if (strcmp(v + 5, "true") != 0 && strcmp(v + 5, "false") != 0) {
			snprintf(msg, len, "--override-kv '%s': bool is true or false", arg);
			return false;
		}
		*kv = (pj_gguf_wkv){ .type = PJ_GGUF_BOOL, .u = strcmp(v + 5, "true") == 0 };
	} else if (strncmp(v, "str:", 4) == 0) {
		*kv = (pj_gguf_wkv){ .type = PJ_GGUF_STRING, .s = v + 4 };
	} else {
		snprintf(msg, len, "--override-kv '%s': TYPE is int, float, bool or str", arg);
		return false;
	}
	kv->key = pj_xstrndup(arg, (size_t)(eq - arg));
	return true;
}

/* Sets a key as gguf_set_val does: an earlier one with that key goes, the
 * new one is appended. */
static void set_put(pj_gguf_wkv *set, size_t *n, pj_gguf_wkv kv)
{
	size_t k = 0;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(set[i].key, kv.key) != 0)
			set[k++] = set[i];
	set[k++] = kv;
	*n = k;
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
	const pj_ftype *ft;    /* --pure TYPE, else NULL */
	pj_plan plan;
	bool have_plan;
	char label[160];       /* "Q4_K_M (preset)", "Q8_0 (pure)", "plan p.json" */
	uint64_t prog_total, prog_done;
	int prog_step;
	pj_model *m;
	pj_imatrix im;
	bool have_im;
	pj_hf2gguf *hf;        /* HF input: the converter's GGUF, computed */
	bool hf_converter;     /* --pure F32/F16/BF16 from HF: exactly the converter's file */
	plan_t *p;
	size_t n;
	bool tty;
	pj_gguf_wkv *kv;       /* --override-kv, parsed */
	size_t n_kv;
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

static void free_kv(run *r)
{
	for (size_t i = 0; i < r->n_kv; i++)
		free((char *)r->kv[i].key);
	free(r->kv);
}

/* llama.cpp's routing of the output (deepseek2 without expert_gating_func:
 * softmax) against the model's: the input's metadata, the user's keys. */
static void warn_gating(const run *r)
{
	const pj_catalog *cat = r->hf ? pj_hf2gguf_catalog(r->hf) : &r->m->cat;
	const char *arch = NULL;
	bool gating = false;
	if (r->hf) {
		arch = pj_info_hf_gating(r->hf, &gating);
	} else if (r->m->gguf) {
		arch = pj_gguf_get_str(r->m->gguf, "general.architecture");
		gating = pj_gguf_find(r->m->gguf, PJ_GATING_KEY) != NULL;
	}
	for (size_t i = 0; i < r->n_kv; i++)
		gating |= strcmp(r->kv[i].key, PJ_GATING_KEY) == 0;
	const char *w = pj_info_gating_warning(arch, gating, cat);
	if (w)
		fprintf(stderr, "pajamas-tui: warning: %s\n", w);
}

/* Importance weights need data and a kernel that uses them. */
static bool takes_imatrix(const plan_t *p)
{
	const pj_qtype *q = pj_qtype_get(p->type);
	return p->quantize && q && q->block > 1;
}

static void report_coverage(run *r)
{
	pj_imatrix_coverage c;
	pj_plan_imatrix_coverage(&r->plan, &r->im, false, &c);
	fprintf(stderr, "pajamas-tui: imatrix %s: %zu entries, data for %zu of %zu tensors\n", r->o->imatrix, r->im.n,
	        c.n_found, c.n_wanted);
	for (size_t i = 0; i < c.n_missing; i++)
		fprintf(stderr, "pajamas-tui: warning: imatrix has no data for %s: quantized unweighted\n", c.missing[i]);
	for (size_t i = 0; i < c.n_zero; i++)
		fprintf(stderr, "pajamas-tui: warning: %s expert %lld saw no calibration input%s: uniform weights\n",
		        c.zero[i].tensor, (long long)c.zero[i].expert, c.zero_inferred ? " (all-1.0 slice in the .dat)" : "");
	pj_imatrix_coverage_free(&c);
}

/* Source pages: read ahead for the tensor about to be used, dropped from
 * our mapping once used (the page cache keeps them): the RSS is the
 * buffers, not the model. */
static void src_advise(const void *p, uint64_t n, int advice)
{
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p & ~(pg - 1);
	(void)madvise((void *)a, (size_t)((uintptr_t)p + n - a), advice);
}

/* Quantizes one matrix (rows of ne0 src_type elements) straight into the
 * writer's buffer, a slice at a time: its thread writes slice k while the
 * workers compute slice k+1, and no tensor-sized output buffer is needed.
 * A mapped source's slices leave the mapping once used. */
static pj_status quantize_into(run *r, pj_gguf_writer *w, const plan_t *p, pj_dtype src_type, const void *src,
                               bool mapped, int64_t rows, const float *imw, pj_error *err)
{
	const int64_t ne0 = p->src->ne[0];
	const size_t row_size = pj_qtype_row_size(p->type, ne0);
	uint64_t src_row = 0;
	pj_dtype_bytes(src_type, (uint64_t)ne0, &src_row);
	const int64_t span = (int64_t)(pj_gguf_write_span(w) / row_size), per = span > 0 ? span : 1;
	const unsigned nt = (unsigned)r->o->threads;
	for (int64_t r0 = 0; r0 < rows; r0 += per) {
		const int64_t n = rows - r0 < per ? rows - r0 : per;
		const uint8_t *s = (const uint8_t *)src + (size_t)r0 * (size_t)src_row;
		void *dst = pj_gguf_write_reserve(w, (size_t)n * row_size, err);
		if (!dst)
			return err->code;
		pj_status st = pj_quantize_rows_from(p->type, src_type, s, dst, n, ne0, imw, nt, p->src->name, err);
		if (st == PJ_EFORMAT && r0 > 0) {
			/* the same message, rows counted from the matrix's first */
			void *all = pj_xmalloc((size_t)(r0 + n) * row_size);
			pj_quantize_rows_from(p->type, src_type, src, all, r0 + n, ne0, imw, nt, p->src->name, err);
			free(all);
		}
		if (!st)
			st = pj_gguf_write_advance(w, (size_t)n * row_size, err);
		if (st)
			return st;
		if (mapped)
			src_advise(s, (uint64_t)n * src_row, MADV_DONTNEED);
	}
	return PJ_OK;
}

/* HF input: each matrix comes from the converter's recipe (hf2gguf.h) as
 * the f32 values its file would hold, then goes the same way. */
static pj_status write_tensor_hf(run *r, pj_gguf_writer *w, const plan_t *p, float **f32, size_t *f32_cap,
                                 pj_error *err)
{
	const pj_tensor *t = p->src;
	const size_t idx = (size_t)(t - pj_hf2gguf_catalog(r->hf)->t);
	const int64_t ne0 = t->ne[0], rows = pj_tensor_nrows(t) / p->nmat;
	const size_t nf = (size_t)(ne0 * rows);
	if (*f32_cap < nf) {
		free(*f32);
		*f32 = pj_xmalloc(nf * sizeof(float));
		*f32_cap = nf;
	}
	for (int64_t m = 0; m < p->nmat; m++) {
		pj_status st = pj_hf2gguf_read_mat(r->hf, idx, m, *f32, err);
		const float *imw = NULL;
		if (!st && r->have_im && takes_imatrix(p))
			st = pj_imatrix_weights(&r->im, t->name, ne0, t->ne[2], m % t->ne[2], &imw, err);
		if (!st)
			st = quantize_into(r, w, p, PJ_DT_F32, *f32, false, rows, imw, err);
		if (st)
			return st;
	}
	return PJ_OK;
}

/* Decodes, quantizes and writes one tensor, one stacked matrix at a time. */
static pj_status write_mats(run *r, pj_gguf_writer *w, const plan_t *p, const uint8_t *data, float **f32,
                            size_t *f32_cap, pj_error *err)
{
	const pj_tensor *t = p->src;
	if (!p->quantize)
		return pj_gguf_write_data(w, data, (size_t)t->nbytes, err);
	const int64_t ne0 = t->ne[0], rows = pj_tensor_nrows(t) / p->nmat;
	const size_t in_mat = (size_t)(t->nbytes / (uint64_t)p->nmat);
	const size_t nf = (size_t)(ne0 * rows);
	/* plain element types are decoded chunk by chunk inside the quantizer */
	const bool fused = pj_convert_supported(t->dtype);
	if (!fused && *f32_cap < nf) {
		free(*f32);
		*f32 = pj_xmalloc(nf * sizeof(float));
		*f32_cap = nf;
	}
	for (int64_t m = 0; m < p->nmat; m++) {
		const uint8_t *src = data + (size_t)m * in_mat;
		pj_status st = fused ? PJ_OK : pj_convert_rows_f32(t->dtype, src, *f32, rows, ne0, t->name, err);
		const float *imw = NULL;
		if (!st && r->have_im && takes_imatrix(p))
			st = pj_imatrix_weights(&r->im, t->name, ne0, t->ne[2], m % t->ne[2], &imw, err);
		if (!st)
			st = quantize_into(r, w, p, fused ? t->dtype : PJ_DT_F32, fused ? (const void *)src : *f32, fused,
			                   rows, imw, err);
		if (st)
			return st;
	}
	return PJ_OK;
}

static pj_status write_tensor(run *r, pj_gguf_writer *w, const plan_t *p, float **f32, size_t *f32_cap,
                              pj_error *err)
{
	if (r->hf)
		return write_tensor_hf(r, w, p, f32, f32_cap, err);
	const uint8_t *data = pj_catalog_data(&r->m->cat, p->src, err);
	if (!data)
		return err->code ? err->code : PJ_EIO;
	src_advise(data, p->src->nbytes, MADV_WILLNEED);
	pj_status st = write_mats(r, w, p, data, f32, f32_cap, err);
	src_advise(data, p->src->nbytes, MADV_DONTNEED);
	return st;
}

/* Types whose kernel needs importance weights, for tensors the imatrix has
 * none for (output, token_embd: llama.cpp lets them past its check, then
 * aborts): named, with the way out, before a file is opened. */
static int refuse_unweightable(const run *r)
{
	size_t idx[8];
	const size_t n = pj_plan_unweightable(&r->plan, r->have_im ? &r->im : NULL, idx, 8);
	if (!n)
		return PJ_EXIT_OK;
	char msg[1400], names[600] = "", rules[400] = "";
	size_t kn = 0, kr = 0;
	for (size_t i = 0; i < n && i < 8; i++) {
		const pj_plan_entry *e = &r->plan.e[idx[i]];
		if (kn < sizeof names)
			kn += (size_t)snprintf(names + kn, sizeof names - kn, "%s%s (%s)", i ? ", " : "", e->t->name,
			                       pj_dtype_name(e->type));
		if (i >= 2 || kr + 2 * strlen(e->t->name) + 24 > sizeof rules)
			continue;
		kr += (size_t)snprintf(rules + kr, sizeof rules - kr, " --rule '^");
		for (const char *c = e->t->name; *c; c++) {   /* a regex: dots escaped */
			if (*c == '.')
				rules[kr++] = '\\';
			rules[kr++] = *c;
		}
		kr += (size_t)snprintf(rules + kr, sizeof rules - kr, "$=Q4_K'");
	}
	snprintf(msg, sizeof msg,
	         "%s%s has no importance data for %s%s: %s cannot be written without it (llama-quantize aborts); "
	         "give %s another type, e.g.%s",
	         r->have_im ? "imatrix " : "no --imatrix: the plan", r->have_im ? r->o->imatrix : "", names,
	         n > 8 ? ", ..." : "", n > 1 ? "their types" : "its type", n > 1 ? "them" : "it", rules);
	return fail(msg, PJ_EXIT_MODEL);
}

/* The plan's entries as the writer needs them, and what it cannot do. */
static int plan_all(run *r, pj_error *err)
{
	char msg[1400];
	int rc;
	r->n = r->plan.n;
	r->p = pj_xcalloc(r->n ? r->n : 1, sizeof *r->p);
	for (size_t i = 0; i < r->n; i++) {
		const pj_plan_entry *e = &r->plan.e[i];
		plan_t *p = &r->p[i];
		p->src = e->t;
		p->n_dims = e->n_dims;
		p->nmat = e->t->ne[2] * e->t->ne[3];
		p->type = e->type;
		p->quantize = e->type != e->t->dtype;
		p->fell_back = e->fell_back;
		p->needs_imatrix = e->needs_imatrix;
		if (p->quantize && !pj_qtype_supported(p->type)) {
			snprintf(msg, sizeof msg, "%s: no %s kernel yet", e->t->name, pj_dtype_name(p->type));
			return fail(msg, PJ_EXIT_MODEL);
		}
		if (p->quantize && !r->hf && !pj_convert_rows_supported(e->t->dtype)) {
			snprintf(msg, sizeof msg, "%s: cannot read %s source data", e->t->name, pj_dtype_name(e->t->dtype));
			return fail(msg, PJ_EXIT_MODEL);
		}
	}
	if (r->hf_converter)   /* the converter's own order */
		qsort(r->p, r->n, sizeof *r->p, src_order_cmp);

	/* Refuse before writing anything, as llama-quantize does. */
	for (size_t i = 0; i < r->n; i++) {
		const plan_t *p = &r->p[i];
		if (!p->needs_imatrix)
			continue;
		if (!r->have_im) {
			snprintf(msg, sizeof msg,
			         "%s requires an importance matrix (--imatrix FILE): tensor %s would be %s "
			         "without one (llama-quantize refuses this too)",
			         r->ft ? r->ft->name : r->label, p->src->name, pj_dtype_name(p->type));
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
	if ((rc = refuse_unweightable(r)) != PJ_EXIT_OK)
		return rc;
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

/* Progress by source bytes: a bar redrawn in place on a terminal, a plain
 * line every tenth otherwise (logs stay short for any model size). */
static void progress(run *r, size_t i, const plan_t *p)
{
	const uint64_t total = r->prog_total, done = r->prog_done;
	const int pct = total ? (int)(done * 100 / total) : 100;
	if (r->tty) {
		char bar[21];
		for (int k = 0; k < 20; k++)
			bar[k] = k < pct / 5 ? '#' : '.';
		bar[20] = 0;
		fprintf(stderr, "\r\033[K[%s] %3d%% %4zu/%zu %-36s %-7s -> %s", bar, pct, i + 1, r->n, p->src->name,
		        pj_dtype_name(p->src->dtype), pj_dtype_name(p->type));
		fflush(stderr);
		return;
	}
	if (i == 0 || pct / 10 != r->prog_step) {
		r->prog_step = pct / 10;
		fprintf(stderr, "pajamas-tui: %3d%% %zu/%zu tensors, %s\n", pct, i + 1, r->n, p->src->name);
	}
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
	/* llama-quantize: quantization_version, file_type, then its kv
	 * overrides: the user's, then the --imatrix ones; strings cut at 127
	 * bytes like its kv override buffer.  The converter's own file (HF,
	 * F32/F16/BF16) gets the user's alone. */
	char file127[128] = "", ds127[128] = "";
	pj_gguf_wkv *set = pj_xcalloc(6 + r->n_kv, sizeof *set);
	size_t ns = 0;
	if (!r->hf_converter) {
		set[ns++] = (pj_gguf_wkv){ .key = "general.quantization_version", .type = PJ_GGUF_UINT32, .u = 2 };
		set[ns++] = (pj_gguf_wkv){ .key = "general.file_type", .type = PJ_GGUF_UINT32, .u = r->plan.ftype };
	}
	for (size_t i = 0; i < r->n_kv; i++)
		set_put(set, &ns, r->kv[i]);
	if (r->have_im && !r->hf_converter) {
		snprintf(file127, sizeof file127, "%s", r->o->imatrix);
		set_put(set, &ns, (pj_gguf_wkv){ .key = "quantize.imatrix.file", .type = PJ_GGUF_STRING, .s = file127 });
		if (r->im.n_datasets) {
			snprintf(ds127, sizeof ds127, "%s", r->im.datasets[0]);
			set_put(set, &ns, (pj_gguf_wkv){ .key = "quantize.imatrix.dataset", .type = PJ_GGUF_STRING, .s = ds127 });
		}
		set_put(set, &ns, (pj_gguf_wkv){ .key = "quantize.imatrix.entries_count", .type = PJ_GGUF_UINT32,
		                                  .u = r->im.n });
		if (r->im.chunk_count > 0)
			set_put(set, &ns, (pj_gguf_wkv){ .key = "quantize.imatrix.chunks_count", .type = PJ_GGUF_UINT32,
			                                  .u = r->im.chunk_count });
	}
	pj_gguf_wspec spec = { .src = r->m->gguf, .drop = DROP_KEYS, .set = set, .n_set = ns, .t = wt, .n_t = r->n };
	pj_gguf_wkv *hkv = NULL;
	if (r->hf) {
		/* the converter's metadata; edited as llama-quantize edits it
		 * (its keys removed, then appended) */
		size_t nh, k = 0;
		const pj_gguf_wkv *h = pj_hf2gguf_kv(r->hf, &nh);
		hkv = pj_xcalloc(nh + ns, sizeof *hkv);
		for (size_t i = 0; i < nh; i++) {
			bool edited = false;
			for (size_t j = 0; j < ns; j++)
				edited |= strcmp(h[i].key, set[j].key) == 0;
			if (!edited)
				hkv[k++] = h[i];
		}
		for (size_t j = 0; j < ns; j++)
			hkv[k++] = set[j];
		spec.set = hkv;
		spec.n_set = k;
	}
	pj_gguf_writer *w;
	pj_status st = pj_gguf_write_begin(&w, r->o->output, &spec, err);
	free(wt);
	free(hkv);
	free(set);
	if (st)
		return fail(err->msg, st == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_RUNTIME);

	const double t0 = now_s();
	for (size_t i = 0; i < r->n; i++)
		r->prog_total += r->p[i].src->nbytes;
	uint64_t in_bytes = 0, n_el = 0;
	size_t n_requant = 0, n_fallback = 0;
	float *f32 = NULL;
	size_t f32_cap = 0;
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
		progress(r, i, p);
		st = write_tensor(r, w, p, &f32, &f32_cap, err);
		r->prog_done += p->src->nbytes;
	}
	free(f32);
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
	        "pajamas-tui: wrote %s: %zu tensors as %s, %.2f MiB -> %.2f MiB, %.2f bpw, "
	        "%zu shape fallbacks, %zu requantized, %.2f s\n",
	        r->o->output, r->n, r->label, in_bytes / 1048576.0, out_bytes / 1048576.0,
	        n_el ? out_bytes * 8.0 / (double)n_el : 0.0, n_fallback, n_requant, now_s() - t0);
	return PJ_EXIT_OK;
}

int pj_batch_plan_rc(pj_status st)
{
	switch (st) {
	case PJ_EUSAGE: case PJ_EFORMAT: case PJ_EIO: return PJ_EXIT_USAGE;  /* the command line's input */
	case PJ_EUNSUPPORTED: return PJ_EXIT_MODEL;  /* the model's shapes */
	default: return PJ_EXIT_RUNTIME;
	}
}

pj_status pj_batch_plan(pj_plan *p, pj_model *m, const pj_catalog *cat, bool gguf_names, bool have_im,
                        const char *plan, const char *pure, const char *preset, const char **rules, int n_rules,
                        pj_error *err)
{
	pj_status st;
	if (plan) {
		char *warning = NULL;
		st = pj_plan_json_load_cat(p, m, cat, gguf_names, plan, have_im, &warning, err);
		if (warning)
			fprintf(stderr, "pajamas-tui: warning: %s\n", warning);
		free(warning);
	} else {
		char *base = pure ? pj_xasprintf("pure:%s", pure) : pj_xstrdup(preset);
		st = pj_plan_build_cat(p, m, cat, gguf_names, base, have_im, err);
		free(base);
	}
	if (st)
		return st;
	for (int i = 0; i < n_rules && !st; i++)
		st = pj_plan_add_rule(p, rules[i], err);
	if (!st)
		st = pj_plan_apply(p, err);
	if (st)
		pj_plan_free(p);
	return st;
}

/* Base, rules, apply; warnings go to stderr. */
static int build_plan(run *r, pj_error *err)
{
	const pj_batch_opts *o = r->o;
	const pj_catalog *cat = r->hf ? pj_hf2gguf_catalog(r->hf) : &r->m->cat;
	const bool gguf_names = r->hf || r->m->format == PJ_FMT_GGUF;
	pj_status st = pj_batch_plan(&r->plan, r->m, cat, gguf_names, r->have_im, o->plan, o->pure, o->preset, o->rules,
	                             o->n_rules, err);
	if (st)
		return fail(err->msg, pj_batch_plan_rc(st));
	r->have_plan = true;
	if (o->plan)
		snprintf(r->label, sizeof r->label, "plan %s", o->plan);
	else
		snprintf(r->label, sizeof r->label, "%s (%s)", o->pure ? r->ft->name : r->plan.preset->name,
		         o->pure ? "pure" : "preset");
	if (o->preset && strcasecmp(o->preset, "auto") == 0)
		fprintf(stderr, "pajamas-tui: %s\n", r->plan.base_reason);
	for (size_t i = 0; i < r->plan.n_warnings; i++)
		fprintf(stderr, "pajamas-tui: warning: %s\n", r->plan.warnings[i]);
	return PJ_EXIT_OK;
}

/* --dry-run: the table llama-quantize --dry-run prints, with our reasons. */
static void print_dry_run(const run *r)
{
	const pj_plan *p = &r->plan;
	printf("%-40s %-16s %-7s %-7s %12s %-7s %s\n", "tensor", "shape", "source", "type", "bytes", "from", "why");
	for (size_t i = 0; i < p->n; i++) {
		const pj_plan_entry *e = &p->e[i];
		char shape[64], why[PJ_REASON_MAX];
		printf("%-40s %-16s %-7s %-7s %12llu %-7s %s\n", e->t->name, pj_tensor_shape_str(e->t, shape, sizeof shape),
		       pj_dtype_name(e->t->dtype), pj_dtype_name(e->type), (unsigned long long)e->bytes,
		       pj_provenance_name(e->prov), pj_plan_reason(p, e, why));
	}
	printf("total: %zu tensors, %zu quantized, %zu shape fallbacks; source %llu bytes (%.2f MiB), "
	       "output %llu bytes (%.2f MiB), %.2f bpw, %.1f%% of the source\n",
	       p->n, p->n_quantized, p->n_fallback, (unsigned long long)p->src_bytes, p->src_bytes / 1048576.0,
	       (unsigned long long)p->out_bytes, p->out_bytes / 1048576.0, pj_plan_bpw(p), 100.0 * pj_plan_ratio(p));
	if (p->n_need_imatrix && !r->have_im)
		printf("note: %zu tensors need an importance matrix (--imatrix FILE) to be written\n", p->n_need_imatrix);
}

/* Writes text to path through a temporary file (no half-written file). */
static int write_text(const char *path, const char *text)
{
	char *tmp = pj_xasprintf("%s.pj-tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	bool ok = f && fwrite(text, 1, strlen(text), f) == strlen(text);
	if (f)
		ok &= fclose(f) == 0;
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		fprintf(stderr, "pajamas-tui: %s: cannot write: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok ? PJ_EXIT_OK : PJ_EXIT_RUNTIME;
}

static int emit(run *r, pj_error *err)
{
	const pj_batch_opts *o = r->o;
	if (o->emit_plan && pj_plan_json_save(&r->plan, o->emit_plan, err) != PJ_OK)
		return fail(err->msg, PJ_EXIT_RUNTIME);
	if (o->emit_ttf) {
		size_t bad = 0;
		char *ttf = pj_plan_tensor_type_file(&r->plan, &bad);
		int rc = write_text(o->emit_ttf, ttf);
		free(ttf);
		if (rc)
			return rc;
		char *cmd = pj_plan_command(&r->plan, o->emit_ttf, o->imatrix, o->model, o->output ? o->output : "OUT.gguf");
		fprintf(stderr, "pajamas-tui: llama-quantize reproduces this plan with:\n  %s\n", cmd);
		free(cmd);
		const char *ft = pj_plan_ftype_name(&r->plan), *qb = pj_plan_quantize_base(&r->plan);
		if (strcmp(ft, qb) != 0)
			fprintf(stderr, "  # llama-quantize has no %s ftype: base %s, the file pins every quantized tensor "
			        "(only general.file_type differs)\n", ft, qb);
		if (bad)
			fprintf(stderr, "pajamas-tui: warning: %zu kept tensors (routers) get another type here; "
			        "llama-quantize cannot do that\n", bad);
	}
	return PJ_EXIT_OK;
}

int pj_batch_main(const pj_batch_opts *o)
{
	char msg[1400];
	const int n_base = !!o->pure + !!o->preset + !!o->plan;
	if (n_base == 0)
		return fail("--batch needs --preset P, --pure TYPE or --plan FILE", PJ_EXIT_USAGE);
	if (n_base > 1)
		return fail("--preset, --pure and --plan exclude each other", PJ_EXIT_USAGE);
	const bool writes = !o->dry_run;
	if (writes && !o->output && !o->emit_plan && !o->emit_ttf)
		return fail("--batch needs -o OUT.gguf (or --dry-run, --emit-plan, --emit-tensor-type-file)", PJ_EXIT_USAGE);
	run r = { .o = o, .tty = isatty(STDERR_FILENO) == 1 };
	if (o->pure) {
		size_t nft;
		const pj_ftype *fts = pj_ftype_all(&nft);
		r.ft = pj_ftype_find(o->pure);
		if (!r.ft) {
			int k = snprintf(msg, sizeof msg, "--pure: unknown type '%s'; one of:", o->pure);
			for (size_t i = 0; i < nft && k < (int)sizeof msg - 16; i++)
				if (pj_qtype_supported(fts[i].type))
					k += snprintf(msg + k, sizeof msg - (size_t)k, " %s", fts[i].name);
			return fail(msg, PJ_EXIT_USAGE);
		}
		if (writes && o->output && !pj_qtype_supported(r.ft->type)) {
			snprintf(msg, sizeof msg, "--pure %s: no %s kernel yet", r.ft->name, pj_dtype_name(r.ft->type));
			return fail(msg, PJ_EXIT_USAGE);
		}
	}

	r.kv = pj_xcalloc((size_t)o->n_kv_overrides + 1, sizeof *r.kv);
	for (; r.n_kv < (size_t)o->n_kv_overrides; r.n_kv++)
		if (!parse_kv_override(o->kv_overrides[r.n_kv], &r.kv[r.n_kv], msg, sizeof msg)) {
			free_kv(&r);
			return fail(msg, PJ_EXIT_USAGE);
		}

	pj_error err = { 0 };
	if (pj_model_open(o->model, &r.m, &err) != PJ_OK) {
		free_kv(&r);
		return fail(err.msg, err.code == PJ_EUSAGE ? PJ_EXIT_USAGE : PJ_EXIT_MODEL);
	}
	int rc = PJ_EXIT_OK;
	if (r.m->format != PJ_FMT_GGUF) {
		/* HF input: what convert_hf_to_gguf.py would write (--outtype of
		 * the pure type when it is F32/F16/BF16, else auto), then the same
		 * plan as for that GGUF */
		const pj_dtype t = r.ft ? r.ft->type : PJ_DT_COUNT;
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
	if ((rc = build_plan(&r, &err)) != PJ_EXIT_OK || (rc = emit(&r, &err)) != PJ_EXIT_OK)
		goto out;
	warn_gating(&r);
	if (o->dry_run) {
		print_dry_run(&r);
		rc = fflush(stdout) == 0 ? PJ_EXIT_OK : PJ_EXIT_RUNTIME;
		goto out;
	}
	if (!o->output)
		goto out;
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
	if (r.have_plan)
		pj_plan_free(&r.plan);
	pj_hf2gguf_free(r.hf);
	if (r.have_im)
		pj_imatrix_free(&r.im);
	pj_model_close(r.m);
	free_kv(&r);
	return rc;
}
