/* plan.h - the quantization plan: for every tensor of a model, the type it
 * gets, where that choice came from and why.
 *
 * A plan is built in layers, each one able to override the one before:
 *
 *   1. the base: a preset (a llama.cpp ftype mix such as Q4_K_M, one of the
 *      architecture-aware presets, or "pure TYPE" - see presets.h);
 *   2. rules, in order, first match wins per tensor (like llama-quantize
 *      --tensor-type): "REGEX=TYPE" (POSIX ERE, searched anywhere in the
 *      name as std::regex_search does), "role:ROLE[@A-B]=TYPE" and
 *      "layer:A[-B]=TYPE";
 *   3. manual overrides (one tensor, optionally pinned);
 *   4. protections: tensors llama.cpp never quantizes keep their type (1-D
 *      tensors and norms stay F32); the expert router and the expert-score
 *      bias never go below Q8_0 unless pinned by hand;
 *   5. llama.cpp's shape fallback: a row length that is not a multiple of the
 *      type's block takes the next type of the chain (Q4_K -> Q5_0, IQ4_XS ->
 *      IQ4_NL, ...; F16 when that does not fit either), recorded with the
 *      request it replaced.
 *
 * Entries are kept in llama.cpp's tensor order (llama_model_loader's
 * weights_map: layer number, then name), which is also the order a GGUF
 * export writes and the order llama.cpp's per-layer counters run in.
 *
 * Pure data and functions: nothing is printed; plan files are the only I/O
 * (plan_json.c). */
#ifndef PJ_PLAN_H
#define PJ_PLAN_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "model/model.h"
#include "quant/imatrix.h"

/* Where a tensor's type came from. */
#define PJ_PROVENANCES(X) \
	X(SOURCE, "source")   /* not quantized: copied in its own type */ \
	X(PRESET, "preset")   \
	X(RULE,   "rule")     \
	X(MANUAL, "manual")   \
	X(SOLVER, "solver")

typedef enum pj_provenance {
#define PJ_PROV_ENUM(id, name) PJ_PROV_##id,
	PJ_PROVENANCES(PJ_PROV_ENUM)
#undef PJ_PROV_ENUM
	PJ_PROV_COUNT
} pj_provenance;

const char *pj_provenance_name(pj_provenance p);

/* llama.cpp's tensor categories (tensor_get_category): what its ftype mixes
 * key on.  From the GGUF name when the model is a GGUF file (so the rules
 * see exactly what llama.cpp sees), from the detected role otherwise. */
typedef enum pj_qcat {
	PJ_QC_OTHER, PJ_QC_TOKEN_EMBD, PJ_QC_OUTPUT, PJ_QC_ATTN_Q, PJ_QC_ATTN_K, PJ_QC_ATTN_V,
	PJ_QC_ATTN_QKV, PJ_QC_ATTN_KV_B, PJ_QC_ATTN_OUTPUT, PJ_QC_FFN_UP, PJ_QC_FFN_GATE,
	PJ_QC_FFN_DOWN, PJ_QC_COUNT
} pj_qcat;

/* Why an entry has its type, as a code and its arguments: an apply over
 * 46k tensors formats no text; pj_plan_reason() writes it when shown. */
typedef enum pj_why {
	PJ_WHY_NONE, PJ_WHY_KEPT, PJ_WHY_PURE, PJ_WHY_MIX_DEFAULT, PJ_WHY_MIX, PJ_WHY_ARCH, PJ_WHY_RULE,
	PJ_WHY_RULE_KEPT, PJ_WHY_RULE_IGNORED, PJ_WHY_OVERRIDE, PJ_WHY_OVERRIDE_KEPT, PJ_WHY_ROUTER
} pj_why;

typedef struct pj_reason {
	uint8_t why;               /* pj_why */
	uint8_t c1, c2;            /* MIX: the row's conditions (presets.c) */
	uint8_t who;               /* OVERRIDE: its provenance */
	bool pinned;               /* OVERRIDE */
	pj_dtype type;             /* the type the text names */
	int rule;                  /* RULE*: index into the plan's rules */
	const void *src;           /* MIX*: the pj_ftype; ARCH: the preset's rule */
	const void *preset;        /* ARCH: the preset */
} pj_reason;

#define PJ_REASON_MAX 160

typedef struct pj_plan_entry {
	const pj_tensor *t;        /* the catalog's tensor (the model outlives the plan) */
	pj_qcat cat;
	int layer;                 /* "blk.N." (or the detected block), -1 when none */
	int n_dims;                /* ggml_n_dims: trailing 1s do not count */
	bool quantizable;          /* llama.cpp would quantize it (else `kept` says why) */
	const char *kept;

	pj_dtype type;             /* what is written */
	pj_dtype requested;        /* before the shape fallback (== type unless fell_back) */
	pj_dtype base_type;        /* what the base preset chose */
	pj_provenance prov;
	bool pinned;               /* manual and pinned: protections do not apply */
	bool fell_back;
	bool needs_imatrix;        /* llama.cpp refuses this type without importance data */
	int rule;                  /* index of the rule that set it, -1 */
	uint64_t bytes;            /* data bytes at `type` */
	pj_reason why;             /* pj_plan_reason() formats it */
} pj_plan_entry;

/* Rule kinds: a regex on the name, a role (+ optional layer range), a layer range. */
typedef enum pj_rule_kind { PJ_RULE_REGEX, PJ_RULE_ROLE, PJ_RULE_LAYER } pj_rule_kind;

typedef struct pj_plan_rule {
	char *text;                /* as given: "attn_v=Q6_K" */
	pj_rule_kind kind;
	char *pattern;             /* REGEX: the expression */
	regex_t re;
	pj_role role;              /* ROLE */
	int layer_lo, layer_hi;    /* ROLE/LAYER: inclusive range (-1: any) */
	pj_dtype type;
	size_t n_matched;          /* tensors it set (after the last apply) */
} pj_plan_rule;

typedef struct pj_plan_override {
	char *tensor;
	pj_dtype type;
	bool pinned;
	bool matched;              /* the model has this tensor */
} pj_plan_override;

typedef struct pj_plan {
	const pj_model *m;
	const pj_catalog *cat;     /* the tensors planned: m->cat, or a converted view of it */
	bool gguf_names;           /* cat has GGUF names (llama.cpp's name rules apply) */
	char *base;                /* preset name as given ("Q4_K_M", "moe-balanced", "pure:Q8_0") */
	const struct pj_preset *preset;
	pj_dtype pure_type;        /* base "pure:TYPE" */
	bool pure;
	unsigned ftype;            /* general.file_type to write */
	char base_reason[256];     /* why this base ("auto: family moe ...") */
	bool has_imatrix;          /* ftype mixes differ with an importance matrix */

	pj_plan_entry *e;          /* in llama.cpp's tensor order */
	size_t n;
	pj_plan_rule *rules;
	size_t n_rules;
	pj_plan_override *ov;
	size_t n_ov;

	/* totals (after pj_plan_apply) */
	uint64_t src_bytes, out_bytes, n_elements;
	size_t n_quantized, n_fallback, n_need_imatrix;

	struct cJSON *target;      /* a plan file's optional "target", kept for the round trip */

	/* things the user should know: rules matching nothing, overrides for
	 * tensors the model lacks, protections that overrode a request */
	char **warnings;
	size_t n_warnings;
} pj_plan;

/* Builds the plan for model m from a base: a preset name (presets.h, "auto"
 * included) or "pure:TYPE" (every quantizable tensor in TYPE's default
 * type, like llama-quantize --pure TYPE).  Unknown names are PJ_EUSAGE with
 * the valid ones listed.  The plan is applied (types, bytes) on return. */
pj_status pj_plan_init(pj_plan *p, const pj_model *m, const char *base, bool has_imatrix, pj_error *err);
/* The same for another catalog of m's tensors (e.g. the GGUF an HF model
 * converts to); gguf_names: its names are GGUF names. */
pj_status pj_plan_init_cat(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *base,
                           bool has_imatrix, pj_error *err);
/* pj_plan_init_cat without the apply: for callers that add rules or
 * overrides first, which may rescue a tensor the base type cannot hold
 * (shapes are checked by their pj_plan_apply). */
pj_status pj_plan_build_cat(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *base,
                            bool has_imatrix, pj_error *err);
void pj_plan_free(pj_plan *p);

/* Appends a rule ("REGEX=TYPE", "role:ROLE[@A-B]=TYPE", "layer:A[-B]=TYPE";
 * TYPE is any ggml type name, any case).  Bad syntax, a bad regex or an
 * unknown type: PJ_EUSAGE.  Call pj_plan_apply() after the last change. */
pj_status pj_plan_add_rule(pj_plan *p, const char *text, pj_error *err);
/* Sets (or replaces) a manual override for one tensor.  A name the model
 * lacks is kept (plan files travel between models) and warned about. */
pj_status pj_plan_set_manual(pj_plan *p, const char *tensor, pj_dtype type, bool pinned, pj_error *err);
/* Removes a manual override; false when there was none. */
bool pj_plan_clear_manual(pj_plan *p, const char *tensor);

/* Recomputes every entry from base, rules, overrides; refreshes totals and
 * warnings.  Fails only when a type is not a GGUF type (no ggml id). */
pj_status pj_plan_apply(pj_plan *p, pj_error *err);

/* Whether a manual override may change e: what llama.cpp quantizes, plus
 * the 2-D routers the plan may raise. */
bool pj_plan_overridable(const pj_plan_entry *e);
/* Steps 3-5 for one entry whose base and rules are done (e->requested holds
 * their type): the override ov (NULL: none; `who` is PJ_PROV_MANUAL or
 * PJ_PROV_SOLVER), the router protection, the shape fallback, then
 * needs_imatrix and bytes.  pj_plan_apply() runs it on every entry; the
 * session runs it on entries kept from an apply without overrides.
 * Returns false when the type does not fit and has no fallback. */
bool pj_plan_apply_entry(const pj_plan *p, pj_plan_entry *e, const pj_plan_override *ov, pj_provenance who);

/* e's reason as text ("Q4_K_M mix: Q6_K (use_more_bits layer)", "rule 2:
 * attn_v=Q8_0; rows of 2880: Q4_K falls back to Q5_0"); p is the plan that
 * applied e.  buf holds PJ_REASON_MAX bytes; returns buf. */
const char *pj_plan_reason(const pj_plan *p, const pj_plan_entry *e, char *buf);

const pj_plan_entry *pj_plan_find(const pj_plan *p, const char *tensor);
/* Bits per weight of the whole output, and output / source size. */
double pj_plan_bpw(const pj_plan *p);
double pj_plan_ratio(const pj_plan *p);

/* ---- llama.cpp's tables (one source for batch, presets and plans) -------- */

/* A llama-quantize type name (Q4_K_M, Q8_0, MXFP4_MOE, ...): its
 * general.file_type value and the tensor type of its --pure run. */
typedef struct pj_ftype {
	const char *name;
	unsigned ftype;
	pj_dtype type;
} pj_ftype;

const pj_ftype *pj_ftype_find(const char *name);      /* case-insensitive */
const pj_ftype *pj_ftype_all(size_t *n);

/* Why llama.cpp copies this tensor instead of quantizing it, or NULL.
 * gguf_names: the names are GGUF names (llama.cpp's own rules are name
 * patterns); else the detected role decides too (norms, routers, scales). */
const char *pj_plan_keep_reason(const pj_tensor *t, bool gguf_names);
int pj_plan_n_dims(const pj_tensor *t);
/* llama.cpp's shape fallback for `want` on rows of ne0: returns want when it
 * fits, else the fallback (F16 when nothing fits).  *ok = false when want
 * does not fit and has no fallback (llama.cpp throws). */
pj_dtype pj_plan_shape_fallback(pj_dtype want, int64_t ne0, bool *ok);
/* llama.cpp refuses to write `type` for this tensor without an imatrix. */
bool pj_plan_type_needs_imatrix(const char *tensor, pj_dtype type, unsigned ftype);
/* llama_model_loader's order: "blk.N." layer (-1 for others), then name. */
int pj_plan_layer_of(const char *name);
int pj_plan_order_cmp(const char *a, const char *b);

/* ---- identity and export ------------------------------------------------- */

/* The model's content hash, hex: SHA-256 of one line per tensor, sorted by
 * name (bytewise), "NAME\tTYPE\tNE0,NE1,...\n" with TYPE the dtype name and
 * the shape in ggml order (n_dims numbers).  Data bytes are not read, so it
 * is cheap for any size; it changes when a tensor is renamed, retyped or
 * reshaped. */
void pj_plan_header_sha256(const pj_catalog *cat, char hex[65]);

/* llama-quantize --tensor-type-file content: one "^ESCAPED$=type" line per
 * quantized tensor (anchored: llama-quantize searches), type in lower case
 * as llama-quantize spells it.  malloc'd.  Tensors the official tool would
 * not quantize although the plan does (a router raised by a rule) cannot be
 * reproduced: they are listed in *n_unreproducible (may be NULL). */
char *pj_plan_tensor_type_file(const pj_plan *p, size_t *n_unreproducible);
/* The llama-quantize command line that reproduces the plan:
 * "llama-quantize --tensor-type-file TTF [--imatrix IM] IN OUT BASE". */
char *pj_plan_command(const pj_plan *p, const char *ttf, const char *imatrix, const char *in, const char *out);
/* BASE in that command: the plan's ftype when llama-quantize knows its name,
 * else Q8_0 (NVFP4).  The tensor-type file pins every quantized tensor, so
 * any base it accepts writes the same tensors; only general.file_type
 * differs. */
const char *pj_plan_quantize_base(const pj_plan *p);
/* Importance-matrix coverage (imatrix.h) of the tensors p quantizes with
 * importance weights - to a block type other than the source's;
 * token_embd aside: a lookup, never a matmul input, so llama-imatrix has no
 * data for it - or, with `all`, of every quantizable matrix whatever its
 * planned type (the planner, whose types change).  Under HF names a tensor
 * is looked up as its GGUF entry, an expert's as its stack (counted once). */
void pj_plan_imatrix_coverage(const pj_plan *p, const pj_imatrix *im, bool all, pj_imatrix_coverage *out);
/* The entries p quantizes to a type whose kernel cannot run without
 * importance weights (IQ2_XXS, IQ2_XS, IQ1_S: ggml_quantize_requires_imatrix)
 * that im (NULL: no imatrix) has no data for.  llama.cpp exempts output and
 * token_embd from its up-front refusal, then aborts on them; a plan refuses
 * them before anything is written.  Up to max entry indexes into out;
 * returns how many there are. */
size_t pj_plan_unweightable(const pj_plan *p, const pj_imatrix *im, size_t *out, size_t max);
bool pj_plan_entry_unweightable(const pj_plan *p, const pj_imatrix *im, const pj_plan_entry *e);
/* The ftype name written to general.file_type (the base's, else derived). */
const char *pj_plan_ftype_name(const pj_plan *p);

/* ---- KV cache ------------------------------------------------------------ */

/* Bytes of the KV cache for ctx tokens with cache type f16, q8_0 or q4_0 (or
 * any type; bytes per element from the dtype table, block overhead
 * included): every attention layer caches K and V of its kv heads (GQA),
 * sliding-window layers at most their window, MLA layers the latent plus
 * the rope part; linear-attention layers hold no per-token cache. */
uint64_t pj_plan_kv_bytes(const pj_arch *a, int64_t ctx, pj_dtype cache_type);

#endif
