/* keyreg: parses the sanctioned-key registry text and answers "is this fingerprint sanctioned?"
 * from an open-addressing hash set. Owns the entries and the set; borrows the text only during
 * keyreg_parse(). File reading and rewriting live in keyreg_file.c. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyreg.h"
#include "utf8.h"
#include "hexdigit.h"

struct keyreg {
	struct keyreg_entry *entries;
	size_t n, cap;
	uint32_t *slots; /* entry index + 1; 0 = empty */
	size_t nslots;   /* power of two, at least twice n */
};

struct parser {
	const char *fname;
	char *err;
	size_t errlen;
	unsigned line;
	const char *bol; /* first byte of the line, for columns */
};

static unsigned col_of(const char *bol, const char *at)
{
	unsigned col = 1;

	for (const char *p = bol; p < at; p++)
		col += ((unsigned char)*p & 0xc0) != 0x80; /* count characters, not bytes */
	return col;
}

__attribute__((format(printf, 3, 4))) static bool fail(struct parser *p, const char *at,
						       const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || !p->errlen)
		return false;
	n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->fname, p->line, col_of(p->bol, at));
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

bool keyreg_fp_parse(const char *hex, size_t len, uint8_t out[32])
{
	if (!hex || len != KEYREG_FP_HEX_LEN)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_digit_value(hex[2 * i]), lo = hex_digit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Fingerprints are HMAC outputs, uniformly distributed: their first bytes are a good hash. */
static size_t fp_hash(const uint8_t fp[32])
{
	uint64_t a, b;

	memcpy(&a, fp, 8);
	memcpy(&b, fp + 8, 8);
	return (size_t)(a ^ (b * 0x9e3779b97f4a7c15ull));
}

static const struct keyreg_entry *set_lookup(const struct keyreg *reg, const uint8_t fp[32])
{
	size_t mask, i;

	if (!reg || reg->nslots == 0)
		return NULL;
	mask = reg->nslots - 1;
	for (i = fp_hash(fp) & mask; reg->slots[i]; i = (i + 1) & mask) {
		const struct keyreg_entry *e = &reg->entries[reg->slots[i] - 1];

		if (memcmp(e->fp, fp, 32) == 0)
			return e;
	}
	return NULL;
}

static void set_insert(struct keyreg *reg, size_t idx)
{
	size_t mask = reg->nslots - 1, i;

	for (i = fp_hash(reg->entries[idx].fp) & mask; reg->slots[i]; i = (i + 1) & mask)
		;
	reg->slots[i] = (uint32_t)(idx + 1);
}

/* Make room for one more entry in the array and the set (kept at most half full). */
static bool reserve_one(struct keyreg *reg)
{
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 16;
		struct keyreg_entry *e = realloc(reg->entries, cap * sizeof(*e));

		if (!e)
			return false;
		reg->entries = e;
		reg->cap = cap;
	}
	if ((reg->n + 1) * 2 > reg->nslots) {
		size_t nslots = reg->nslots ? reg->nslots * 2 : 32;
		uint32_t *slots = calloc(nslots, sizeof(*slots));

		if (!slots)
			return false;
		free(reg->slots);
		reg->slots = slots;
		reg->nslots = nslots;
		for (size_t i = 0; i < reg->n; i++)
			set_insert(reg, i);
	}
	return true;
}


/* Every byte of the line is valid UTF-8 and no control character other than tab. */
static bool check_text(struct parser *p, const char *s, const char *end)
{
	while (s < end) {
		unsigned char c = (unsigned char)*s;
		size_t n;

		if (c == 0)
			return fail(p, s, "NUL byte");
		if (c == '\r')
			return fail(p, s, "carriage return not at the end of a line");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, s, "control character 0x%02x", c);
		n = utf8_char_len((const unsigned char *)s, (size_t)(end - s));
		if (n == 0)
			return fail(p, s, "invalid UTF-8");
		s += n;
	}
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && is_blank(*s))
		s++;
	return s;
}

static const char *token_end(const char *s, const char *end)
{
	while (s < end && !is_blank(*s))
		s++;
	return s;
}

static bool provider_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-';
}

static bool parse_line(struct parser *p, struct keyreg *reg, const char *s, const char *end)
{
	struct keyreg_entry e = { .line = p->line };
	const struct keyreg_entry *dup;
	const char *fp, *tok_end, *label_end;

	if (!check_text(p, s, end))
		return false;
	s = skip_blanks(s, end);
	if (s == end || *s == '#')
		return true;
	fp = s;
	tok_end = token_end(s, end);
	for (const char *c = fp; c < tok_end && c < fp + KEYREG_FP_HEX_LEN; c++) {
		if (hex_digit_value(*c) < 0)
			return fail(p, c, "expected a hexadecimal digit in the fingerprint");
	}
	if (tok_end - fp != KEYREG_FP_HEX_LEN)
		return fail(p, fp, "fingerprint has %zu characters, expected %d",
			    (size_t)(tok_end - fp), KEYREG_FP_HEX_LEN);
	keyreg_fp_parse(fp, KEYREG_FP_HEX_LEN, e.fp);
	for (int i = 0; i < KEYREG_FP_HEX_LEN; i++)
		e.fp_hex[i] = (char)(fp[i] | 0x20); /* hex digits: lower case, digits unchanged */
	dup = set_lookup(reg, e.fp);
	if (dup)
		return fail(p, fp, "duplicate fingerprint (first on line %u)", dup->line);

	s = skip_blanks(tok_end, end);
	if (s < end) {
		tok_end = token_end(s, end);
		if (tok_end - s >= KEYREG_PROVIDER_MAX)
			return fail(p, s, "provider longer than %d characters",
				    KEYREG_PROVIDER_MAX - 1);
		if (!(tok_end - s == 1 && *s == '-')) {
			for (const char *c = s; c < tok_end; c++) {
				if (!provider_char(*c))
					return fail(p, c,
						    "provider may hold only a-z, 0-9, '.', '_' "
						    "and '-'");
			}
			memcpy(e.provider, s, (size_t)(tok_end - s));
		}
		s = skip_blanks(tok_end, end);
	}
	label_end = end;
	while (label_end > s && is_blank(label_end[-1]))
		label_end--;
	if (label_end - s >= KEYREG_LABEL_MAX)
		return fail(p, s, "label longer than %d bytes", KEYREG_LABEL_MAX - 1);
	memcpy(e.label, s, (size_t)(label_end - s));

	if (reg->n >= KEYREG_MAX_ENTRIES)
		return fail(p, fp, "more than %d fingerprints", KEYREG_MAX_ENTRIES);
	if (!reserve_one(reg))
		return fail(p, fp, "out of memory");
	reg->entries[reg->n] = e;
	set_insert(reg, reg->n);
	reg->n++;
	return true;
}

struct keyreg *keyreg_parse(const char *text, size_t len, const char *fname, char *err,
			    size_t errlen)
{
	struct parser p = { .fname = fname ? fname : "keys", .err = err, .errlen = errlen };
	struct keyreg *reg = calloc(1, sizeof(*reg));
	const char *s = text, *end = text + len;

	if (err && errlen)
		err[0] = '\0';
	if (!reg) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", p.fname);
		return NULL;
	}
	if (len > KEYREG_MAX_BYTES) {
		p.line = 1;
		p.bol = s;
		fail(&p, s, "file larger than %d bytes", KEYREG_MAX_BYTES);
		goto fail;
	}
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		const char *next = eol ? eol + 1 : end, *line_end = eol ? eol : end;

		if (line_end > s && line_end[-1] == '\r')
			line_end--;
		p.line++;
		p.bol = s;
		if (!parse_line(&p, reg, s, line_end))
			goto fail;
		s = next;
	}
	return reg;
fail:
	keyreg_free(reg);
	return NULL;
}

void keyreg_free(struct keyreg *reg)
{
	if (!reg)
		return;
	free(reg->entries);
	free(reg->slots);
	free(reg);
}

size_t keyreg_count(const struct keyreg *reg)
{
	return reg ? reg->n : 0;
}

const struct keyreg_entry *keyreg_entry_at(const struct keyreg *reg, size_t i)
{
	return reg && i < reg->n ? &reg->entries[i] : NULL;
}

const struct keyreg_entry *keyreg_find(const struct keyreg *reg, const char *fp_hex)
{
	uint8_t fp[32];

	if (!fp_hex || !keyreg_fp_parse(fp_hex, strnlen(fp_hex, KEYREG_FP_HEX_LEN + 1), fp))
		return NULL;
	return set_lookup(reg, fp);
}

bool keyreg_is_sanctioned(const struct keyreg *reg, const char *fp_hex)
{
	return keyreg_find(reg, fp_hex) != NULL;
}
