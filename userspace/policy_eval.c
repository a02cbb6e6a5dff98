/* policy_eval: runs a compiled policy on one request — rules in order, first match wins, then the
 * matched group decides — without allocating, and the same walk as a readable trace for
 * `modeluxctl policy explain`. Types were checked at load, so evaluation cannot fail; null
 * (a missing tag, an unknown value) is unequal to everything but null and is never ordered. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "policy_int.h"

enum { PV_NULL = 0, PV_BOOL, PV_NUM, PV_STR };

/* The helpers below are forced inline: a condition is mostly leaves, and a call per operand
 * cost about as much as the comparison itself. */

/* Sixteen bytes, so that it is returned in registers. */
struct pol_val {
	uint8_t kind;
	union {
		bool b;
		double num;
		const char *s;
	};
};

__attribute__((always_inline)) static inline const char *eval_tag(const struct policy_input *in,
								  const struct pol_node *nd)
{
	for (size_t i = 0; i < in->ntags; i++) {
		const char *name = in->tags[i].name;

		/* The first byte rules out most names without a call. */
		if (name && name[0] == nd->str[0] && strcmp(name, nd->str) == 0)
			return in->tags[i].value;
	}
	return NULL;
}

__attribute__((always_inline)) static inline struct pol_val eval_str(const char *s)
{
	return (struct pol_val){.kind = s ? PV_STR : PV_NULL, .s = s};
}

__attribute__((always_inline)) static inline struct pol_val eval_num(double v, bool known)
{
	return (struct pol_val){.kind = known && !isnan(v) ? PV_NUM : PV_NULL, .num = v};
}

__attribute__((always_inline)) static inline struct pol_val
eval_field(const struct pol_node *nd, const struct policy_input *in)
{
	switch (nd->field) {
	case PF_TAG:
		return eval_str(eval_tag(in, nd));
	case PF_BUDGET_USED_PCT:
		return eval_num(in->budget_used_pct, in->has_budget);
	case PF_BUDGET_REMAINING_USD:
		return eval_num(in->budget_remaining_usd, in->has_budget);
	case PF_REQ_PROVIDER:
		return eval_str(in->provider);
	case PF_REQ_MODEL:
		return eval_str(in->model);
	case PF_REQ_ENDPOINT:
		return eval_str(in->endpoint);
	case PF_REQ_STREAM:
		return (struct pol_val){.kind = PV_BOOL, .b = in->stream};
	case PF_REQ_MAX_TOKENS:
		return eval_num((double)in->max_tokens, in->max_tokens >= 0);
	case PF_PROC_EXE:
		return eval_str(in->exe);
	case PF_PROC_USER:
		return eval_str(in->user);
	case PF_KEY_SHADOW:
		return (struct pol_val){.kind = PV_BOOL, .b = in->key_shadow};
	case PF_KEY_PROVIDER:
		return eval_str(in->key_provider);
	case PF_TIME_HOUR:
		return eval_num(in->hour, in->hour >= 0);
	case PF_TIME_WEEKDAY:
		return eval_num(in->weekday, in->weekday >= 0);
	}
	return (struct pol_val){.kind = PV_NULL};
}

/* The value of operand <nd> as comparison mode <mode> reads it: a tag compared with a number
 * is read as a number, and is null when it is not one. */
__attribute__((always_inline)) static inline struct pol_val
eval_operand(const struct pol_node *nd, const struct policy_input *in, uint8_t mode)
{
	struct pol_val v;

	switch (nd->kind) {
	case PN_FIELD:
		v = eval_field(nd, in);
		if (mode == PM_NUM && v.kind == PV_STR) {
			double num;

			if (pol_number(v.s, strlen(v.s), &num))
				return (struct pol_val){.kind = PV_NUM, .num = num};
			return (struct pol_val){.kind = PV_NULL};
		}
		return v;
	case PN_STR:
		return (struct pol_val){.kind = PV_STR, .s = nd->str};
	case PN_NUM:
		return (struct pol_val){.kind = PV_NUM, .num = nd->num};
	case PN_BOOL:
		return (struct pol_val){.kind = PV_BOOL, .b = nd->b};
	}
	return (struct pol_val){.kind = PV_NULL};
}

__attribute__((always_inline)) static inline bool eval_equal(const struct pol_val *l,
							     const struct pol_val *r)
{
	if (l->kind != r->kind) /* null against a value (types were checked at load) */
		return false;
	switch (l->kind) {
	case PV_NULL:
		return true;
	case PV_STR:
		return l->s[0] == r->s[0] && strcmp(l->s, r->s) == 0;
	case PV_NUM:
		return l->num == r->num;
	case PV_BOOL:
		return l->b == r->b;
	}
	return false;
}

__attribute__((always_inline)) static inline bool eval_compare(uint8_t op, const struct pol_val *l,
							       const struct pol_val *r)
{
	if (op == PC_EQ)
		return eval_equal(l, r);
	if (op == PC_NE)
		return !eval_equal(l, r);
	if (l->kind != PV_NUM || r->kind != PV_NUM)
		return false;
	switch (op) {
	case PC_LT:
		return l->num < r->num;
	case PC_LE:
		return l->num <= r->num;
	case PC_GT:
		return l->num > r->num;
	case PC_GE:
		return l->num >= r->num;
	}
	return false;
}

__attribute__((always_inline)) static inline bool
eval_in(const struct pol_node *nodes, const struct pol_node *nd, const struct pol_val *l)
{
	if (l->kind == PV_NULL)
		return false;
	for (uint32_t i = 0; i < nd->n; i++) {
		const struct pol_node *it = &nodes[nd->items[i]];

		if (l->kind == PV_STR ? l->s[0] == it->str[0] && strcmp(l->s, it->str) == 0
				      : l->num == it->num)
			return true;
	}
	return false;
}

/* Explain: "name = value" for a field operand of a comparison. */
static void trace_operand(struct pol_out *t, const struct pol_rule *r, const struct pol_node *nd,
			  const struct pol_val *v, bool *first)
{
	if (nd->kind != PN_FIELD)
		return;
	pol_out_str(t, *first ? "   [" : ", ");
	*first = false;
	pol_out_mem(t, r->text + nd->start, nd->end - nd->start);
	pol_out_str(t, " = ");
	if (v->kind == PV_NULL)
		pol_out_str(t, nd->field == PF_TAG ? "null (no such tag)" : "null (unknown)");
	else if (v->kind == PV_STR)
		pol_out_quoted(t, v->s);
	else if (v->kind == PV_BOOL)
		pol_out_str(t, v->b ? "true" : "false");
	else if (nd->field == PF_TIME_WEEKDAY && v->num >= 0 && v->num <= 6)
		pol_out_fmt(
		    t, "%d (%s)", (int)v->num,
		    (const char *[]){"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[(int)v->num]);
	else
		pol_out_fmt(t, "%.15g", v->num);
}

/* A leaf's line in the trace: what was compared, what was seen, and the result. */
static void trace_leaf(struct pol_out *t, const struct pol_rule *r, const struct pol_node *nd,
		       const struct pol_node *l, const struct pol_val *lv,
		       const struct pol_node *rn, const struct pol_val *rv, bool result)
{
	bool first = true;

	pol_out_str(t, "    ");
	pol_out_mem(t, r->text + nd->start, nd->end - nd->start);
	pol_out_str(t, result ? "  -> true" : "  -> false");
	if (l)
		trace_operand(t, r, l, lv, &first);
	if (rn)
		trace_operand(t, r, rn, rv, &first);
	pol_out_str(t, first ? "\n" : "]\n");
}

/* Evaluate leaf node <nd> of rule <r> (see trace_leaf for <t>). */
__attribute__((always_inline)) static inline bool eval_leaf(const struct pol_rule *r,
							    const struct pol_node *nd,
							    const struct policy_input *in,
							    struct pol_out *t)
{
	const struct pol_node *nodes = r->expr.nodes;
	struct pol_val lv, rv;
	bool res;

	switch (nd->kind) {
	case PN_CMP:
		lv = eval_operand(&nodes[nd->lhs], in, nd->mode);
		rv = eval_operand(&nodes[nd->rhs], in, nd->mode);
		res = eval_compare(nd->op, &lv, &rv);
		if (t)
			trace_leaf(t, r, nd, &nodes[nd->lhs], &lv, &nodes[nd->rhs], &rv, res);
		return res;
	case PN_IN:
		lv = eval_operand(&nodes[nd->lhs], in, nd->mode);
		res = eval_in(nodes, &nodes[nd->rhs], &lv);
		if (t)
			trace_leaf(t, r, nd, &nodes[nd->lhs], &lv, NULL, NULL, res);
		return res;
	default: /* a boolean field or literal */
		lv = eval_operand(nd, in, PM_BOOL);
		res = lv.kind == PV_BOOL && lv.b;
		if (t)
			trace_leaf(t, r, nd, NULL, NULL, NULL, NULL, res);
		return res;
	}
}

/* Does the condition of rule <r> hold? Runs its jump program: each leaf evaluated at most once,
 * in the order && and || short-circuit. */
static bool eval_condition(const struct pol_rule *r, const struct policy_input *in,
			   struct pol_out *t)
{
	const struct pol_insn *prog = r->expr.prog;
	uint32_t pc = r->expr.entry;

	while (pc < POL_NOMATCH) {
		const struct pol_insn *ins = &prog[pc];

		pc = eval_leaf(r, &r->expr.nodes[ins->leaf], in, t) ? ins->on_true : ins->on_false;
	}
	return pc == POL_MATCH;
}

static int eval_policy(const struct policy *p, const struct policy_input *in,
		       struct policy_decision *out, struct pol_out *t)
{
	uint32_t i;

	for (i = 0; i < p->nrules; i++) {
		const struct pol_rule *r = &p->rules[i];
		bool match;

		if (t) {
			pol_out_fmt(t, "rule[%u] (line %u): ", i, r->line);
			pol_out_str(t, r->text);
			pol_out_str(t, "\n");
		}
		match = !r->expr.nodes || eval_condition(r, in, t);
		if (t)
			pol_out_fmt(t, "  => %s\n", match ? "match" : "no match");
		if (match)
			break;
	}
	if (i == p->nrules) /* the compiler requires an else rule: cannot happen */
		return -EINVAL;
	out->rule_index = (int)i;
	out->group = p->groups[p->rules[i].group].name;
	pol_group_decide(&p->groups[p->rules[i].group], in, out, t);
	return 0;
}

int policy_eval(const struct policy *p, const struct policy_input *in, struct policy_decision *out)
{
	if (!p || !in || !out)
		return -EINVAL;
	return eval_policy(p, in, out, NULL);
}

int policy_explain(const struct policy *p, const struct policy_input *in, char *buf, size_t cap)
{
	struct policy_decision d;
	struct pol_out t;
	int rc;

	if (!p || !in || (!buf && cap))
		return -EINVAL;
	pol_out_init(&t, buf, cap);
	rc = eval_policy(p, in, &d, &t);
	if (rc < 0)
		return rc;
	pol_out_fmt(&t, "decision: %s", policy_action_name(d.action));
	if (d.action == POLICY_DOWNGRADE)
		pol_out_fmt(&t, " to %s", d.model);
	pol_out_fmt(&t, " (rule[%d], %s): ", d.rule_index, d.group);
	pol_out_str(&t, d.reason);
	pol_out_str(&t, "\n");
	return t.want > INT32_MAX ? INT32_MAX : (int)t.want;
}

const char *policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_DOWNGRADE:
		return "downgrade";
	case POLICY_BLOCK:
		return "block";
	}
	return "unknown";
}
