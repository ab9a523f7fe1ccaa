/* keys.h - every user action and its keys, declared once.
 *
 * The table below is the single source for key dispatch, the help screen,
 * the function-key bar and the man page's KEYS section
 * (pj_keys_print_man), so they cannot drift apart. */
#ifndef PJ_UI_KEYS_H
#define PJ_UI_KEYS_H

#include <stdio.h>

#include "crt.h"

/* X(ID, key, key, key (0 = none), function-bar label or NULL, help text)
 * The first function key listed gives the action its place in the bar. */
#define PJ_ACTIONS(X)                                                                            \
	X(HELP,         PJ_KEY_F1,    '?',          0,   "Help",     "show this help screen")   \
	X(UP,           PJ_KEY_UP,    'k',          0,   NULL,       "move up one row")         \
	X(DOWN,         PJ_KEY_DOWN,  'j',          0,   NULL,       "move down one row")       \
	X(PGUP,         PJ_KEY_PGUP,  PJ_CTRL('b'), 0,   NULL,       "move up one page")        \
	X(PGDN,         PJ_KEY_PGDN,  PJ_CTRL('f'), 0,   NULL,       "move down one page")      \
	X(HOME,         PJ_KEY_HOME,  'g',          0,   NULL,       "go to the first row")     \
	X(END,          PJ_KEY_END,   'G',          0,   NULL,       "go to the last row")      \
	X(PREV_LAYER,   '[',          0,            0,   NULL,       "go to the previous layer") \
	X(NEXT_LAYER,   ']',          0,            0,   NULL,       "go to the next layer")    \
	X(EXPAND,       PJ_KEY_RIGHT, 'l',          0,   NULL,       "expand the row, or step into an expanded one") \
	X(COLLAPSE,     PJ_KEY_LEFT,  'h',          0,   NULL,       "collapse the row, or go to its parent") \
	X(TOGGLE,       PJ_KEY_ENTER, 0,            0,   NULL,       "expand or collapse the row") \
	X(EXPAND_TREE,  '*',          0,            0,   NULL,       "expand everything under the row, experts included") \
	X(EXPAND_ALL,   PJ_KEY_F5,    'e',          0,   NULL,       "expand all layers and groups (experts stay summarised)") \
	X(COLLAPSE_ALL, PJ_KEY_F6,    'E',          0,   NULL,       "collapse everything")     \
	X(TYPE_UP,      '+',          '=',          0,   NULL,       "one precision up the type ladder (the tagged tensors, else the row)") \
	X(TYPE_DOWN,    '-',          '_',          0,   NULL,       "one precision down the type ladder (the tagged tensors, else the row)") \
	X(TYPE_MENU,    PJ_KEY_F4,    't',          0,   "Type",     "pick a type for the tagged tensors, else the row") \
	X(PIN,          'p',          0,            0,   NULL,       "pin or unpin the type (the solver and presets leave pinned tensors alone)") \
	X(TAG,          ' ',          0,            0,   NULL,       "tag or untag the row (all tensors under it) and move down") \
	X(TAG_REGEX,    'T',          0,            0,   NULL,       "tag the tensors whose name matches a regular expression") \
	X(TAG_LAYER,    'L',          0,            0,   NULL,       "tag every tensor of the row's layer") \
	X(TAG_EXPERTS,  'X',          0,            0,   NULL,       "tag every routed expert tensor of the row's layer") \
	X(TAG_ROLE,     'R',          0,            0,   NULL,       "tag every tensor with the row's role") \
	X(UNTAG,        'U',          0,            0,   NULL,       "clear all tags")          \
	X(ADD_RULE,     'a',          0,            0,   NULL,       "add a rule (regex=type) made from the tagged tensors, else the row") \
	X(PRESET,       PJ_KEY_F2,    'P',          0,   "Preset",   "choose a preset (llama.cpp mixes, architecture-aware, auto)") \
	X(RULES,        'r',          0,            0,   NULL,       "edit the ordered rules (regex=type): add, remove, move") \
	X(SOLVE,        PJ_KEY_F7,    'S',          0,   "Solve",    "solve for a target size (GiB) or bits per weight in the background") \
	X(CHECK,        'V',          0,            0,   NULL,       "check the plan in the background: perplexity and KL divergence vs the source on --calib text") \
	X(UNDO,         'u',          0,            0,   NULL,       "undo the last change")    \
	X(REDO,         PJ_CTRL('r'), 0,            0,   NULL,       "redo")                    \
	X(SEARCH,       '/',          0,            0,   NULL,       "search tensor names (regular expression)") \
	X(SEARCH_NEXT,  'n',          0,            0,   NULL,       "go to the next match")    \
	X(SEARCH_PREV,  'N',          0,            0,   NULL,       "go to the previous match") \
	X(FILTER,       'f',          0,            0,   NULL,       "filter rows by role, layer, type, component or tag") \
	X(SORT,         'o',          0,            0,   NULL,       "sort by a column (a flat list of tensors), or back to the tree") \
	X(COLUMNS,      'C',          0,            0,   NULL,       "choose the table's columns") \
	X(DETAIL,       PJ_KEY_F3,    'd',          0,   "Detail",   "show or hide the detail pane") \
	X(JOBS,         'J',          0,            0,   NULL,       "show or hide the jobs pane") \
	X(KV,           'K',          0,            0,   NULL,       "KV cache: context length and cache type") \
	X(SAVE,         'w',          0,            0,   NULL,       "save the plan as a plan file (JSON)") \
	X(LOAD,         'O',          0,            0,   NULL,       "load a plan file") \
	X(WRITE_TTF,    'W',          0,            0,   NULL,       "write a llama-quantize --tensor-type-file") \
	X(EXPORT,       PJ_KEY_F9,    'x',          0,   "Export",   "export the GGUF in the background") \
	X(STATS,        's',          0,            0,   NULL,       "restart the statistics and measurement jobs") \
	X(CANCEL,       PJ_KEY_F8,    'c',          0,   "Cancel",   "cancel a running job (partial results stay, marked ~)") \
	X(REDRAW,       PJ_CTRL('l'), 0,            0,   NULL,       "redraw the screen")       \
	X(CLOSE,        PJ_KEY_ESC,   0,            0,   NULL,       "close the help screen; clear the filter") \
	X(QUIT,         PJ_KEY_F10,   'q',          0,   "Quit",     "quit (asks first with unsaved changes or a running export)")

typedef enum pj_action {
	PJ_ACT_NONE = 0,
#define PJ_ACT_ENUM(id, k1, k2, k3, fbar, help) PJ_ACT_##id,
	PJ_ACTIONS(PJ_ACT_ENUM)
#undef PJ_ACT_ENUM
	PJ_ACT_COUNT
} pj_action;

#define PJ_ACTION_KEYS 3

typedef struct pj_action_info {
	int keys[PJ_ACTION_KEYS];
	const char *fbar;
	const char *help;
} pj_action_info;

const pj_action_info *pj_action_info_of(pj_action a);
/* The action bound to a normalised key, or PJ_ACT_NONE. */
pj_action pj_keys_action(int key);
/* "F1", "Up", "PgDn", "Enter", "Space", "^L", "q"... into buf. */
const char *pj_key_name(int key, char *buf, size_t len);
/* "F1 ?" - all keys of an action, space separated. */
const char *pj_action_keys_str(pj_action a, char *buf, size_t len);
/* The action's function key (PJ_KEY_F1..F12) or 0. */
int pj_action_fkey(pj_action a);

/* The body of the man page's KEYS section (troff: .TP entries). */
void pj_keys_print_man(FILE *out);
/* One line per action: its keys, then its help text. */
void pj_keys_print_text(FILE *out);

#endif
