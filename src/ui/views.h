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

#include "app.h"
#include "crt.h"
#include "keys.h"
#include "mailbox.h"
#include "quant/pool.h"
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

enum { PJ_FBAR_MAX = 12 };

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

	/* screen */
	bool show_detail, help_open;
	int help_top;
	pj_rect r_header, r_table, r_detail, r_help, r_jobs, r_fbar;
	struct { int x0, x1; pj_action act; } fbar_hit[PJ_FBAR_MAX];
	int n_fbar_hit;
};

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
