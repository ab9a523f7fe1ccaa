/* tree.h - the row model behind the table: tensors grouped by
 * component -> layer -> attention / FFN / experts -> tensors.
 *
 * Rows live in one array in pre-order, so a row's subtree is the range
 * [row, row.end) and a parent always precedes its children.  Expanding or
 * collapsing only flips a flag and rebuilds the list of visible rows.
 *
 * Experts are listed one by one whatever the file layout: per-expert HF
 * tensors sit under their "expert N" row; a GGUF stacked tensor
 * (ffn_*_exps, experts in its last dimension) appears as one SLICE row
 * under each expert.  A MoE layer's experts collapse into one summary row.
 *
 * No curses here: the tree is plain data, usable from any front end. */
#ifndef PJ_UI_TREE_H
#define PJ_UI_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

typedef enum pj_row_kind {
	PJ_ROW_COMP,      /* a component (vision tower, encoder...), only when there are several */
	PJ_ROW_LAYER,
	PJ_ROW_GROUP,     /* attention / FFN / other tensors of a layer */
	PJ_ROW_EXPERTS,   /* summary of a MoE layer's routed experts */
	PJ_ROW_EXPERT,    /* one expert */
	PJ_ROW_TENSOR,
	PJ_ROW_SLICE,     /* one expert of a stacked expert tensor */
} pj_row_kind;

typedef enum pj_group { PJ_GROUP_ATTN, PJ_GROUP_FFN, PJ_GROUP_EXPERTS, PJ_GROUP_OTHER, PJ_GROUP_COUNT } pj_group;

typedef struct pj_row {
	uint8_t kind;           /* pj_row_kind */
	uint8_t depth;
	uint8_t group;          /* pj_group, for GROUP rows and rows inside one */
	bool expanded;
	uint32_t end;           /* one past the last row of the subtree */
	int32_t parent;         /* -1 at top level */
	int32_t tensor;         /* TENSOR, SLICE: catalog index; else -1 */
	int32_t expert;         /* EXPERT, SLICE, per-expert TENSOR: expert index; else -1 */
	int32_t comp;           /* pj_component */
	int32_t layer;          /* block index, -1 outside blocks */
	int32_t arch_layer;     /* index into m->arch.layers, -1 if unknown */
	uint32_t n_leaves;      /* TENSOR + SLICE rows below (1 for a leaf) */
	uint32_t n_tensors;     /* distinct catalog tensors below */
	uint32_t n_children;
	uint64_t params;        /* WEIGHT_SCALE tensors count 0 */
	uint64_t bytes;
	int16_t dtype;          /* pj_dtype shared by every leaf, -1 when mixed */
} pj_row;

typedef struct pj_tree {
	pj_row *rows;
	size_t n;
	uint32_t *vis;          /* visible rows, ascending */
	size_t n_vis;
	size_t *order;          /* catalog tensors in display order, each once */
	size_t n_order;
	bool several_comps;
} pj_tree;

void pj_tree_build(pj_tree *t, const pj_model *m);
void pj_tree_free(pj_tree *t);

static inline bool pj_row_has_children(const pj_tree *t, uint32_t r)
{
	return t->rows[r].end > r + 1;
}

/* Rebuilds the visible list (after flags changed). */
void pj_tree_refresh(pj_tree *t);
/* The visible list with a filter: only rows holding a leaf keep() accepts,
 * shown open whatever their expanded flag (NULL keep: pj_tree_refresh). */
void pj_tree_refresh_filtered(pj_tree *t, bool (*keep)(void *ctx, uint32_t row), void *ctx);
/* A flat list instead: the first row of every catalog tensor keep() accepts
 * (NULL: all), in display order, for the caller to sort. */
void pj_tree_flat(pj_tree *t, bool (*keep)(void *ctx, uint32_t row), void *ctx);
/* Index in vis of row r, or of the nearest visible ancestor. */
size_t pj_tree_vis_index(const pj_tree *t, uint32_t r);
/* Expands or collapses one row; returns true when something changed. */
bool pj_tree_set_expanded(pj_tree *t, uint32_t r, bool on);
/* Every row that has children: layers and groups, and experts too when
 * with_experts. */
void pj_tree_expand_all(pj_tree *t, bool with_experts);
void pj_tree_collapse_all(pj_tree *t);
void pj_tree_expand_subtree(pj_tree *t, uint32_t r);

/* Does the tensor hold several experts along its last dimension? */
bool pj_tensor_stacked(const pj_tensor *t);

/* The text of a row's name column: "layer 3", "attention", "expert 7",
 * "8 experts: 3 tensors each", or the tensor's name without the
 * prefix its parents already say ("self_attn.q_proj.weight"). */
const char *pj_tree_label(const pj_tree *t, const pj_model *m, uint32_t r, char *buf, size_t len);
const char *pj_group_name(pj_group g);

#endif
