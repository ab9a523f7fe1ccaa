#include "config.h"
#include "targets.h"
int pj_fuzz_config(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }
