/* crt.c - terminal set-up, theme, keys, resize, and restoring the tty on
 * every exit path.  See crt.h for the contract. */
#include "config.h"
#include "crt.h"

#include <errno.h>
#include <langinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <term.h>
#include <unistd.h>
#include <wchar.h>

static const struct theme_entry {
	short fg, bg;
	attr_t color_attr, mono_attr;
} theme[PJ_C_COUNT] = {
#define PJ_THEME_ROW(id, fg, bg, a, mono) [PJ_C_##id] = { fg, bg, a, mono },
	PJ_THEME(PJ_THEME_ROW)
#undef PJ_THEME_ROW
};

static SCREEN *screen;
static attr_t attrs[PJ_C_COUNT];
static bool color_on, utf8;

/* State the signal handlers read: only what is safe to touch there. */
static volatile sig_atomic_t active, resized, term_sig;
static bool catch_term;
static int wake_fd = -1;
static struct termios saved_tios;
static bool have_tios;
static char restore_seq[256];
static size_t restore_len;

static const int fatal_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
};
#define N_FATAL (sizeof fatal_signals / sizeof fatal_signals[0])
static struct sigaction old_fatal[N_FATAL], old_winch;

/* write(2) and tcsetattr(3) are async-signal-safe; endwin() is not, so the
 * handler replays the escape sequences endwin would send, captured at init. */
static void emergency_restore(void)
{
	if (!active)
		return;
	active = 0;
	ssize_t r = write(STDOUT_FILENO, restore_seq, restore_len);
	(void)r;
	if (have_tios)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tios);
}

static void on_fatal(int sig)
{
	int saved = errno;
	emergency_restore();
	errno = saved;
	/* SA_RESETHAND restored the default action; the signal is blocked
	 * until we return, and then kills us with the usual status/core. */
	raise(sig);
}

/* SIGTERM, SIGHUP with catch_term: the loop saves and leaves; a second
 * one while it does is fatal as usual. */
static void on_term(int sig)
{
	int saved = errno;
	if (term_sig) {
		emergency_restore();
		signal(sig, SIG_DFL);
		raise(sig);
		errno = saved;
		return;
	}
	term_sig = sig;
	if (wake_fd >= 0) {
		ssize_t r = write(wake_fd, "t", 1);
		(void)r;
	}
	errno = saved;
}

static void on_winch(int sig)
{
	(void)sig;
	int saved = errno;
	resized = 1;
	if (wake_fd >= 0) {
		ssize_t r = write(wake_fd, "w", 1);
		(void)r;
	}
	errno = saved;
}

static void append_cap(const char *cap)
{
	char *s = tigetstr(cap);
	if (!s || s == (char *)-1)
		return;
	size_t n = strlen(s);
	if (restore_len + n < sizeof restore_seq) {
		memcpy(restore_seq + restore_len, s, n);
		restore_len += n;
	}
}

static void append_raw(const char *s)
{
	size_t n = strlen(s);
	if (restore_len + n < sizeof restore_seq) {
		memcpy(restore_seq + restore_len, s, n);
		restore_len += n;
	}
}

static void at_exit(void)
{
	pj_crt_done();
}

static void setup_colors(bool no_color)
{
	color_on = !no_color && has_colors() && start_color() == OK;
	bool dflt = color_on && use_default_colors() == OK;
	for (int i = 0; i < PJ_C_COUNT; i++) {
		if (!color_on) {
			attrs[i] = theme[i].mono_attr;
			continue;
		}
		short fg = theme[i].fg, bg = theme[i].bg;
		if (!dflt) {    /* no default colors: pick the classic pair */
			fg = fg < 0 ? COLOR_WHITE : fg;
			bg = bg < 0 ? COLOR_BLACK : bg;
		}
		if (i == PJ_C_NORMAL && fg < 0 && bg < 0) {
			attrs[i] = A_NORMAL;
			continue;
		}
		init_pair((short)(i + 1), fg, bg);
		attrs[i] = theme[i].color_attr | COLOR_PAIR(i + 1);
	}
}

bool pj_crt_init(const pj_crt_opts *o)
{
	static bool registered;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return false;
	have_tios = tcgetattr(STDIN_FILENO, &saved_tios) == 0;
	/* newterm, unlike initscr, returns NULL instead of exiting. */
	screen = newterm(NULL, stdout, stdin);
	if (!screen)
		return false;
	set_term(screen);
	utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);       /* the app waits in poll(), never in curses */
	set_escdelay(25);
	curs_set(0);
	setup_colors(o->no_color);

	restore_len = 0;
	if (!o->no_mouse) {
		mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
		mouseinterval(0);    /* report presses at once, no click timing */
		append_raw("\033[?1006l\033[?1002l\033[?1000l");
	}
	append_cap("sgr0");
	append_cap("cnorm");
	append_cap("rmkx");
	append_cap("rmcup");

	wake_fd = o->wake_fd;
	resized = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_winch;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGWINCH, &sa, &old_winch);   /* replaces ncurses' own handler */
	catch_term = o->catch_term;
	term_sig = 0;
	for (size_t i = 0; i < N_FATAL; i++) {
		bool gentle = catch_term && (fatal_signals[i] == SIGTERM || fatal_signals[i] == SIGHUP);
		sa.sa_handler = gentle ? on_term : on_fatal;
		sa.sa_flags = gentle ? 0 : SA_RESETHAND;
		sigaction(fatal_signals[i], &sa, &old_fatal[i]);
	}
	if (!registered) {
		atexit(at_exit);
		registered = true;
	}
	active = 1;
	return true;
}

void pj_crt_done(void)
{
	if (!active)
		return;
	/* Handlers first, so a signal now finds the defaults. */
	for (size_t i = 0; i < N_FATAL; i++)
		sigaction(fatal_signals[i], &old_fatal[i], NULL);
	sigaction(SIGWINCH, &old_winch, NULL);
	active = 0;
	wake_fd = -1;
	mousemask(0, NULL);
	curs_set(1);
	endwin();
	delscreen(screen);
	screen = NULL;
	fflush(stdout);
}

int pj_crt_take_signal(void)
{
	return term_sig;
}

bool pj_crt_take_resize(void)
{
	if (!resized)
		return false;
	resized = 0;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	return true;
}

static int normalise_code(wint_t k, pj_mouse *ev)
{
	static const struct { int curses, pj; } map[] = {
		{ KEY_UP, PJ_KEY_UP }, { KEY_DOWN, PJ_KEY_DOWN }, { KEY_LEFT, PJ_KEY_LEFT },
		{ KEY_RIGHT, PJ_KEY_RIGHT }, { KEY_PPAGE, PJ_KEY_PGUP }, { KEY_NPAGE, PJ_KEY_PGDN },
		{ KEY_HOME, PJ_KEY_HOME }, { KEY_END, PJ_KEY_END }, { KEY_A1, PJ_KEY_HOME },
		{ KEY_C1, PJ_KEY_END }, { KEY_A3, PJ_KEY_PGUP }, { KEY_C3, PJ_KEY_PGDN },
		{ KEY_ENTER, PJ_KEY_ENTER }, { KEY_BTAB, PJ_KEY_BTAB }, { KEY_BACKSPACE, PJ_KEY_BACKSPACE },
		{ KEY_DC, PJ_KEY_DEL }, { KEY_RESIZE, PJ_KEY_RESIZE },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if ((int)k == map[i].curses)
			return map[i].pj;
	if ((int)k >= KEY_F(1) && (int)k <= KEY_F(12))
		return PJ_KEY_F1 + ((int)k - KEY_F(1));
	if ((int)k == KEY_MOUSE) {
		MEVENT me;
		if (getmouse(&me) != OK)
			return PJ_KEY_NONE;
		ev->y = me.y;
		ev->x = me.x;
		if (me.bstate & BUTTON4_PRESSED)
			ev->kind = PJ_MOUSE_WHEEL_UP;
		else if (me.bstate & BUTTON5_PRESSED)
			ev->kind = PJ_MOUSE_WHEEL_DOWN;
		else if (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))
			ev->kind = PJ_MOUSE_CLICK;
		else
			return PJ_KEY_NONE;
		return PJ_KEY_MOUSE;
	}
	return PJ_KEY_NONE;
}

int pj_crt_read_key(pj_mouse *ev)
{
	for (;;) {
		wint_t ch;
		int r = wget_wch(stdscr, &ch);
		if (r == ERR)
			return PJ_KEY_NONE;
		if (r == KEY_CODE_YES) {
			int k = normalise_code(ch, ev);
			/* Keep reading past ignored events: curses may hold more
			 * input than poll() would report. */
			if (k != PJ_KEY_NONE)
				return k;
			continue;
		}
		switch (ch) {
		case '\r': case '\n': return PJ_KEY_ENTER;
		case 27: return PJ_KEY_ESC;
		case '\t': return PJ_KEY_TAB;
		case 127: case 8: return PJ_KEY_BACKSPACE;
		default: return (int)ch;
		}
	}
}

bool pj_crt_has_color(void)
{
	return color_on;
}

bool pj_crt_utf8(void)
{
	return utf8;
}

attr_t pj_crt_attr(pj_color c)
{
	return (unsigned)c < PJ_C_COUNT ? attrs[c] : A_NORMAL;
}

/* One display cell run of s: its bytes and width.  Invalid or unprintable
 * input becomes '?' (width 1) so a hostile name cannot move the cursor. */
typedef struct uchar {
	const char *p;
	int len, width;
} uchar;

static int next_char(const char *s, mbstate_t *st, uchar *u)
{
	wchar_t wc;
	size_t n = mbrtowc(&wc, s, MB_CUR_MAX, st);
	u->p = s;
	if (n == 0)
		return 0;
	if (n == (size_t)-1 || n == (size_t)-2) {
		memset(st, 0, sizeof *st);
		u->p = "?";
		u->len = 1;
		u->width = 1;
		return 1;      /* consumed one byte of s */
	}
	int w = wcwidth(wc);
	if (w < 0) {
		u->p = "?";
		u->len = 1;
		u->width = 1;
		return (int)n;
	}
	u->len = (int)n;
	u->width = w;
	return (int)n;
}

int pj_crt_strwidth(const char *s)
{
	mbstate_t st;
	memset(&st, 0, sizeof st);
	int w = 0, n;
	uchar u;
	while (*s && (n = next_char(s, &st, &u)) > 0) {
		w += u.width;
		s += n;
	}
	return w;
}

static int put_span(int y, int x, int w, pj_color c, bool pad, const char *prefix, const char *s)
{
	char buf[2048];
	size_t len = 0;
	int used = 0, n;
	mbstate_t st;
	uchar u;

	if (w < 0)
		w = COLS - x;
	if (w <= 0 || y < 0 || y >= LINES)
		return 0;
	if (prefix) {
		size_t pl = strlen(prefix);
		memcpy(buf, prefix, pl);
		len = pl;
		used = 1;
	}
	memset(&st, 0, sizeof st);
	while (*s && (n = next_char(s, &st, &u)) > 0) {
		if (used + u.width > w || len + (size_t)u.len >= sizeof buf)
			break;
		memcpy(buf + len, u.p, (size_t)u.len);
		len += (size_t)u.len;
		used += u.width;
		s += n;
	}
	attr_t a = pj_crt_attr(c);
	attrset(a);
	mvaddnstr(y, x, buf, (int)len);
	if (pad && used < w)
		mvhline(y, x + used, ' ' | a, w - used);
	attrset(A_NORMAL);
	return pad ? w : used;
}

int pj_crt_put(int y, int x, int w, pj_color c, bool pad, const char *s)
{
	return put_span(y, x, w, c, pad, NULL, s);
}

int pj_crt_printf(int y, int x, int w, pj_color c, bool pad, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return put_span(y, x, w, c, pad, NULL, buf);
}

int pj_crt_put_tail(int y, int x, int w, pj_color c, bool pad, const char *s)
{
	if (w < 0)
		w = COLS - x;
	int total = pj_crt_strwidth(s);
	if (total <= w || w < 2)
		return put_span(y, x, w, c, pad, NULL, s);
	/* Skip characters from the front until the rest fits after "…". */
	int drop = total - (w - 1), n;
	mbstate_t st;
	memset(&st, 0, sizeof st);
	uchar u;
	while (drop > 0 && *s && (n = next_char(s, &st, &u)) > 0) {
		drop -= u.width;
		s += n;
	}
	return put_span(y, x, w, c, pad, pj_crt_glyph(PJ_G_ELLIPSIS), s);
}

void pj_crt_fill(int y, int x, int w, pj_color c)
{
	if (w > 0 && y >= 0 && y < LINES)
		mvhline(y, x, ' ' | pj_crt_attr(c), w);
}

const char *pj_crt_glyph(pj_glyph g)
{
	static const char *const u[PJ_G_COUNT] = { "\u25b8", "\u25be", " ", "\u2026", "\u00b7", "\u25cf", "\u2192" };
	static const char *const a[PJ_G_COUNT] = { "+", "-", " ", "~", ".", "*", "->" };
	return (unsigned)g < PJ_G_COUNT ? (utf8 ? u[g] : a[g]) : "";
}

int pj_crt_bar(int y, int x, int w, double frac, pj_color c)
{
	static const char *const eighth[8] = { "", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589" };
	if (w <= 0)
		return 0;
	if (!(frac > 0))
		frac = 0;
	if (frac > 1)
		frac = 1;
	int units = (int)(frac * w * 8 + 0.5), x0 = x;
	if (!utf8) {
		int full = (units + 4) / 8;
		for (int i = 0; i < full; i++)
			x += pj_crt_put(y, x, 1, c, false, "#");
	} else {
		for (int i = 0; i < units / 8; i++)
			x += pj_crt_put(y, x, 1, c, false, "\u2588");
		if (units % 8)
			x += pj_crt_put(y, x, 1, c, false, eighth[units % 8]);
	}
	return x - x0 < w ? w : x - x0;
}
