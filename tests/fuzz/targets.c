#include "config.h"
#include "targets.h"
int pj_fuzz_safetensors(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }
int pj_fuzz_gguf(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }
