/* hfcache.c - find "org/name" in the local Hugging Face hub cache.
 *
 * Layout: <cache>/models--org--name/{refs/main, snapshots/<rev>/...}.
 * Local files only: there is no network code anywhere in pajamas-tui. */
#include "config.h"
#include "model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HF_MAX_ROOTS 3

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* org/name: exactly one '/', neither part empty, nothing that escapes. */
static bool id_ok(const char *id)
{
	const char *slash = strchr(id, '/');
	if (!slash || slash == id || !slash[1] || strchr(slash + 1, '/'))
		return false;
	if (strstr(id, "..") || strchr(id, '\\'))
		return false;
	for (const char *p = id; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return false;
	return true;
}

/* A revision is a plain directory name (commit hash or tag). */
static bool rev_ok(const char *r)
{
	return *r && !strchr(r, '/') && strcmp(r, ".") && strcmp(r, "..");
}

static char *read_ref(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char buf[256];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *s = buf;
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return pj_xstrdup(s);
}

/* No refs/main: the only snapshot, or the most recently modified one. */
static pj_status newest_snapshot(const char *snaps, char **out, pj_error *err)
{
	DIR *d = opendir(snaps);
	if (!d)
		return pj_fail(err, PJ_ENOTFOUND, "%s: no snapshots folder in the cache entry", snaps);
	char *best = NULL;
	struct timespec best_t = { 0, 0 };
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		char *p = pj_xasprintf("%s/%s", snaps, de->d_name);
		struct stat st;
		bool newer = stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		             (!best || st.st_mtim.tv_sec > best_t.tv_sec ||
		              (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec) ||
		              (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec == best_t.tv_nsec &&
		               strcmp(p, best) > 0));
		if (newer) {
			free(best);
			best = p;
			best_t = st.st_mtim;
		} else {
			free(p);
		}
	}
	closedir(d);
	if (!best)
		return pj_fail(err, PJ_ENOTFOUND, "%s: the cache entry has no snapshots", snaps);
	*out = best;
	return PJ_OK;
}

static pj_status resolve_entry(const char *entry, char **out, pj_error *err)
{
	char *ref_path = pj_xasprintf("%s/refs/main", entry);
	char *rev = read_ref(ref_path);
	char *snaps = pj_xasprintf("%s/snapshots", entry);
	pj_status s = PJ_OK;
	if (rev && !rev_ok(rev)) {
		s = pj_fail(err, PJ_EFORMAT, "%s: '%s' is not a valid revision", ref_path, rev);
	} else if (rev) {
		char *p = pj_xasprintf("%s/%s", snaps, rev);
		if (is_dir(p)) {
			*out = p;
		} else {
			s = pj_fail(err, PJ_ENOTFOUND, "%s names revision '%s', but %s does not exist",
			            ref_path, rev, p);
			free(p);
		}
	} else {
		s = newest_snapshot(snaps, out, err);
	}
	free(rev);
	free(ref_path);
	free(snaps);
	return s;
}

static size_t cache_roots(char *roots[HF_MAX_ROOTS])
{
	size_t n = 0;
	const char *v = getenv("HF_HUB_CACHE");
	if (v && *v)
		roots[n++] = pj_xstrdup(v);
	v = getenv("HF_HOME");
	if (v && *v)
		roots[n++] = pj_xasprintf("%s/hub", v);
	v = getenv("HOME");
	if (v && *v)
		roots[n++] = pj_xasprintf("%s/.cache/huggingface/hub", v);
	return n;
}

pj_status pj_hf_cache_resolve(const char *id, char **out, pj_error *err)
{
	*out = NULL;
	if (!id_ok(id))
		return pj_fail(err, PJ_EUSAGE, "'%s' is not a Hugging Face model id (expected org/name)", id);
	char *roots[HF_MAX_ROOTS];
	size_t n = cache_roots(roots);
	const char *slash = strchr(id, '/');
	char *folder = pj_xasprintf("models--%.*s--%s", (int)(slash - id), id, slash + 1);
	pj_status s = PJ_ENOTFOUND;
	bool found = false;
	char searched[700] = "";
	size_t off = 0;
	for (size_t i = 0; i < n && !found; i++) {
		char *entry = pj_xasprintf("%s/%s", roots[i], folder);
		if (is_dir(entry)) {
			found = true;
			s = resolve_entry(entry, out, err);
		} else if (off < sizeof searched) {
			off += (size_t)snprintf(searched + off, sizeof searched - off, "%s%s", i ? ", " : "", entry);
		}
		free(entry);
	}
	if (!found && n)
		pj_fail(err, PJ_ENOTFOUND, "'%s' is not a file or folder, and not in the Hugging Face cache "
		        "(searched %s)", id, searched);
	else if (!found)
		pj_fail(err, PJ_ENOTFOUND, "'%s' is not a file or folder, and no Hugging Face cache is set up "
		        "(HF_HUB_CACHE, HF_HOME and HOME are all unset)", id);
	for (size_t i = 0; i < n; i++)
		free(roots[i]);
	free(folder);
	return s;
}
