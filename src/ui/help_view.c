/* help_view.c - the help screen, generated from the key table. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "views.h"

/* Text after the key list: the things no key says. */
static const char *const notes[] = {
	"",
	"Editing: + - t p and the rules act on the tagged tensors when any are",
	"tagged (Space, T, L, X, R tag; U clears), else on the selected row - a",
	"tensor, or every tensor under a layer, group or expert row.  Every change",
	"is one undoable step (u, ^R), updates the totals at once, and is autosaved",
	"(offered back when the model is reopened).  The header's [+] marks work",
	"not saved to a plan file (w).",
	"",
	"Columns: Type is the planned type (* the shape fallback replaced the",
	"request), Err the measured relative error at that type, Loss the predicted",
	"KLD contribution (~: estimated, not measured yet) with a bar (square-root",
	"scale of its share), From the provenance (preset, rule, manual, solver; !",
	"pinned: presets and the solver leave it alone).  C chooses the columns, o",
	"sorts (a flat list), f filters, Esc goes back to the tree.",
	"",
	"MoE: a GGUF stores each layer's routed experts as one stacked tensor per",
	"projection (ffn_gate/up/down_exps); on export its type applies to all of",
	"the layer's experts, so changing one expert's slice changes the stack.",
	"",
	"Mouse: click selects a row, clicking it again (or its expander) opens or",
	"closes it; the wheel moves the selection; the bottom bar is clickable;",
	"a click on the jobs lines cancels a job.",
	"",
	"Shapes are in ggml order: the first number is the row length.",
	"Statistics are over finite values: max|x|, RMS, NaN/Inf counts, and Out%,",
	"the share of values with |x| > 6 RMS (heavy tails hurt low-bit blocks).",
	"A dot is pending; ~ marks figures that cover only part of the row (still",
	"running, or the job was cancelled); n/a (quantized): not decodable yet.",
	"",
	"Predicted loss:",
};
#define N_NOTES (int)(sizeof notes / sizeof notes[0])

/* The loss formula's lines (from the session), after the notes. */
static int formula_line(int i, char *buf, size_t len)
{
	const char *f = pj_loss_formula();
	for (; f && *f && i > 0; i--) {
		const char *nl = strchr(f, '\n');
		f = nl ? nl + 1 : NULL;
	}
	if (!f || !*f)
		return 0;
	size_t n = strcspn(f, "\n");
	snprintf(buf, len, "  %.*s", (int)n, f);
	return 1;
}

static int formula_lines(void)
{
	int n = 0;
	char b[8];
	while (formula_line(n, b, sizeof b))
		n++;
	return n;
}

static int help_lines(void)
{
	return 1 + (PJ_ACT_COUNT - 1) + N_NOTES + formula_lines();
}

static void help_draw(pj_app *a, pj_rect r)
{
	int total = help_lines();
	if (a->help_top > total - (r.h - 1))
		a->help_top = total - (r.h - 1) > 0 ? total - (r.h - 1) : 0;

	pj_crt_fill(r.y, r.x, r.w, PJ_C_TITLE);
	pj_crt_put(r.y, r.x, r.w, PJ_C_TITLE, true,
	           " Help: keys (Esc, q, F1 or ? to close; Up/Down to scroll)");
	int y = r.y + 1;
	for (int i = a->help_top; i < total && y < r.y + r.h; i++, y++) {
		if (i == 0) {
			pj_crt_put(y, r.x + 1, r.w - 1, PJ_C_LABEL, false, "Keys             Action");
			continue;
		}
		int act = i;   /* lines 1..PJ_ACT_COUNT-1 are the actions, in table order */
		if (act < PJ_ACT_COUNT) {
			char keys[64];
			pj_action_keys_str((pj_action)act, keys, sizeof keys);
			pj_crt_put(y, r.x + 1, 16, PJ_C_HELP_KEY, true, keys);
			pj_crt_put(y, r.x + 18, r.w - 18, PJ_C_NORMAL, false, pj_action_info_of((pj_action)act)->help);
			continue;
		}
		if (act - PJ_ACT_COUNT < N_NOTES) {
			pj_crt_put(y, r.x + 1, r.w - 1, PJ_C_NORMAL, false, notes[act - PJ_ACT_COUNT]);
		} else {
			char fl[256];
			if (formula_line(act - PJ_ACT_COUNT - N_NOTES, fl, sizeof fl))
				pj_crt_put(y, r.x + 1, r.w - 1, PJ_C_DIM, false, fl);
		}
	}
}

static int help_action(pj_app *a, pj_action act)
{
	switch (act) {
	case PJ_ACT_HELP:
	case PJ_ACT_CLOSE:
	case PJ_ACT_QUIT:
		a->help_open = false;
		break;
	case PJ_ACT_UP:
		if (a->help_top > 0)
			a->help_top--;
		break;
	case PJ_ACT_DOWN:
		a->help_top++;         /* clamped when drawn */
		break;
	case PJ_ACT_PGUP:
		a->help_top = a->help_top > 10 ? a->help_top - 10 : 0;
		break;
	case PJ_ACT_PGDN:
		a->help_top += 10;
		break;
	case PJ_ACT_HOME:
		a->help_top = 0;
		break;
	case PJ_ACT_END:
		a->help_top = help_lines();
		break;
	default:
		/* Table keys mean nothing here; global ones (stats, cancel, detail) pass. */
		return act == PJ_ACT_STATS || act == PJ_ACT_CANCEL || act == PJ_ACT_REDRAW || act == PJ_ACT_UNDO ||
		       act == PJ_ACT_REDO || act == PJ_ACT_JOBS ? PJ_R_IGNORED : PJ_R_HANDLED;
	}
	return PJ_R_HANDLED | PJ_R_REDRAW;
}

static int help_mouse(pj_app *a, pj_rect r, const pj_mouse *ev)
{
	(void)r;
	if (ev->kind == PJ_MOUSE_WHEEL_UP)
		return help_action(a, PJ_ACT_UP);
	if (ev->kind == PJ_MOUSE_WHEEL_DOWN)
		return help_action(a, PJ_ACT_DOWN);
	return PJ_R_IGNORED;
}

const pj_view pj_help_view = { "help", help_draw, help_action, help_mouse };
