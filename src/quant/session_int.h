/* session_int.h - what session.c, solver.c and autosave.c share.  Not for
 * front ends: they use session.h. */
#ifndef PJ_SESSION_INT_H
#define PJ_SESSION_INT_H

#include <pthread.h>

#include "quant/session.h"

/* An override as one int: -1 none, else the type in the low byte plus flags. */
#define OV_NONE   (-1)
#define OV_TYPE   0xff
#define OV_PINNED 0x100
#define OV_SOLVER 0x200
#define OV_MAKE(type, pinned, solver) \
	((int32_t)(type) | ((pinned) ? OV_PINNED : 0) | ((solver) ? OV_SOLVER : 0))

/* One tensor's change in a step. */
typedef struct sess_diff {
	uint32_t t;                 /* catalog index */
	int32_t old, new_;          /* override codes */
} sess_diff;

typedef struct sess_step {
	char *label;
	char *base_old, *base_new;  /* both NULL: base unchanged */
	bool rules;                 /* the rule list changed */
	char **rules_old, **rules_new;
	size_t n_rules_old, n_rules_new;
	sess_diff *d;
	size_t nd;
} sess_step;

/* A tensor's measurement, compact (the full pj_mtensor is 2.5 KB). */
typedef struct sess_meas {
	uint8_t n;
	struct {
		uint8_t type, state;    /* pj_dtype, pj_mstate */
		double rel_err;
		char *reason;           /* NA / ERROR, malloc'd, else NULL */
	} r[PJ_MEASURE_MAX_TYPES];
	pj_tstats stats;
} sess_meas;

typedef struct sess_check {
	double pred[PJ_RG_COUNT];   /* unscaled predicted loss per role group */
	double kld;
} sess_check;

struct pj_session {
	pj_model *m;
	bool own_model;
	const pj_imatrix *im;
	bool has_im;
	char im_sha[65];            /* pj_imatrix_sha256_hex of im, "" without one */
	pj_plan plan;
	char key[65];               /* pj_plan_header_sha256(&m->cat): hashed once in
	                             * pj_session_new; plan files and the autosave reuse it */
	size_t n;                   /* catalog tensors (== plan.n) */
	size_t *ent;                /* catalog index -> plan entry */
	pj_plan_entry *nov;         /* per plan entry: as base + rules give it */
	int32_t *ov;                /* per catalog index: override code */
	pj_plan_override *foreign;  /* overrides for tensors the model lacks (plan files) */
	size_t n_foreign;
	bool ov_synced;             /* plan.ov mirrors ov[] + foreign */

	/* predicted loss */
	double *coef;               /* per catalog index, unscaled */
	double *loss;               /* current contribution, scaled */
	uint8_t *est;               /* loss from the prior table */
	double loss_total;
	size_t n_est, n_quantizable, n_measured;
	double scale[PJ_RG_COUNT];
	sess_check *checks;
	size_t n_checks;
	sess_meas **meas;           /* per catalog index, NULL until measured */

	/* layers: per component, per block: tensors (catalog indices) */
	size_t **lay;               /* [comp * n_lay + layer] */
	size_t *lay_n;
	int n_lay;

	/* selection */
	uint8_t *tag;
	size_t n_tag;

	/* history */
	sess_step *hist;
	size_t n_hist, pos, saved_pos;  /* saved_pos SIZE_MAX: the saved state is gone */
	uint64_t gen, plan_gen, autosaved_gen;
	/* what the last plan change (sess_touch(s, true)) changed:
	 * chg[0..n_chg) catalog indices, or chg_all */
	size_t *chg;
	size_t n_chg, cap_chg;
	bool chg_all;
	/* rows (pj_session_rows_changed): row_stamp[t] is the value of
	 * row_clock when what pj_session_row() says about t last changed;
	 * all_stamp when every row did */
	uint64_t row_clock, all_stamp;
	uint64_t *row_stamp;
	struct sess_saver *saver;   /* autosave.c's background writer, NULL until used */

	int64_t kv_ctx;
	pj_dtype kv_type;

	/* measurement job and its inbox (the only state worker threads touch) */
	pthread_mutex_t lock;
	pj_mtensor *inbox;
	size_t n_inbox, cap_inbox;
	pj_mtensor *outbox;         /* owner thread: taken from the inbox, not yet put */
	size_t n_outbox, outbox_pos;
	void (*notify)(void *ctx);
	void *notify_ctx;
	pj_measure_job *mjob;
	size_t *morder;
};

/* session.c */
bool sess_can_override(const pj_plan_entry *e);
/* Whether e written as `written` needs importance data the imatrix lacks:
 * the export refuses it (pj_plan_entry_unweightable). */
bool sess_unweightable(const pj_session *s, const pj_plan_entry *e, pj_dtype written);
/* Applies a step forwards (redo) or backwards (undo). */
pj_status sess_step_apply(pj_session *s, const sess_step *st, bool forward, pj_error *err);
/* Takes ownership of *st; applies it; on success it becomes the newest step. */
pj_status sess_step_push(pj_session *s, sess_step *st, pj_error *err);
void sess_step_free(sess_step *st);
pj_status sess_recompute_all(pj_session *s, pj_error *err);
/* Relative error of tensor t written as type: measured, or estimated
 * (*est = true) from the prior table scaled by the tensor's own nearest
 * measurement. */
double sess_rel_err(const pj_session *s, size_t t, pj_dtype type, bool *est);
/* Predicted loss of tensor t at type. */
double sess_loss_at(const pj_session *s, size_t t, pj_dtype type, bool *est);
char **sess_rules_texts(const pj_session *s, size_t *n);
void sess_strv_free(char **v, size_t n);
/* Something changed: gen++; plan: plan_gen++ and the last change is
 * recorded as "every tensor" (sess_changed_set narrows it). */
void sess_touch(pj_session *s, bool plan);
/* After sess_touch(s, true): the change touched only these tensors. */
void sess_changed_set(pj_session *s, const sess_diff *d, size_t nd);

/* autosave.c: lets the background writer finish what it was given, then
 * ends it (pj_session_free). */
void sess_saver_stop(pj_session *s);

#endif
