/* Fuzz target: config.json bytes -> cJSON -> config-only architecture
 * detection.  Arbitrary JSON must neither crash nor leak. */
#include "config.h"
#include "targets.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#include "arch.h"

int pj_fuzz_config(const uint8_t *data, size_t size)
{
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	if (!j)
		return 0;
	pj_arch a;
	pj_error err = { 0 };
	if (pj_arch_detect_config(&a, j, &err) == PJ_OK) {
		char buf[256];
		pj_arch_summary(&a, buf, sizeof buf);
		/* touch every block, as the report would */
		for (int i = 0; i < a.n_layer_entries; i++)
			(void)pj_arch_layer(&a, a.layers[i].comp, a.layers[i].index);
		pj_arch_free(&a);
	}
	cJSON_Delete(j);
	return 0;
}
