#include "config.h"
#include "dtype.h"

#include <string.h>
#include <strings.h>

static const pj_dtype_info dtype_table[PJ_DT_COUNT] = {
#define PJ_DT_ROW(id, name, g, st, b, s, q) [PJ_DT_##id] = { name, g, st, b, s, q },
	PJ_DTYPES(PJ_DT_ROW)
#undef PJ_DT_ROW
};

const pj_dtype_info *pj_dtype_info_of(pj_dtype t)
{
	return (unsigned)t < PJ_DT_COUNT ? &dtype_table[t] : NULL;
}

const char *pj_dtype_name(pj_dtype t)
{
	return (unsigned)t < PJ_DT_COUNT ? dtype_table[t].name : "?";
}

bool pj_dtype_from_ggml(uint32_t ggml_id, pj_dtype *out)
{
	for (int i = 0; i < PJ_DT_COUNT; i++) {
		if (dtype_table[i].ggml_id >= 0 && (uint32_t)dtype_table[i].ggml_id == ggml_id) {
			*out = (pj_dtype)i;
			return true;
		}
	}
	return false;
}

bool pj_dtype_from_safetensors(const char *name, pj_dtype *out)
{
	for (int i = 0; i < PJ_DT_COUNT; i++) {
		if (dtype_table[i].st_name && strcmp(dtype_table[i].st_name, name) == 0) {
			*out = (pj_dtype)i;
			return true;
		}
	}
	return false;
}

bool pj_dtype_from_name(const char *name, pj_dtype *out)
{
	for (int i = 0; i < PJ_DT_COUNT; i++) {
		if (strcasecmp(dtype_table[i].name, name) == 0) {
			*out = (pj_dtype)i;
			return true;
		}
	}
	return false;
}

bool pj_dtype_bytes(pj_dtype t, uint64_t n, uint64_t *out)
{
	const pj_dtype_info *d = pj_dtype_info_of(t);
	if (!d || n % d->block)
		return false;
	return !__builtin_mul_overflow(n / d->block, (uint64_t)d->type_size, out);
}

double pj_dtype_bpw(pj_dtype t)
{
	const pj_dtype_info *d = pj_dtype_info_of(t);
	return d ? 8.0 * d->type_size / d->block : 0.0;
}
