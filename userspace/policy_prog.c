/* policy_prog: lowers a type-checked condition tree to its short-circuit jump program (see
 * struct pol_insn): each leaf becomes one instruction that names the next one for true and for
 * false. Runs once per rule at load; the recursion is bounded by the parser's nesting limit. */
#include <string.h>

#include "policy_int.h"

struct lower {
	const struct pol_node *nodes;
	struct pol_insn *prog;
	uint32_t n;
};

/* Wire node <i> so that it continues at <t> when true and <f> when false; returns the
 * instruction where its evaluation starts. */
static uint32_t lower_node(struct lower *lw, uint32_t i, uint32_t t, uint32_t f)
{
	const struct pol_node *nd = &lw->nodes[i];
	uint32_t entry;

	switch (nd->kind) {
	case PN_NOT:
		return lower_node(lw, nd->lhs, f, t);
	case PN_AND:
		/* Built back to front: each operand continues with the next one when true. */
		entry = lower_node(lw, nd->kids[nd->n - 1], t, f);
		for (uint32_t k = nd->n - 1; k-- > 0;)
			entry = lower_node(lw, nd->kids[k], entry, f);
		return entry;
	case PN_OR:
		entry = lower_node(lw, nd->kids[nd->n - 1], t, f);
		for (uint32_t k = nd->n - 1; k-- > 0;)
			entry = lower_node(lw, nd->kids[k], t, entry);
		return entry;
	default: /* a leaf: PN_CMP, PN_IN, or a boolean field or literal */
		lw->prog[lw->n] = (struct pol_insn){.leaf = i, .on_true = t, .on_false = f};
		return lw->n++;
	}
}

bool pol_lower_expr(struct pol_expr *out, struct arena *a)
{
	struct lower lw = {.nodes = out->nodes};

	/* Never more leaves than nodes. */
	lw.prog = arena_alloc(a, out->nnodes * sizeof(*lw.prog));
	if (!lw.prog)
		return false;
	out->entry = lower_node(&lw, out->root, POL_MATCH, POL_NOMATCH);
	out->prog = lw.prog;
	out->nprog = lw.n;
	return true;
}
