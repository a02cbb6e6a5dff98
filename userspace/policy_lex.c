/* policy_lex: the tokenizer of policy conditions (policy/README.md, "Expressions"), plus the
 * number and weekday-name readers that the compiler and the evaluator share. Decoded string
 * literals go to the caller's arena; identifiers point into the expression text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hexdigit.h"
#include "policy_int.h"

#define LEX_MAX_NUMBER 64

static bool lex_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool lex_ident_char(char c)
{
	return lex_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool lex_digit(char c)
{
	return c >= '0' && c <= '9';
}

void pol_lex_init(struct pol_lexer *lx, const char *s, size_t len, struct arena *a)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	lx->len = len;
	lx->a = a;
}

__attribute__((format(printf, 3, 4))) static bool lex_fail(struct pol_lexer *lx, size_t at,
							   const char *fmt, ...)
{
	va_list ap;

	lx->err_at = (uint32_t)at;
	va_start(ap, fmt);
	vsnprintf(lx->msg, sizeof(lx->msg), fmt, ap);
	va_end(ap);
	return false;
}

/* Length of the number grammar -?digits(.digits)?([eE][+-]?digits)? at s[0..n), or 0. */
static size_t lex_number_len(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !lex_digit(s[i]))
		return 0;
	while (i < n && lex_digit(s[i]))
		i++;
	if (i < n && s[i] == '.') {
		if (i + 1 >= n || !lex_digit(s[i + 1]))
			return 0;
		i++;
		while (i < n && lex_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;

		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j >= n || !lex_digit(s[j]))
			return 0;
		while (j < n && lex_digit(s[j]))
			j++;
		i = j;
	}
	return i;
}

bool pol_number(const char *s, size_t n, double *out)
{
	char tmp[LEX_MAX_NUMBER + 1], *end;
	double v;

	if (n == 0 || n > LEX_MAX_NUMBER || lex_number_len(s, n) != n)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	v = strtod(tmp, &end);
	if (end != tmp + n || (errno == ERANGE && (v > 1 || v < -1)))
		return false;
	*out = v;
	return true;
}

int pol_weekday(const char *s, size_t n)
{
	static const char *const days[7] = {"sunday",	"monday", "tuesday", "wednesday",
					    "thursday", "friday", "saturday"};

	for (int i = 0; i < 7; i++) {
		size_t dl = strlen(days[i]);

		if ((n == 3 || n == dl) && n <= dl && strncasecmp(s, days[i], n) == 0)
			return i;
	}
	return -1;
}

/* A quoted literal starting at lx->pos. The expression text is valid UTF-8 (it came out of the
 * JSON reader), so bytes other than escapes are copied as they are. */
static bool lex_string(struct pol_lexer *lx, struct pol_token *t)
{
	char quote = lx->s[lx->pos];
	size_t open = lx->pos, i = open + 1, out = 0;
	char *d;

	/* The decoded literal is never longer than the raw one. */
	while (i < lx->len && lx->s[i] != quote)
		i += lx->s[i] == '\\' ? 2 : 1;
	d = arena_alloc(lx->a, (i < lx->len ? i : lx->len) - open + 1);
	i = open + 1;
	if (!d)
		return lex_fail(lx, open, "out of memory");
	for (;;) {
		char c;

		if (i >= lx->len)
			return lex_fail(lx, open, "unterminated string (missing closing %c)",
					quote);
		c = lx->s[i];
		if (c == quote)
			break;
		if (c != '\\') {
			d[out++] = c;
			i++;
			continue;
		}
		if (i + 1 >= lx->len)
			return lex_fail(lx, open, "unterminated string (missing closing %c)",
					quote);
		switch (lx->s[i + 1]) {
		case '\\':
			d[out++] = '\\';
			break;
		case '\'':
			d[out++] = '\'';
			break;
		case '"':
			d[out++] = '"';
			break;
		case 'n':
			d[out++] = '\n';
			break;
		case 't':
			d[out++] = '\t';
			break;
		case 'r':
			d[out++] = '\r';
			break;
		case 'u': {
			long cp = hex4_at(lx->s, lx->len, i + 2);

			if (cp <= 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return lex_fail(lx, i,
						"\\u needs four hex digits naming a character "
						"other than NUL or a surrogate");
			if (cp < 0x80) {
				d[out++] = (char)cp;
			} else if (cp < 0x800) {
				d[out++] = (char)(0xc0 | (cp >> 6));
				d[out++] = (char)(0x80 | (cp & 0x3f));
			} else {
				d[out++] = (char)(0xe0 | (cp >> 12));
				d[out++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				d[out++] = (char)(0x80 | (cp & 0x3f));
			}
			i += 4; /* the six raw bytes are never fewer than the three decoded */
			break;
		}
		default:
			return lex_fail(lx, i,
					"unknown escape (use \\\\ \\' \\\" \\n \\t \\r or "
					"\\uXXXX)");
		}
		i += 2;
	}
	d[out] = '\0';
	t->type = PT_STRING;
	t->str = d;
	t->len = (uint32_t)out;
	lx->pos = i + 1;
	return true;
}

static bool lex_word(struct pol_lexer *lx, struct pol_token *t)
{
	size_t i = lx->pos;
	static const struct {
		const char *word;
		uint8_t type;
	} keywords[] = {{"true", PT_TRUE}, {"false", PT_FALSE}, {"null", PT_NULL}, {"in", PT_IN}};

	/* A dotted name: segments of letters, digits, '_' and '-', joined by single dots. */
	for (;;) {
		while (i < lx->len && lex_ident_char(lx->s[i]))
			i++;
		if (i + 1 < lx->len && lx->s[i] == '.' && lex_ident_char(lx->s[i + 1])) {
			i++;
			continue;
		}
		break;
	}
	if (i < lx->len && lx->s[i] == '.')
		return lex_fail(lx, i, "a name cannot end with '.'");
	t->type = PT_IDENT;
	t->str = lx->s + lx->pos;
	t->len = (uint32_t)(i - lx->pos);
	for (size_t k = 0; k < POL_ARRAY_SIZE(keywords); k++)
		if (strlen(keywords[k].word) == t->len &&
		    memcmp(keywords[k].word, t->str, t->len) == 0)
			t->type = keywords[k].type;
	lx->pos = i;
	return true;
}

/* Two-character operators first, then one-character ones; '=', '&' and '|' alone are the
 * usual slips and get a message of their own. */
static bool lex_operator(struct pol_lexer *lx, struct pol_token *t)
{
	static const struct {
		const char *op;
		uint8_t type;
	} ops[] = {{"==", PT_EQ},      {"!=", PT_NE},	 {"<=", PT_LE},	   {">=", PT_GE},
		   {"&&", PT_AND},     {"||", PT_OR},	 {"<", PT_LT},	   {">", PT_GT},
		   {"!", PT_NOT},      {"(", PT_LPAREN}, {")", PT_RPAREN}, {"[", PT_LBRACKET},
		   {"]", PT_RBRACKET}, {",", PT_COMMA}};
	const char *s = lx->s + lx->pos;
	size_t left = lx->len - lx->pos;
	unsigned char c = (unsigned char)*s;

	for (size_t k = 0; k < POL_ARRAY_SIZE(ops); k++) {
		size_t n = strlen(ops[k].op);

		if (n <= left && memcmp(s, ops[k].op, n) == 0) {
			t->type = ops[k].type;
			lx->pos += n;
			return true;
		}
	}
	if (c == '=')
		return lex_fail(lx, lx->pos, "'=' is not an operator: use '==' to compare");
	if (c == '&')
		return lex_fail(lx, lx->pos, "'&' is not an operator: use '&&'");
	if (c == '|')
		return lex_fail(lx, lx->pos, "'|' is not an operator: use '||'");
	if (c == '-' || c == '.' || lex_digit((char)c))
		return lex_fail(lx, lx->pos, "invalid number");
	if (c >= 0x21 && c < 0x7f)
		return lex_fail(lx, lx->pos, "unexpected character '%c'", c);
	return lex_fail(lx, lx->pos, "unexpected character (byte 0x%02x)", c);
}

bool pol_lex_next(struct pol_lexer *lx, struct pol_token *t)
{
	char c;

	memset(t, 0, sizeof(*t));
	while (lx->pos < lx->len && (lx->s[lx->pos] == ' ' || lx->s[lx->pos] == '\t' ||
				     lx->s[lx->pos] == '\n' || lx->s[lx->pos] == '\r'))
		lx->pos++;
	t->start = (uint32_t)lx->pos;
	if (lx->pos >= lx->len) {
		t->type = PT_EOF;
		t->end = t->start;
		return true;
	}
	c = lx->s[lx->pos];
	if (c == '\'' || c == '"') {
		if (!lex_string(lx, t))
			return false;
	} else if (lex_ident_start(c)) {
		if (!lex_word(lx, t))
			return false;
	} else if (lex_digit(c) ||
		   (c == '-' && lx->pos + 1 < lx->len && lex_digit(lx->s[lx->pos + 1]))) {
		size_t n = lex_number_len(lx->s + lx->pos, lx->len - lx->pos);

		if (n == 0 || !pol_number(lx->s + lx->pos, n, &t->num))
			return lex_fail(lx, lx->pos,
					n > LEX_MAX_NUMBER ? "number too long" : "invalid number");
		if (lx->pos + n < lx->len &&
		    (lex_ident_char(lx->s[lx->pos + n]) || lx->s[lx->pos + n] == '.'))
			return lex_fail(lx, lx->pos, "invalid number");
		t->type = PT_NUMBER;
		lx->pos += n;
	} else if (!lex_operator(lx, t)) {
		return false;
	}
	t->end = (uint32_t)lx->pos;
	return true;
}

const char *pol_tok_name(int type)
{
	switch (type) {
	case PT_EOF:
		return "end of condition";
	case PT_IDENT:
		return "a name";
	case PT_STRING:
		return "a string";
	case PT_NUMBER:
		return "a number";
	case PT_TRUE:
		return "'true'";
	case PT_FALSE:
		return "'false'";
	case PT_NULL:
		return "'null'";
	case PT_IN:
		return "'in'";
	case PT_EQ:
		return "'=='";
	case PT_NE:
		return "'!='";
	case PT_LT:
		return "'<'";
	case PT_LE:
		return "'<='";
	case PT_GT:
		return "'>'";
	case PT_GE:
		return "'>='";
	case PT_AND:
		return "'&&'";
	case PT_OR:
		return "'||'";
	case PT_NOT:
		return "'!'";
	case PT_LPAREN:
		return "'('";
	case PT_RPAREN:
		return "')'";
	case PT_LBRACKET:
		return "'['";
	case PT_RBRACKET:
		return "']'";
	case PT_COMMA:
		return "','";
	}
	return "a token";
}
