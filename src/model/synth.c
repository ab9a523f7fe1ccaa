#include "config.h"
#include "synth.h"
/* placeholder: implemented by the synth/fixture work */
pj_status pj_synth_write(const char *config_path, const char *out, const pj_synth_opts *o, pj_error *err)
{ (void)config_path; (void)out; (void)o; return pj_fail(err, PJ_EUNSUPPORTED, "synth: not implemented yet"); }
pj_status pj_synth_write_demo(const char *dir, pj_error *err)
{ (void)dir; return pj_fail(err, PJ_EUNSUPPORTED, "demo: not implemented yet"); }
