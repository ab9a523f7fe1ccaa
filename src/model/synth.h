/* synth.h - synthetic model writer: HF folders (single or sharded
 * safetensors, optionally sparse: header + holes, no data written) and GGUF
 * files, from a config.json.  Used by pj-fixture (tests, benchmarks) and by
 * the built-in demo model.  Curses-free. */
#ifndef PJ_SYNTH_H
#define PJ_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef enum pj_synth_format { PJ_SYNTH_HF, PJ_SYNTH_GGUF } pj_synth_format;

typedef struct pj_synth_opts {
	pj_synth_format format;
	bool sparse;           /* holes instead of data (ftruncate) */
	int shards;            /* HF: number of safetensors shards (1 = model.safetensors) */
	const char *dtype;     /* "BF16" (default), "F16", "F32", "F8_E4M3" (adds weight_scale_inv) */
	uint64_t seed;
} pj_synth_opts;

/* Writes a model described by config_path (a config.json) to out (a folder
 * for HF, a file path for GGUF). */
pj_status pj_synth_write(const char *config_path, const char *out, const pj_synth_opts *o, pj_error *err);
/* Writes the built-in demo model (HF folder, random BF16 weights) to dir. */
pj_status pj_synth_write_demo(const char *dir, pj_error *err);

#endif
