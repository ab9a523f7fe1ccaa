/* dialog.h - modal dialogs: menus, check lists, text prompts, questions
 * and messages, one small module used by every popup of the UI.
 *
 * Dialogs stack (a menu may open a prompt); the top one takes every key.
 * Nothing is laid out in advance: each draw centres the dialog in the
 * current LINES x COLS, so a resize at any moment, a dialog open or not,
 * re-lays it out on the next frame.  A dialog too big for the screen
 * shrinks (menus scroll) and a screen too small for any dialog says so.
 *
 * A dialog ends with a callback: pj_dlg_fn(app, dialog, ok, id, text) runs
 * after the dialog left the stack (so it may open another one), then the
 * dialog is freed.  Menus may take extra keys through a key hook (the
 * rules editor's add/remove/move); any other printable key in a menu jumps
 * to the first item whose label starts with what was typed. */
#ifndef PJ_UI_DIALOG_H
#define PJ_UI_DIALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "views.h"

typedef enum pj_dlg_kind {
	PJ_DLG_MENU,      /* pick one item (Enter), or toggle check items (Space) */
	PJ_DLG_INPUT,     /* one line of text */
	PJ_DLG_CONFIRM,   /* y / n */
	PJ_DLG_MESSAGE,   /* any key closes */
} pj_dlg_kind;

typedef struct pj_dlg_item {
	char label[96];
	char note[192];       /* dim, right of the label */
	int id;
	bool check, checked;  /* a check item: [x] / [ ] */
	bool disabled;        /* shown dim, cannot be chosen */
} pj_dlg_item;

typedef struct pj_dialog pj_dialog;

/* ok: accepted (Enter, y); id: the chosen item's id (menus, else 0);
 * text: the prompt's text (inputs, else ""). Returns PJ_R_* flags. */
typedef int (*pj_dlg_fn)(pj_app *a, pj_dialog *d, bool ok, int id, const char *text);
/* A menu's extra keys; PJ_R_HANDLED consumes the key.  May change the
 * items (pj_dlg_clear + pj_dlg_add) or end the dialog (pj_dlg_end). */
typedef int (*pj_dlg_key_fn)(pj_app *a, pj_dialog *d, int key);

enum { PJ_DLG_MSG_LINES = 6, PJ_DLG_TEXT = 256 };

struct pj_dialog {
	pj_dlg_kind kind;
	char title[96];
	char msg[PJ_DLG_MSG_LINES][200];
	int n_msg;
	char hint[128];             /* the bottom line; a default when empty */
	pj_dlg_item *items;
	size_t n_items, cap, sel, top;
	char jump[32];              /* type-to-jump buffer (menus) */
	char text[PJ_DLG_TEXT];     /* input */
	size_t len;
	pj_dlg_fn done;
	pj_dlg_key_fn key;
	void *ctx;                  /* caller's; freed with free() when owns_ctx */
	bool owns_ctx;
	long arg;                   /* caller's */
	int min_w;                  /* wanted inner width (0: from the content) */
	pj_rect r;                  /* where it was drawn last (mouse) */
};

pj_dialog *pj_dlg_menu(pj_app *a, const char *title, pj_dlg_fn done);
pj_dialog *pj_dlg_input(pj_app *a, const char *title, const char *prompt, const char *initial, pj_dlg_fn done);
pj_dialog *pj_dlg_confirm(pj_app *a, const char *title, const char *question, pj_dlg_fn done);
pj_dialog *pj_dlg_message(pj_app *a, const char *title, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds a line of text above the items (menus) or the field (inputs). */
void pj_dlg_line(pj_dialog *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
pj_dlg_item *pj_dlg_add(pj_dialog *d, int id, const char *label, const char *note_fmt, ...)
	__attribute__((format(printf, 4, 5)));
void pj_dlg_clear(pj_dialog *d);
/* Selects the item with this id (if any). */
void pj_dlg_select(pj_dialog *d, int id);

/* Ends the top dialog as if accepted (ok) or cancelled; returns the
 * callback's flags. */
int pj_dlg_end(pj_app *a, bool ok);
/* Drops every dialog without callbacks (quitting). */
void pj_dlg_close_all(pj_app *a);
static inline bool pj_dlg_active(const pj_app *a)
{
	return a->n_dlg > 0;
}

/* The loop's hooks: draw the stack over the screen; route a key or a
 * mouse event to the top dialog. */
void pj_dlg_draw(pj_app *a);
int pj_dlg_handle_key(pj_app *a, int key);
int pj_dlg_handle_mouse(pj_app *a, const pj_mouse *ev);

#endif
