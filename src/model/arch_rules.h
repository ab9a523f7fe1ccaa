/* arch_rules.h - the data behind architecture detection: tensor-name tables
 * (HF and GGUF) and per-architecture defaults.  arch.c only interprets them.
 *
 * Names are matched in two steps.  A scope table (ordered, first match wins)
 * strips a prefix such as "model.layers.#." and gives the component and the
 * block index; a role table (ordered, first match wins) classifies the rest
 * ("self_attn.q_proj.weight").  Patterns are literal text with two
 * placeholders: '#' is a decimal number (captured: block index in scopes,
 * expert index in roles) and '*' any run of characters. */
#ifndef PJ_ARCH_RULES_H
#define PJ_ARCH_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roles.h"

/* Block / expert indices above this are not indices (malformed or hostile
 * names); it also bounds the per-layer table a name can make us allocate. */
#define PJ_NAME_MAX_INDEX 65535

typedef struct pj_name_scope {
	const char *prefix;     /* "model.layers.#." (with '#': a block scope) */
	pj_component comp;
} pj_name_scope;

/* pj_name_rule.flags */
enum {
	PJ_NR_SANDWICH = 1u << 0, /* only when the model has sandwich norms (Gemma 2/3) */
	PJ_NR_PACKED4  = 1u << 1, /* MXFP4 "_blocks": two parameters per stored byte */
};

#define PJ_ANY_COMP (-1)

typedef struct pj_name_rule {
	const char *pat;
	pj_role role;
	int comp;               /* only in this component, or PJ_ANY_COMP */
	unsigned flags;
} pj_name_rule;

typedef struct pj_name_tables {
	const pj_name_scope *scopes;
	size_t n_scopes;
	const pj_name_rule *block;  /* names inside a numbered block */
	size_t n_block;
	const pj_name_rule *top;    /* everything else */
	size_t n_top;
} pj_name_tables;

extern const pj_name_tables pj_hf_names;
extern const pj_name_tables pj_gguf_names;

/* Role a component turns a generic role into (vision q_proj -> v_attn). */
pj_role pj_role_in_component(pj_role r, pj_component c);

/* Per-architecture defaults, looked up by HF model_type or GGUF
 * general.architecture.  Only what configs leave implicit goes here. */
enum {
	PJ_AR_SWA_ALL   = 1u << 0, /* a set sliding_window applies to every layer (Mistral) */
	PJ_AR_SWA_OPTIN = 1u << 1, /* sliding only with use_sliding_window (Qwen2/3) */
	PJ_AR_SANDWICH  = 1u << 2, /* post_attention_layernorm is a post-norm (Gemma 2/3) */
	PJ_AR_ENCDEC    = 1u << 3, /* encoder-decoder even without is_encoder_decoder */
};

typedef struct pj_arch_rule {
	const char *names;      /* '|'-separated model_type / GGUF architecture names */
	int swa_pattern;        /* N: in every N layers the last is global, the rest local */
	int swa_window;         /* window when the config gives none */
	int full_attn_interval; /* N: every Nth layer full attention, the rest linear */
	unsigned flags;         /* PJ_AR_* */
	const char *norm;       /* norm style, for the report */
	int64_t ctx_default;    /* transformers' max_position_embeddings default */
} pj_arch_rule;

const pj_arch_rule *pj_arch_rule_find(const char *name);

/* Matches pat against s.  '#' captures up to max_caps numbers into caps and
 * counts them in *n_caps.  With rest == NULL the whole of s must match;
 * otherwise pat need only match a prefix and *rest gets what follows. */
bool pj_name_match(const char *pat, const char *s, int64_t *caps, int max_caps, int *n_caps,
                   const char **rest);

#endif
