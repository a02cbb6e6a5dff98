/* policy_parse: compiles one condition (a JSON string of the policy) into a typed expression tree
 * in the policy's arena: recursive descent with C precedence (! > comparisons > && > ||), every
 * identifier resolved and every type checked here, at load, so that evaluation cannot fail.
 * Errors point at the offending token's line and column in the JSON file. Borrows the lexer. */
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

const struct pol_field_def pol_fields[] = {
    {"budget.used_pct", PF_BUDGET_USED_PCT, TY_NUM},
    {"budget.remaining_usd", PF_BUDGET_REMAINING_USD, TY_NUM},
    {"request.provider", PF_REQ_PROVIDER, TY_STR},
    {"request.model", PF_REQ_MODEL, TY_STR},
    {"request.endpoint", PF_REQ_ENDPOINT, TY_STR},
    {"request.stream", PF_REQ_STREAM, TY_BOOL},
    {"request.max_tokens", PF_REQ_MAX_TOKENS, TY_NUM},
    {"process.exe", PF_PROC_EXE, TY_STR},
    {"process.user", PF_PROC_USER, TY_STR},
    {"key.shadow", PF_KEY_SHADOW, TY_BOOL},
    {"key.provider", PF_KEY_PROVIDER, TY_STR},
    {"time.hour", PF_TIME_HOUR, TY_NUM},
    {"time.weekday", PF_TIME_WEEKDAY, TY_NUM},
};
const size_t pol_nfields = POL_ARRAY_SIZE(pol_fields);

struct pp {
	const struct pol_src *src;
	const struct pj_value *v; /* the JSON string holding the condition */
	const char *where;	  /* "rules[2].if" */
	const char *text;	  /* the condition */
	struct arena *a;
	struct pol_lexer lx;
	struct pol_token tok; /* lookahead */
	struct pol_node *nodes;
	uint32_t n, cap;
	unsigned depth;
};

/* Report at byte <at> of the condition; always returns -1 (a node index that failed). */
__attribute__((format(printf, 3, 4))) static int pp_fail(struct pp *pp, size_t at, const char *fmt,
							 ...)
{
	size_t off = pj_string_offset(pp->src->text, pp->src->len, pp->v, at);
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pol_fail(pp->src, off, pp->where, "%s", msg);
	return -1;
}

static bool pp_advance(struct pp *pp)
{
	if (pol_lex_next(&pp->lx, &pp->tok))
		return true;
	pp_fail(pp, pp->lx.err_at, "%s", pp->lx.msg);
	return false;
}

/* A new node covering bytes [start, end); its index or -1. Nodes grow by doubling inside the
 * arena: the few abandoned copies cost less than tracking scratch memory on error paths. */
static int pp_node(struct pp *pp, uint8_t kind, uint8_t type, uint32_t start, uint32_t end)
{
	struct pol_node *nd;

	if (pp->n == pp->cap) {
		uint32_t cap = pp->cap ? pp->cap * 2 : 16;
		struct pol_node *nn = arena_alloc(pp->a, cap * sizeof(*nn));

		if (!nn)
			return pp_fail(pp, start, "out of memory");
		if (pp->n)
			memcpy(nn, pp->nodes, pp->n * sizeof(*nn));
		pp->nodes = nn;
		pp->cap = cap;
	}
	nd = &pp->nodes[pp->n];
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->type = type;
	nd->start = (uint16_t)start;
	nd->end = (uint16_t)end;
	return (int)pp->n++;
}

static const char *pp_type_name(uint8_t type)
{
	switch (type) {
	case TY_BOOL:
		return "a boolean";
	case TY_NUM:
		return "a number";
	case TY_STR:
		return "a string";
	case TY_TAG:
		return "a tag (a string)";
	case TY_NULL:
		return "null";
	case TY_LIST:
		return "a list";
	}
	return "a value";
}

/* "request.stream is a boolean" for node <i>, into <buf>. */
static const char *pp_describe(struct pp *pp, int i, char *buf, size_t cap)
{
	const struct pol_node *nd = &pp->nodes[i];
	char q[64];

	pol_quote(q, sizeof(q), pp->text + nd->start, nd->end - nd->start);
	if (nd->type == TY_NULL)
		snprintf(buf, cap, "%s", q);
	else
		snprintf(buf, cap, "%s is %s", q, pp_type_name(nd->type));
	return buf;
}

static int pp_or(struct pp *pp);

static const char *const pp_keywords[] = {"true", "false", "null", "in", NULL};

/* An identifier that names nothing: say what was probably meant. */
static int pp_unknown_ident(struct pp *pp, const struct pol_token *t)
{
	const char *cands[POL_ARRAY_SIZE(pol_fields) + 8];
	char q[64], tagged[POL_MAX_EXPR_LEN + 8], members[256];
	const char *dot = memchr(t->str, '.', t->len), *hint;
	size_t nc = 0, ns = dot ? (size_t)(dot - t->str) : t->len, mlen = 0;

	pol_quote(q, sizeof(q), t->str, t->len);
	if ((t->len == 3 && memcmp(t->str, "and", 3) == 0))
		return pp_fail(pp, t->start, "unknown identifier 'and' (use &&)");
	if ((t->len == 2 && memcmp(t->str, "or", 2) == 0))
		return pp_fail(pp, t->start, "unknown identifier 'or' (use ||)");
	if ((t->len == 3 && memcmp(t->str, "not", 3) == 0))
		return pp_fail(pp, t->start, "unknown identifier 'not' (use !)");
	for (size_t i = 0; i < pol_nfields; i++)
		cands[nc++] = pol_fields[i].name;
	if (!dot) {
		for (size_t i = 0; pp_keywords[i]; i++)
			cands[nc++] = pp_keywords[i];
		cands[nc++] = "tags";
	} else {
		/* "tag.team" is probably "tags.team": offer the tag with the same name. */
		snprintf(tagged, sizeof(tagged), "tags.%.*s", (int)(t->len - ns - 1), dot + 1);
		cands[nc++] = tagged;
	}
	cands[nc] = NULL;
	hint = pol_suggest(t->str, t->len, cands);
	if (hint)
		return pp_fail(pp, t->start, "unknown identifier '%s' (did you mean %s?)", q, hint);
	if (!dot)
		return pp_fail(pp, t->start,
			       "unknown identifier '%s' (a string needs quotes: '%s')", q, q);
	/* A known namespace with an unknown member: list its members. */
	for (size_t i = 0; i < pol_nfields; i++) {
		const char *f = pol_fields[i].name;

		if (strncmp(f, t->str, ns) == 0 && f[ns] == '.')
			mlen += (size_t)snprintf(members + mlen, sizeof(members) - mlen, "%s%s",
						 mlen ? ", " : "", f + ns + 1);
		if (mlen >= sizeof(members))
			break;
	}
	if (mlen)
		return pp_fail(pp, t->start, "unknown identifier '%s' (%.*s has: %s)", q, (int)ns,
			       t->str, members);
	return pp_fail(pp, t->start,
		       "unknown identifier '%s' (names are tags.<name>, budget.*, request.*, "
		       "process.*, key.*, time.*)",
		       q);
}

/* A name: a field, tags.<name> or tags['<name>']. The current token is the identifier. */
static int pp_name(struct pp *pp)
{
	struct pol_token t = pp->tok;
	int i;

	if (!pp_advance(pp))
		return -1;
	if (t.len == 4 && memcmp(t.str, "tags", 4) == 0) {
		struct pol_token name;

		if (pp->tok.type != PT_LBRACKET)
			return pp_fail(pp, t.start,
				       "tags needs a name: tags.<name> or "
				       "tags['<name>']");
		if (!pp_advance(pp))
			return -1;
		name = pp->tok;
		if (name.type != PT_STRING || name.len == 0)
			return pp_fail(pp, name.start,
				       "expected a tag name in quotes after 'tags['");
		if (!pp_advance(pp))
			return -1;
		if (pp->tok.type != PT_RBRACKET)
			return pp_fail(pp, pp->tok.start, "expected ']' after the tag name");
		i = pp_node(pp, PN_FIELD, TY_TAG, t.start, pp->tok.end);
		if (i < 0 || !pp_advance(pp))
			return -1;
		pp->nodes[i].field = PF_TAG;
		pp->nodes[i].str = name.str;
		pp->nodes[i].n = name.len;
		return i;
	}
	if (t.len > 5 && memcmp(t.str, "tags.", 5) == 0) {
		char *name = arena_alloc(pp->a, t.len - 5 + 1);

		i = pp_node(pp, PN_FIELD, TY_TAG, t.start, t.end);
		if (i < 0 || !name)
			return i < 0 ? -1 : pp_fail(pp, t.start, "out of memory");
		memcpy(name, t.str + 5, t.len - 5);
		pp->nodes[i].field = PF_TAG;
		pp->nodes[i].str = name;
		pp->nodes[i].n = t.len - 5;
		return i;
	}
	for (size_t k = 0; k < pol_nfields; k++) {
		if (strlen(pol_fields[k].name) == t.len &&
		    memcmp(pol_fields[k].name, t.str, t.len) == 0) {
			i = pp_node(pp, PN_FIELD, pol_fields[k].type, t.start, t.end);
			if (i >= 0)
				pp->nodes[i].field = pol_fields[k].field;
			return i;
		}
	}
	return pp_unknown_ident(pp, &t);
}

/* '[' literal, ... ']' with items all strings or all numbers. */
static int pp_list(struct pp *pp)
{
	uint32_t start = pp->tok.start, n = 0, cap = 0, *items = NULL;
	uint8_t item_type = 0;
	int i;

	if (!pp_advance(pp))
		return -1;
	while (pp->tok.type != PT_RBRACKET) {
		struct pol_token t = pp->tok;
		uint8_t ty = t.type == PT_STRING ? TY_STR : t.type == PT_NUMBER ? TY_NUM : 0;
		int item;

		if (n && t.type == PT_COMMA)
			return pp_fail(pp, t.start, "expected a string or number after ','");
		if (!ty)
			return pp_fail(pp, t.start,
				       t.type == PT_EOF ? "unterminated list (missing ']')"
							: "list items must be strings or numbers");
		if (item_type && ty != item_type)
			return pp_fail(pp, t.start, "list mixes strings and numbers");
		if (n == POL_MAX_LIST)
			return pp_fail(pp, t.start, "list too long (at most %d items)",
				       POL_MAX_LIST);
		item_type = ty;
		item = pp_node(pp, ty == TY_STR ? PN_STR : PN_NUM, ty, t.start, t.end);
		if (item < 0)
			return -1;
		if (ty == TY_STR) {
			pp->nodes[item].str = t.str;
			pp->nodes[item].n = t.len;
		} else {
			pp->nodes[item].num = t.num;
		}
		if (n == cap) {
			uint32_t *ni;

			cap = cap ? cap * 2 : 8;
			ni = arena_alloc(pp->a, cap * sizeof(*ni));
			if (!ni)
				return pp_fail(pp, t.start, "out of memory");
			if (n)
				memcpy(ni, items, n * sizeof(*ni));
			items = ni;
		}
		items[n++] = (uint32_t)item;
		if (!pp_advance(pp))
			return -1;
		if (pp->tok.type == PT_COMMA) {
			if (!pp_advance(pp))
				return -1;
			if (pp->tok.type == PT_RBRACKET)
				return pp_fail(pp, pp->tok.start,
					       "expected a string or number "
					       "after ','");
		} else if (pp->tok.type != PT_RBRACKET) {
			return pp_fail(pp, pp->tok.start,
				       "expected ',' or ']' in the list, found %s",
				       pol_tok_name(pp->tok.type));
		}
	}
	i = pp_node(pp, PN_LIST, TY_LIST, start, pp->tok.end);
	if (i < 0 || !pp_advance(pp))
		return -1;
	pp->nodes[i].items = items;
	pp->nodes[i].n = n;
	/* The list's own type is "list"; its items' type decides what 'in' compares. */
	pp->nodes[i].mode = item_type == TY_NUM ? PM_NUM : item_type == TY_STR ? PM_STR : 0;
	return i;
}

static int pp_primary(struct pp *pp)
{
	struct pol_token t = pp->tok;
	int i;

	switch (t.type) {
	case PT_IDENT:
		return pp_name(pp);
	case PT_STRING:
	case PT_NUMBER:
	case PT_TRUE:
	case PT_FALSE:
	case PT_NULL:
		i = pp_node(pp,
			    t.type == PT_STRING	  ? PN_STR
			    : t.type == PT_NUMBER ? PN_NUM
			    : t.type == PT_NULL	  ? PN_NULL
						  : PN_BOOL,
			    t.type == PT_STRING	  ? TY_STR
			    : t.type == PT_NUMBER ? TY_NUM
			    : t.type == PT_NULL	  ? TY_NULL
						  : TY_BOOL,
			    t.start, t.end);
		if (i < 0)
			return -1;
		pp->nodes[i].n = t.len;
		if (t.type == PT_STRING)
			pp->nodes[i].str = t.str;
		else if (t.type == PT_NUMBER)
			pp->nodes[i].num = t.num;
		else if (t.type != PT_NULL)
			pp->nodes[i].b = t.type == PT_TRUE;
		return pp_advance(pp) ? i : -1;
	case PT_LBRACKET:
		return pp_list(pp);
	case PT_LPAREN:
		if (++pp->depth > POL_MAX_EXPR_DEPTH)
			return pp_fail(pp, t.start, "nested too deeply");
		if (!pp_advance(pp))
			return -1;
		i = pp_or(pp);
		if (i < 0)
			return -1;
		if (pp->tok.type != PT_RPAREN) {
			unsigned line, col;

			pol_line_col(pp->src->text, pp->src->len,
				     pj_string_offset(pp->src->text, pp->src->len, pp->v, t.start),
				     &line, &col);
			return pp_fail(
			    pp, pp->tok.start,
			    "expected ')' to close the '(' at line %u, column %u, found %s", line,
			    col, pol_tok_name(pp->tok.type));
		}
		pp->depth--;
		/* The parenthesized expression keeps its node; widen its range to the parens so
		 * that messages and explain show what was written. */
		pp->nodes[i].start = (uint16_t)t.start;
		pp->nodes[i].end = (uint16_t)pp->tok.end;
		return pp_advance(pp) ? i : -1;
	case PT_EOF:
		return pp_fail(pp, t.start, "unexpected end of condition, expected a value");
	default:
		return pp_fail(pp, t.start, "expected a value, found %s", pol_tok_name(t.type));
	}
}

static int pp_unary(struct pp *pp)
{
	struct pol_token t = pp->tok;
	char d[128];
	int operand, i;

	if (t.type != PT_NOT)
		return pp_primary(pp);
	if (++pp->depth > POL_MAX_EXPR_DEPTH)
		return pp_fail(pp, t.start, "nested too deeply");
	if (!pp_advance(pp))
		return -1;
	operand = pp_unary(pp);
	if (operand < 0)
		return -1;
	pp->depth--;
	if (pp->nodes[operand].type != TY_BOOL)
		return pp_fail(pp, pp->nodes[operand].start,
			       "'!' needs a boolean, but %s (to negate a comparison, use "
			       "parentheses: !(a == b), or a != b)",
			       pp_describe(pp, operand, d, sizeof(d)));
	i = pp_node(pp, PN_NOT, TY_BOOL, t.start, pp->nodes[operand].end);
	if (i >= 0)
		pp->nodes[i].lhs = (uint32_t)operand;
	return i;
}

static bool pp_is_weekday(const struct pol_node *nd)
{
	return nd->kind == PN_FIELD && nd->field == PF_TIME_WEEKDAY;
}

/* time.weekday compared with a day name: the name becomes its number, here, once. */
static bool pp_weekday_literal(struct pp *pp, struct pol_node *lit)
{
	int day = pol_weekday(lit->str, lit->n);
	char q[64];

	if (day < 0) {
		pp_fail(pp, lit->start,
			"'%s' is not a day (use 0..6 with 0 = Sunday, or sun, mon, tue, wed, thu, "
			"fri, sat)",
			pol_quote(q, sizeof(q), lit->str, lit->n));
		return false;
	}
	lit->kind = PN_NUM;
	lit->type = TY_NUM;
	lit->num = day;
	return true;
}

/* Check operands <l>, <r> of comparison <op> and pick how it compares; -1 on a type error. */
static int pp_cmp_mode(struct pp *pp, int op, int l, int r)
{
	struct pol_node *ln = &pp->nodes[l], *rn = &pp->nodes[r];
	uint8_t lt = ln->type, rt = rn->type;
	char dl[128], dr[128];
	bool ordering = op != PC_EQ && op != PC_NE;

	if (lt == TY_LIST || rt == TY_LIST)
		return pp_fail(pp, (lt == TY_LIST ? ln : rn)->start, "a list can only follow 'in'");
	if (ordering) {
		if (lt == TY_NULL || rt == TY_NULL)
			return pp_fail(pp, (lt == TY_NULL ? ln : rn)->start,
				       "null cannot be ordered (use == null or != null)");
		if (lt != TY_NUM && lt != TY_TAG)
			return pp_fail(pp, ln->start, "ordering compares numbers, but %s",
				       pp_describe(pp, l, dl, sizeof(dl)));
		if (rt != TY_NUM && rt != TY_TAG)
			return pp_fail(pp, rn->start, "ordering compares numbers, but %s",
				       pp_describe(pp, r, dr, sizeof(dr)));
		return PM_NUM;
	}
	if (lt == TY_BOOL || rt == TY_BOOL) {
		if (lt == rt)
			return PM_BOOL;
		if (lt == TY_NULL || rt == TY_NULL)
			return pp_fail(pp, (lt == TY_BOOL ? ln : rn)->start, "%s and is never null",
				       pp_describe(pp, lt == TY_BOOL ? l : r, dl, sizeof(dl)));
		return pp_fail(pp, rn->start, "cannot compare: %s but %s",
			       pp_describe(pp, l, dl, sizeof(dl)),
			       pp_describe(pp, r, dr, sizeof(dr)));
	}
	if (lt == TY_NULL || rt == TY_NULL)
		return (lt == TY_NUM || rt == TY_NUM) ? PM_NUM : PM_STR;
	if (lt == TY_NUM || rt == TY_NUM) {
		if (lt == TY_STR || rt == TY_STR)
			return pp_fail(pp, rn->start, "cannot compare: %s but %s",
				       pp_describe(pp, l, dl, sizeof(dl)),
				       pp_describe(pp, r, dr, sizeof(dr)));
		return PM_NUM;
	}
	return PM_STR; /* strings and tags */
}

static int pp_in(struct pp *pp, int l, int r)
{
	struct pol_node *ln = &pp->nodes[l], *rn = &pp->nodes[r];
	char d[128];

	if (rn->kind != PN_LIST)
		return pp_fail(pp, rn->start, "'in' needs a list literal, e.g. ['a', 'b']");
	if (ln->type != TY_STR && ln->type != TY_NUM && ln->type != TY_TAG)
		return pp_fail(pp, ln->start, "'in' looks up strings or numbers, but %s",
			       pp_describe(pp, l, d, sizeof(d)));
	if (pp_is_weekday(ln) && rn->mode == PM_STR) {
		for (uint32_t k = 0; k < rn->n; k++)
			if (!pp_weekday_literal(pp, &pp->nodes[rn->items[k]]))
				return -1;
		rn->mode = PM_NUM;
	}
	if (rn->n == 0)
		return ln->type == TY_NUM ? PM_NUM : PM_STR;
	if ((ln->type == TY_STR && rn->mode != PM_STR) ||
	    (ln->type == TY_NUM && rn->mode != PM_NUM))
		return pp_fail(pp, pp->nodes[rn->items[0]].start, "the list holds %s but %s",
			       rn->mode == PM_NUM ? "numbers" : "strings",
			       pp_describe(pp, l, d, sizeof(d)));
	return rn->mode;
}

static int pp_comparison(struct pp *pp)
{
	static const uint8_t ops[][2] = {{PT_EQ, PC_EQ}, {PT_NE, PC_NE}, {PT_LT, PC_LT},
					 {PT_LE, PC_LE}, {PT_GT, PC_GT}, {PT_GE, PC_GE}};
	int l, r, i, mode;
	uint8_t op = 0, tok;

	l = pp_unary(pp);
	if (l < 0)
		return -1;
	tok = pp->tok.type;
	for (size_t k = 0; k < POL_ARRAY_SIZE(ops); k++)
		if (ops[k][0] == tok)
			op = ops[k][1];
	if (!op && tok != PT_IN)
		return l;
	if (!pp_advance(pp))
		return -1;
	r = pp_unary(pp);
	if (r < 0)
		return -1;
	if (pp_is_weekday(&pp->nodes[l]) && pp->nodes[r].kind == PN_STR &&
	    !pp_weekday_literal(pp, &pp->nodes[r]))
		return -1;
	if (pp_is_weekday(&pp->nodes[r]) && pp->nodes[l].kind == PN_STR &&
	    !pp_weekday_literal(pp, &pp->nodes[l]))
		return -1;
	mode = op ? pp_cmp_mode(pp, op, l, r) : pp_in(pp, l, r);
	if (mode < 0)
		return -1;
	i = pp_node(pp, op ? PN_CMP : PN_IN, TY_BOOL, pp->nodes[l].start, pp->nodes[r].end);
	if (i < 0)
		return -1;
	pp->nodes[i].op = op;
	pp->nodes[i].mode = (uint8_t)mode;
	pp->nodes[i].lhs = (uint32_t)l;
	pp->nodes[i].rhs = (uint32_t)r;
	tok = pp->tok.type;
	if (tok == PT_IN || (tok >= PT_EQ && tok <= PT_GE))
		return pp_fail(pp, pp->tok.start,
			       "comparisons cannot be chained: use && or parentheses");
	return i;
}

/* operand (OP operand)* as one n-ary node, so that long chains do not deepen evaluation. */
static int pp_chain(struct pp *pp, uint8_t tok, uint8_t kind, int (*operand)(struct pp *))
{
	uint32_t n = 0, cap = 0, *kids = NULL;
	const char *opname = tok == PT_AND ? "&&" : "||";
	char d[128];
	int first, i;

	first = operand(pp);
	if (first < 0 || pp->tok.type != tok)
		return first;
	for (int k = first;;) {
		if (pp->nodes[k].type != TY_BOOL)
			return pp_fail(pp, pp->nodes[k].start, "'%s' needs booleans, but %s",
				       opname, pp_describe(pp, k, d, sizeof(d)));
		if (n == cap) {
			uint32_t *nk;

			cap = cap ? cap * 2 : 4;
			nk = arena_alloc(pp->a, cap * sizeof(*nk));
			if (!nk)
				return pp_fail(pp, pp->nodes[k].start, "out of memory");
			if (n)
				memcpy(nk, kids, n * sizeof(*nk));
			kids = nk;
		}
		kids[n++] = (uint32_t)k;
		if (pp->tok.type != tok)
			break;
		if (!pp_advance(pp))
			return -1;
		k = operand(pp);
		if (k < 0)
			return -1;
	}
	i = pp_node(pp, kind, TY_BOOL, pp->nodes[first].start, pp->nodes[kids[n - 1]].end);
	if (i < 0)
		return -1;
	pp->nodes[i].kids = kids;
	pp->nodes[i].n = n;
	return i;
}

static int pp_and(struct pp *pp)
{
	return pp_chain(pp, PT_AND, PN_AND, pp_comparison);
}

static int pp_or(struct pp *pp)
{
	return pp_chain(pp, PT_OR, PN_OR, pp_and);
}

bool pol_compile_expr(const struct pol_src *src, const struct pj_value *v, const char *where,
		      struct arena *a, struct pol_expr *out)
{
	struct pp pp = {.src = src, .v = v, .where = where, .text = v->str, .a = a};
	char d[128];
	int root;

	if (v->n > POL_MAX_EXPR_LEN)
		return pol_fail(src, v->off, where, "condition too long (more than %d bytes)",
				POL_MAX_EXPR_LEN);
	pol_lex_init(&pp.lx, v->str, v->n, a);
	if (!pp_advance(&pp))
		return false;
	if (pp.tok.type == PT_EOF)
		return pol_fail(src, v->off + 1, where, "empty condition");
	root = pp_or(&pp);
	if (root < 0)
		return false;
	if (pp.tok.type != PT_EOF) {
		const char *op = pp.tok.type != PT_IDENT			    ? NULL
				 : pp.tok.len == 3 && !memcmp(pp.tok.str, "and", 3) ? "&&"
				 : pp.tok.len == 2 && !memcmp(pp.tok.str, "or", 2)  ? "||"
										    : NULL;

		if (op)
			pp_fail(&pp, pp.tok.start, "'%.*s' is not an operator: use %s",
				(int)pp.tok.len, pp.tok.str, op);
		else
			pp_fail(&pp, pp.tok.start,
				"expected &&, || or the end of the condition, found %s",
				pol_tok_name(pp.tok.type));
		return false;
	}
	if (pp.nodes[root].type != TY_BOOL) {
		pp_fail(&pp, pp.nodes[root].start,
			"a condition must be true or false, but %s (compare it, e.g. == 'x')",
			pp_describe(&pp, root, d, sizeof(d)));
		return false;
	}
	out->nodes = pp.nodes;
	out->nnodes = pp.n;
	out->root = (uint32_t)root;
	if (!pol_lower_expr(out, a))
		return pol_fail(src, v->off, where, "out of memory");
	return true;
}
