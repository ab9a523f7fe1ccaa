/* session.h - the live planner's view-model: one model, its plan, the
 * measurements streaming in, the selection, unlimited undo/redo, predicted
 * loss, the target solver and the autosave.  No curses: any front end (the
 * TUI in src/ui, tests, scripts) drives it through this API.
 *
 * Indexing: every per-tensor function takes the tensor's CATALOG index
 * (m->cat.t[i], the same index pj_tree rows and measure results carry), not
 * the plan's entry index.
 *
 * Actions: every function under "actions" below is one undoable step, or
 * changes nothing and returns an error.  A step stores only what it changed
 * (per-tensor override before/after, the rule list and the base when they
 * changed), so a solver run over 18k expert tensors costs 18k small records,
 * not a copy of the plan.  Totals (bytes, bpw, predicted loss) are updated
 * incrementally, O(tensors changed); a preset or rule change re-applies the
 * plan (O(tensors x rules)).
 *
 * Overrides: manual types and solver results are the plan's overrides
 * (plan file "overrides"); the session remembers which came from the solver
 * (provenance "solver", kept by the autosave; a plan file records them as
 * ordinary overrides).  Pinned overrides are never changed by the solver or
 * by presets.
 *
 * Threads: a session belongs to one thread (the UI's).  The only functions
 * other threads reach are the measurement sink (internal) and the notify
 * hook the owner installs; the solver works on a snapshot taken when it
 * starts; the autosave's writer thread only touches the bytes handed to it
 * (pj_session_autosave_async).  Library code: nothing is printed. */
#ifndef PJ_SESSION_H
#define PJ_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"
#include "model/model.h"
#include "quant/imatrix.h"
#include "quant/mcache.h"
#include "quant/measure.h"
#include "quant/plan.h"
#include "quant/pool.h"

typedef struct pj_session pj_session;

/* ---- the type ladder ------------------------------------------------------- */

/* What `+`/`-` step through and what the solver chooses from, biggest first:
 *   F16 Q8_0 Q6_K Q5_K Q4_K Q3_K Q2_K
 * with an importance matrix IQ4_XS (after Q4_K), IQ3_XXS (after Q3_K) and
 * IQ2_S IQ2_XS IQ2_XXS IQ1_M IQ1_S (after Q2_K, by bits per weight) join.
 * The solver gives a tensor the imatrix has no data for none of the types
 * that cannot be written without it (pj_plan_unweightable).
 * Returns the count; *out points at a static table. */
size_t pj_ladder(bool with_imatrix, const pj_dtype **out);
/* One step from t: dir > 0 up (more bits), < 0 down.  A type off the ladder
 * (Q5_0, MXFP4, ...) steps to the nearest ladder type by bits per weight.
 * Returns t when there is no further step. */
pj_dtype pj_ladder_step(bool with_imatrix, pj_dtype t, int dir);

/* ---- lifecycle ---------------------------------------------------------------- */

typedef struct pj_session_opts {
	const char *base;            /* preset or "pure:TYPE"; NULL: "auto" */
	const pj_imatrix *imatrix;   /* NULL: none; borrowed, must outlive the session */
	bool own_model;              /* pj_session_free() closes the model */
} pj_session_opts;

/* Builds the plan for m (pj_plan_init) and an empty history.  o may be NULL. */
pj_status pj_session_new(pj_model *m, const pj_session_opts *o, pj_session **out, pj_error *err);
/* Cancels and waits for the session's measurement job; frees.  NULL: no-op.
 * A solver job must be freed first (pj_solve_job_free). */
void pj_session_free(pj_session *s);

pj_model *pj_session_model(const pj_session *s);
bool pj_session_has_imatrix(const pj_session *s);
/* Tensors (catalog indexes, up to max) planned in a type that cannot be
 * written without importance data the imatrix lacks (pj_plan_unweightable):
 * the export refuses them.  Returns how many there are. */
size_t pj_session_unweightable(const pj_session *s, size_t *tensors, size_t max);
/* The importance matrix (NULL: none). */
const pj_imatrix *pj_session_imatrix(const pj_session *s);
/* The plan, overrides brought up to date (cheap when nothing changed).  Do
 * not modify it: go through the actions. */
const pj_plan *pj_session_plan(pj_session *s);
/* The plan's base (preset name, "auto" or "pure:TYPE") and, when reason
 * is not NULL, why it is what it is (plan.h's base_reason); unlike
 * pj_session_plan() nothing is brought up to date (a header per frame). */
const char *pj_session_base(const pj_session *s, const char **reason);
/* The plan's entry for catalog tensor t (never NULL for t < cat.n). */
const pj_plan_entry *pj_session_entry(const pj_session *s, size_t t);
/* Catalog index of a tensor by name, -1 when absent. */
ptrdiff_t pj_session_find(const pj_session *s, const char *name);
/* The model identity (pj_plan_header_sha256), 64 hex digits. */
const char *pj_session_model_key(const pj_session *s);

/* Bumped by every change of the plan, selection, measurements or settings:
 * a cheap "redraw needed" test. */
uint64_t pj_session_generation(const pj_session *s);
/* Bumped by every change of the plan (an action, undo, redo, a restore):
 * the generation pj_session_last_changed() describes. */
uint64_t pj_session_plan_generation(const pj_session *s);
/* Which tensors the last change of the plan (the last action, undo or redo;
 * see pj_session_plan_generation) changed: *tensors (may be NULL) receives
 * their catalog indices (no order, a tensor may repeat; valid until the
 * next change),
 * the count is returned.  Only those tensors' entries, rows and predicted
 * losses differ from before it, so a front end refreshes their rows and
 * their ancestors' aggregates only.  *all (may be NULL) is set when the
 * change may have touched any tensor (a new base, the rules, a restore;
 * also before any change): then 0 is returned and everything is refreshed. */
size_t pj_session_last_changed(const pj_session *s, const size_t **tensors, bool *all);
/* Rows: any change of what pj_session_row() says about a tensor (its
 * entry, predicted loss, measurement, tag) stamps it with a new value of a
 * counter, whatever caused it (edits, undo, measurements streaming in,
 * tags).  A front end keeps the stamp of its last refresh and refreshes
 * only the rows changed since: pj_session_rows_changed() writes their
 * catalog indices (ascending, at most max) and returns how many there are;
 * *all is set (and 0 returned) when every row may have changed since (a
 * new base, the rules, a refit, a restore).  O(tensors), no allocation. */
uint64_t pj_session_row_stamp(const pj_session *s);
size_t pj_session_rows_changed(const pj_session *s, uint64_t since, size_t *out, size_t max, bool *all);
/* Unsaved work: the plan differs from the last pj_session_save_plan() (or
 * pj_session_mark_saved()); undoing back to it clears the flag. */
bool pj_session_dirty(const pj_session *s);
void pj_session_mark_saved(pj_session *s);

/* KV cache shown in the totals: ctx tokens (0: min(model context, 4096))
 * and cache type (F16, Q8_0, Q4_0, ...).  Not an undoable action. */
void pj_session_set_kv(pj_session *s, int64_t ctx, pj_dtype type);

/* ---- actions (each one undoable step) ---------------------------------------- */

/* A manual type for one tensor / every tagged tensor (tensors llama.cpp keeps
 * are skipped for the selection, refused for one tensor: PJ_EUSAGE).  The
 * pin state of an existing override is kept. */
pj_status pj_session_set_type(pj_session *s, size_t t, pj_dtype type, pj_error *err);
pj_status pj_session_set_type_sel(pj_session *s, pj_dtype type, pj_error *err);
/* One step up (dir > 0) or down the ladder; tensors already at the end stay.
 * A step skips, per tensor, the types the tensor cannot be written in
 * (pj_plan_entry_unweightable); pj_session_set_type refuses them (PJ_EUNSUPPORTED),
 * the selection skips those tensors. */
pj_status pj_session_step(pj_session *s, size_t t, int dir, pj_error *err);
pj_status pj_session_step_sel(pj_session *s, int dir, pj_error *err);
/* Pin (an override at the current type, pinned) or unpin (keeps the type as
 * an unpinned manual override). */
pj_status pj_session_pin(pj_session *s, size_t t, bool on, pj_error *err);
pj_status pj_session_pin_sel(pj_session *s, bool on, pj_error *err);
/* Drops the override: back to what the base and the rules give. */
pj_status pj_session_revert(pj_session *s, size_t t, pj_error *err);
pj_status pj_session_revert_sel(pj_session *s, pj_error *err);

/* A new base: a preset name (presets.h, "auto") or "pure:TYPE".  By default
 * the plan then equals the preset: rules and unpinned overrides (manual and
 * solver) are dropped; pinned overrides stay.  Flags keep them. */
#define PJ_PRESET_KEEP_RULES     1u
#define PJ_PRESET_KEEP_OVERRIDES 2u
pj_status pj_session_apply_preset(pj_session *s, const char *base, unsigned flags, pj_error *err);

/* Rules ("REGEX=TYPE", "role:ROLE[@A-B]=TYPE", "layer:A[-B]=TYPE"; plan.h),
 * first match wins.  pos >= count appends. */
size_t pj_session_rule_count(const pj_session *s);
const char *pj_session_rule_text(const pj_session *s, size_t pos);
pj_status pj_session_rule_add(pj_session *s, size_t pos, const char *text, pj_error *err);
pj_status pj_session_rule_remove(pj_session *s, size_t pos, pj_error *err);
pj_status pj_session_rule_replace(pj_session *s, size_t pos, const char *text, pj_error *err);
pj_status pj_session_rule_move(pj_session *s, size_t from, size_t to, pj_error *err);

/* An anchored POSIX ERE that matches exactly the tagged tensors' names
 * among the model's (compacted where names share a pattern, e.g.
 * "^blk\.(1|2)\.ffn_down_exps\.weight$"); malloc'd, NULL when nothing is
 * tagged. */
char *pj_session_selection_regex(const pj_session *s);
/* Appends the rule "REGEX=TYPE" for the selection and drops the tagged
 * tensors' unpinned overrides (so the rule takes effect on them).  One step.
 * *text (may be NULL) receives the rule text, malloc'd. */
pj_status pj_session_rule_from_selection(pj_session *s, pj_dtype type, char **text, pj_error *err);

/* Replaces base, rules and overrides with a plan file's (plan_json.h).  One
 * step.  *warning as pj_plan_json_load's.  The file's overrides for tensors
 * this model lacks are kept for saving it again, outside the history. */
pj_status pj_session_load_plan(pj_session *s, const char *path, char **warning, pj_error *err);
/* Saves the plan file and marks the session saved. */
pj_status pj_session_save_plan(pj_session *s, const char *path, pj_error *err);
/* The plan file text (malloc'd). */
char *pj_session_plan_json(pj_session *s);

/* ---- undo / redo -------------------------------------------------------------- */

bool pj_session_can_undo(const pj_session *s);
bool pj_session_can_redo(const pj_session *s);
/* PJ_EUSAGE when there is nothing to undo/redo. */
pj_status pj_session_undo(pj_session *s, pj_error *err);
pj_status pj_session_redo(pj_session *s, pj_error *err);
/* What the next undo / redo would do ("set blk.3.ffn_down.weight Q6_K",
 * "preset Q4_K_M", "solver: fit 3.20 GiB"), or NULL. */
const char *pj_session_undo_label(const pj_session *s);
const char *pj_session_redo_label(const pj_session *s);
/* Steps in the history and how many of them are applied. */
size_t pj_session_history(const pj_session *s, size_t *applied);

/* ---- selection (not undoable: view state) -------------------------------------- */

typedef enum pj_tag_mode { PJ_TAG_ADD, PJ_TAG_SET, PJ_TAG_REMOVE } pj_tag_mode;

void pj_session_tag(pj_session *s, size_t t, bool on);
void pj_session_tag_toggle(pj_session *s, size_t t);
bool pj_session_tagged(const pj_session *s, size_t t);
void pj_session_tag_clear(pj_session *s);
size_t pj_session_n_tagged(const pj_session *s);
/* Catalog indices of the tagged tensors, ascending; returns the count (all
 * of them, even when more than max). */
size_t pj_session_tagged_list(const pj_session *s, size_t *out, size_t max);
/* Tag by POSIX ERE searched in the name (bad regex: PJ_EUSAGE). */
pj_status pj_session_tag_regex(pj_session *s, const char *re, pj_tag_mode mode, size_t *n_matched, pj_error *err);
/* Tag a layer (block index of component comp), the routed experts of a layer
 * (stacked or per-expert tensors, and their biases), every tensor of a role,
 * of a role group, of a component.  Return how many tensors matched. */
size_t pj_session_tag_layer(pj_session *s, int comp, int layer, pj_tag_mode mode);
size_t pj_session_tag_experts(pj_session *s, int comp, int layer, pj_tag_mode mode);
size_t pj_session_tag_role(pj_session *s, pj_role role, pj_tag_mode mode);
size_t pj_session_tag_role_group(pj_session *s, pj_role_group g, pj_tag_mode mode);
size_t pj_session_tag_component(pj_session *s, pj_component c, pj_tag_mode mode);

/* ---- measurements ---------------------------------------------------------------- */

/* Stores one tensor's measurement (m->tensor is the catalog index).
 * Owner thread only. */
void pj_session_put_measure(pj_session *s, const pj_mtensor *m);
/* Starts measuring tensors order[0..n) (catalog indices; NULL: every
 * quantizable tensor in catalog order) on pool with the session's imatrix
 * and the default candidates; cache may be NULL.  A running job is
 * cancelled first.  Results stream into an inbox: pj_session_poll() moves
 * them into the session. */
pj_status pj_session_measure_start(pj_session *s, pj_pool *pool, pj_mcache *cache, const size_t *order, size_t n,
                                   pj_error *err);
void pj_session_measure_cancel(pj_session *s);
/* The running (or last) job's progress, NULL when none. */
const pj_progress *pj_session_measure_progress(const pj_session *s);
/* Called on a worker thread after results were queued (e.g. to wake the UI
 * loop); must be quick and thread-safe.  fn NULL removes it. */
void pj_session_set_notify(pj_session *s, void (*fn)(void *ctx), void *ctx);
/* Owner thread: takes queued results in; returns how many tensors came in. */
size_t pj_session_poll(pj_session *s);
/* The same, at most max of them (0: no limit), oldest first: a loop that
 * must stay responsive bounds its work per turn and comes back for the
 * rest (returned == max: there may be more). */
size_t pj_session_poll_some(pj_session *s, size_t max);

/* ---- predicted loss -------------------------------------------------------------- */

/* The formula, for a help screen (see session.c's comment above the table). */
const char *pj_loss_formula(void);
/* Prior weight of a role (the table), before any refit. */
double pj_loss_role_weight(pj_role r);
/* A quality check's measured KLD for the current plan: shown in the totals
 * and stored with the plan's per-group predicted losses for the refit. */
void pj_session_record_check(pj_session *s, double measured_kld);
/* Least-squares scale per role group over the recorded pairs (ridge towards
 * 1 so that one check only scales, never zeroes, a group); the predicted
 * losses are recomputed.  Fewer than one pair: PJ_EUSAGE. */
pj_status pj_session_refit(pj_session *s, pj_error *err);
/* The current scale of each role group (1 until a refit). */
void pj_session_loss_scales(const pj_session *s, double out[PJ_RG_COUNT]);

/* ---- queries --------------------------------------------------------------------- */

typedef struct pj_srow {
	const pj_tensor *t;
	const pj_plan_entry *e;      /* type, requested, provenance, rule, reason, kept */
	pj_dtype type;               /* planned (after the shape fallback) */
	uint64_t bytes;
	double bpw;
	double rel_err;              /* measured, for the planned type; NaN when not (yet) */
	pj_mstate mstate;            /* of that measurement */
	double loss;                 /* predicted contribution (0 for kept tensors) */
	bool loss_estimated;         /* loss from the prior error table, not a measurement */
	pj_provenance prov;          /* "solver" for solver overrides */
	bool pinned, tagged, fell_back, quantizable;
	const char *rule;            /* text of the rule that set it, or NULL */
	char note[PJ_REASON_MAX];    /* fallback / protection note, "" when none */
	char why[PJ_REASON_MAX];     /* the entry's reason (pj_plan_reason), "" without one */
} pj_srow;

void pj_session_row(const pj_session *s, size_t t, pj_srow *out);
/* The same without the note ("" always): no formatting, for refreshing
 * the figures of many rows at once. */
void pj_session_row_figures(const pj_session *s, size_t t, pj_srow *out);

/* One candidate type for the detail pane. */
typedef struct pj_scand {
	pj_dtype type;               /* asked for */
	pj_dtype written;            /* after the shape fallback */
	uint64_t bytes;
	double bpw;
	double rel_err;              /* NaN when not measured */
	pj_mstate mstate;
	double loss;                 /* predicted contribution at this type */
	bool estimated;              /* loss from the prior table */
	bool planned;                /* the plan's current type */
	bool unweightable;           /* needs importance data the imatrix lacks: refused */
	char reason[96];             /* NA / ERROR reason */
} pj_scand;

/* The ladder types for tensor t (plus any other measured type), biggest
 * first; returns the count (at most max written). */
size_t pj_session_candidates(const pj_session *s, size_t t, pj_scand *out, size_t max);
/* The tensor's statistics when measured (state PENDING otherwise). */
void pj_session_stats(const pj_session *s, size_t t, pj_tstats *out);

#define PJ_SAGG_MAX 8
typedef struct pj_sagg_label {
	char label[40];              /* "Q4_K", or an expert's types "Q4_K+Q6_K" */
	uint32_t count;
	uint64_t bytes;
} pj_sagg_label;

typedef struct pj_sagg {
	size_t n_tensors;
	int n_experts;               /* experts summarised (expert aggregates), else 0 */
	uint64_t params, src_bytes, bytes;
	double loss;
	size_t n_estimated;          /* tensors whose loss is from the prior */
	size_t n_units;              /* experts, or tensors */
	size_t n_labels;
	pj_sagg_label labels[PJ_SAGG_MAX]; /* most frequent first; the rest under "other" */
} pj_sagg;

/* Tensors by catalog index. */
void pj_session_agg(const pj_session *s, const size_t *tensors, size_t n, pj_sagg *out);
/* Every tensor of a layer. */
void pj_session_agg_layer(const pj_session *s, int comp, int layer, pj_sagg *out);
/* The routed experts of a layer, counted per expert (a stacked tensor counts
 * once per expert it holds). */
void pj_session_agg_experts(const pj_session *s, int comp, int layer, pj_sagg *out);
/* "128 experts: 96×Q4_K 32×Q8_0, 1.2 GiB" / "7 tensors: 5×Q4_K 2×Q6_K, 80 MiB"
 * (UTF-8 multiplication sign; ascii: "96xQ4_K"). */
const char *pj_sagg_summary(const pj_sagg *a, char *buf, size_t len);
const char *pj_sagg_summary_ex(const pj_sagg *a, bool ascii, char *buf, size_t len);

typedef struct pj_stotals {
	uint64_t src_bytes, out_bytes, n_elements;
	double bpw, ratio;           /* of the whole output; output / source */
	uint64_t params_total, params_active;
	double loss;                 /* predicted, whole plan */
	size_t n_quantizable, n_measured, n_estimated;
	double loss_checked;         /* last recorded check's KLD, NaN when none */
	int64_t kv_ctx;
	pj_dtype kv_type;
	uint64_t kv_bytes;
	size_t n_tagged, n_fallback, n_need_imatrix;
	size_t undo_steps, undo_applied;
	bool dirty;
	uint64_t generation;
} pj_stotals;

void pj_session_totals(const pj_session *s, pj_stotals *out);

/* ---- target solver ------------------------------------------------------------------ */

typedef enum pj_solve_kind { PJ_SOLVE_BYTES, PJ_SOLVE_BPW } pj_solve_kind;

typedef struct pj_solve_target {
	pj_solve_kind kind;
	uint64_t bytes;              /* PJ_SOLVE_BYTES: the whole output's data bytes */
	double bpw;                  /* PJ_SOLVE_BPW: bits per weight of the whole output */
} pj_solve_target;

typedef struct pj_solve_result {
	bool done;                   /* finished (not cancelled) */
	bool feasible;               /* the smallest choice fits the budget */
	uint64_t budget;             /* in bytes */
	uint64_t bytes;              /* of the solution (<= budget when feasible) */
	uint64_t min_bytes;          /* every free tensor at its smallest type */
	uint64_t fixed_bytes;        /* kept, pinned and protected tensors */
	double loss;                 /* predicted, solution */
	size_t n_free, n_changed;
	char message[256];           /* one line for the messages bar */
} pj_solve_result;

typedef struct pj_solve_job pj_solve_job;

/* Snapshots the plan and the predicted losses and solves on pool:
 * the free tensors (quantizable, not pinned) each get a ladder type, greedy
 * by marginal predicted loss per byte over each tensor's lower convex hull,
 * never above the budget.  Returns at once. */
pj_solve_job *pj_session_solve_start(pj_session *s, pj_pool *pool, const pj_solve_target *target, pj_error *err);
const pj_progress *pj_solve_job_progress(const pj_solve_job *j);
void pj_solve_job_cancel(pj_solve_job *j);
bool pj_solve_job_finished(const pj_solve_job *j);
/* Waits for the job; fills r.  Infeasible: PJ_EUSAGE with the sizes in the
 * message; cancelled: PJ_ECANCELED. */
pj_status pj_solve_job_result(pj_solve_job *j, pj_solve_result *r, pj_error *err);
/* Applies a finished, feasible result as one step ("solver: ...").  When the
 * plan changed since the job started: PJ_EUSAGE (run it again). */
pj_status pj_session_solve_apply(pj_session *s, pj_solve_job *j, pj_error *err);
/* Cancels, waits, frees.  NULL: no-op. */
void pj_solve_job_free(pj_solve_job *j);
/* Synchronous: solve on the calling thread and apply (tests, batch). */
pj_status pj_session_solve(pj_session *s, const pj_solve_target *target, pj_solve_result *r, pj_error *err);

/* ---- autosave -------------------------------------------------------------------------- */

/* $XDG_STATE_HOME/pajamas-tui, else ~/.local/state/pajamas-tui (created). */
pj_status pj_session_state_dir(char *buf, size_t len, pj_error *err);
/* <dir>/<model key>.session.zst; dir NULL: the state dir. */
pj_status pj_session_autosave_path(const pj_session *s, const char *dir, char *buf, size_t len, pj_error *err);
/* Something changed since the last autosave (the caller debounces). */
bool pj_session_autosave_due(const pj_session *s);
/* Writes plan, overrides' provenance, undo history, KV settings, the recorded
 * checks, the importance matrix's path and hash and the UI's opaque view bytes: zstd, temporary file + fsync +
 * rename + directory fsync, so a crash leaves the previous file or this one. */
pj_status pj_session_autosave(pj_session *s, const char *dir, const void *view, size_t view_len, pj_error *err);
/* The same with only the gathering on the calling thread (the plan file
 * text, overrides, history: no compression, no disk): a background thread
 * of the session, started on first use and ended by pj_session_free(),
 * compresses and writes it; a payload it has not taken yet is replaced.
 * Returns an unreported failure of an earlier background write (err
 * filled), else PJ_OK.  pj_session_autosave() waits for the writer first. */
pj_status pj_session_autosave_async(pj_session *s, const char *dir, const void *view, size_t view_len,
                                    pj_error *err);
/* Waits until the background writer has written everything handed to it;
 * returns its unreported failure, if any. */
pj_status pj_session_autosave_flush(pj_session *s, pj_error *err);

typedef struct pj_session_saved {
	char path[4096];
	int64_t mtime;               /* seconds since the epoch */
	size_t steps, applied;       /* history */
	char base[64];
	char last[96];               /* label of the last applied step, "" */
	char imatrix[256];           /* the importance matrix it was planned with, "" none */
	bool imatrix_differs;        /* ... is not this session's (other data, or none) */
} pj_session_saved;

/* Is there a readable autosave for this model?  PJ_OK and *info filled;
 * PJ_ENOTFOUND when none, or when the file is corrupt or for another model:
 * then *message (may be NULL) receives why it is ignored. */
pj_status pj_session_saved_probe(const pj_session *s, const char *dir, pj_session_saved *info, char **message);
/* Loads the autosave into s (plan, history, position, settings); *view /
 * *view_len receive the view bytes (malloc'd, may be NULL/0).  Corrupt or
 * foreign files: PJ_ENOTFOUND with *message, s unchanged.  Restored, but
 * planned with another importance matrix (or none, or s has none):
 * PJ_OK with that warning in *message (else NULL). */
pj_status pj_session_restore(pj_session *s, const char *dir, void **view, size_t *view_len, char **message,
                             pj_error *err);
/* Deletes the autosave (e.g. after the user declined to restore it). */
pj_status pj_session_autosave_remove(const pj_session *s, const char *dir, pj_error *err);

#endif
