#include "config.h"
#include "model.h"
#include <stdlib.h>
/* placeholder: implemented by the readers work */
pj_status pj_model_open(const char *arg, pj_model **out, pj_error *err)
{ (void)arg; *out = NULL; return pj_fail(err, PJ_EUNSUPPORTED, "model: not implemented yet"); }
void pj_model_close(pj_model *m) { free(m); }
void pj_model_warn(pj_model *m, const char *fmt, ...) { (void)m; (void)fmt; }
