/* synth.h - synthetic model writer: HF folders (single or sharded
 * safetensors, optionally sparse: header + holes, no data written) and GGUF
 * files, from a config.json.  Used by pj-fixture (tests, benchmarks) and by
 * the built-in demo model.  Curses-free.
 *
 * The tensor list follows the real hub checkpoint of the architecture named
 * by the config's model_type: names, shapes, dtypes (FP8 block scales when
 * the config says quant_method fp8), MTP layers, vision towers.  A config
 * written by transformers >= 5 (as the shared test models are) gets the
 * layout that save_pretrained produces there: no MTP layers, vision towers
 * without the ".vision_model" level, router biases in the model dtype. */
#ifndef PJ_SYNTH_H
#define PJ_SYNTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef enum pj_synth_format { PJ_SYNTH_HF, PJ_SYNTH_GGUF } pj_synth_format;

typedef struct pj_synth_opts {
	pj_synth_format format;
	bool sparse;           /* holes instead of data (ftruncate) */
	int shards;            /* HF: number of safetensors shards (1 = model.safetensors) */
	const char *dtype;     /* "BF16", "F16", "F32", "F8_E4M3" (adds weight_scale_inv);
	                        * NULL: the config's torch_dtype, else BF16 */
	uint64_t seed;
	int shard_digits;      /* digits of the shard count in file names: 0 = 5
	                        * (model-00001-of-00004), 6 = DeepSeek-V3's -of-000163 */
} pj_synth_opts;

/* Writes a model described by config_path (a config.json) to out (a folder
 * for HF, a file path for GGUF). */
pj_status pj_synth_write(const char *config_path, const char *out, const pj_synth_opts *o, pj_error *err);
/* Prints the tensors pj_synth_write would write, one per line:
 * "name<TAB>dtype<TAB>d0,d1,..." (file order for GGUF, ggml order shapes;
 * PyTorch order for HF), then nothing else. */
pj_status pj_synth_list(const char *config_path, const pj_synth_opts *o, FILE *out, pj_error *err);
/* Writes the built-in demo model (HF folder, random BF16 weights) to dir.
 * It is built in a temporary sibling folder and renamed into place, so a
 * half-written demo is never seen; an existing dir is left alone. */
pj_status pj_synth_write_demo(const char *dir, pj_error *err);

#endif
