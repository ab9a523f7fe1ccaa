#include "config.h"
#include "info.h"
/* placeholder */
void pj_info_print_text(FILE *out, const pj_model *m) { (void)out; (void)m; }
void pj_info_print_json(FILE *out, const pj_model *m) { (void)out; (void)m; }
