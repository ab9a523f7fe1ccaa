/* test_corpus.c - replays the committed fuzz seed corpora through the fuzz
 * targets, so make check (and its ASan/UBSan pass) covers every seed and
 * every crasher ever found. */
#include "config.h"
#include "tap.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fuzz/targets.h"

typedef int (*target_fn)(const uint8_t *, size_t);

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	for (size_t r; b && (r = fread(b + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

/* Replays every regular file in dir; returns the count, -1 if unreadable. */
static long replay(const char *dir, target_fn fn)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	long n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096 + 512];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		size_t len = 0;
		uint8_t *data = slurp(path, &len);
		if (!data) {
			tap_diag("cannot read %s", path);
			continue;
		}
		fn(data, len);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

int main(void)
{
	const char *src = getenv("PJ_SRCDIR");
	if (!src || !*src)
		src = PJ_SRCDIR;
	static const struct { const char *name; target_fn fn; bool may_be_empty; } dirs[] = {
		{ "safetensors", pj_fuzz_safetensors, false },
		{ "gguf", pj_fuzz_gguf, false },
		{ "config", pj_fuzz_config, true },
	};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src, dirs[i].name);
		long n = replay(dir, dirs[i].fn);
		if (n <= 0 && dirs[i].may_be_empty)
			skip("corpus/config is empty: config parser seeds NOT replayed");
		else
			ok(n > 0, "corpus/%s: %ld files replayed without a crash", dirs[i].name, n);
	}
	return done_testing();
}
