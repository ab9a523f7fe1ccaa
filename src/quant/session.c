/* session.c - stub: the API of session.h, filled in next. */
#include "config.h"
#include "quant/session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t pj_ladder(bool with_imatrix, const pj_dtype **out)
{
	(void)with_imatrix;
	(void)out;
	return 0;
}

pj_dtype pj_ladder_step(bool with_imatrix, pj_dtype t, int dir)
{
	(void)with_imatrix;
	(void)t;
	(void)dir;
	return PJ_DT_F16;
}

pj_status pj_session_new(pj_model *m, const pj_session_opts *o, pj_session **out, pj_error *err)
{
	(void)m;
	(void)o;
	(void)out;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

void pj_session_free(pj_session *s)
{
	(void)s;
}

pj_model *pj_session_model(const pj_session *s)
{
	(void)s;
	return NULL;
}

bool pj_session_has_imatrix(const pj_session *s)
{
	(void)s;
	return false;
}

const pj_plan *pj_session_plan(pj_session *s)
{
	(void)s;
	return NULL;
}

const pj_plan_entry *pj_session_entry(const pj_session *s, size_t t)
{
	(void)s;
	(void)t;
	return NULL;
}

ptrdiff_t pj_session_find(const pj_session *s, const char *name)
{
	(void)s;
	(void)name;
	return 0;
}

const char *pj_session_model_key(const pj_session *s)
{
	(void)s;
	return NULL;
}

uint64_t pj_session_generation(const pj_session *s)
{
	(void)s;
	return 0;
}

bool pj_session_dirty(const pj_session *s)
{
	(void)s;
	return false;
}

void pj_session_mark_saved(pj_session *s)
{
	(void)s;
}

void pj_session_set_kv(pj_session *s, int64_t ctx, pj_dtype type)
{
	(void)s;
	(void)ctx;
	(void)type;
}

pj_status pj_session_set_type(pj_session *s, size_t t, pj_dtype type, pj_error *err)
{
	(void)s;
	(void)t;
	(void)type;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_set_type_sel(pj_session *s, pj_dtype type, pj_error *err)
{
	(void)s;
	(void)type;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_step(pj_session *s, size_t t, int dir, pj_error *err)
{
	(void)s;
	(void)t;
	(void)dir;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_step_sel(pj_session *s, int dir, pj_error *err)
{
	(void)s;
	(void)dir;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_pin(pj_session *s, size_t t, bool on, pj_error *err)
{
	(void)s;
	(void)t;
	(void)on;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_pin_sel(pj_session *s, bool on, pj_error *err)
{
	(void)s;
	(void)on;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_revert(pj_session *s, size_t t, pj_error *err)
{
	(void)s;
	(void)t;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_revert_sel(pj_session *s, pj_error *err)
{
	(void)s;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_apply_preset(pj_session *s, const char *base, unsigned flags, pj_error *err)
{
	(void)s;
	(void)base;
	(void)flags;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

size_t pj_session_rule_count(const pj_session *s)
{
	(void)s;
	return 0;
}

const char *pj_session_rule_text(const pj_session *s, size_t pos)
{
	(void)s;
	(void)pos;
	return NULL;
}

pj_status pj_session_rule_add(pj_session *s, size_t pos, const char *text, pj_error *err)
{
	(void)s;
	(void)pos;
	(void)text;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_rule_remove(pj_session *s, size_t pos, pj_error *err)
{
	(void)s;
	(void)pos;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_rule_replace(pj_session *s, size_t pos, const char *text, pj_error *err)
{
	(void)s;
	(void)pos;
	(void)text;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_rule_move(pj_session *s, size_t from, size_t to, pj_error *err)
{
	(void)s;
	(void)from;
	(void)to;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

char *pj_session_selection_regex(const pj_session *s)
{
	(void)s;
	return NULL;
}

pj_status pj_session_rule_from_selection(pj_session *s, pj_dtype type, char **text, pj_error *err)
{
	(void)s;
	(void)type;
	(void)text;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_load_plan(pj_session *s, const char *path, char **warning, pj_error *err)
{
	(void)s;
	(void)path;
	(void)warning;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_save_plan(pj_session *s, const char *path, pj_error *err)
{
	(void)s;
	(void)path;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

char *pj_session_plan_json(pj_session *s)
{
	(void)s;
	return NULL;
}

bool pj_session_can_undo(const pj_session *s)
{
	(void)s;
	return false;
}

bool pj_session_can_redo(const pj_session *s)
{
	(void)s;
	return false;
}

pj_status pj_session_undo(pj_session *s, pj_error *err)
{
	(void)s;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_redo(pj_session *s, pj_error *err)
{
	(void)s;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

const char *pj_session_undo_label(const pj_session *s)
{
	(void)s;
	return NULL;
}

const char *pj_session_redo_label(const pj_session *s)
{
	(void)s;
	return NULL;
}

size_t pj_session_history(const pj_session *s, size_t *applied)
{
	(void)s;
	(void)applied;
	return 0;
}

void pj_session_tag(pj_session *s, size_t t, bool on)
{
	(void)s;
	(void)t;
	(void)on;
}

void pj_session_tag_toggle(pj_session *s, size_t t)
{
	(void)s;
	(void)t;
}

bool pj_session_tagged(const pj_session *s, size_t t)
{
	(void)s;
	(void)t;
	return false;
}

void pj_session_tag_clear(pj_session *s)
{
	(void)s;
}

size_t pj_session_n_tagged(const pj_session *s)
{
	(void)s;
	return 0;
}

size_t pj_session_tagged_list(const pj_session *s, size_t *out, size_t max)
{
	(void)s;
	(void)out;
	(void)max;
	return 0;
}

pj_status pj_session_tag_regex(pj_session *s, const char *re, pj_tag_mode mode, size_t *n_matched, pj_error *err)
{
	(void)s;
	(void)re;
	(void)mode;
	(void)n_matched;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

size_t pj_session_tag_layer(pj_session *s, int comp, int layer, pj_tag_mode mode)
{
	(void)s;
	(void)comp;
	(void)layer;
	(void)mode;
	return 0;
}

size_t pj_session_tag_experts(pj_session *s, int comp, int layer, pj_tag_mode mode)
{
	(void)s;
	(void)comp;
	(void)layer;
	(void)mode;
	return 0;
}

size_t pj_session_tag_role(pj_session *s, pj_role role, pj_tag_mode mode)
{
	(void)s;
	(void)role;
	(void)mode;
	return 0;
}

size_t pj_session_tag_role_group(pj_session *s, pj_role_group g, pj_tag_mode mode)
{
	(void)s;
	(void)g;
	(void)mode;
	return 0;
}

size_t pj_session_tag_component(pj_session *s, pj_component c, pj_tag_mode mode)
{
	(void)s;
	(void)c;
	(void)mode;
	return 0;
}

void pj_session_put_measure(pj_session *s, const pj_mtensor *m)
{
	(void)s;
	(void)m;
}

pj_status pj_session_measure_start(pj_session *s, pj_pool *pool, pj_mcache *cache, const size_t *order, size_t n, pj_error *err)
{
	(void)s;
	(void)pool;
	(void)cache;
	(void)order;
	(void)n;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

void pj_session_measure_cancel(pj_session *s)
{
	(void)s;
}

const pj_progress *pj_session_measure_progress(const pj_session *s)
{
	(void)s;
	return NULL;
}

void pj_session_set_notify(pj_session *s, void (*fn)(void *ctx), void *ctx)
{
	(void)s; (void)fn; (void)ctx;
}

size_t pj_session_poll(pj_session *s)
{
	(void)s;
	return 0;
}

const char *pj_loss_formula(void)
{
	return NULL;
}

double pj_loss_role_weight(pj_role r)
{
	(void)r;
	return 0;
}

void pj_session_record_check(pj_session *s, double measured_kld)
{
	(void)s;
	(void)measured_kld;
}

pj_status pj_session_refit(pj_session *s, pj_error *err)
{
	(void)s;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

void pj_session_loss_scales(const pj_session *s, double out[PJ_RG_COUNT])
{
	(void)s;
	(void)out;
}

void pj_session_row(const pj_session *s, size_t t, pj_srow *out)
{
	(void)s;
	(void)t;
	(void)out;
}

size_t pj_session_candidates(const pj_session *s, size_t t, pj_scand *out, size_t max)
{
	(void)s;
	(void)t;
	(void)out;
	(void)max;
	return 0;
}

void pj_session_stats(const pj_session *s, size_t t, pj_tstats *out)
{
	(void)s;
	(void)t;
	(void)out;
}

void pj_session_agg(const pj_session *s, const size_t *tensors, size_t n, pj_sagg *out)
{
	(void)s;
	(void)tensors;
	(void)n;
	(void)out;
}

void pj_session_agg_layer(const pj_session *s, int comp, int layer, pj_sagg *out)
{
	(void)s;
	(void)comp;
	(void)layer;
	(void)out;
}

void pj_session_agg_experts(const pj_session *s, int comp, int layer, pj_sagg *out)
{
	(void)s;
	(void)comp;
	(void)layer;
	(void)out;
}

const char *pj_sagg_summary(const pj_sagg *a, char *buf, size_t len)
{
	(void)a;
	(void)buf;
	(void)len;
	return NULL;
}

void pj_session_totals(const pj_session *s, pj_stotals *out)
{
	(void)s;
	(void)out;
}

pj_solve_job *pj_session_solve_start(pj_session *s, pj_pool *pool, const pj_solve_target *target, pj_error *err)
{
	(void)s;
	(void)pool;
	(void)target;
	(void)err;
	return NULL;
}

const pj_progress *pj_solve_job_progress(const pj_solve_job *j)
{
	(void)j;
	return NULL;
}

void pj_solve_job_cancel(pj_solve_job *j)
{
	(void)j;
}

bool pj_solve_job_finished(const pj_solve_job *j)
{
	(void)j;
	return false;
}

pj_status pj_solve_job_result(pj_solve_job *j, pj_solve_result *r, pj_error *err)
{
	(void)j;
	(void)r;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_solve_apply(pj_session *s, pj_solve_job *j, pj_error *err)
{
	(void)s;
	(void)j;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

void pj_solve_job_free(pj_solve_job *j)
{
	(void)j;
}

pj_status pj_session_solve(pj_session *s, const pj_solve_target *target, pj_solve_result *r, pj_error *err)
{
	(void)s;
	(void)target;
	(void)r;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_state_dir(char *buf, size_t len, pj_error *err)
{
	(void)buf;
	(void)len;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_autosave_path(const pj_session *s, const char *dir, char *buf, size_t len, pj_error *err)
{
	(void)s;
	(void)dir;
	(void)buf;
	(void)len;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

bool pj_session_autosave_due(const pj_session *s)
{
	(void)s;
	return false;
}

pj_status pj_session_autosave(pj_session *s, const char *dir, const void *view, size_t view_len, pj_error *err)
{
	(void)s;
	(void)dir;
	(void)view;
	(void)view_len;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_saved_probe(const pj_session *s, const char *dir, pj_session_saved *info, char **message)
{
	(void)s;
	(void)dir;
	(void)info;
	(void)message;
	return pj_fail(NULL, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_restore(pj_session *s, const char *dir, void **view, size_t *view_len, char **message, pj_error *err)
{
	(void)s;
	(void)dir;
	(void)view;
	(void)view_len;
	(void)message;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}

pj_status pj_session_autosave_remove(const pj_session *s, const char *dir, pj_error *err)
{
	(void)s;
	(void)dir;
	(void)err;
	return pj_fail(err, PJ_EUNSUPPORTED, "session: not implemented yet");
}
