/* hfconfig.c - alias-aware, type-tolerant config.json lookups. */
#include "config.h"
#include "hfconfig.h"

#include <math.h>
#include <string.h>

/* Keys are short; anything longer than this is not one of ours. */
#define KEY_MAX 64

void pj_hfcfg_init(pj_hfcfg *c, const cJSON *root)
{
	c->root = cJSON_IsObject(root) ? root : NULL;
	c->text = c->root;
	c->vision = NULL;
	if (!c->root)
		return;
	const cJSON *t = pj_cfg_get(c->root, "text_config|llm_config|language_config");
	if (cJSON_IsObject(t))
		c->text = t;
	const cJSON *v = pj_cfg_get(c->root, "vision_config|vision_tower_config|visual");
	if (cJSON_IsObject(v))
		c->vision = v;
}

/* Walks the aliases in order and returns the first item `ok` accepts: a
 * config may carry a stale alias of the wrong type before a good one. */
typedef bool (*accept_fn)(const cJSON *it, void *ctx);

static const cJSON *find_alias(const cJSON *obj, const char *keys, accept_fn ok, void *ctx)
{
	if (!cJSON_IsObject(obj) || !keys)
		return NULL;
	const char *p = keys;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n > 0 && n < KEY_MAX) {
			char key[KEY_MAX];
			memcpy(key, p, n);
			key[n] = '\0';
			/* case-sensitive, as transformers reads them */
			const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
			if (it && ok(it, ctx))
				return it;
		}
		p += n;
		if (*p == '|')
			p++;
	}
	return NULL;
}

static bool not_null(const cJSON *it, void *ctx)
{
	(void)ctx;
	return !cJSON_IsNull(it);
}

static bool is_bool(const cJSON *it, void *ctx)
{
	(void)ctx;
	return cJSON_IsBool(it);
}

static bool is_string(const cJSON *it, void *ctx)
{
	(void)ctx;
	return cJSON_IsString(it) && it->valuestring;
}

static bool is_array(const cJSON *it, void *ctx)
{
	(void)ctx;
	return cJSON_IsArray(it);
}

static bool is_finite(const cJSON *it, void *ctx)
{
	(void)ctx;
	return cJSON_IsNumber(it) && isfinite(it->valuedouble);
}

struct int_range { int64_t lo, hi; };

static bool is_int_in_range(const cJSON *it, void *ctx)
{
	const struct int_range *r = ctx;
	if (!is_finite(it, NULL))
		return false;
	double d = it->valuedouble;
	/* compare as doubles: casting an out-of-range double is undefined */
	return d == floor(d) && d >= (double)r->lo && d <= (double)r->hi &&
	       d > -9.0e18 && d < 9.0e18;
}

const cJSON *pj_cfg_get(const cJSON *obj, const char *keys)
{
	return find_alias(obj, keys, not_null, NULL);
}

bool pj_cfg_num(const cJSON *obj, const char *keys, double *out)
{
	const cJSON *it = find_alias(obj, keys, is_finite, NULL);
	if (!it)
		return false;
	*out = it->valuedouble;
	return true;
}

bool pj_cfg_int(const cJSON *obj, const char *keys, int64_t lo, int64_t hi, int64_t *out)
{
	struct int_range r = { lo, hi };
	const cJSON *it = find_alias(obj, keys, is_int_in_range, &r);
	if (!it)
		return false;
	*out = (int64_t)it->valuedouble;
	return true;
}

bool pj_cfg_bool(const cJSON *obj, const char *keys, bool *out)
{
	const cJSON *it = find_alias(obj, keys, is_bool, NULL);
	if (!it)
		return false;
	*out = cJSON_IsTrue(it);
	return true;
}

const char *pj_cfg_str(const cJSON *obj, const char *keys)
{
	const cJSON *it = find_alias(obj, keys, is_string, NULL);
	return it ? it->valuestring : NULL;
}

const cJSON *pj_cfg_array(const cJSON *obj, const char *keys)
{
	return find_alias(obj, keys, is_array, NULL);
}

bool pj_hfcfg_text_int(const pj_hfcfg *c, const char *keys, int64_t lo, int64_t hi, int64_t *out)
{
	return pj_cfg_int(c->text, keys, lo, hi, out) ||
	       (c->text != c->root && pj_cfg_int(c->root, keys, lo, hi, out));
}

bool pj_hfcfg_text_bool(const pj_hfcfg *c, const char *keys, bool *out)
{
	return pj_cfg_bool(c->text, keys, out) ||
	       (c->text != c->root && pj_cfg_bool(c->root, keys, out));
}

const char *pj_hfcfg_text_str(const pj_hfcfg *c, const char *keys)
{
	const char *s = pj_cfg_str(c->text, keys);
	if (!s && c->text != c->root)
		s = pj_cfg_str(c->root, keys);
	return s;
}

const cJSON *pj_hfcfg_text_array(const pj_hfcfg *c, const char *keys)
{
	const cJSON *a = pj_cfg_array(c->text, keys);
	if (!a && c->text != c->root)
		a = pj_cfg_array(c->root, keys);
	return a;
}

const cJSON *pj_hfcfg_text_get(const pj_hfcfg *c, const char *keys)
{
	const cJSON *a = pj_cfg_get(c->text, keys);
	if (!a && c->text != c->root)
		a = pj_cfg_get(c->root, keys);
	return a;
}

bool pj_hfcfg_vision_int(const pj_hfcfg *c, const char *keys, int64_t lo, int64_t hi, int64_t *out)
{
	return pj_cfg_int(c->vision, keys, lo, hi, out);
}
