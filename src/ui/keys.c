/* keys.c - the action table and its views: lookup, names, man page. */
#include "config.h"
#include "keys.h"
#include "app.h"

#include <stdbool.h>
#include <string.h>

static const pj_action_info actions[PJ_ACT_COUNT] = {
#define PJ_ACT_ROW(id, k1, k2, k3, fbar, help) [PJ_ACT_##id] = { { k1, k2, k3 }, fbar, help },
	PJ_ACTIONS(PJ_ACT_ROW)
#undef PJ_ACT_ROW
};

const pj_action_info *pj_action_info_of(pj_action a)
{
	return a > PJ_ACT_NONE && a < PJ_ACT_COUNT ? &actions[a] : NULL;
}

pj_action pj_keys_action(int key)
{
	if (key <= 0)
		return PJ_ACT_NONE;
	for (int a = 1; a < PJ_ACT_COUNT; a++)
		for (int i = 0; i < PJ_ACTION_KEYS; i++)
			if (actions[a].keys[i] == key)
				return (pj_action)a;
	return PJ_ACT_NONE;
}

static const struct { int key; const char *name; } key_names[] = {
	{ PJ_KEY_UP, "Up" }, { PJ_KEY_DOWN, "Down" }, { PJ_KEY_LEFT, "Left" }, { PJ_KEY_RIGHT, "Right" },
	{ PJ_KEY_PGUP, "PgUp" }, { PJ_KEY_PGDN, "PgDn" }, { PJ_KEY_HOME, "Home" }, { PJ_KEY_END, "End" },
	{ PJ_KEY_ENTER, "Enter" }, { PJ_KEY_ESC, "Esc" }, { PJ_KEY_TAB, "Tab" }, { PJ_KEY_BTAB, "S-Tab" },
	{ PJ_KEY_BACKSPACE, "Backspace" }, { PJ_KEY_DEL, "Del" }, { ' ', "Space" },
};

const char *pj_key_name(int key, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
		if (key_names[i].key == key) {
			snprintf(buf, len, "%s", key_names[i].name);
			return buf;
		}
	if (key >= PJ_KEY_F1 && key <= PJ_KEY_F12)
		snprintf(buf, len, "F%d", key - PJ_KEY_F1 + 1);
	else if (key > 0 && key < 0x20)
		snprintf(buf, len, "^%c", key + '@');
	else if (key > 0 && key < 0x80)
		snprintf(buf, len, "%c", key);
	else
		snprintf(buf, len, "?");
	return buf;
}

const char *pj_action_keys_str(pj_action a, char *buf, size_t len)
{
	const pj_action_info *ai = pj_action_info_of(a);
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; ai && i < PJ_ACTION_KEYS && off < len; i++) {
		char kn[16];
		if (!ai->keys[i])
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "",
		                        pj_key_name(ai->keys[i], kn, sizeof kn));
	}
	return buf;
}

int pj_action_fkey(pj_action a)
{
	const pj_action_info *ai = pj_action_info_of(a);
	for (int i = 0; ai && i < PJ_ACTION_KEYS; i++)
		if (ai->keys[i] >= PJ_KEY_F1 && ai->keys[i] <= PJ_KEY_F12)
			return ai->keys[i];
	return 0;
}

/* troff: a leading '.' or '\'' would start a request; '-' must be \-. */
static void man_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '-': fputs("\\-", out); break;
		case '\\': fputs("\\e", out); break;
		case '\'': fputs("\\(aq", out); break;
		case '.': fputs("\\&.", out); break;
		default: fputc(*s, out);
		}
	}
}

void pj_keys_print_man(FILE *out)
{
	for (int a = 1; a < PJ_ACT_COUNT; a++) {
		fputs(".TP\n", out);
		bool first = true;
		for (int i = 0; i < PJ_ACTION_KEYS; i++) {
			char kn[16];
			if (!actions[a].keys[i])
				continue;
			fputs(first ? ".B " : ", ", out);   /* all keys on one bold line */
			man_escape(out, pj_key_name(actions[a].keys[i], kn, sizeof kn));
			first = false;
		}
		fputc('\n', out);
		man_escape(out, actions[a].help);
		fputs(".\n", out);
	}
}

void pj_keys_print_text(FILE *out)
{
	for (int a = 1; a < PJ_ACT_COUNT; a++) {
		char keys[64];
		fprintf(out, "  %-22s %s\n", pj_action_keys_str((pj_action)a, keys, sizeof keys), actions[a].help);
	}
}

void pj_ui_print_keys(FILE *out, bool man)
{
	if (man)
		pj_keys_print_man(out);
	else
		pj_keys_print_text(out);
}
