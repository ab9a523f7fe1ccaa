/* views.h - the screen's parts and the state they share.
 *
 * Each part of the screen is a view with a small vtable: draw into a
 * rectangle, handle an action, handle a mouse event.  app.c owns the loop,
 * lays the views out, routes input to them and acts on the flags they
 * return (handled, redraw, quit) in one place. */
#ifndef PJ_UI_VIEWS_H
#define PJ_UI_VIEWS_H

#include <stdbool.h>
#include <stddef.h>

#include <regex.h>

#include "app.h"
#include "check_job.h"
#include "crt.h"
#include "export.h"
#include "keys.h"
#include "mailbox.h"
#include "quant/pool.h"
#include "quant/session.h"
#include "quant/stats.h"
#include "tree.h"

typedef struct pj_rect {
	int y, x, h, w;
} pj_rect;

static inline bool pj_rect_has(pj_rect r, int y, int x)
{
	return y >= r.y && y < r.y + r.h && x >= r.x && x < r.x + r.w;
}

/* What a handler did; the loop acts on these. */
enum {
	PJ_R_IGNORED = 0,
	PJ_R_HANDLED = 1 << 0,
	PJ_R_REDRAW = 1 << 1,
	PJ_R_QUIT = 1 << 2,
};

typedef struct pj_app pj_app;

typedef struct pj_view {
	const char *name;
	void (*draw)(pj_app *a, pj_rect r);
	int (*action)(pj_app *a, pj_action act);                       /* may be NULL */
	int (*mouse)(pj_app *a, pj_rect r, const pj_mouse *ev);        /* may be NULL */
} pj_view;

extern const pj_view pj_header_view;   /* bars.c */
extern const pj_view pj_jobs_view;     /* bars.c */
extern const pj_view pj_fbar_view;     /* bars.c */
extern const pj_view pj_table_view;    /* table_view.c */
extern const pj_view pj_detail_view;   /* detail_view.c */
extern const pj_view pj_help_view;     /* help_view.c */

enum { PJ_FBAR_MAX = 12, PJ_DLG_DEPTH = 8 };

/* The table's columns: X(ID, title, width, right-aligned, priority, on by
 * default).  When the terminal is narrow, columns go in decreasing
 * priority number until the name column keeps its minimum. */
#define PJ_COLUMNS(X)                                         \
	X(ATTN,   "Attn",      9, false, 5, true)            \
	X(SHAPE,  "Shape",    12, true,  4, true)            \
	X(PARAMS, "Params",    7, true,  5, true)            \
	X(SRC,    "Src",       5, false, 4, true)            \
	X(TYPE,   "Type",      7, false, 1, true)            \
	X(BYTES,  "Bytes",     8, true,  1, true)            \
	X(BPW,    "bpw",       5, true,  3, true)            \
	X(ERR,    "Err",       7, true,  2, true)            \
	X(LOSS,   "Loss",     14, false, 2, true)            \
	X(PROV,   "From",      7, false, 3, true)            \
	X(ROUTE,  "Route%",    6, true,  6, false)           \
	X(MAXABS, "max|x|",    7, true,  6, false)           \
	X(RMS,    "RMS",       7, true,  6, false)           \
	X(NANINF, "NaN/Inf",   7, true,  6, false)           \
	X(OUTL,   "Out%",      6, true,  6, false)

typedef enum pj_col {
#define PJ_COL_ENUM(id, title, w, right, prio, on) PJ_COL_##id,
	PJ_COLUMNS(PJ_COL_ENUM)
#undef PJ_COL_ENUM
	PJ_COL_COUNT
} pj_col;

typedef struct pj_col_info {
	const char *title;
	int width;
	bool right;
	int prio;
	bool on;
} pj_col_info;
extern const pj_col_info pj_columns[PJ_COL_COUNT];

/* Row filters. */
typedef enum pj_filter_kind {
	PJ_FILTER_NONE, PJ_FILTER_ROLE, PJ_FILTER_LAYER, PJ_FILTER_TYPE, PJ_FILTER_COMP, PJ_FILTER_TAGGED,
	PJ_FILTER_SEARCH,
} pj_filter_kind;

/* Per tree row, from the session: the rows whose tensors changed are
 * refolded when its row stamp moves. */
typedef struct pj_row_plan {
	uint64_t bytes;          /* planned */
	double loss;
	int16_t type;            /* planned type shared by every leaf, -1 mixed */
	uint8_t prov;            /* shared provenance, PJ_PROV_COUNT when mixed */
	bool pinned, tagged, all_tagged, estimated;
} pj_row_plan;

typedef struct pj_dialog pj_dialog;

struct pj_app {
	pj_model *m;
	const pj_ui_opts *opts;
	pj_tree tree;

	/* table: indices into tree.vis */
	size_t sel, top;
	int page;                  /* body rows at the last layout */

	/* statistics, written only on the UI thread from mailbox messages */
	pj_tstats *ts;             /* per catalog tensor */
	pj_tstats **slice_ts;      /* per stacked tensor, per expert; NULL otherwise */

	/* background work */
	pj_mailbox mb;
	pj_pool *pool;
	pj_stats_job *stats_job;
	struct stats_sink_ctx *stats_ctx;
	unsigned stats_gen;
	double stats_t0, stats_t1;  /* monotonic seconds: start, finish */
	bool stats_done;

	/* the plan (NULL when the session could not start: a browser only) */
	pj_session *s;
	char s_error[256];
	pj_row_plan *rp;           /* per tree row, NULL until first asked */
	uint64_t rp_stamp;         /* pj_session_row_stamp() rp reflects */
	uint8_t *rp_mark;          /* per tree row, refold scratch (all 0 between) */
	size_t *rp_changed;        /* pj_session_rows_changed() scratch */
	uint32_t *leaf_off, *leaf_rows; /* leaf rows by catalog tensor (CSR) */
	pj_mcache *mcache;
	double measure_t0;
	bool measure_saved;
	pj_solve_job *solve;
	double solve_t0;
	char solve_what[64];
	pj_export exp;
	pj_check_job check;
	bool check_seen;           /* a check ran (its line stays in the jobs pane) */
	bool exp_seen;             /* an export ran (its line stays in the jobs pane) */
	double last_change, last_autosave, last_key;
	/* the last merged row statistics (a layer of 256 experts merges
	 * thousands of leaves: not once per frame) */
	uint32_t rs_row;
	unsigned rs_ver, stats_ver;
	bool rs_valid;
	pj_tstats rs;
	uint64_t autosave_gen;
	char autosave_note[128];
	bool restore_pending;      /* the restore question is open: no autosave yet */

	/* view */
	bool col_on[PJ_COL_COUNT];
	int sort_col;              /* -1: tree order; else a pj_col, flat list */
	bool sort_asc;
	pj_filter_kind filter;
	int filter_val;
	char filter_text[64];
	char search[256];
	regex_t search_re;
	bool search_ok;
	char msg[256];             /* the messages line */
	bool msg_err;
	double msg_t;

	/* screen */
	bool show_detail, help_open, show_jobs;
	int help_top;
	pj_rect r_header, r_table, r_detail, r_help, r_jobs, r_msg, r_fbar;
	struct { int x0, x1; pj_action act; } fbar_hit[PJ_FBAR_MAX];
	int n_fbar_hit;
	pj_dialog *dlg[PJ_DLG_DEPTH];
	int n_dlg;
	bool quit;
};

/* The messages line: what the last action did (err: in the error color). */
void pj_app_msg(pj_app *a, bool err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Row plan figures (refreshed lazily); NULL without a session. */
const pj_row_plan *pj_app_row_plan(pj_app *a, uint32_t r);
/* Rebuilds the visible list (filter, sort) keeping the selected row. */
void pj_app_refresh_rows(pj_app *a);
/* Lays the screen out again (after a resize or a pane toggle). */
void pj_app_layout(pj_app *a);

void pj_app_stats_cancel(pj_app *a);
bool pj_app_stats_running(const pj_app *a);

/* plan_actions.c: the editing actions and their dialogs. */
int pj_plan_action(pj_app *a, pj_action act);
/* The quit question; returns PJ_R_QUIT when nothing needs asking. */
int pj_plan_quit(pj_app *a);
/* Autosave when due (debounced); force: now. */
void pj_plan_autosave(pj_app *a, bool force);
/* On open: offer the autosave, start measuring. */
void pj_plan_open(pj_app *a);
/* Each loop turn: session results, solver, export. Returns true when the
 * screen changed. */
bool pj_plan_tick(pj_app *a);
bool pj_plan_busy(const pj_app *a);

/* Merged statistics of every leaf under row r (r itself for a leaf). */
void pj_app_row_stats(const pj_app *a, uint32_t r, pj_tstats *out);
/* The arch layer of a row, or NULL. */
const pj_layer *pj_app_row_layer(const pj_app *a, uint32_t r);
/* "global", "local 1024", "MLA", "linear", "none"; "+x" with cross-attention. */
const char *pj_attn_str(const pj_layer *l, char *buf, size_t len);
double pj_now(void);

/* Runs an action as if its key was pressed (function bar clicks). */
int pj_app_dispatch(pj_app *a, pj_action act);

/* Selection helpers shared by table and mouse handling. */
void pj_app_select(pj_app *a, size_t vis_index);
uint32_t pj_app_sel_row(const pj_app *a);

#endif
