/* plan_json.c - plan files (see plan_json.h for the schema). */
#include "config.h"
#include "plan_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/strbuf.h"

char *pj_plan_json_dump(const pj_plan *p)
{
	return pj_plan_json_dump_keyed(p, NULL);
}

char *pj_plan_json_dump_keyed(const pj_plan *p, const char *header_sha256)
{
	char sha[65];
	if (header_sha256)
		snprintf(sha, sizeof sha, "%s", header_sha256);
	else
		pj_plan_header_sha256(p->cat, sha);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "schema", PJ_PLAN_SCHEMA);
	cJSON_AddNumberToObject(root, "version", PJ_PLAN_VERSION);
	cJSON *model = cJSON_AddObjectToObject(root, "model");
	cJSON_AddStringToObject(model, "name", p->m->name ? p->m->name : "");
	cJSON_AddStringToObject(model, "header_sha256", sha);
	cJSON_AddStringToObject(root, "base", p->base);
	cJSON *rules = cJSON_AddArrayToObject(root, "rules");
	for (size_t i = 0; i < p->n_rules; i++)
		cJSON_AddItemToArray(rules, cJSON_CreateString(p->rules[i].text));
	cJSON *ov = cJSON_AddObjectToObject(root, "overrides");
	for (size_t i = 0; i < p->n_ov; i++) {
		cJSON *o = cJSON_AddObjectToObject(ov, p->ov[i].tensor);
		cJSON_AddStringToObject(o, "type", pj_dtype_name(p->ov[i].type));
		cJSON_AddBoolToObject(o, "pinned", p->ov[i].pinned);
	}
	if (p->target)
		cJSON_AddItemToObject(root, "target", cJSON_Duplicate(p->target, true));
	char *txt = cJSON_Print(root);
	cJSON_Delete(root);
	size_t n = strlen(txt);
	char *out = pj_xmalloc(n + 2);
	memcpy(out, txt, n);
	out[n] = '\n';
	out[n + 1] = 0;
	cJSON_free(txt);
	return out;
}

pj_status pj_plan_json_save(const pj_plan *p, const char *path, pj_error *err)
{
	return pj_plan_json_save_keyed(p, NULL, path, err);
}

pj_status pj_plan_json_save_keyed(const pj_plan *p, const char *header_sha256, const char *path, pj_error *err)
{
	char *txt = pj_plan_json_dump_keyed(p, header_sha256);
	char *tmp = pj_xasprintf("%s.pj-tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	pj_status st = PJ_OK;
	if (!f) {
		st = pj_fail(err, PJ_EIO, "%s: cannot write: %s", path, strerror(errno));
	} else {
		size_t n = strlen(txt);
		bool ok = fwrite(txt, 1, n, f) == n;
		ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
		ok &= fclose(f) == 0;
		if (!ok || rename(tmp, path) != 0) {
			st = pj_fail(err, PJ_EIO, "%s: cannot write: %s", path, strerror(errno));
			unlink(tmp);
		}
	}
	free(tmp);
	free(txt);
	return st;
}

static const char *str_item(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static pj_status parse(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *text,
                       const char *label, bool has_imatrix, const char *header_sha256, char **warning,
                       pj_error *err)
{
	if (warning)
		*warning = NULL;
	cJSON *root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return pj_fail(err, PJ_EFORMAT, "%s: not a JSON object", label);
	}
	pj_status st = PJ_OK;
	const char *schema = str_item(root, "schema"), *base = str_item(root, "base");
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
	const cJSON *ov = cJSON_GetObjectItemCaseSensitive(root, "overrides");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(root, "target"), *it;
	if (!schema || strcmp(schema, PJ_PLAN_SCHEMA) != 0) {
		st = pj_fail(err, PJ_EFORMAT, "%s: not a plan file (schema is not \"%s\")", label, PJ_PLAN_SCHEMA);
		goto out;
	}
	if (!cJSON_IsNumber(ver) || ver->valuedouble != (double)(int)ver->valuedouble || ver->valueint < 1) {
		st = pj_fail(err, PJ_EFORMAT, "%s: \"version\" must be a positive integer", label);
		goto out;
	}
	if (ver->valueint > PJ_PLAN_VERSION) {
		st = pj_fail(err, PJ_EUNSUPPORTED, "%s: plan file version %d is newer than this program reads (%d)",
		             label, ver->valueint, PJ_PLAN_VERSION);
		goto out;
	}
	if (!base || (rules && !cJSON_IsArray(rules)) || (ov && !cJSON_IsObject(ov)) ||
	    (model && !cJSON_IsObject(model))) {
		st = pj_fail(err, PJ_EFORMAT, "%s: needs \"base\" (string); \"rules\" is an array, \"overrides\" and "
		             "\"model\" are objects", label);
		goto out;
	}
	if ((st = pj_plan_build_cat(p, m, cat, gguf_names, base, has_imatrix, err)) != PJ_OK) {
		pj_error_prefix(err, "%s", label);
		goto out;
	}
	cJSON_ArrayForEach(it, rules) {
		const char *r = cJSON_GetStringValue(it);
		if (!r) {
			st = pj_fail(err, PJ_EFORMAT, "%s: every rule is a string \"PATTERN=TYPE\"", label);
			goto fail;
		}
		if ((st = pj_plan_add_rule(p, r, err)) != PJ_OK) {
			pj_error_prefix(err, "%s", label);
			goto fail;
		}
	}
	size_t n_ov = 0, n_match = 0;
	cJSON_ArrayForEach(it, ov) {
		const char *ty = str_item(it, "type");
		const cJSON *pin = cJSON_GetObjectItemCaseSensitive(it, "pinned");
		pj_dtype t;
		if (!ty || (pin && !cJSON_IsBool(pin))) {
			st = pj_fail(err, PJ_EFORMAT, "%s: override %s: needs \"type\" (string), \"pinned\" is true or false",
			             label, it->string);
			goto fail;
		}
		if (!pj_dtype_from_name(ty, &t) || pj_dtype_info_of(t)->ggml_id < 0) {
			st = pj_fail(err, PJ_EUSAGE, "%s: override %s: unknown type '%s'", label, it->string, ty);
			goto fail;
		}
		if ((st = pj_plan_set_manual(p, it->string, t, cJSON_IsTrue(pin), err)) != PJ_OK)
			goto fail;
		n_ov++;
		n_match += pj_catalog_find(cat, it->string) != NULL;
	}
	if (target)
		p->target = cJSON_Duplicate(target, true);
	const char *want = str_item(model, "header_sha256");
	char sha[65] = "";
	if (warning && want) {
		/* only hashed when the file names a model to compare with */
		if (header_sha256)
			snprintf(sha, sizeof sha, "%s", header_sha256);
		else
			pj_plan_header_sha256(cat, sha);
	}
	if (warning && want && strcmp(want, sha) != 0) {
		const char *name = str_item(model, "name");
		*warning = pj_xasprintf("%s was made for another model (%s, header %.12s, this one is %.12s): its rules "
		                        "and %zu of %zu overrides apply",
		                        label, name ? name : "unnamed", want, sha, n_match, n_ov);
	}
	if ((st = pj_plan_apply(p, err)) != PJ_OK)
		goto fail;
	goto out;
fail:
	pj_plan_free(p);
out:
	cJSON_Delete(root);
	return st;
}

pj_status pj_plan_json_parse(pj_plan *p, const pj_model *m, const char *text, const char *label, bool has_imatrix,
                             char **warning, pj_error *err)
{
	return parse(p, m, &m->cat, m->format == PJ_FMT_GGUF, text, label, has_imatrix, NULL, warning, err);
}

pj_status pj_plan_json_parse_keyed(pj_plan *p, const pj_model *m, const char *text, const char *label,
                                   bool has_imatrix, const char *header_sha256, char **warning, pj_error *err)
{
	return parse(p, m, &m->cat, m->format == PJ_FMT_GGUF, text, label, has_imatrix, header_sha256, warning, err);
}

static pj_status load_file(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *path,
                           bool has_imatrix, const char *header_sha256, char **warning, pj_error *err);

pj_status pj_plan_json_load(pj_plan *p, const pj_model *m, const char *path, bool has_imatrix, char **warning,
                            pj_error *err)
{
	return load_file(p, m, &m->cat, m->format == PJ_FMT_GGUF, path, has_imatrix, NULL, warning, err);
}

pj_status pj_plan_json_load_keyed(pj_plan *p, const pj_model *m, const char *path, bool has_imatrix,
                                  const char *header_sha256, char **warning, pj_error *err)
{
	return load_file(p, m, &m->cat, m->format == PJ_FMT_GGUF, path, has_imatrix, header_sha256, warning, err);
}

pj_status pj_plan_json_load_cat(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names,
                                const char *path, bool has_imatrix, char **warning, pj_error *err)
{
	return load_file(p, m, cat, gguf_names, path, has_imatrix, NULL, warning, err);
}

static pj_status load_file(pj_plan *p, const pj_model *m, const pj_catalog *cat, bool gguf_names, const char *path,
                           bool has_imatrix, const char *header_sha256, char **warning, pj_error *err)
{
	if (warning)
		*warning = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return pj_fail(err, PJ_EIO, "%s: %s", path, strerror(errno));
	sbuf b = { 0 };
	sb_read(&b, f, (size_t)64 << 20);
	bool bad = ferror(f);
	fclose(f);
	if (bad || b.n > (size_t)64 << 20) {
		free(b.p);
		return bad ? pj_fail(err, PJ_EIO, "%s: read error", path)
		           : pj_fail(err, PJ_EFORMAT, "%s: larger than 64 MiB: not a plan file", path);
	}
	pj_status st = parse(p, m, cat, gguf_names, b.p, path, has_imatrix, header_sha256, warning, err);
	free(b.p);
	return st;
}
