/* targets.h - fuzz entry points, shared by the libFuzzer binaries and by
 * tests/test_corpus.c, which replays the seed corpora in make check. */
#ifndef PJ_FUZZ_TARGETS_H
#define PJ_FUZZ_TARGETS_H
#include <stddef.h>
#include <stdint.h>
int pj_fuzz_safetensors(const uint8_t *data, size_t size);
int pj_fuzz_gguf(const uint8_t *data, size_t size);
int pj_fuzz_config(const uint8_t *data, size_t size);
#endif
