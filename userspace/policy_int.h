/* policy_int: types and functions shared by the policy_*.c files, not by the rest of the agent:
 * the position-tracking JSON tree, diagnostics, the compiled expression, group and policy. */
#ifndef MODELUX_POLICY_INT_H
#define MODELUX_POLICY_INT_H

#include "utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "policy.h"

#define POL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hard caps: a policy is small, and the loader runs in the agent (as root) on reload. */
#define POL_MAX_JSON_DEPTH 32
#define POL_MAX_EXPR_LEN 4096 /* bytes of one condition */
#define POL_MAX_EXPR_DEPTH 32 /* nested parentheses and '!' in one condition */
#define POL_MAX_RULES 4096
#define POL_MAX_GROUPS 1024
#define POL_MAX_LIST 1024     /* items of one list (models, providers, `in` list) */
#define POL_MAX_NAME 64	      /* group name including '@' */
#define POL_MAX_BLOCK_MSG 200 /* a group's block reason */
#define POL_ARENA_CAP ((size_t)256 << 20)

/* ---- diagnostics (policy_diag.c) ---- */

/* The text being compiled and where its error goes. */
struct pol_src {
	const char *name; /* file name as given, for messages */
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
};


/* pol_line_col - 1-based line and column (in UTF-8 characters) of byte <off> of <text>. */
void pol_line_col(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

/* pol_fail - write "name:line:col: where: message" for byte <off> to src->err (where may be
 * NULL or ""). Always returns false. */
__attribute__((format(printf, 4, 5))) bool pol_fail(const struct pol_src *src, size_t off,
						    const char *where, const char *fmt, ...);

/* pol_suggest - the candidate closest to <word> when it is close enough to be a likely typo,
 * else NULL. <cands> ends with NULL. */
const char *pol_suggest(const char *word, size_t len, const char *const *cands);

/* pol_quote - <s> (length <n>) for a message: printable, at most ~48 bytes, "..." if cut. */
const char *pol_quote(char *buf, size_t cap, const char *s, size_t n);

/* A bounded string builder that never overflows, never splits a UTF-8 character, and remembers
 * the length the full text would have had (for policy_explain's return value). */
struct pol_out {
	char *buf;
	size_t cap;  /* bytes of buf; the text always stays NUL-terminated when cap > 0 */
	size_t len;  /* bytes written */
	size_t want; /* bytes the full text needs */
};
void pol_out_init(struct pol_out *o, char *buf, size_t cap);
void pol_out_mem(struct pol_out *o, const char *s, size_t n);
void pol_out_str(struct pol_out *o, const char *s);
__attribute__((format(printf, 2, 3))) void pol_out_fmt(struct pol_out *o, const char *fmt, ...);
/* pol_out_ellipsis - if the text was cut, end what was kept with "...". */
void pol_out_ellipsis(struct pol_out *o);
/* pol_out_sanitized - <s> with control characters and invalid UTF-8 replaced by '?': request
 * strings go into one-line reasons that end up in JSON error bodies. */
void pol_out_sanitized(struct pol_out *o, const char *s);
/* pol_out_quoted - <s> in single quotes; control characters, invalid UTF-8, quotes and
 * backslashes escaped; NULL prints null. */
void pol_out_quoted(struct pol_out *o, const char *s);

/* ---- JSON with positions (policy_json.c) ---- */

enum pj_type { PJ_NULL = 1, PJ_BOOL, PJ_NUMBER, PJ_STRING, PJ_ARRAY, PJ_OBJECT };

struct pj_member;

struct pj_value {
	uint8_t type; /* enum pj_type */
	uint32_t off; /* byte offset of the first character (a string's opening quote) */
	uint32_t n;   /* PJ_STRING: decoded length; PJ_ARRAY/PJ_OBJECT: number of items */
	union {
		bool b;
		double num;
		const char *str; /* decoded, NUL-terminated, contains no NUL */
		struct pj_value *items;
		struct pj_member *members;
	};
};

struct pj_member {
	const char *key; /* decoded, NUL-terminated */
	uint32_t key_len;
	uint32_t key_off; /* the key's opening quote */
	struct pj_value val;
};

/* pj_parse - parse src->text as one JSON value (RFC 8259, UTF-8, no duplicate object keys, no
 * "\u0000") into <root>, allocating from <a>. On error returns false with a positioned message. */
bool pj_parse(const struct pol_src *src, struct arena *a, struct pj_value *root);

/* pj_string_offset - byte offset in the source of the decoded byte <decoded> of string <v>
 * (decoded == v->n gives the closing quote). */
size_t pj_string_offset(const char *text, size_t len, const struct pj_value *v, size_t decoded);

const char *pj_type_name(int type);

/* ---- compiled expressions (policy_lex.c, policy_parse.c) ---- */

enum pol_tok {
	PT_EOF = 1,
	PT_IDENT,
	PT_STRING,
	PT_NUMBER,
	PT_TRUE,
	PT_FALSE,
	PT_NULL,
	PT_IN,
	PT_EQ,
	PT_NE,
	PT_LT,
	PT_LE,
	PT_GT,
	PT_GE,
	PT_AND,
	PT_OR,
	PT_NOT,
	PT_LPAREN,
	PT_RPAREN,
	PT_LBRACKET,
	PT_RBRACKET,
	PT_COMMA,
};

struct pol_token {
	uint8_t type;	     /* enum pol_tok */
	uint32_t start, end; /* byte range in the expression */
	double num;	     /* PT_NUMBER */
	const char *str;     /* PT_STRING: decoded value (arena); PT_IDENT: points into the text */
	uint32_t len;
};

struct pol_lexer {
	const char *s;
	size_t len, pos;
	struct arena *a; /* for decoded string literals */
	char msg[160];	 /* on error: the message ... */
	uint32_t err_at; /* ... and the byte it is about */
};

void pol_lex_init(struct pol_lexer *lx, const char *s, size_t len, struct arena *a);
/* pol_lex_next - the next token into <t>; false on a lexical error (lx->msg, lx->err_at). */
bool pol_lex_next(struct pol_lexer *lx, struct pol_token *t);
const char *pol_tok_name(int type);

/* pol_number - parse a whole decimal number (JSON grammar, no leading '+'); false if <s> is not
 * exactly one finite number. */
bool pol_number(const char *s, size_t n, double *out);

/* pol_weekday - 0..6 for "sun"/"sunday" .. "sat"/"saturday" (any case), else -1. */
int pol_weekday(const char *s, size_t n);

enum pol_field {
	PF_TAG = 1,
	PF_BUDGET_USED_PCT,
	PF_BUDGET_REMAINING_USD,
	PF_REQ_PROVIDER,
	PF_REQ_MODEL,
	PF_REQ_ENDPOINT,
	PF_REQ_STREAM,
	PF_REQ_MAX_TOKENS,
	PF_PROC_EXE,
	PF_PROC_USER,
	PF_KEY_SHADOW,
	PF_KEY_PROVIDER,
	PF_TIME_HOUR,
	PF_TIME_WEEKDAY,
};

/* Static types, checked at load. A tag is a string that a number comparison reads as a number. */
enum pol_type { TY_BOOL = 1, TY_NUM, TY_STR, TY_TAG, TY_NULL, TY_LIST };

struct pol_field_def {
	const char *name;
	uint8_t field; /* enum pol_field */
	uint8_t type;  /* enum pol_type */
};
extern const struct pol_field_def pol_fields[];
extern const size_t pol_nfields;

enum pol_node_kind {
	PN_FIELD = 1,
	PN_STR,
	PN_NUM,
	PN_BOOL,
	PN_NULL,
	PN_LIST,
	PN_NOT,
	PN_AND,
	PN_OR,
	PN_CMP,
	PN_IN,
};
enum pol_cmp { PC_EQ = 1, PC_NE, PC_LT, PC_LE, PC_GT, PC_GE };
enum pol_mode { PM_STR = 1, PM_NUM, PM_BOOL }; /* what a comparison compares */

struct pol_node {
	uint8_t kind;	     /* enum pol_node_kind */
	uint8_t op;	     /* PN_CMP: enum pol_cmp */
	uint8_t mode;	     /* PN_CMP, PN_IN: enum pol_mode */
	uint8_t field;	     /* PN_FIELD: enum pol_field */
	uint8_t type;	     /* enum pol_type */
	uint16_t start, end; /* byte range in the expression, for errors and explain */
	uint32_t n;	     /* PN_STR, PN_FIELD(tag): length; PN_LIST, PN_AND, PN_OR: count */
	union {
		double num;	       /* PN_NUM */
		bool b;		       /* PN_BOOL */
		const char *str;       /* PN_STR; PN_FIELD: the tag name */
		const uint32_t *kids;  /* PN_AND, PN_OR: operand nodes */
		const uint32_t *items; /* PN_LIST: literal nodes */
		uint32_t lhs;	       /* PN_NOT: operand; PN_CMP, PN_IN: left operand */
	};
	uint32_t rhs; /* PN_CMP, PN_IN: right operand */
};

/* A condition lowered to its leaves (comparisons, 'in', boolean fields and literals), each with
 * where to go next when it is true and when it is false: && and || become jumps and ! swaps
 * them, so evaluation is a loop over at most every leaf once, without recursion. */
#define POL_MATCH UINT32_MAX
#define POL_NOMATCH (UINT32_MAX - 1)

struct pol_insn {
	uint32_t leaf;		    /* node index of the leaf */
	uint32_t on_true, on_false; /* next instruction, or POL_MATCH / POL_NOMATCH */
};

/* The outcome of compiling one expression: everything lives in the policy's arena. */
struct pol_expr {
	const struct pol_node *nodes;
	uint32_t nnodes, root;
	const struct pol_insn *prog;
	uint32_t nprog, entry;
};

/* pol_lower_expr - build out->prog from the tree in out->nodes (policy_prog.c). */
bool pol_lower_expr(struct pol_expr *out, struct arena *a);

/* pol_compile_expr - compile the condition in string value <v> of src (where = "rules[2].if"),
 * allocating from <a>. On error returns false with the position of the offending token. */
bool pol_compile_expr(const struct pol_src *src, const struct pj_value *v, const char *where,
		      struct arena *a, struct pol_expr *out);

/* ---- groups (policy_group.c) ---- */

enum pol_pat_kind { PP_EXACT = 1, PP_PREFIX, PP_SUFFIX, PP_CONTAINS, PP_ANY };

struct pol_pattern {
	uint8_t kind;	  /* enum pol_pat_kind */
	const char *text; /* as written, e.g. "claude-3-5-haiku-*" */
	const char *lit;  /* the literal part, e.g. "claude-3-5-haiku-" */
	uint32_t lit_len;
};

struct pol_downgrade {
	struct pol_pattern from;
	const char *to;
};

struct pol_group {
	const char *name; /* "@cheap" */
	const struct pol_pattern *models, *providers;
	uint32_t nmodels, nproviders;		/* 0 = any */
	const struct pol_downgrade *downgrades; /* most specific first */
	uint32_t ndowngrades;
	const char *block; /* NULL: the group does not block */
	bool require_sanctioned_key;
	const char *models_text, *providers_text; /* "a, b*" for reasons */
	const char *allow_reason;		  /* "allowed by @cheap" */
	uint32_t allow_reason_len;
	uint32_t off; /* where the group's name is in the source */
};

/* pol_compile_group - compile group <name> (member <m> of "groups"). */
bool pol_compile_group(const struct pol_src *src, const struct pj_member *m, struct arena *a,
		       struct pol_group *g);

bool pol_pattern_match(const struct pol_pattern *p, const char *s, size_t n);

/* pol_group_decide - what group <g> makes of request <in>; fills action, model and reason of
 * <out>. With <trace>, also explains each step. */
void pol_group_decide(const struct pol_group *g, const struct policy_input *in,
		      struct policy_decision *out, struct pol_out *trace);

/* ---- the policy ---- */

struct pol_rule {
	const char *text;     /* the condition as written; "else" for the else rule */
	struct pol_expr expr; /* expr.nodes == NULL for the else rule */
	uint32_t group;
	unsigned line;
};

struct policy {
	struct arena arena; /* everything below lives in it */
	int refs;
	const char *name;
	struct pol_rule *rules;
	uint32_t nrules;
	struct pol_group *groups;
	uint32_t ngroups;
};

#endif
