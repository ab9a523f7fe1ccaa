/* fmt.h - compact number formats for table cells (no curses). */
#ifndef PJ_UI_FMT_H
#define PJ_UI_FMT_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "384 KiB", "1.50 MiB", "12.5 GiB": at most 8 columns. */
const char *pj_fmt_bytes(uint64_t b, char *buf, size_t len);
/* "256", "65.5K", "1.20M", "7.62B". */
const char *pj_fmt_count(uint64_t n, char *buf, size_t len);
/* A float in at most `width` columns, as precise as fits; "-" for NaN. */
const char *pj_fmt_num(double v, int width, char *buf, size_t len);
/* A fraction as a percentage: "0", "<0.01%", "0.12%", "12.3%". */
const char *pj_fmt_pct(double frac, char *buf, size_t len);
/* Seconds as "0:07", "12:34", "3:02:11". */
const char *pj_fmt_duration(double s, char *buf, size_t len);

#endif
