/* table_view.c - the tensor table: one line per visible tree row, with the
 * columns that fit the terminal, statistics filling in as they arrive. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "views.h"

const pj_col_info pj_columns[PJ_COL_COUNT] = {
#define COL_ROW(id, title, w, right, prio, on) [PJ_COL_##id] = { title, w, right, prio, on },
	PJ_COLUMNS(COL_ROW)
#undef COL_ROW
};
#define columns pj_columns

#define NAME_MIN 24

typedef struct col_layout {
	bool on[PJ_COL_COUNT];
	int x[PJ_COL_COUNT];
	int name_w;
} col_layout;

/* Without a plan its columns say nothing. */
static bool col_wanted(const pj_app *a, int c)
{
	if (!a->s && (c == PJ_COL_TYPE || c == PJ_COL_BPW || c == PJ_COL_ERR || c == PJ_COL_LOSS || c == PJ_COL_PROV))
		return false;
	return a->col_on[c];
}

/* Columns the user chose, by priority, while the name keeps NAME_MIN
 * cells.  Without a plan the plan columns are left out. */
static void fit_columns(const pj_app *a, int width, col_layout *L)
{
	memset(L, 0, sizeof *L);
	int used = 0;
	for (int p = 1; p <= 6; p++) {
		int add = 0;
		for (int c = 0; c < PJ_COL_COUNT; c++)
			if (columns[c].prio == p && col_wanted(a, c))
				add += columns[c].width + 1;
		if (width - used - add < NAME_MIN)
			break;
		used += add;
		for (int c = 0; c < PJ_COL_COUNT; c++)
			if (columns[c].prio == p && col_wanted(a, c))
				L->on[c] = true;
	}
	L->name_w = width - used;
	int x = L->name_w;
	for (int c = 0; c < PJ_COL_COUNT; c++) {
		if (!L->on[c])
			continue;
		L->x[c] = x + 1;
		x += columns[c].width + 1;
	}
}

static pj_color row_color(const pj_row *r)
{
	switch ((pj_row_kind)r->kind) {
	case PJ_ROW_COMP: case PJ_ROW_LAYER: return PJ_C_LAYER;
	case PJ_ROW_GROUP: return PJ_C_GROUP;
	case PJ_ROW_EXPERTS: case PJ_ROW_EXPERT: return PJ_C_EXPERT;
	default: return PJ_C_NORMAL;
	}
}

/* Dim text after the label: what the label alone does not say. */
static void annotation(const pj_app *a, uint32_t ri, const char *label, bool attn_shown, char *buf, size_t len)
{
	const pj_row *r = &a->tree.rows[ri];
	const pj_layer *l = pj_app_row_layer(a, ri);
	char at[32];
	buf[0] = '\0';
	switch ((pj_row_kind)r->kind) {
	case PJ_ROW_LAYER: {
		size_t off = 0;
		if (!attn_shown && l)
			off += (size_t)snprintf(buf, len, "%s, ", pj_attn_str(l, at, sizeof at));
		if (l && l->ffn == PJ_FFN_MOE)
			snprintf(buf + off, len - off, l->n_shared ? "MoE %d+%d shared" : "MoE %d", l->n_experts, l->n_shared);
		else if (l && l->ffn == PJ_FFN_DENSE)
			snprintf(buf + off, len - off, "dense");
		else if (off >= 2)
			buf[off - 2] = '\0';
		break;
	}
	case PJ_ROW_GROUP:
		snprintf(buf, len, "(%u)", r->n_tensors);
		break;
	case PJ_ROW_EXPERTS: {
		char b[24];
		snprintf(buf, len, "%s", pj_fmt_bytes(r->bytes, b, sizeof b));
		break;
	}
	case PJ_ROW_EXPERT:
		snprintf(buf, len, "(%u tensors)", r->n_leaves);
		break;
	case PJ_ROW_TENSOR:
	case PJ_ROW_SLICE: {
		pj_role role = a->m->cat.t[r->tensor].role;
		const char *rn = pj_role_name(role);
		if (role != PJ_ROLE_UNKNOWN && !strstr(label, rn))
			snprintf(buf, len, "%s", rn);
		break;
	}
	default:
		break;
	}
}

static const char *attn_cell(const pj_app *a, uint32_t ri, char *buf, size_t len)
{
	const pj_row *r = &a->tree.rows[ri];
	buf[0] = '\0';
	/* Layer and attention-group rows only: repeating it on every tensor
	 * would be noise, except where a tensor differs (cross-attention). */
	if (r->kind == PJ_ROW_LAYER || ((r->kind == PJ_ROW_GROUP || r->kind == PJ_ROW_TENSOR) &&
	                                r->group == PJ_GROUP_ATTN)) {
		if (r->kind == PJ_ROW_TENSOR) {
			pj_role role = a->m->cat.t[r->tensor].role;
			if (role >= PJ_ROLE_CROSS_Q && role <= PJ_ROLE_CROSS_NORM) {
				snprintf(buf, len, "cross");
			}
			return buf;
		}
		const pj_layer *l = pj_app_row_layer(a, ri);
		if (l)
			pj_attn_str(l, buf, len);
	}
	return buf;
}

static const char *shape_cell(const pj_app *a, const pj_row *r, char *buf, size_t len)
{
	buf[0] = '\0';
	if (r->kind == PJ_ROW_TENSOR) {
		pj_tensor_shape_str(&a->m->cat.t[r->tensor], buf, len);
	} else if (r->kind == PJ_ROW_SLICE) {
		/* One expert: the stacked shape without its expert dimension. */
		pj_tensor one = a->m->cat.t[r->tensor];
		one.ne[one.n_dims - 1] = 1;
		one.n_dims--;
		pj_tensor_shape_str(&one, buf, len);
	}
	return buf;
}

static void put_cell(int y, int x, int w, bool right, pj_color c, const char *s)
{
	int sw = pj_crt_strwidth(s);
	if (right && sw < w)
		x += w - sw;
	pj_crt_put(y, x, w, c, false, s);
}

/* The statistics columns of one row, from its merged figures. */
static void draw_stats(const pj_app *a, uint32_t ri, int y, int x0, const col_layout *L, bool sel)
{
	pj_tstats s;
	if (!L->on[PJ_COL_MAXABS] && !L->on[PJ_COL_RMS] && !L->on[PJ_COL_NANINF] && !L->on[PJ_COL_OUTL])
		return;
	pj_app_row_stats(a, ri, &s);
	int first = -1, last_end = 0;
	for (int c = PJ_COL_MAXABS; c <= PJ_COL_OUTL; c++)
		if (L->on[c]) {
			if (first < 0)
				first = c;
			last_end = L->x[c] + columns[c].width;
		}
	if (first < 0)
		return;
	int sx = x0 + L->x[first];
	int span = last_end - L->x[first];
	switch (s.state) {
	case PJ_TS_UNSUPPORTED:
		put_cell(y, sx, span, true, sel ? PJ_C_SELECTED : PJ_C_DIM, "n/a (quantized)");
		return;
	case PJ_TS_ERROR:
		put_cell(y, sx, span, true, sel ? PJ_C_SELECTED : PJ_C_ERROR, "read error");
		return;
	default:
		break;
	}
	bool partial = s.state == PJ_TS_PARTIAL;
	for (int c = PJ_COL_MAXABS; c <= PJ_COL_OUTL; c++) {
		if (!L->on[c])
			continue;
		char v[32], cell[40];
		pj_color col = sel ? PJ_C_SELECTED : partial ? PJ_C_PARTIAL : PJ_C_NORMAL;
		int w = columns[c].width - (partial ? 1 : 0);
		if (s.state == PJ_TS_PENDING || (partial && s.n_finite == 0 && s.n == 0)) {
			put_cell(y, x0 + L->x[c], columns[c].width, true, sel ? PJ_C_SELECTED : PJ_C_DIM,
			         pj_crt_glyph(PJ_G_DOT));
			continue;
		}
		switch (c) {
		case PJ_COL_MAXABS: pj_fmt_num(pj_tstats_max_abs(&s), w, v, sizeof v); break;
		case PJ_COL_RMS: pj_fmt_num(pj_tstats_rms(&s), w, v, sizeof v); break;
		case PJ_COL_NANINF:
			if (s.n_nan || s.n_inf) {
				snprintf(v, sizeof v, "%llu/%llu", (unsigned long long)s.n_nan,
				         (unsigned long long)s.n_inf);
				if (!sel)
					col = PJ_C_WARN;
			} else {
				snprintf(v, sizeof v, "0");
			}
			break;
		case PJ_COL_OUTL: pj_fmt_pct(pj_tstats_outlier_frac(&s), v, sizeof v); break;
		default: v[0] = '\0'; break;
		}
		snprintf(cell, sizeof cell, "%s%s", partial ? "~" : "", v);
		put_cell(y, x0 + L->x[c], columns[c].width, true, col, cell);
	}
}

/* The plan columns of one row. */
static void draw_plan(pj_app *a, uint32_t ri, int y, pj_rect r, const col_layout *L, bool sel)
{
	const pj_row *row = &a->tree.rows[ri];
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	pj_color c = sel ? PJ_C_SELECTED : PJ_C_NORMAL, dim = sel ? PJ_C_SELECTED : PJ_C_DIM;
	char cell[48];
	if (!p)
		return;
	bool leaf = row->kind == PJ_ROW_TENSOR || row->kind == PJ_ROW_SLICE;
	pj_srow sr;
	if (leaf)
		pj_session_row_figures(a->s, (size_t)row->tensor, &sr);
	if (L->on[PJ_COL_TYPE]) {
		const char *tn = p->type >= 0 ? pj_dtype_name((pj_dtype)p->type) : "mixed";
		snprintf(cell, sizeof cell, "%s%s", tn, leaf && sr.fell_back ? "*" : "");
		put_cell(y, r.x + L->x[PJ_COL_TYPE], columns[PJ_COL_TYPE].width, false,
		         p->type < 0 ? dim : sel ? c : PJ_C_LABEL, cell);
	}
	if (L->on[PJ_COL_BYTES])
		put_cell(y, r.x + L->x[PJ_COL_BYTES], columns[PJ_COL_BYTES].width, true, c,
		         pj_fmt_bytes(p->bytes, cell, sizeof cell));
	if (L->on[PJ_COL_BPW] && row->params) {
		snprintf(cell, sizeof cell, "%.2f", 8.0 * (double)p->bytes / (double)row->params);
		put_cell(y, r.x + L->x[PJ_COL_BPW], columns[PJ_COL_BPW].width, true, c, cell);
	}
	if (L->on[PJ_COL_ERR] && leaf) {
		if (!sr.quantizable)
			snprintf(cell, sizeof cell, "kept");
		else if (sr.mstate == PJ_MS_DONE || sr.mstate == PJ_MS_PARTIAL)
			snprintf(cell, sizeof cell, "%s%s", sr.mstate == PJ_MS_PARTIAL ? "~" : "",
			         pj_fmt_num(sr.rel_err, 6, cell + 20, 20));
		else if (sr.mstate == PJ_MS_NA || sr.mstate == PJ_MS_ERROR)
			snprintf(cell, sizeof cell, "n/a");
		else
			snprintf(cell, sizeof cell, "%s", pj_crt_glyph(PJ_G_DOT));
		put_cell(y, r.x + L->x[PJ_COL_ERR], columns[PJ_COL_ERR].width, true,
		         sr.mstate == PJ_MS_DONE ? c : dim, cell);
	}
	if (L->on[PJ_COL_LOSS] && (p->loss > 0 || leaf)) {
		/* "1.2e-03 ▇▇▇": the number, then a bar against the whole plan. */
		pj_stotals tot;
		pj_session_totals(a->s, &tot);
		int x = r.x + L->x[PJ_COL_LOSS];
		snprintf(cell, sizeof cell, "%s%s", p->estimated ? "~" : "", pj_fmt_num(p->loss, 7, cell + 24, 24));
		put_cell(y, x, 8, true, p->estimated ? dim : c, cell);
		double frac = tot.loss > 0 ? p->loss / tot.loss : 0;
		/* A square-root scale: small shares stay visible next to big ones. */
		pj_crt_bar(y, x + 9, columns[PJ_COL_LOSS].width - 9, frac > 0 ? sqrt(frac) : 0,
		           sel ? PJ_C_SELECTED : PJ_C_WARN);
	}
	if (L->on[PJ_COL_PROV]) {
		const char *pv = p->prov < PJ_PROV_COUNT ? pj_provenance_name((pj_provenance)p->prov) : "";
		snprintf(cell, sizeof cell, "%s%s", pv, p->pinned ? "!" : "");
		put_cell(y, r.x + L->x[PJ_COL_PROV], columns[PJ_COL_PROV].width, false,
		         p->pinned && !sel ? PJ_C_WARN : c, cell);
	}
	if (L->on[PJ_COL_ROUTE] && (row->kind == PJ_ROW_EXPERT || row->kind == PJ_ROW_SLICE ||
	                            (row->kind == PJ_ROW_TENSOR && row->expert >= 0))) {
		/* From the last check's routing counts, when there was one. */
		double f = -1;
		if (row->kind == PJ_ROW_EXPERT) {
			for (uint32_t k = ri + 1; k < row->end && f < 0; k++)
				if (a->tree.rows[k].tensor >= 0)
					f = pj_check_job_expert_freq(&a->check, &a->m->cat.t[a->tree.rows[k].tensor], row->expert);
		} else {
			f = pj_check_job_expert_freq(&a->check, &a->m->cat.t[row->tensor], row->expert);
		}
		if (f >= 0)
			snprintf(cell, sizeof cell, "%.1f%%", 100 * f);
		else
			snprintf(cell, sizeof cell, "-");
		put_cell(y, r.x + L->x[PJ_COL_ROUTE], columns[PJ_COL_ROUTE].width, true, f >= 0 ? c : dim, cell);
	}
}

/* "256 experts: 200xQ4_K 56xQ6_K, 1.2 GiB": a pass over the layer's
 * tensors and a label per expert, so kept per row until the plan changes
 * (the label says nothing about losses or measurements); a few slots
 * cover the expert rows one screen shows. */
static const char *experts_label(pj_app *a, uint32_t ri)
{
	enum { SLOTS = 64 };
	typedef struct xlabel {
		const pj_session *s;
		uint32_t row;
		uint64_t gen;
		char label[256];
	} xlabel;
	static xlabel cache[SLOTS];
	const pj_row *row = &a->tree.rows[ri];
	const uint64_t gen = pj_session_plan_generation(a->s);
	xlabel *c = &cache[ri % SLOTS];
	if (c->s != a->s || c->row != ri || c->gen != gen) {
		pj_sagg ag;
		pj_session_agg_experts(a->s, row->comp, row->layer, &ag);
		pj_sagg_summary(&ag, c->label, sizeof c->label);
		c->s = a->s;
		c->row = ri;
		c->gen = gen;
	}
	return c->label;
}

static void draw_row(pj_app *a, uint32_t ri, int y, pj_rect r, const col_layout *L, bool sel)
{
	const pj_tree *t = &a->tree;
	const pj_row *row = &t->rows[ri];
	char label[256], note[96], cell[48];
	pj_color base = sel ? PJ_C_SELECTED : PJ_C_NORMAL;
	const pj_row_plan *p = pj_app_row_plan(a, ri);
	bool flat = a->sort_col >= 0;

	pj_crt_fill(y, r.x, r.w, base);
	/* Tag mark in the first cell. */
	if (p && (p->all_tagged || p->tagged))
		pj_crt_put(y, r.x, 1, sel ? base : PJ_C_WARN, false, p->all_tagged ? pj_crt_glyph(PJ_G_TAG) : "+");

	/* Name: indentation, expander, label, dim annotation. */
	int x = r.x + 1 + (flat ? 0 : 2 * row->depth);
	int name_end = r.x + L->name_w;
	if (x < name_end - 2) {
		pj_glyph g = flat || !pj_row_has_children(t, ri) ? PJ_G_LEAF : row->expanded ? PJ_G_EXPANDED : PJ_G_COLLAPSED;
		x += pj_crt_put(y, x, 1, sel ? base : row_color(row), false, pj_crt_glyph(g)) + 1;
		if (flat)
			snprintf(label, sizeof label, "%s", a->m->cat.t[row->tensor].name);
		else if (row->kind == PJ_ROW_EXPERTS && a->s)
			snprintf(label, sizeof label, "%s", experts_label(a, ri));
		else
			pj_tree_label(t, a->m, ri, label, sizeof label);
		int lw = name_end - x;
		/* Tensor names lose their start, not their distinctive end. */
		if (row->kind == PJ_ROW_TENSOR || row->kind == PJ_ROW_SLICE)
			x += pj_crt_put_tail(y, x, lw, sel ? base : row_color(row), false, label);
		else
			x += pj_crt_put(y, x, lw, sel ? base : row_color(row), false, label);
		annotation(a, ri, label, L->on[PJ_COL_ATTN], note, sizeof note);
		if (row->kind == PJ_ROW_EXPERTS && a->s)
			note[0] = '\0';
		/* Whole or not at all: "ffn_" would read as a different role. */
		if (note[0] && x + 2 + pj_crt_strwidth(note) <= name_end)
			pj_crt_put(y, x + 2, name_end - x - 2, sel ? base : PJ_C_DIM, false, note);
	}

	pj_color c = sel ? base : PJ_C_NORMAL;
	if (L->on[PJ_COL_ATTN])
		put_cell(y, r.x + L->x[PJ_COL_ATTN], columns[PJ_COL_ATTN].width, false, c, attn_cell(a, ri, cell, sizeof cell));
	if (L->on[PJ_COL_SHAPE])
		put_cell(y, r.x + L->x[PJ_COL_SHAPE], columns[PJ_COL_SHAPE].width, true, c,
		         shape_cell(a, row, cell, sizeof cell));
	if (L->on[PJ_COL_PARAMS])
		put_cell(y, r.x + L->x[PJ_COL_PARAMS], columns[PJ_COL_PARAMS].width, true, c,
		         pj_fmt_count(row->params, cell, sizeof cell));
	if (L->on[PJ_COL_SRC])
		put_cell(y, r.x + L->x[PJ_COL_SRC], columns[PJ_COL_SRC].width, false,
		         row->dtype < 0 && !sel ? PJ_C_DIM : c,
		         row->dtype >= 0 ? pj_dtype_name((pj_dtype)row->dtype) : "mixed");
	if (p) {
		draw_plan(a, ri, y, r, L, sel);
	} else {
		/* No plan: the source type and size stand in the plan columns. */
		if (L->on[PJ_COL_TYPE] && !L->on[PJ_COL_SRC])
			put_cell(y, r.x + L->x[PJ_COL_TYPE], columns[PJ_COL_TYPE].width, false,
			         row->dtype < 0 && !sel ? PJ_C_DIM : c,
			         row->dtype >= 0 ? pj_dtype_name((pj_dtype)row->dtype) : "mixed");
		if (L->on[PJ_COL_BYTES])
			put_cell(y, r.x + L->x[PJ_COL_BYTES], columns[PJ_COL_BYTES].width, true, c,
			         pj_fmt_bytes(row->bytes, cell, sizeof cell));
	}
	draw_stats(a, ri, y, r.x, L, sel);
}

static void table_draw(pj_app *a, pj_rect r)
{
	col_layout L;
	fit_columns(a, r.w, &L);

	/* Title row. */
	pj_crt_fill(r.y, r.x, r.w, PJ_C_TITLE);
	char title[160];
	size_t off = (size_t)snprintf(title, sizeof title, " Name  %zu/%zu", a->tree.n_vis ? a->sel + 1 : 0,
	                              a->tree.n_vis);
	if (a->sort_col >= 0)
		off += (size_t)snprintf(title + off, sizeof title - off, "  sorted by %s",
		                        columns[a->sort_col].title);
	if (a->filter != PJ_FILTER_NONE && off < sizeof title)
		snprintf(title + off, sizeof title - off, "  [%s]", a->filter_text);
	pj_crt_put(r.y, r.x, L.name_w, PJ_C_TITLE, false, title);
	for (int c = 0; c < PJ_COL_COUNT; c++)
		if (L.on[c])
			put_cell(r.y, r.x + L.x[c], columns[c].width, columns[c].right, PJ_C_TITLE, columns[c].title);

	pj_app_select(a, a->sel);     /* keep the selection in view after a resize */
	for (int i = 0; i < r.h - 1; i++) {
		size_t v = a->top + (size_t)i;
		if (v >= a->tree.n_vis)
			break;
		draw_row(a, a->tree.vis[v], r.y + 1 + i, r, &L, v == a->sel);
	}
	if (!a->tree.n_vis && a->filter != PJ_FILTER_NONE)
		pj_crt_put(r.y + 1, r.x + 2, r.w - 2, PJ_C_DIM, false, "no row matches the filter (Esc clears it)");
}

/* Row to select after moving over layers: next/previous LAYER row. */
static bool jump_layer(pj_app *a, int dir)
{
	const pj_tree *t = &a->tree;
	for (size_t v = a->sel; dir > 0 ? v + 1 < t->n_vis : v > 0;) {
		v = dir > 0 ? v + 1 : v - 1;
		if (t->rows[t->vis[v]].kind == PJ_ROW_LAYER) {
			pj_app_select(a, v);
			return true;
		}
	}
	return false;
}

/* Re-find the selected row after the visible list changed. */
static void reselect(pj_app *a, uint32_t row)
{
	pj_app_refresh_rows(a);
	if (a->sort_col >= 0 || a->filter != PJ_FILTER_NONE) {
		for (size_t v = 0; v < a->tree.n_vis; v++)
			if (a->tree.vis[v] == row) {
				pj_app_select(a, v);
				return;
			}
		return;
	}
	pj_app_select(a, pj_tree_vis_index(&a->tree, row));
}

/* After expanding the selected row, scroll so that as much of what opened
 * as fits is on screen, without pushing the row itself off the top. */
static void reveal_children(pj_app *a)
{
	const pj_tree *t = &a->tree;
	uint32_t row = pj_app_sel_row(a);
	size_t page = a->page > 0 ? (size_t)a->page : 1;
	size_t last = a->sel;
	while (last + 1 < t->n_vis && t->vis[last + 1] < t->rows[row].end)
		last++;
	if (last >= a->top + page) {
		size_t want = last - page + 1;
		a->top = want > a->sel ? a->sel : want;
	}
}

static int table_action(pj_app *a, pj_action act)
{
	pj_tree *t = &a->tree;
	uint32_t row = pj_app_sel_row(a);
	size_t page = a->page > 0 ? (size_t)a->page : 1;
	bool tree_mode = a->sort_col < 0 && a->filter == PJ_FILTER_NONE;
	if (!t->n_vis)
		return PJ_R_IGNORED;

	switch (act) {
	case PJ_ACT_UP: pj_app_select(a, a->sel ? a->sel - 1 : 0); break;
	case PJ_ACT_DOWN: pj_app_select(a, a->sel + 1); break;
	case PJ_ACT_PGUP: pj_app_select(a, a->sel > page ? a->sel - page : 0); break;
	case PJ_ACT_PGDN: pj_app_select(a, a->sel + page); break;
	case PJ_ACT_HOME: pj_app_select(a, 0); break;
	case PJ_ACT_END: pj_app_select(a, t->n_vis - 1); break;
	case PJ_ACT_NEXT_LAYER: jump_layer(a, 1); break;
	case PJ_ACT_PREV_LAYER: jump_layer(a, -1); break;
	case PJ_ACT_EXPAND:
		if (!tree_mode || !pj_row_has_children(t, row))
			break;
		if (!t->rows[row].expanded) {
			pj_tree_set_expanded(t, row, true);
			reselect(a, row);
			reveal_children(a);
		} else {
			pj_app_select(a, a->sel + 1);       /* step into it */
		}
		break;
	case PJ_ACT_COLLAPSE:
		if (!tree_mode)
			break;
		if (pj_row_has_children(t, row) && t->rows[row].expanded) {
			pj_tree_set_expanded(t, row, false);
			reselect(a, row);
		} else if (t->rows[row].parent >= 0) {
			reselect(a, (uint32_t)t->rows[row].parent);
		}
		break;
	case PJ_ACT_TOGGLE:
		if (!tree_mode)
			break;
		pj_tree_set_expanded(t, row, !t->rows[row].expanded);
		reselect(a, row);
		if (t->rows[row].expanded)
			reveal_children(a);
		break;
	case PJ_ACT_EXPAND_TREE:
		if (!tree_mode)
			break;
		pj_tree_expand_subtree(t, row);
		reselect(a, row);
		reveal_children(a);
		break;
	case PJ_ACT_EXPAND_ALL:
		if (!tree_mode)
			break;
		pj_tree_expand_all(t, false);
		reselect(a, row);
		break;
	case PJ_ACT_COLLAPSE_ALL:
		if (!tree_mode)
			break;
		pj_tree_collapse_all(t);
		reselect(a, row);
		break;
	default:
		return PJ_R_IGNORED;
	}
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

static int table_mouse(pj_app *a, pj_rect r, const pj_mouse *ev)
{
	switch (ev->kind) {
	case PJ_MOUSE_WHEEL_UP:
		pj_app_select(a, a->sel > 3 ? a->sel - 3 : 0);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_MOUSE_WHEEL_DOWN:
		pj_app_select(a, a->sel + 3);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_MOUSE_CLICK: {
		if (ev->y <= r.y)
			return PJ_R_IGNORED;     /* the title row */
		size_t v = a->top + (size_t)(ev->y - r.y - 1);
		if (v >= a->tree.n_vis)
			return PJ_R_IGNORED;
		bool was_selected = v == a->sel;
		/* A click on the selected row, or on its expander, toggles it. */
		const pj_row *row = &a->tree.rows[a->tree.vis[v]];
		int gx = r.x + 1 + 2 * row->depth;
		pj_app_select(a, v);
		if (v == a->sel && (was_selected || ev->x == gx))
			return table_action(a, PJ_ACT_TOGGLE);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	}
	}
	return PJ_R_IGNORED;
}

const pj_view pj_table_view = { "table", table_draw, table_action, table_mouse };
