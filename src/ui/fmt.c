/* fmt.c - compact number formats for table cells. */
#include "config.h"
#include "fmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *pj_fmt_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else if (v < 10)
		snprintf(buf, len, "%.2f %s", v, unit[u]);
	else if (v < 100)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	return buf;
}

const char *pj_fmt_count(uint64_t n, char *buf, size_t len)
{
	static const struct { double div; char suffix; } scale[] = {
		{ 1e12, 'T' }, { 1e9, 'B' }, { 1e6, 'M' }, { 1e3, 'K' },
	};
	for (size_t i = 0; i < sizeof scale / sizeof scale[0]; i++) {
		double v = (double)n / scale[i].div;
		if (v < 1)
			continue;
		snprintf(buf, len, v < 10 ? "%.2f%c" : v < 100 ? "%.1f%c" : "%.0f%c", v, scale[i].suffix);
		return buf;
	}
	snprintf(buf, len, "%" PRIu64, n);
	return buf;
}

const char *pj_fmt_num(double v, int width, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (v == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	/* Most significant digits that fit, then scientific. */
	for (int prec = 4; prec >= 1; prec--) {
		int n = snprintf(buf, len, "%.*g", prec, v);
		if (n <= width)
			return buf;
	}
	for (int prec = 2; prec >= 0; prec--) {
		int n = snprintf(buf, len, "%.*e", prec, v);
		if (n <= width)
			return buf;
	}
	return buf;
}

const char *pj_fmt_pct(double frac, char *buf, size_t len)
{
	double p = frac * 100;
	if (isnan(frac))
		snprintf(buf, len, "-");
	else if (frac == 0)
		snprintf(buf, len, "0");
	else if (p < 0.01)
		snprintf(buf, len, "<.01%%");
	else if (p < 10)
		snprintf(buf, len, "%.2f%%", p);
	else
		snprintf(buf, len, "%.1f%%", p);
	return buf;
}

const char *pj_fmt_duration(double s, char *buf, size_t len)
{
	if (!(s >= 0) || s > 99 * 3600.0) {
		snprintf(buf, len, "--:--");
		return buf;
	}
	unsigned t = (unsigned)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%u:%02u", t / 60, t % 60);
	return buf;
}
