#include "config.h"
#include "app.h"
#include "cli.h"
/* placeholder */
int pj_ui_run(pj_model *m, const pj_ui_opts *opts) { (void)m; (void)opts; return PJ_EXIT_RUNTIME; }
