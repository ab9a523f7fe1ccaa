#include "config.h"
#include "arch.h"
#include "model.h"
#include <stdlib.h>
/* placeholder until detection lands */
pj_status pj_arch_detect(struct pj_model *m, pj_error *err) { (void)m; (void)err; return PJ_OK; }
void pj_arch_free(pj_arch *a) { free(a->layers); a->layers = NULL; }
