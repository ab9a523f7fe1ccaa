/* model.c - opening a model from what the user typed: an HF folder, a .gguf
 * file (or a split set), or an org/name id in the local HF cache. */
#include "config.h"
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

#define CONFIG_MAX_BYTES (64u * 1024u * 1024u)
#define SPLIT_SUFFIX_LEN 20   /* "-00001-of-00004.gguf" */

void pj_model_warn(pj_model *m, const char *fmt, ...)
{
	va_list ap, aq;
	va_start(ap, fmt);
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = pj_xmalloc(n > 0 ? (size_t)n + 1 : 1);
	if (n > 0)
		vsnprintf(s, (size_t)n + 1, fmt, aq);
	else
		s[0] = '\0';
	va_end(aq);
	m->warnings = pj_xrealloc(m->warnings, (m->n_warnings + 1) * sizeof *m->warnings);
	m->warnings[m->n_warnings++] = s;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool path_is(const char *p, mode_t kind)
{
	struct stat st;
	return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

/* Base name without trailing slashes, malloc'd. */
static char *display_name(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	return pj_xstrndup(path + b, n - b);
}

/* ---- HF folder ----------------------------------------------------------- */

static pj_status read_config(pj_model *m, const char *path, pj_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pj_fail(err, errno == ENOENT ? PJ_ENOTFOUND : PJ_EIO, "%s: cannot open: %s", path,
		               strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || (uint64_t)st.st_size > CONFIG_MAX_BYTES) {
		fclose(f);
		return pj_fail(err, PJ_EFORMAT, "%s: unreadable or larger than %u bytes", path, CONFIG_MAX_BYTES);
	}
	char *buf = pj_xmalloc((size_t)st.st_size + 1);
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[n] = '\0';
	const char *end = NULL;
	m->config = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
	size_t at = end && end >= buf && end <= buf + n ? (size_t)(end - buf) : 0;
	free(buf);
	if (!m->config)
		return pj_fail(err, PJ_EFORMAT, "%s: not valid JSON (error near byte %zu)", path, at);
	if (!cJSON_IsObject(m->config))
		return pj_fail(err, PJ_EFORMAT, "%s: expected a JSON object at the top level", path);
	return PJ_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files in dir ending in suffix, sorted; returns the count. */
static size_t list_files(const char *dir, const char *suffix, char ***out)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	char **v = NULL;
	*out = NULL;
	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.' || !ends_with(de->d_name, suffix))
			continue;
		char *p = pj_xasprintf("%s/%s", dir, de->d_name);
		if (!path_is(p, S_IFREG)) {
			free(p);
			continue;
		}
		v = pj_xrealloc(v, (n + 1) * sizeof *v);
		v[n++] = p;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static pj_status open_gguf_set(pj_model *m, const char *path, pj_error *err);

static pj_status open_safetensors(pj_model *m, const char *dir, char **st, size_t n_st, pj_error *err)
{
	char *index = pj_xasprintf("%s/model.safetensors.index.json", dir);
	char *single = pj_xasprintf("%s/model.safetensors", dir);
	pj_status s = PJ_OK;
	if (path_is(index, S_IFREG)) {
		s = pj_st_open_index(dir, index, &m->cat, err);
	} else if (path_is(single, S_IFREG)) {
		s = pj_st_open(single, &m->cat, err);
	} else {
		if (n_st > 1)
			pj_model_warn(m, "%s: no model.safetensors.index.json; reading all %zu .safetensors files",
			              dir, n_st);
		for (size_t i = 0; i < n_st && !s; i++)
			s = pj_st_open(st[i], &m->cat, err);
	}
	free(index);
	free(single);
	return s;
}

static pj_status open_folder(pj_model *m, const char *dir, pj_error *err)
{
	char **st, **gg;
	size_t n_st = list_files(dir, ".safetensors", &st);
	size_t n_gg = list_files(dir, ".gguf", &gg);
	char *cfg = pj_xasprintf("%s/config.json", dir);
	pj_status s = PJ_OK;
	if (!n_st && n_gg == 1 && !path_is(cfg, S_IFREG)) {
		pj_model_warn(m, "%s: no safetensors; opening the folder's only GGUF file %s", dir, gg[0]);
		s = open_gguf_set(m, gg[0], err);
	} else if (!path_is(cfg, S_IFREG)) {
		s = pj_fail(err, PJ_ENOTFOUND, "%s: no config.json: not a Hugging Face model folder", dir);
	} else if (!n_st) {
		s = pj_fail(err, PJ_ENOTFOUND, "%s: no .safetensors files in the folder", dir);
	} else {
		m->format = PJ_FMT_HF;
		m->path = pj_xstrdup(dir);
		s = read_config(m, cfg, err);
		if (!s)
			s = open_safetensors(m, dir, st, n_st, err);
	}
	free(cfg);
	free_list(st, n_st);
	free_list(gg, n_gg);
	return s;
}

/* ---- GGUF files and split sets ------------------------------------------- */

/* "<prefix>-00001-of-00004.gguf": fills the prefix length and split count. */
static bool split_name(const char *path, size_t *prefix_len, unsigned *count)
{
	size_t n = strlen(path);
	if (n < SPLIT_SUFFIX_LEN + 1)
		return false;
	const char *s = path + n - SPLIT_SUFFIX_LEN;
	unsigned no = 0, cnt = 0;
	for (int i = 0; i < 5; i++) {
		if (s[1 + i] < '0' || s[1 + i] > '9' || s[10 + i] < '0' || s[10 + i] > '9')
			return false;
		no = no * 10 + (unsigned)(s[1 + i] - '0');
		cnt = cnt * 10 + (unsigned)(s[10 + i] - '0');
	}
	if (s[0] != '-' || memcmp(s + 6, "-of-", 4) != 0 || strcmp(s + 15, ".gguf") != 0)
		return false;
	if (no < 1 || cnt < 1 || no > cnt)
		return false;
	*prefix_len = n - SPLIT_SUFFIX_LEN;
	*count = cnt;
	return true;
}

/* llama.cpp writes split.no (0-based) and split.count: check them when present. */
static pj_status check_split_keys(const pj_gguf *g, unsigned i, unsigned count, pj_error *err)
{
	uint64_t v;
	if (pj_gguf_get_u64(g, "split.count", &v) && v != count)
		return pj_fail(err, PJ_EFORMAT, "%s: split.count is %llu, but the file name says %u splits",
		               g->path, (unsigned long long)v, count);
	if (pj_gguf_get_u64(g, "split.no", &v) && v != i)
		return pj_fail(err, PJ_EFORMAT, "%s: split.no is %llu, expected %u from the file name",
		               g->path, (unsigned long long)v, i);
	return PJ_OK;
}

static pj_status open_splits(pj_model *m, const char *path, size_t plen, unsigned count, pj_error *err)
{
	char **paths = pj_xcalloc(count, sizeof *paths);
	pj_status s = PJ_OK;
	for (unsigned i = 0; i < count; i++)
		paths[i] = pj_xasprintf("%.*s-%05u-of-%05u.gguf", (int)plen, path, i + 1, count);
	for (unsigned i = 0; i < count && !s; i++)
		if (!path_is(paths[i], S_IFREG))
			s = pj_fail(err, PJ_ENOTFOUND, "%s: split %u of %u is missing (%s does not exist)",
			            path, i + 1, count, paths[i]);
	if (!s) {
		m->gguf_splits = pj_xcalloc(count, sizeof *m->gguf_splits);
		m->gguf = &m->gguf_splits[0];
		m->path = pj_xstrdup(paths[0]);
	}
	for (unsigned i = 0; i < count && !s; i++) {
		s = pj_gguf_open(paths[i], &m->gguf_splits[i], &m->cat, err);
		if (!s) {
			m->n_gguf = i + 1;
			s = check_split_keys(&m->gguf_splits[i], i, count, err);
		}
	}
	for (unsigned i = 0; i < count; i++)
		free(paths[i]);
	free(paths);
	return s;
}

static pj_status open_gguf_set(pj_model *m, const char *path, pj_error *err)
{
	size_t plen;
	unsigned count;
	m->format = PJ_FMT_GGUF;
	if (split_name(path, &plen, &count))
		return open_splits(m, path, plen, count, err);
	m->gguf_splits = pj_xcalloc(1, sizeof *m->gguf_splits);
	m->gguf = &m->gguf_splits[0];
	m->path = pj_xstrdup(path);
	pj_status s = pj_gguf_open(path, m->gguf, &m->cat, err);
	if (!s)
		m->n_gguf = 1;
	return s;
}

/* ---- entry points -------------------------------------------------------- */

static bool looks_like_hub_id(const char *arg)
{
	const char *slash = strchr(arg, '/');
	return slash && slash != arg && arg[0] != '.' && slash[1] && !strchr(slash + 1, '/');
}

static pj_status open_path(pj_model *m, const char *arg, pj_error *err)
{
	struct stat st;
	if (stat(arg, &st) == 0) {
		m->name = display_name(arg);
		if (S_ISDIR(st.st_mode))
			return open_folder(m, arg, err);
		if (S_ISREG(st.st_mode) && ends_with(arg, ".gguf"))
			return open_gguf_set(m, arg, err);
		if (S_ISREG(st.st_mode) && ends_with(arg, ".safetensors")) {
			pj_model_warn(m, "%s: a lone .safetensors file has no config.json; "
			              "architecture comes from tensor names only", arg);
			m->format = PJ_FMT_HF;
			m->path = pj_xstrdup(arg);
			return pj_st_open(arg, &m->cat, err);
		}
		return pj_fail(err, PJ_EUSAGE, "%s: not a model (expected a Hugging Face folder, a .gguf file "
		               "or an org/name id)", arg);
	}
	if (errno == ENOENT && looks_like_hub_id(arg)) {
		char *dir;
		pj_status s = pj_hf_cache_resolve(arg, &dir, err);
		if (s)
			return s;
		m->name = pj_xstrdup(arg);
		s = open_folder(m, dir, err);
		free(dir);
		return s;
	}
	return pj_fail(err, errno == ENOENT ? PJ_ENOTFOUND : PJ_EIO, "%s: no such file or folder (%s)",
	               arg, strerror(errno));
}

pj_status pj_model_open(const char *arg, pj_model **out, pj_error *err)
{
	*out = NULL;
	if (!arg || !*arg)
		return pj_fail(err, PJ_EUSAGE, "no model given");
	pj_model *m = pj_xcalloc(1, sizeof *m);
	m->arg = pj_xstrdup(arg);
	pj_catalog_init(&m->cat);
	pj_status s = open_path(m, arg, err);
	if (!s)
		s = pj_arch_detect(m, err);
	if (s) {
		pj_model_close(m);
		return s;
	}
	*out = m;
	return PJ_OK;
}

void pj_model_close(pj_model *m)
{
	if (!m)
		return;
	pj_arch_free(&m->arch);
	pj_catalog_free(&m->cat);
	cJSON_Delete(m->config);
	for (size_t i = 0; i < m->n_gguf; i++)
		pj_gguf_free(&m->gguf_splits[i]);
	free(m->gguf_splits);
	for (size_t i = 0; i < m->n_warnings; i++)
		free(m->warnings[i]);
	free(m->warnings);
	free(m->arg);
	free(m->path);
	free(m->name);
	free(m);
}
