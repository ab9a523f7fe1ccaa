/* crt.h - the terminal, and the only module that initialises curses.
 *
 * crt owns everything about the screen as a device: curses set-up and
 * tear-down, the color theme (colors are named by role, never by hue), key
 * and mouse normalisation, SIGWINCH, and putting the terminal back on every
 * way out - normal exit, exit(), and fatal signals (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT), whose handler restores
 * the tty with async-signal-safe calls only and then re-raises.
 *
 * Other ui files include this header to draw with the helpers below, and
 * only from the UI thread. */
#ifndef PJ_UI_CRT_H
#define PJ_UI_CRT_H

#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdbool.h>

/* X(ID, fg, bg, attributes with color, attributes in monochrome)
 * -1 is the terminal's default color (use_default_colors). */
#define PJ_THEME(X)                                                                   \
	X(NORMAL,    -1,            -1,           A_NORMAL, A_NORMAL)                 \
	X(HEADER,    COLOR_CYAN,    -1,           A_BOLD,   A_BOLD)                   \
	X(HEADER_2,  -1,            -1,           A_NORMAL, A_NORMAL)                 \
	X(TITLE,     COLOR_BLACK,   COLOR_GREEN,  A_NORMAL, A_REVERSE)                \
	X(SELECTED,  COLOR_BLACK,   COLOR_CYAN,   A_NORMAL, A_REVERSE)                \
	X(DIM,       COLOR_BLUE,    -1,           A_BOLD,   A_DIM)                    \
	X(LAYER,     COLOR_YELLOW,  -1,           A_BOLD,   A_BOLD)                   \
	X(GROUP,     COLOR_GREEN,   -1,           A_NORMAL, A_NORMAL)                 \
	X(EXPERT,    COLOR_MAGENTA, -1,           A_NORMAL, A_NORMAL)                 \
	X(WARN,      COLOR_YELLOW,  -1,           A_BOLD,   A_BOLD)                   \
	X(ERROR,     COLOR_RED,     -1,           A_BOLD,   A_BOLD | A_UNDERLINE)     \
	X(PARTIAL,   COLOR_YELLOW,  -1,           A_NORMAL, A_UNDERLINE)              \
	X(LABEL,     COLOR_CYAN,    -1,           A_NORMAL, A_BOLD)                   \
	X(FKEY,      -1,            -1,           A_NORMAL, A_NORMAL)                 \
	X(FLABEL,    COLOR_BLACK,   COLOR_CYAN,   A_NORMAL, A_REVERSE)                \
	X(BAR_DONE,  COLOR_BLACK,   COLOR_GREEN,  A_NORMAL, A_REVERSE)                \
	X(BAR_TODO,  COLOR_BLUE,    -1,           A_BOLD,   A_DIM)                    \
	X(HELP_KEY,  COLOR_CYAN,    -1,           A_BOLD,   A_BOLD)

typedef enum pj_color {
#define PJ_THEME_ENUM(id, fg, bg, a, mono) PJ_C_##id,
	PJ_THEME(PJ_THEME_ENUM)
#undef PJ_THEME_ENUM
	PJ_C_COUNT
} pj_color;

typedef struct pj_crt_opts {
	bool no_color;
	bool no_mouse;
	int wake_fd;        /* written (one byte) on SIGWINCH, so poll() wakes; -1: none */
	bool catch_term;    /* SIGTERM and SIGHUP only set a flag (pj_crt_take_signal) */
} pj_crt_opts;

/* Returns false (terminal untouched or restored) when curses cannot start. */
bool pj_crt_init(const pj_crt_opts *o);
/* Restores the terminal.  Idempotent; also run at exit(). */
void pj_crt_done(void);

/* ---- input ------------------------------------------------------------- */

/* Normalised keys: Unicode code points as themselves, special keys above
 * the code point range, so one int covers both without collisions. */
enum {
	PJ_KEY_NONE = -1,
	PJ_KEY_SPECIAL = 0x110000,
	PJ_KEY_UP = PJ_KEY_SPECIAL, PJ_KEY_DOWN, PJ_KEY_LEFT, PJ_KEY_RIGHT,
	PJ_KEY_PGUP, PJ_KEY_PGDN, PJ_KEY_HOME, PJ_KEY_END,
	PJ_KEY_ENTER, PJ_KEY_ESC, PJ_KEY_TAB, PJ_KEY_BTAB, PJ_KEY_BACKSPACE, PJ_KEY_DEL,
	PJ_KEY_F1, PJ_KEY_F2, PJ_KEY_F3, PJ_KEY_F4, PJ_KEY_F5, PJ_KEY_F6,
	PJ_KEY_F7, PJ_KEY_F8, PJ_KEY_F9, PJ_KEY_F10, PJ_KEY_F11, PJ_KEY_F12,
	PJ_KEY_RESIZE, PJ_KEY_MOUSE,
};
#define PJ_CTRL(c) ((c) & 0x1f)

typedef enum pj_mouse_kind { PJ_MOUSE_CLICK, PJ_MOUSE_WHEEL_UP, PJ_MOUSE_WHEEL_DOWN } pj_mouse_kind;
typedef struct pj_mouse {
	pj_mouse_kind kind;
	int y, x;
} pj_mouse;

/* Next key without waiting; PJ_KEY_NONE when none is pending.  For
 * PJ_KEY_MOUSE, *ev is filled. */
int pj_crt_read_key(pj_mouse *ev);
/* The SIGTERM / SIGHUP received with catch_term (0: none).  The caller
 * saves, calls pj_crt_done() and re-raises it with the default action. */
int pj_crt_take_signal(void);
/* True once after a SIGWINCH: the new size has been applied (LINES/COLS). */
bool pj_crt_take_resize(void);

/* ---- drawing ----------------------------------------------------------- */

bool pj_crt_has_color(void);
bool pj_crt_utf8(void);
attr_t pj_crt_attr(pj_color c);

/* Display width of a UTF-8 string (wcwidth; invalid bytes count 1). */
int pj_crt_strwidth(const char *s);
/* Writes s at (y, x) in color c, clipped to w columns and padded with
 * spaces to w when pad.  Never splits a wide character.  Returns columns
 * written.  w < 0: up to the right edge. */
int pj_crt_put(int y, int x, int w, pj_color c, bool pad, const char *s);
int pj_crt_printf(int y, int x, int w, pj_color c, bool pad, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Like pj_crt_put, but drops the start of s (shown as "…") rather than the end. */
int pj_crt_put_tail(int y, int x, int w, pj_color c, bool pad, const char *s);
void pj_crt_fill(int y, int x, int w, pj_color c);

/* Glyphs with an ASCII fallback outside UTF-8 locales. */
typedef enum pj_glyph {
	PJ_G_COLLAPSED, PJ_G_EXPANDED, PJ_G_LEAF, PJ_G_ELLIPSIS, PJ_G_DOT, PJ_G_TAG, PJ_G_ARROW, PJ_G_COUNT
} pj_glyph;
const char *pj_crt_glyph(pj_glyph g);
/* A horizontal bar of frac (0..1) of w cells: eighth blocks in UTF-8,
 * '#' otherwise; the rest blank.  Returns w. */
int pj_crt_bar(int y, int x, int w, double frac, pj_color c);

#endif
