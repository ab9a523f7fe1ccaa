/* detail_view.c - everything known about the selected row. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "quant/convert.h"
#include "views.h"

/* "label  value" lines, the label in the label color. */
typedef struct lines {
	pj_rect r;
	int y;
} lines;

static void line(lines *L, const char *label, pj_color c, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void line(lines *L, const char *label, pj_color c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	if (L->y >= L->r.y + L->r.h)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	int x = L->r.x + 1;
	pj_crt_put(L->y, x, 10, PJ_C_LABEL, true, label);
	pj_crt_put(L->y, x + 10, L->r.w - 11, c, false, buf);
	L->y++;
}

/* elems: elements the row holds, to say how much a partial result covers
 * (0: unknown). */
static void stats_lines(lines *L, const pj_tstats *s, bool stacked_outliers, uint64_t elems)
{
	char b1[24], b2[24], b3[24], b4[24], b5[24];
	switch (s->state) {
	case PJ_TS_PENDING:
		line(L, "stats", PJ_C_DIM, "pending");
		return;
	case PJ_TS_UNSUPPORTED:
		line(L, "stats", PJ_C_DIM, "n/a (no decoder for this type yet)");
		return;
	case PJ_TS_ERROR:
		line(L, "stats", PJ_C_ERROR, "the data could not be read");
		return;
	default:
		break;
	}
	bool partial = s->state == PJ_TS_PARTIAL;
	char cover[96] = "";
	if (partial && elems)
		snprintf(cover, sizeof cover, "~ covers %.1f%% (%s of %s elements)  ",
		         100.0 * (double)s->n / (double)elems, pj_fmt_count(s->n, b2, sizeof b2),
		         pj_fmt_count(elems, b3, sizeof b3));
	else if (partial)
		snprintf(cover, sizeof cover, "~ partial  ");
	line(L, "stats", partial ? PJ_C_PARTIAL : PJ_C_NORMAL, "max|x| %s  [%s, %s]  mean|x| %s  RMS %s",
	     pj_fmt_num(pj_tstats_max_abs(s), 9, b1, sizeof b1), pj_fmt_num(s->min, 9, b2, sizeof b2),
	     pj_fmt_num(s->max, 9, b3, sizeof b3), pj_fmt_num(pj_tstats_mean_abs(s), 9, b4, sizeof b4),
	     pj_fmt_num(pj_tstats_rms(s), 9, b5, sizeof b5));
	line(L, "", partial ? PJ_C_PARTIAL : s->n_nan || s->n_inf ? PJ_C_WARN : PJ_C_NORMAL,
	     "%sNaN %llu  Inf %llu  outliers %s (%llu of %llu finite, |x| > 6 RMS%s)", cover,
	     (unsigned long long)s->n_nan, (unsigned long long)s->n_inf,
	     pj_fmt_pct(pj_tstats_outlier_frac(s), b1, sizeof b1), (unsigned long long)s->n_outlier,
	     (unsigned long long)s->n_outlier_seen, stacked_outliers ? " of each expert" : "");
}

/* The plan for one tensor: its type and why, then every candidate type
 * with its measured error and predicted loss as a table with bars. */
static void plan_detail(pj_app *a, uint32_t ri, lines *L)
{
	const pj_row *r = &a->tree.rows[ri];
	size_t ti = (size_t)r->tensor;
	const pj_tensor *t = &a->m->cat.t[ti];
	pj_srow sr;
	char b1[24], b2[24], b3[24];
	pj_session_row(a->s, ti, &sr);
	char from[200];
	size_t off = (size_t)snprintf(from, sizeof from, "from %s", pj_provenance_name(sr.prov));
	if (sr.rule)
		off += (size_t)snprintf(from + off, sizeof from - off, " '%s'", sr.rule);
	if (sr.pinned)
		snprintf(from + off, sizeof from - off, ", pinned");
	line(L, "plan", sr.quantizable ? PJ_C_LABEL : PJ_C_DIM, "%s  %s (%llu B)  %.2f bpw  loss %s%s  %s",
	     pj_dtype_name(sr.type), pj_fmt_bytes(sr.bytes, b1, sizeof b1), (unsigned long long)sr.bytes, sr.bpw,
	     sr.loss_estimated ? "~" : "", pj_fmt_num(sr.loss, 9, b2, sizeof b2), from);
	if (sr.e && sr.why[0])
		line(L, "why", PJ_C_NORMAL, "%s", sr.why);
	if (sr.note[0])
		line(L, "note", PJ_C_WARN, "%s", sr.note);
	if (pj_convert_is_requant(t->dtype) && sr.type != t->dtype)
		line(L, "requant", PJ_C_WARN, "stored as %s: %s dequantizes it and quantizes again - the errors compound "
		     "(errors below are against the %s values, not the original weights)", pj_dtype_name(t->dtype),
		     pj_dtype_name(sr.type), pj_dtype_name(t->dtype));
	if (!sr.quantizable && sr.e && sr.e->kept)
		line(L, "kept", PJ_C_DIM, "%s", sr.e->kept);
	if (pj_tensor_stacked(t))
		line(L, "export", PJ_C_DIM, "one GGUF type for the stacked tensor: all %d experts of layer %d get %s",
		     t->n_experts, t->layer, pj_dtype_name(sr.type));
	else if (t->expert >= 0)
		line(L, "export", PJ_C_DIM, "experts are stacked per layer in a GGUF: one type for the layer's experts");
	if (!sr.quantizable)
		return;

	pj_scand c[24];
	size_t n = pj_session_candidates(a->s, ti, c, sizeof c / sizeof c[0]);
	if (n > sizeof c / sizeof c[0])
		n = sizeof c / sizeof c[0];
	double max_loss = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i].loss > max_loss)
			max_loss = c[i].loss;
	int x = L->r.x + 1;
	if (L->y < L->r.y + L->r.h)
		pj_crt_put(L->y++, x, L->r.w - 2, PJ_C_LABEL, false,
		           "  type     bpw      bytes    rel.err       loss  (bar: loss; t/Enter in the type menu applies)");
	for (size_t i = 0; i < n && L->y < L->r.y + L->r.h; i++) {
		char row[160], err[24];
		if (c[i].mstate == PJ_MS_DONE || c[i].mstate == PJ_MS_PARTIAL)
			pj_fmt_num(c[i].rel_err, 9, err, sizeof err);
		else if (c[i].mstate == PJ_MS_NA || c[i].mstate == PJ_MS_ERROR)
			snprintf(err, sizeof err, "n/a");
		else
			snprintf(err, sizeof err, "%s", pj_crt_glyph(PJ_G_DOT));
		char wr[32] = "";
		if (c[i].written != c[i].type)
			snprintf(wr, sizeof wr, "->%s", pj_dtype_name(c[i].written));
		snprintf(row, sizeof row, "%s %-7s %5.2f %10s %10s %s%10s", c[i].planned ? ">" : " ",
		         pj_dtype_name(c[i].type), c[i].bpw, pj_fmt_bytes(c[i].bytes, b1, sizeof b1), err,
		         c[i].estimated ? "~" : " ", pj_fmt_num(c[i].loss, 9, b3, sizeof b3));
		pj_color col = c[i].planned ? PJ_C_LABEL : c[i].mstate == PJ_MS_NA ? PJ_C_DIM : PJ_C_NORMAL;
		int w = pj_crt_put(L->y, x, L->r.w - 2, col, false, row);
		int bw = L->r.w - 2 - w - 2 - 24;
		if (bw > 30)
			bw = 30;
		if (bw > 3) {
			pj_crt_bar(L->y, x + w + 1, bw, max_loss > 0 ? c[i].loss / max_loss : 0,
			           c[i].planned ? PJ_C_BAR_DONE : PJ_C_WARN);
			if (wr[0] || c[i].reason[0])
				pj_crt_printf(L->y, x + w + 2 + bw, L->r.w - 2 - w - 2 - bw, PJ_C_DIM, false, "%s %s", wr,
				              c[i].reason);
		}
		L->y++;
	}
}

static void tensor_detail(pj_app *a, uint32_t ri, lines *L)
{
	const pj_row *r = &a->tree.rows[ri];
	const pj_tensor *t = &a->m->cat.t[r->tensor];
	const pj_file *f = &a->m->cat.files[t->file];
	const pj_role_info *ri_ = pj_role_info_of(t->role);
	char shape[64], b1[24], b2[24], where[64];
	bool slice = r->kind == PJ_ROW_SLICE;
	uint64_t bytes = slice ? t->nbytes / (uint64_t)t->n_experts : t->nbytes;
	uint64_t off = t->offset + (slice ? bytes * (uint64_t)r->expert : 0);
	const char *base = strrchr(f->path, '/');

	if (t->layer >= 0 && r->expert >= 0)
		snprintf(where, sizeof where, "%s, layer %d, expert %d%s", pj_component_name(t->comp), t->layer,
		         r->expert, slice ? " (slice)" : "");
	else if (t->layer >= 0)
		snprintf(where, sizeof where, "%s, layer %d", pj_component_name(t->comp), t->layer);
	else
		snprintf(where, sizeof where, "%s, outside the blocks", pj_component_name(t->comp));
	line(L, "role", PJ_C_NORMAL, "%s - %s  (%s)", ri_->name, ri_->desc, where);
	pj_tensor_shape_str(t, shape, sizeof shape);
	if (slice)
		line(L, "shape", PJ_C_NORMAL, "expert %d of %s (ggml order)  %s  %s params  %s", r->expert, shape,
		     pj_dtype_name(t->dtype), pj_fmt_count(r->params, b1, sizeof b1), pj_fmt_bytes(bytes, b2, sizeof b2));
	else
		line(L, "shape", PJ_C_NORMAL, "%s (ggml order)  %s  %s params  %s", shape, pj_dtype_name(t->dtype),
		     pj_fmt_count(r->params, b1, sizeof b1), pj_fmt_bytes(bytes, b2, sizeof b2));
	pj_tstats s;
	pj_app_row_stats(a, ri, &s);
	stats_lines(L, &s, !slice && pj_tensor_stacked(t), r->params);
	if (a->s)
		plan_detail(a, ri, L);
	line(L, "file", PJ_C_NORMAL, "%s @ %llu (0x%llx)", base ? base + 1 : f->path,
	     (unsigned long long)off, (unsigned long long)off);
}

static void group_detail(pj_app *a, uint32_t ri, lines *L)
{
	const pj_row *r = &a->tree.rows[ri];
	const pj_layer *l = pj_app_row_layer(a, ri);
	char b1[24], b2[24], at[32];

	if (r->kind == PJ_ROW_LAYER && l) {
		const pj_arch *ar = &a->m->arch;
		line(L, "attn", PJ_C_NORMAL, "%s%s%s  heads %d/%d kv, head dim %d", pj_attn_str(l, at, sizeof at),
		     l->attn == PJ_ATTN_LOCAL ? " (sliding window)" : "", l->cross_attn ? ", with cross-attention" : "",
		     ar->n_heads, ar->n_kv_heads, ar->head_dim);
		if (l->ffn == PJ_FFN_MOE)
			line(L, "ffn", PJ_C_NORMAL, "MoE: %d routed experts (%d active), %d shared, expert FF %d",
			     l->n_experts, ar->n_experts_active, l->n_shared, ar->expert_ff);
		else
			line(L, "ffn", PJ_C_NORMAL, "%s", pj_ffn_kind_name(l->ffn));
		line(L, "size", PJ_C_NORMAL, "%s params, %s, %u tensors, %s;  KV cache %s/token at F16",
		     pj_fmt_count(l->params ? l->params : r->params, b1, sizeof b1),
		     pj_fmt_bytes(r->bytes, b2, sizeof b2), r->n_tensors,
		     r->dtype >= 0 ? pj_dtype_name((pj_dtype)r->dtype) : "mixed types",
		     pj_fmt_bytes(l->kv_bytes_per_token_f16, at, sizeof at));
	} else {
		if (r->layer >= 0)
			line(L, "in", PJ_C_NORMAL, "%s layer %d", pj_component_name(r->comp), r->layer);
		else
			line(L, "in", PJ_C_NORMAL, "%s", pj_component_name(r->comp));
		line(L, "size", PJ_C_NORMAL, "%s params, %s, %u tensors%s, %s", pj_fmt_count(r->params, b1, sizeof b1),
		     pj_fmt_bytes(r->bytes, b2, sizeof b2), r->n_tensors,
		     r->n_leaves != r->n_tensors ? " (listed per expert)" : "",
		     r->dtype >= 0 ? pj_dtype_name((pj_dtype)r->dtype) : "mixed types");
		if (r->kind == PJ_ROW_EXPERTS && r->n_leaves != r->n_tensors)
			line(L, "stored", PJ_C_DIM, "as %u stacked tensors (one type each on export)", r->n_tensors);
	}
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	if (p) {
		char b3[24];
		line(L, "plan", PJ_C_LABEL, "%s  %s  %.2f bpw  loss %s%s%s", p->type >= 0 ? pj_dtype_name((pj_dtype)p->type) : "mixed types",
		     pj_fmt_bytes(p->bytes, b1, sizeof b1), r->params ? 8.0 * (double)p->bytes / (double)r->params : 0,
		     p->estimated ? "~" : "", pj_fmt_num(p->loss, 9, b3, sizeof b3), p->pinned ? "  (some pinned)" : "");
		if (r->kind == PJ_ROW_EXPERTS || r->kind == PJ_ROW_EXPERT)
			line(L, "export", PJ_C_DIM, "GGUF stacks a layer's experts: on export one type per stacked tensor "
			     "(ffn_gate/up/down_exps) applies to all experts");
	}
	pj_tstats s;
	pj_app_row_stats(a, ri, &s);
	stats_lines(L, &s, false, r->params);
}

static void detail_draw(pj_app *a, pj_rect r)
{
	if (!a->tree.n_vis)
		return;
	uint32_t ri = pj_app_sel_row(a);
	const pj_row *row = &a->tree.rows[ri];
	char title[300];

	pj_crt_fill(r.y, r.x, r.w, PJ_C_TITLE);
	if (row->kind == PJ_ROW_TENSOR || row->kind == PJ_ROW_SLICE) {
		const pj_tensor *t = &a->m->cat.t[row->tensor];
		if (row->kind == PJ_ROW_SLICE)
			snprintf(title, sizeof title, " %s [expert %d]", t->name, row->expert);
		else
			snprintf(title, sizeof title, " %s", t->name);
	} else {
		char label[200];
		pj_tree_label(&a->tree, a->m, ri, label, sizeof label);
		if (row->layer >= 0 && row->kind != PJ_ROW_LAYER)
			snprintf(title, sizeof title, " layer %d: %s", row->layer, label);
		else
			snprintf(title, sizeof title, " %s", label);
	}
	pj_crt_put_tail(r.y, r.x, r.w, PJ_C_TITLE, true, title);

	lines L = { .r = { r.y + 1, r.x, r.h - 1, r.w }, .y = r.y + 1 };
	if (row->kind == PJ_ROW_TENSOR || row->kind == PJ_ROW_SLICE)
		tensor_detail(a, ri, &L);
	else
		group_detail(a, ri, &L);
}

const pj_view pj_detail_view = { "detail", detail_draw, NULL, NULL };
