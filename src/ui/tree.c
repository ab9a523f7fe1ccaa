/* tree.c - building the grouped row model and walking it. */
#include "config.h"
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const group_names[PJ_GROUP_COUNT] = { "attention", "ffn", "experts", "other" };

const char *pj_group_name(pj_group g)
{
	return (unsigned)g < PJ_GROUP_COUNT ? group_names[g] : "?";
}

bool pj_tensor_stacked(const pj_tensor *t)
{
	return t->n_experts > 1 && t->n_dims >= 2 && t->ne[t->n_dims - 1] == t->n_experts;
}

/* Which group of its layer a tensor belongs to: by role, then by name for
 * tensors detection could not place. */
static pj_group group_of(const pj_tensor *t)
{
	if (t->expert >= 0)
		return PJ_GROUP_EXPERTS;
	switch (t->role) {
	case PJ_ROLE_ATTN_NORM: case PJ_ROLE_ATTN_POST_NORM: case PJ_ROLE_ATTN_Q_NORM:
	case PJ_ROLE_ATTN_K_NORM: case PJ_ROLE_MLA_Q_A_NORM: case PJ_ROLE_MLA_KV_A_NORM:
	case PJ_ROLE_CROSS_NORM: case PJ_ROLE_V_ATTN:
		return PJ_GROUP_ATTN;
	case PJ_ROLE_FFN_NORM: case PJ_ROLE_FFN_POST_NORM: case PJ_ROLE_V_FFN:
		return PJ_GROUP_FFN;
	default:
		break;
	}
	switch (pj_role_info_of(t->role)->group) {
	case PJ_RG_ATTN: case PJ_RG_MLA:
		return PJ_GROUP_ATTN;
	case PJ_RG_FFN: case PJ_RG_SHARED: case PJ_RG_ROUTER:
		return PJ_GROUP_FFN;
	case PJ_RG_EXPERT:
		return PJ_GROUP_EXPERTS;
	default:
		break;
	}
	if (strstr(t->name, "attn") || strstr(t->name, "attention"))
		return PJ_GROUP_ATTN;
	if (strstr(t->name, "mlp") || strstr(t->name, "ffn") || strstr(t->name, "feed_forward"))
		return PJ_GROUP_FFN;
	return PJ_GROUP_OTHER;
}

/* Tensors outside blocks: embeddings go above the layers, the rest below. */
static int place_of(const pj_tensor *t)
{
	if (t->layer >= 0)
		return 1;
	pj_role_group g = pj_role_info_of(t->role)->group;
	if (g == PJ_RG_EMBED || t->role == PJ_ROLE_V_PATCH_EMBD || t->role == PJ_ROLE_V_POS_EMBD)
		return 0;
	if (t->role == PJ_ROLE_UNKNOWN && strstr(t->name, "embed"))
		return 0;
	return 2;
}

/* The tensor a scale tensor scales (FP8 "x.weight_scale_inv" -> "x.weight"),
 * so it is listed beside it; -1 when there is none. */
static ptrdiff_t scaled_tensor(const pj_catalog *c, const pj_tensor *t)
{
	static const struct { const char *suffix, *base; } map[] = {
		{ ".weight_scale_inv", ".weight" }, { ".weight_scale", ".weight" },
		{ ".input_scale", ".weight" }, { "_scales", "_blocks" },
	};
	if (t->role != PJ_ROLE_WEIGHT_SCALE)
		return -1;
	size_t n = strlen(t->name);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		size_t sl = strlen(map[i].suffix);
		if (n <= sl || strcmp(t->name + n - sl, map[i].suffix) != 0)
			continue;
		char buf[512];
		snprintf(buf, sizeof buf, "%.*s%s", (int)(n - sl), t->name, map[i].base);
		return pj_catalog_find_index(c, buf);
	}
	return -1;
}

typedef struct tkey {
	size_t idx;
	int comp, place, layer, group, expert, role;
	const char *name;
} tkey;

static int tkey_cmp(const void *pa, const void *pb)
{
	const tkey *a = pa, *b = pb;
#define CMP(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
	CMP(comp);
	CMP(place);
	CMP(layer);
	CMP(group);
	CMP(expert);
	CMP(role);
#undef CMP
	return strcmp(a->name, b->name);
}

typedef struct builder {
	pj_tree *t;
	size_t cap;
	const pj_model *m;
} builder;

static uint32_t add_row(builder *b, pj_row_kind kind, int depth)
{
	pj_tree *t = b->t;
	if (t->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		t->rows = pj_xrealloc(t->rows, b->cap * sizeof *t->rows);
	}
	pj_row *r = &t->rows[t->n];
	memset(r, 0, sizeof *r);
	r->kind = (uint8_t)kind;
	r->depth = (uint8_t)depth;
	r->tensor = -1;
	r->expert = -1;
	r->layer = -1;
	r->arch_layer = -1;
	r->parent = -1;
	r->dtype = -2;          /* unset until aggregation */
	/* Groups open by default so expanding a layer shows its tensors;
	 * experts stay summarised until asked for. */
	r->expanded = kind == PJ_ROW_COMP || kind == PJ_ROW_GROUP;
	return (uint32_t)t->n++;
}

static void set_leaf(builder *b, uint32_t ri, size_t ti, int expert_slice)
{
	const pj_tensor *tt = &b->m->cat.t[ti];
	pj_row *r = &b->t->rows[ri];
	uint64_t nel = (uint64_t)pj_tensor_nelem(tt);
	uint64_t div = expert_slice >= 0 ? (uint64_t)tt->n_experts : 1;
	r->tensor = (int32_t)ti;
	r->expert = expert_slice >= 0 ? expert_slice : tt->expert;
	r->params = tt->role == PJ_ROLE_WEIGHT_SCALE ? 0 : nel / div;
	r->bytes = tt->nbytes / div;
	r->dtype = (int16_t)tt->dtype;
	r->n_leaves = 1;
	r->n_tensors = expert_slice <= 0 ? 1 : 0;   /* a stacked tensor counts once */
}

static int find_arch_layer(const pj_model *m, int comp, int layer)
{
	for (int i = 0; i < m->arch.n_layer_entries; i++)
		if (m->arch.layers[i].comp == comp && m->arch.layers[i].index == layer)
			return i;
	return -1;
}

/* The experts group of one layer: expert rows, each with its tensors or
 * its slices of the stacked tensors.  Keys k[0..n) are that group's. */
static void emit_experts(builder *b, const tkey *k, size_t n, int depth, int comp, int layer)
{
	const pj_catalog *cat = &b->m->cat;
	int n_exp = 0;
	for (size_t i = 0; i < n; i++) {
		const pj_tensor *t = &cat->t[k[i].idx];
		if (k[i].expert >= 0 && k[i].expert + 1 > n_exp)
			n_exp = k[i].expert + 1;
		if (pj_tensor_stacked(t) && t->n_experts > n_exp)
			n_exp = t->n_experts;
	}
	uint32_t er = add_row(b, PJ_ROW_EXPERTS, depth);
	b->t->rows[er].group = PJ_GROUP_EXPERTS;
	b->t->rows[er].comp = comp;
	b->t->rows[er].layer = layer;
	b->t->rows[er].expert = n_exp;  /* the summary row keeps the count here */

	/* Expert tensors that are neither per-expert nor sliceable (a shared
	 * bias, say) sit directly under the summary. */
	for (size_t i = 0; i < n; i++) {
		const pj_tensor *t = &cat->t[k[i].idx];
		if (k[i].expert < 0 && !pj_tensor_stacked(t)) {
			uint32_t r = add_row(b, PJ_ROW_TENSOR, depth + 1);
			b->t->rows[r].group = PJ_GROUP_EXPERTS;
			set_leaf(b, r, k[i].idx, -1);
		}
	}
	for (int e = 0; e < n_exp; e++) {
		uint32_t xr = add_row(b, PJ_ROW_EXPERT, depth + 1);
		b->t->rows[xr].expert = e;
		b->t->rows[xr].group = PJ_GROUP_EXPERTS;
		for (size_t i = 0; i < n; i++) {
			const pj_tensor *t = &cat->t[k[i].idx];
			uint32_t r;
			if (k[i].expert == e) {
				r = add_row(b, PJ_ROW_TENSOR, depth + 2);
				set_leaf(b, r, k[i].idx, -1);
				b->t->rows[r].expert = e;
			} else if (k[i].expert < 0 && pj_tensor_stacked(t) && e < t->n_experts) {
				r = add_row(b, PJ_ROW_SLICE, depth + 2);
				set_leaf(b, r, k[i].idx, e);
			} else {
				continue;
			}
			b->t->rows[r].group = PJ_GROUP_EXPERTS;
		}
	}
}

/* end, parent, depth-derived links and bottom-up sums. */
static void link_rows(pj_tree *t)
{
	uint32_t *stack = pj_xmalloc((t->n + 1) * sizeof *stack);
	size_t sp = 0;
	for (size_t j = 0; j < t->n; j++) {
		while (sp && t->rows[stack[sp - 1]].depth >= t->rows[j].depth)
			t->rows[stack[--sp]].end = (uint32_t)j;
		t->rows[j].parent = sp ? (int32_t)stack[sp - 1] : -1;
		stack[sp++] = (uint32_t)j;
	}
	while (sp)
		t->rows[stack[--sp]].end = (uint32_t)t->n;
	free(stack);

	for (size_t j = t->n; j-- > 0;) {
		pj_row *r = &t->rows[j];
		if (r->dtype == -2)
			r->dtype = -1;   /* an empty inner row */
		if (r->parent < 0)
			continue;
		pj_row *p = &t->rows[r->parent];
		p->n_children++;
		p->n_leaves += r->n_leaves;
		p->n_tensors += r->n_tensors;
		p->params += r->params;
		p->bytes += r->bytes;
		if (p->dtype == -2)
			p->dtype = r->dtype;
		else if (p->dtype != r->dtype)
			p->dtype = -1;
	}
}

void pj_tree_build(pj_tree *t, const pj_model *m)
{
	const pj_catalog *cat = &m->cat;
	builder b = { .t = t, .m = m };
	memset(t, 0, sizeof *t);

	tkey *k = pj_xcalloc(cat->n ? cat->n : 1, sizeof *k);
	unsigned comps = 0;
	for (size_t i = 0; i < cat->n; i++) {
		const pj_tensor *tt = &cat->t[i];
		/* A scale tensor sorts as its weight does, and just after it
		 * (same keys, longer name). */
		ptrdiff_t si = scaled_tensor(cat, tt);
		const pj_tensor *like = si >= 0 ? &cat->t[si] : tt;
		int place = place_of(like);
		k[i] = (tkey){ .idx = i, .comp = tt->comp, .place = place,
		               .layer = place == 1 ? tt->layer : -1,
		               .group = place == 1 ? (int)group_of(like) : 0,
		               .expert = like->expert, .role = like->role, .name = tt->name };
		comps |= 1u << tt->comp;
	}
	qsort(k, cat->n, sizeof *k, tkey_cmp);
	t->several_comps = (comps & (comps - 1)) != 0;

	int base = t->several_comps ? 1 : 0;
	int cur_comp = -1, cur_layer = -1, cur_group = -1;
	for (size_t i = 0; i < cat->n;) {
		const tkey *ki = &k[i];
		if (ki->comp != cur_comp) {
			cur_comp = ki->comp;
			cur_layer = cur_group = -1;
			if (t->several_comps) {
				uint32_t r = add_row(&b, PJ_ROW_COMP, 0);
				t->rows[r].comp = cur_comp;
			}
		}
		if (ki->place != 1) {
			uint32_t r = add_row(&b, PJ_ROW_TENSOR, base);
			t->rows[r].comp = cur_comp;
			t->rows[r].group = PJ_GROUP_OTHER;
			set_leaf(&b, r, ki->idx, -1);
			cur_layer = cur_group = -1;
			i++;
			continue;
		}
		if (ki->layer != cur_layer) {
			cur_layer = ki->layer;
			cur_group = -1;
			uint32_t r = add_row(&b, PJ_ROW_LAYER, base);
			t->rows[r].comp = cur_comp;
			t->rows[r].layer = cur_layer;
			t->rows[r].arch_layer = find_arch_layer(m, cur_comp, cur_layer);
		}
		if (ki->group == PJ_GROUP_EXPERTS) {
			size_t j = i;
			while (j < cat->n && k[j].comp == ki->comp && k[j].place == 1 &&
			       k[j].layer == ki->layer && k[j].group == PJ_GROUP_EXPERTS)
				j++;
			emit_experts(&b, &k[i], j - i, base + 1, cur_comp, cur_layer);
			cur_group = PJ_GROUP_EXPERTS;
			i = j;
			continue;
		}
		if (ki->group != cur_group) {
			cur_group = ki->group;
			uint32_t r = add_row(&b, PJ_ROW_GROUP, base + 1);
			t->rows[r].group = (uint8_t)cur_group;
			t->rows[r].comp = cur_comp;
			t->rows[r].layer = cur_layer;
		}
		uint32_t r = add_row(&b, PJ_ROW_TENSOR, base + 2);
		t->rows[r].group = (uint8_t)cur_group;
		set_leaf(&b, r, ki->idx, -1);
		i++;
	}
	free(k);

	/* Inner rows inherit comp/layer from their parents. */
	link_rows(t);
	for (size_t j = 0; j < t->n; j++) {
		pj_row *r = &t->rows[j];
		if (r->parent >= 0 && r->kind != PJ_ROW_COMP && r->kind != PJ_ROW_LAYER) {
			r->comp = t->rows[r->parent].comp;
			r->layer = t->rows[r->parent].layer;
			r->arch_layer = t->rows[r->parent].arch_layer;
		}
	}

	/* Tensors in display order, so statistics arrive top to bottom. */
	bool *seen = pj_xcalloc(cat->n ? cat->n : 1, sizeof *seen);
	t->order = pj_xcalloc(cat->n ? cat->n : 1, sizeof *t->order);
	for (size_t j = 0; j < t->n; j++) {
		int32_t ti = t->rows[j].tensor;
		if (ti >= 0 && !seen[ti]) {
			seen[ti] = true;
			t->order[t->n_order++] = (size_t)ti;
		}
	}
	free(seen);
	t->vis = pj_xcalloc(t->n ? t->n : 1, sizeof *t->vis);
	pj_tree_refresh(t);
}

void pj_tree_free(pj_tree *t)
{
	free(t->rows);
	free(t->vis);
	free(t->order);
	memset(t, 0, sizeof *t);
}

void pj_tree_refresh(pj_tree *t)
{
	t->n_vis = 0;
	for (uint32_t i = 0; i < t->n;) {
		t->vis[t->n_vis++] = i;
		i = t->rows[i].expanded ? i + 1 : t->rows[i].end;
	}
}

size_t pj_tree_vis_index(const pj_tree *t, uint32_t r)
{
	if (!t->n_vis)
		return 0;
	/* The last visible row <= r: r itself, or the collapsed ancestor
	 * hiding it (pre-order puts ancestors just before). */
	size_t lo = 0, hi = t->n_vis;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (t->vis[mid] <= r)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

bool pj_tree_set_expanded(pj_tree *t, uint32_t r, bool on)
{
	if (r >= t->n || !pj_row_has_children(t, r) || t->rows[r].expanded == on)
		return false;
	t->rows[r].expanded = on;
	pj_tree_refresh(t);
	return true;
}

void pj_tree_expand_all(pj_tree *t, bool with_experts)
{
	for (size_t i = 0; i < t->n; i++) {
		pj_row *r = &t->rows[i];
		if (r->kind == PJ_ROW_EXPERTS || r->kind == PJ_ROW_EXPERT)
			r->expanded = with_experts;
		else
			r->expanded = true;
	}
	pj_tree_refresh(t);
}

void pj_tree_collapse_all(pj_tree *t)
{
	/* Groups keep their state: they are hidden with their layer, and a
	 * layer opened later should show its tensors straight away. */
	for (size_t i = 0; i < t->n; i++)
		if (t->rows[i].kind != PJ_ROW_GROUP)
			t->rows[i].expanded = false;
	pj_tree_refresh(t);
}

void pj_tree_expand_subtree(pj_tree *t, uint32_t r)
{
	for (uint32_t i = r; i < t->rows[r].end; i++)
		t->rows[i].expanded = true;
	pj_tree_refresh(t);
}

/* The part of name after the segment ".num." (or "num." at the start):
 * what remains once a parent row has said "layer num" or "expert num". */
static const char *after_index(const char *name, int num)
{
	char seg[24];
	int n = snprintf(seg, sizeof seg, ".%d.", num);
	if (strncmp(name, seg + 1, (size_t)n - 1) == 0)
		return name + n - 1;
	const char *p = strstr(name, seg);
	return p ? p + n : name;
}

const char *pj_tree_label(const pj_tree *t, const pj_model *m, uint32_t ri, char *buf, size_t len)
{
	const pj_row *r = &t->rows[ri];
	switch ((pj_row_kind)r->kind) {
	case PJ_ROW_COMP: {
		unsigned layers = 0;
		for (uint32_t c = ri + 1; c < r->end; c = t->rows[c].end)
			layers += t->rows[c].kind == PJ_ROW_LAYER;
		if (layers)
			snprintf(buf, len, "%s (%u blocks)", pj_component_name((pj_component)r->comp), layers);
		else
			snprintf(buf, len, "%s", pj_component_name((pj_component)r->comp));
		break;
	}
	case PJ_ROW_LAYER:
		snprintf(buf, len, "layer %d", r->layer);
		break;
	case PJ_ROW_GROUP:
		snprintf(buf, len, "%s", pj_group_name((pj_group)r->group));
		break;
	case PJ_ROW_EXPERTS: {
		/* Tensors per expert, from the first expert row. */
		unsigned each = 0, scales = 0;
		bool stacked = false;
		for (uint32_t c = ri + 1; c < r->end; c = t->rows[c].end) {
			if (t->rows[c].kind != PJ_ROW_EXPERT)
				continue;
			for (uint32_t l = c + 1; l < t->rows[c].end; l++) {
				bool scale = m->cat.t[t->rows[l].tensor].role == PJ_ROLE_WEIGHT_SCALE;
				scales += scale;
				each += !scale;
				stacked |= t->rows[l].kind == PJ_ROW_SLICE;
			}
			break;
		}
		if (stacked)
			snprintf(buf, len, "%d experts: %u stacked tensors", r->expert, each);
		else if (scales)
			snprintf(buf, len, "%d experts: %u tensors (+%u scales) each", r->expert, each, scales);
		else
			snprintf(buf, len, "%d experts: %u tensors each", r->expert, each);
		break;
	}
	case PJ_ROW_EXPERT:
		snprintf(buf, len, "expert %d", r->expert);
		break;
	case PJ_ROW_TENSOR:
	case PJ_ROW_SLICE: {
		const pj_tensor *tt = &m->cat.t[r->tensor];
		const char *s = tt->name;
		if (r->layer >= 0 && tt->layer >= 0)
			s = after_index(s, tt->layer);
		if (r->kind == PJ_ROW_TENSOR && r->expert >= 0)
			s = after_index(s, r->expert);
		/* ".weight" says nothing in a table of weights; ".bias" does. */
		int n = (int)strlen(s);
		if (n > 7 && strcmp(s + n - 7, ".weight") == 0)
			n -= 7;
		if (r->kind == PJ_ROW_SLICE)
			snprintf(buf, len, "%.*s[%d]", n, s, r->expert);
		else
			snprintf(buf, len, "%.*s", n, s);
		break;
	}
	}
	return buf;
}

void pj_tree_refresh_filtered(pj_tree *t, bool (*keep)(void *ctx, uint32_t row), void *ctx)
{
	if (!keep) {
		pj_tree_refresh(t);
		return;
	}
	uint8_t *m = pj_xcalloc(t->n ? t->n : 1, 1);
	for (size_t j = t->n; j-- > 0;) {
		const pj_row *r = &t->rows[j];
		if ((r->kind == PJ_ROW_TENSOR || r->kind == PJ_ROW_SLICE) && keep(ctx, (uint32_t)j))
			m[j] = 1;
		if (m[j] && r->parent >= 0)
			m[r->parent] = 1;
	}
	/* Everything that holds a match is shown open: a filter asks to see
	 * the matches, wherever they are. */
	t->n_vis = 0;
	for (uint32_t i = 0; i < t->n;) {
		if (!m[i]) {
			i = t->rows[i].end;
			continue;
		}
		t->vis[t->n_vis++] = i;
		i++;
	}
	free(m);
}

void pj_tree_flat(pj_tree *t, bool (*keep)(void *ctx, uint32_t row), void *ctx)
{
	/* The first row of each catalog tensor, in display order. */
	t->n_vis = 0;
	bool *seen = pj_xcalloc(t->n ? t->n : 1, sizeof *seen);
	for (uint32_t i = 0; i < t->n; i++) {
		int32_t ti = t->rows[i].tensor;
		if (ti < 0 || (size_t)ti >= t->n || seen[ti])
			continue;
		seen[ti] = true;
		if (!keep || keep(ctx, i))
			t->vis[t->n_vis++] = i;
	}
	free(seen);
}
