/* model.h - opening a model: HF folder, GGUF file (or split set), or a
 * Hugging Face cache id.  Never touches the network. */
#ifndef PJ_MODEL_H
#define PJ_MODEL_H

#include <cjson/cJSON.h>

#include "arch.h"
#include "catalog.h"
#include "error.h"
#include "gguf.h"

typedef enum pj_format { PJ_FMT_HF, PJ_FMT_GGUF } pj_format;

typedef struct pj_model {
	pj_format format;
	char *arg;           /* what the user passed */
	char *path;          /* resolved: HF folder, or the (first) .gguf file */
	char *name;          /* display name: folder / file base name or the hub id */
	cJSON *config;       /* HF config.json, NULL for GGUF */
	pj_gguf *gguf;       /* GGUF metadata of the first split, NULL for HF */
	size_t n_gguf;       /* splits */
	pj_gguf *gguf_splits;
	pj_catalog cat;
	pj_arch arch;        /* filled by pj_arch_detect() in pj_model_open() */
	char **warnings;     /* things the user should know (unknown arch, ...) */
	size_t n_warnings;
} pj_model;

/* Resolves arg (folder, .gguf, or org/name in the HF cache), reads headers,
 * builds the catalog and runs architecture detection. */
pj_status pj_model_open(const char *arg, pj_model **out, pj_error *err);
void pj_model_close(pj_model *m);
void pj_model_warn(pj_model *m, const char *fmt, ...) PJ_PRINTF(2, 3);

/* Resolves "org/name" in the local HF cache ($HF_HUB_CACHE, $HF_HOME/hub,
 * ~/.cache/huggingface/hub) to a snapshot folder (via refs/main, else the
 * only/newest snapshot).  Returns a malloc'd path. */
pj_status pj_hf_cache_resolve(const char *id, char **out, pj_error *err);

#endif
