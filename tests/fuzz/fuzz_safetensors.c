/* libFuzzer target: safetensors parser. */
#include "config.h"
#include "targets.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pj_fuzz_safetensors(data, size); }
