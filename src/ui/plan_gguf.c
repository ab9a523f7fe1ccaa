/* plan_gguf.c - baking the planner's plan onto the converter's GGUF names. */
#include "config.h"
#include "plan_gguf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/hf2gguf.h"

/* Bytes per 2^20 elements: orders types by precision. */
static uint64_t weight_of(pj_dtype t)
{
	uint64_t b = 0;
	pj_dtype_bytes(t, (uint64_t)1 << 20, &b);
	return b;
}

char *pj_plan_gguf_json(pj_session *s, size_t *n_merged, char *err, size_t err_len)
{
	pj_model *m = pj_session_model(s);
	char *text = pj_session_plan_json(s);
	*n_merged = 0;
	if (!text || m->format == PJ_FMT_GGUF)
		return text;
	pj_hf_arch arch;
	const char *garch;
	if (!pj_hf_arch_lookup(m->arch.arch, &arch, &garch)) {
		snprintf(err, err_len, "%s: the converter does not know this architecture", m->arch.arch);
		free(text);
		return NULL;
	}
	cJSON *j = cJSON_Parse(text);
	free(text);
	if (!j) {
		snprintf(err, err_len, "cannot read the session's plan");
		return NULL;
	}
	/* One type per GGUF name: the planned type, the largest for a stack. */
	const pj_catalog *cat = &m->cat;
	typedef struct { char name[160]; pj_dtype type; bool pinned, mixed; } bake;
	bake *b = pj_xcalloc(cat->n ? cat->n : 1, sizeof *b);
	size_t nb = 0;
	bool ok = true;
	for (size_t t = 0; t < cat->n && ok; t++) {
		pj_srow r;
		pj_session_row(s, t, &r);
		if (!r.quantizable && !r.pinned)
			continue;
		char g[160];
		int expert = -1, slot = -1;
		if (!pj_hf_tensor_name(arch, cat->t[t].name, g, sizeof g, &expert, &slot))
			continue;        /* not exported (the converter skips it) */
		size_t k = 0;
		while (k < nb && strcmp(b[k].name, g) != 0)
			k++;
		if (k == nb) {
			snprintf(b[nb].name, sizeof b[nb].name, "%s", g);
			b[nb].type = r.e ? r.e->requested : r.type;
			b[nb].pinned = r.pinned;
			nb++;
			continue;
		}
		pj_dtype want = r.e ? r.e->requested : r.type;
		if (want != b[k].type) {
			b[k].mixed = true;
			if (weight_of(want) > weight_of(b[k].type))
				b[k].type = want;
		}
		b[k].pinned |= r.pinned;
	}
	cJSON *ov = cJSON_CreateObject();
	for (size_t k = 0; k < nb; k++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", pj_dtype_name(b[k].type));
		cJSON_AddBoolToObject(o, "pinned", b[k].pinned);
		cJSON_AddItemToObject(ov, b[k].name, o);
		*n_merged += b[k].mixed;
	}
	free(b);
	cJSON_ReplaceItemInObject(j, "overrides", ov);
	cJSON_ReplaceItemInObject(j, "rules", cJSON_CreateArray());
	char *out = cJSON_Print(j);
	cJSON_Delete(j);
	if (!out)
		snprintf(err, err_len, "cannot write the plan");
	return out;
}
