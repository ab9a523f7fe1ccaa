/* dialog.c - the dialog stack: layout on every draw, keys, mouse. */
#include "config.h"
#include "dialog.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pj_dialog *push(pj_app *a, pj_dlg_kind kind, const char *title, pj_dlg_fn done)
{
	if (a->n_dlg == PJ_DLG_DEPTH)     /* a runaway chain: drop the oldest */
		pj_dlg_close_all(a);
	pj_dialog *d = pj_xcalloc(1, sizeof *d);
	d->kind = kind;
	d->done = done;
	snprintf(d->title, sizeof d->title, "%s", title ? title : "");
	a->dlg[a->n_dlg++] = d;
	return d;
}

static void dlg_free(pj_dialog *d)
{
	if (d->owns_ctx)
		free(d->ctx);
	free(d->items);
	free(d);
}

pj_dialog *pj_dlg_menu(pj_app *a, const char *title, pj_dlg_fn done)
{
	return push(a, PJ_DLG_MENU, title, done);
}

pj_dialog *pj_dlg_input(pj_app *a, const char *title, const char *prompt, const char *initial, pj_dlg_fn done)
{
	pj_dialog *d = push(a, PJ_DLG_INPUT, title, done);
	if (prompt)
		pj_dlg_line(d, "%s", prompt);
	snprintf(d->text, sizeof d->text, "%s", initial ? initial : "");
	d->len = strlen(d->text);
	d->min_w = 40;
	return d;
}

pj_dialog *pj_dlg_confirm(pj_app *a, const char *title, const char *question, pj_dlg_fn done)
{
	pj_dialog *d = push(a, PJ_DLG_CONFIRM, title, done);
	pj_dlg_line(d, "%s", question);
	snprintf(d->hint, sizeof d->hint, "y: yes   n, Esc: no");
	return d;
}

pj_dialog *pj_dlg_message(pj_app *a, const char *title, const char *fmt, ...)
{
	pj_dialog *d = push(a, PJ_DLG_MESSAGE, title, NULL);
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* One message line per '\n'. */
	for (char *s = buf, *nl; s && *s && d->n_msg < PJ_DLG_MSG_LINES; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		pj_dlg_line(d, "%s", s);
	}
	snprintf(d->hint, sizeof d->hint, "any key: close");
	return d;
}

void pj_dlg_line(pj_dialog *d, const char *fmt, ...)
{
	if (d->n_msg == PJ_DLG_MSG_LINES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->msg[d->n_msg++], sizeof d->msg[0], fmt, ap);
	va_end(ap);
}

pj_dlg_item *pj_dlg_add(pj_dialog *d, int id, const char *label, const char *note_fmt, ...)
{
	if (d->n_items == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->items = pj_xrealloc(d->items, d->cap * sizeof *d->items);
	}
	pj_dlg_item *it = &d->items[d->n_items++];
	memset(it, 0, sizeof *it);
	it->id = id;
	snprintf(it->label, sizeof it->label, "%s", label);
	if (note_fmt) {
		va_list ap;
		va_start(ap, note_fmt);
		vsnprintf(it->note, sizeof it->note, note_fmt, ap);
		va_end(ap);
	}
	return it;
}

void pj_dlg_clear(pj_dialog *d)
{
	d->n_items = 0;
	d->sel = d->top = 0;
}

void pj_dlg_select(pj_dialog *d, int id)
{
	for (size_t i = 0; i < d->n_items; i++)
		if (d->items[i].id == id) {
			d->sel = i;
			return;
		}
}

static pj_dialog *top_dlg(pj_app *a)
{
	return a->n_dlg ? a->dlg[a->n_dlg - 1] : NULL;
}

int pj_dlg_end(pj_app *a, bool ok)
{
	pj_dialog *d = top_dlg(a);
	if (!d)
		return PJ_R_IGNORED;
	a->n_dlg--;
	int id = 0;
	if (d->kind == PJ_DLG_MENU && d->n_items && d->sel < d->n_items) {
		id = d->items[d->sel].id;
		if (ok && d->items[d->sel].disabled)
			ok = false;
	}
	int f = PJ_R_HANDLED | PJ_R_REDRAW;
	if (d->done)
		f |= d->done(a, d, ok, id, d->kind == PJ_DLG_INPUT ? d->text : "");
	dlg_free(d);
	return f;
}

void pj_dlg_close_all(pj_app *a)
{
	while (a->n_dlg)
		dlg_free(a->dlg[--a->n_dlg]);
}

/* ---- layout and drawing ------------------------------------------------- */

/* Items visible in a menu of rect r. */
static int menu_rows(const pj_dialog *d, pj_rect r)
{
	int n = r.h - 2 - d->n_msg - 1;   /* borders, message lines, hint */
	return n > 0 ? n : 0;
}

static pj_rect layout(const pj_dialog *d)
{
	int want_w = d->min_w, label_w = 0, note_w = 0;
	for (int i = 0; i < d->n_msg; i++) {
		int w = pj_crt_strwidth(d->msg[i]);
		if (w > want_w)
			want_w = w;
	}
	for (size_t i = 0; i < d->n_items; i++) {
		int lw = pj_crt_strwidth(d->items[i].label) + (d->items[i].check ? 4 : 0);
		int nw = pj_crt_strwidth(d->items[i].note);
		label_w = lw > label_w ? lw : label_w;
		note_w = nw > note_w ? nw : note_w;
	}
	if (label_w + (note_w ? note_w + 2 : 0) > want_w)
		want_w = label_w + (note_w ? note_w + 2 : 0);
	int tw = pj_crt_strwidth(d->title) + 4;
	if (tw > want_w)
		want_w = tw;
	int hw = pj_crt_strwidth(d->hint[0] ? d->hint : "Enter: ok   Esc: cancel");
	if (hw > want_w)
		want_w = hw;
	int w = want_w + 4;
	if (w > COLS - 2)
		w = COLS - 2;
	int body = d->kind == PJ_DLG_MENU ? (int)d->n_items : d->kind == PJ_DLG_INPUT ? 1 : 0;
	int h = 2 + d->n_msg + body + 1;
	if (h > LINES - 2)
		h = LINES - 2;
	pj_rect r = { (LINES - h) / 2, (COLS - w) / 2, h, w };
	return r;
}

static void box_draw(pj_rect r, const char *title)
{
	bool u = pj_crt_utf8();
	const char *h = u ? "\u2500" : "-", *v = u ? "\u2502" : "|";
	const char *c[4] = { u ? "\u250c" : "+", u ? "\u2510" : "+", u ? "\u2514" : "+", u ? "\u2518" : "+" };
	for (int y = r.y; y < r.y + r.h; y++)
		pj_crt_fill(y, r.x, r.w, PJ_C_NORMAL);
	for (int x = r.x + 1; x < r.x + r.w - 1; x++) {
		pj_crt_put(r.y, x, 1, PJ_C_LABEL, false, h);
		pj_crt_put(r.y + r.h - 1, x, 1, PJ_C_LABEL, false, h);
	}
	for (int y = r.y + 1; y < r.y + r.h - 1; y++) {
		pj_crt_put(y, r.x, 1, PJ_C_LABEL, false, v);
		pj_crt_put(y, r.x + r.w - 1, 1, PJ_C_LABEL, false, v);
	}
	pj_crt_put(r.y, r.x, 1, PJ_C_LABEL, false, c[0]);
	pj_crt_put(r.y, r.x + r.w - 1, 1, PJ_C_LABEL, false, c[1]);
	pj_crt_put(r.y + r.h - 1, r.x, 1, PJ_C_LABEL, false, c[2]);
	pj_crt_put(r.y + r.h - 1, r.x + r.w - 1, 1, PJ_C_LABEL, false, c[3]);
	if (title && *title)
		pj_crt_printf(r.y, r.x + 2, r.w - 4, PJ_C_HEADER, false, " %s ", title);
}

static void keep_sel_visible(pj_dialog *d, int rows)
{
	if (rows <= 0)
		return;
	if (d->sel < d->top)
		d->top = d->sel;
	else if (d->sel >= d->top + (size_t)rows)
		d->top = d->sel - (size_t)rows + 1;
	if (d->top + (size_t)rows > d->n_items)
		d->top = d->n_items > (size_t)rows ? d->n_items - (size_t)rows : 0;
}

static void dlg_draw_one(pj_dialog *d)
{
	pj_rect r = layout(d);
	d->r = r;
	if (r.h < 3 || r.w < 10)
		return;
	box_draw(r, d->title);
	int x = r.x + 2, w = r.w - 4, y = r.y + 1;
	int last = r.y + r.h - 2;      /* the hint row */
	for (int i = 0; i < d->n_msg && y < last; i++, y++)
		pj_crt_put(y, x, w, PJ_C_NORMAL, false, d->msg[i]);

	if (d->kind == PJ_DLG_MENU) {
		int rows = menu_rows(d, r);
		keep_sel_visible(d, rows);
		int label_w = 0;
		for (size_t i = 0; i < d->n_items; i++) {
			int lw = pj_crt_strwidth(d->items[i].label) + (d->items[i].check ? 4 : 0);
			label_w = lw > label_w ? lw : label_w;
		}
		if (label_w > w)
			label_w = w;
		for (int i = 0; i < rows && d->top + (size_t)i < d->n_items; i++, y++) {
			size_t k = d->top + (size_t)i;
			const pj_dlg_item *it = &d->items[k];
			bool sel = k == d->sel;
			pj_color c = sel ? PJ_C_SELECTED : it->disabled ? PJ_C_DIM : PJ_C_NORMAL;
			pj_crt_fill(y, r.x + 1, r.w - 2, sel ? PJ_C_SELECTED : PJ_C_NORMAL);
			char lab[128];
			snprintf(lab, sizeof lab, "%s%s", it->check ? (it->checked ? "[x] " : "[ ] ") : "", it->label);
			pj_crt_put(y, x, label_w, c, false, lab);
			if (it->note[0] && w - label_w - 2 > 3)
				pj_crt_put(y, x + label_w + 2, w - label_w - 2, sel ? PJ_C_SELECTED : PJ_C_DIM, false, it->note);
		}
		if (d->top > 0)
			pj_crt_put(r.y + 1 + d->n_msg, r.x + r.w - 2, 1, PJ_C_LABEL, false, "^");
		if (d->top + (size_t)rows < d->n_items)
			pj_crt_put(last - 1, r.x + r.w - 2, 1, PJ_C_LABEL, false, "v");
	} else if (d->kind == PJ_DLG_INPUT && y < last) {
		pj_crt_fill(y, x, w, PJ_C_SELECTED);
		/* Long text: keep its end (where the cursor is) in view. */
		char shown[PJ_DLG_TEXT + 4];
		snprintf(shown, sizeof shown, "%s_", d->text);
		pj_crt_put_tail(y, x, w, PJ_C_SELECTED, true, shown);
	}
	const char *hint = d->hint[0] ? d->hint
	                   : d->kind == PJ_DLG_INPUT ? "Enter: ok   Esc: cancel   ^U: clear"
	                   : "Enter: choose   Esc: cancel   type to jump";
	pj_crt_put(last, x, w, PJ_C_DIM, false, hint);
}

void pj_dlg_draw(pj_app *a)
{
	if (!a->n_dlg)
		return;
	if (LINES < 6 || COLS < 24) {
		pj_crt_put(0, 0, -1, PJ_C_WARN, true, "terminal too small for this dialog (Esc closes it)");
		return;
	}
	for (int i = 0; i < a->n_dlg; i++)
		dlg_draw_one(a->dlg[i]);
}

/* ---- input ----------------------------------------------------------------- */

static void utf8_put(char *buf, size_t *len, size_t cap, int cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*len + n >= cap)
		return;
	memcpy(buf + *len, u, n);
	*len += n;
	buf[*len] = '\0';
}

static void utf8_backspace(char *buf, size_t *len)
{
	while (*len > 0) {
		unsigned char c = (unsigned char)buf[--*len];
		if ((c & 0xc0) != 0x80)
			break;
	}
	buf[*len] = '\0';
}

static void menu_jump(pj_dialog *d)
{
	size_t n = strlen(d->jump);
	if (!n)
		return;
	for (size_t i = 0; i < d->n_items; i++)
		if (strncasecmp(d->items[i].label, d->jump, n) == 0) {
			d->sel = i;
			return;
		}
}

static int menu_key(pj_app *a, pj_dialog *d, int key)
{
	int rows = menu_rows(d, layout(d));
	size_t page = rows > 1 ? (size_t)rows - 1 : 1;
	if (d->key) {
		int f = d->key(a, d, key);
		if (f & PJ_R_HANDLED)
			return f | PJ_R_REDRAW;
	}
	switch (key) {
	case PJ_KEY_UP: d->sel = d->sel ? d->sel - 1 : 0; d->jump[0] = '\0'; break;
	case PJ_KEY_DOWN: if (d->sel + 1 < d->n_items) d->sel++; d->jump[0] = '\0'; break;
	case PJ_KEY_PGUP: d->sel = d->sel > page ? d->sel - page : 0; break;
	case PJ_KEY_PGDN: d->sel = d->sel + page < d->n_items ? d->sel + page : (d->n_items ? d->n_items - 1 : 0); break;
	case PJ_KEY_HOME: d->sel = 0; break;
	case PJ_KEY_END: d->sel = d->n_items ? d->n_items - 1 : 0; break;
	case PJ_KEY_ENTER: return pj_dlg_end(a, true);
	case PJ_KEY_ESC: return pj_dlg_end(a, false);
	case ' ':
		if (d->n_items && d->items[d->sel].check) {
			d->items[d->sel].checked = !d->items[d->sel].checked;
			break;
		}
		return pj_dlg_end(a, true);
	case PJ_KEY_BACKSPACE: {
		size_t n = strlen(d->jump);
		if (n)
			d->jump[n - 1] = '\0';
		menu_jump(d);
		break;
	}
	default:
		if (key > ' ' && key < 0x7f) {
			size_t n = strlen(d->jump);
			if (n + 1 < sizeof d->jump) {
				d->jump[n] = (char)key;
				d->jump[n + 1] = '\0';
			}
			menu_jump(d);
		}
		break;
	}
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

int pj_dlg_handle_key(pj_app *a, int key)
{
	pj_dialog *d = top_dlg(a);
	if (!d)
		return PJ_R_IGNORED;
	if (key == PJ_KEY_RESIZE || key == PJ_CTRL('l'))
		return PJ_R_REDRAW;      /* the next draw re-lays every dialog out */
	switch (d->kind) {
	case PJ_DLG_MENU:
		return menu_key(a, d, key);
	case PJ_DLG_INPUT:
		if (key == PJ_KEY_ENTER)
			return pj_dlg_end(a, true);
		if (key == PJ_KEY_ESC)
			return pj_dlg_end(a, false);
		if (key == PJ_KEY_BACKSPACE)
			utf8_backspace(d->text, &d->len);
		else if (key == PJ_CTRL('u'))
			d->text[d->len = 0] = '\0';
		else if (key >= ' ' && key < PJ_KEY_SPECIAL && key != 0x7f)
			utf8_put(d->text, &d->len, sizeof d->text, key);
		return PJ_R_HANDLED | PJ_R_REDRAW;
	case PJ_DLG_CONFIRM:
		if (key == 'y' || key == 'Y')
			return pj_dlg_end(a, true);
		if (key == 'n' || key == 'N' || key == PJ_KEY_ESC || key == 'q')
			return pj_dlg_end(a, false);
		return PJ_R_HANDLED;
	case PJ_DLG_MESSAGE:
		return pj_dlg_end(a, true);
	}
	return PJ_R_HANDLED;
}

int pj_dlg_handle_mouse(pj_app *a, const pj_mouse *ev)
{
	pj_dialog *d = top_dlg(a);
	if (!d)
		return PJ_R_IGNORED;
	if (d->kind != PJ_DLG_MENU) {
		if (ev->kind == PJ_MOUSE_CLICK && !pj_rect_has(d->r, ev->y, ev->x))
			return pj_dlg_end(a, false);
		return PJ_R_HANDLED;
	}
	if (ev->kind == PJ_MOUSE_WHEEL_UP)
		return menu_key(a, d, PJ_KEY_UP);
	if (ev->kind == PJ_MOUSE_WHEEL_DOWN)
		return menu_key(a, d, PJ_KEY_DOWN);
	if (!pj_rect_has(d->r, ev->y, ev->x))
		return pj_dlg_end(a, false);
	int first = d->r.y + 1 + d->n_msg;
	int row = ev->y - first;
	if (row < 0 || row >= menu_rows(d, d->r) || d->top + (size_t)row >= d->n_items)
		return PJ_R_HANDLED;
	size_t k = d->top + (size_t)row;
	if (k == d->sel)
		return menu_key(a, d, d->items[k].check ? ' ' : PJ_KEY_ENTER);
	d->sel = k;
	return PJ_R_HANDLED | PJ_R_REDRAW;
}
