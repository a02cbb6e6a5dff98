/* policy_diag: positions and messages for the policy compiler (line:col of a byte, "did you
 * mean", quoting) and the bounded, UTF-8-safe text builder that the evaluator's reasons and
 * policy_explain() write through. Owns nothing; writes only into buffers its callers pass. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

#define DIAG_QUOTE_MAX 48   /* longest token echoed back in a message */
#define DIAG_SUGGEST_MAX 64 /* words longer than this get no suggestion */


void pol_line_col(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80) { /* count characters, not continuation bytes */
			c++;
		}
	}
	*line = l;
	*col = c;
}

bool pol_fail(const struct pol_src *src, size_t off, const char *where, const char *fmt, ...)
{
	unsigned line, col;
	va_list ap;
	int n;

	if (!src->err || src->errlen == 0)
		return false;
	pol_line_col(src->text, src->len, off, &line, &col);
	if (where && *where)
		n = snprintf(src->err, src->errlen, "%s:%u:%u: %s: ", src->name, line, col, where);
	else
		n = snprintf(src->err, src->errlen, "%s:%u:%u: ", src->name, line, col);
	if (n < 0 || (size_t)n >= src->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(src->err + n, src->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* Optimal string alignment distance (edits, and swaps of neighbours), ignoring case. */
static unsigned diag_distance(const char *a, size_t na, const char *b, size_t nb)
{
	unsigned d[DIAG_SUGGEST_MAX + 1][DIAG_SUGGEST_MAX + 1];

	for (size_t i = 0; i <= na; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= nb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		for (size_t j = 1; j <= nb; j++) {
			unsigned cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			unsigned best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[na][nb];
}

const char *pol_suggest(const char *word, size_t len, const char *const *cands)
{
	unsigned limit = len < 4 ? 1 : len < 12 ? 2 : 3;
	const char *best = NULL;
	unsigned best_d = limit + 1;

	if (len == 0 || len > DIAG_SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; cands[i]; i++) {
		size_t n = strlen(cands[i]);
		unsigned d;

		if (n > DIAG_SUGGEST_MAX || (n == len && memcmp(cands[i], word, n) == 0))
			continue;
		d = diag_distance(word, len, cands[i], n);
		if (d < best_d && d < n) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

const char *pol_quote(char *buf, size_t cap, const char *s, size_t n)
{
	size_t o = 0, i = 0;

	if (cap < DIAG_QUOTE_MAX + 8) {
		if (cap)
			buf[0] = '\0';
		return buf;
	}
	while (i < n && o < DIAG_QUOTE_MAX) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != 0x7f) {
			size_t clen = 1;

			if (c >= 0x80) /* keep a UTF-8 character whole */
				while (i + clen < n && ((unsigned char)s[i + clen] & 0xc0) == 0x80)
					clen++;
			if (o + clen > DIAG_QUOTE_MAX)
				break;
			memcpy(buf + o, s + i, clen);
			o += clen;
			i += clen;
		} else {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
			i++;
		}
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

void pol_out_init(struct pol_out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->want = 0;
	if (cap)
		buf[0] = '\0';
}

void pol_out_mem(struct pol_out *o, const char *s, size_t n)
{
	size_t room, take;

	/* Once something did not fit, nothing more is written: a later short piece must not
	 * appear after a cut one. */
	if (o->want == o->len && o->cap > 0) {
		room = o->cap - 1 - o->len;
		take = n < room ? n : room;
		if (take < n)
			while (take > 0 && ((unsigned char)s[take] & 0xc0) == 0x80)
				take--;
		memcpy(o->buf + o->len, s, take);
		o->len += take;
		o->buf[o->len] = '\0';
	}
	o->want += n;
}

void pol_out_str(struct pol_out *o, const char *s)
{
	pol_out_mem(o, s, strlen(s));
}

void pol_out_fmt(struct pol_out *o, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	pol_out_mem(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void pol_out_quoted(struct pol_out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;

	if (!s) {
		pol_out_str(o, "null");
		return;
	}
	pol_out_mem(o, "'", 1);
	run = s;
	for (size_t left = strlen(s); *s; s++, left--) {
		unsigned char c = (unsigned char)*s;
		char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
		size_t l = c >= 0x80 ? utf8_char_len((const unsigned char *)s, left) : 1;

		if (l > 1) { /* a whole valid UTF-8 character passes as it is */
			s += l - 1;
			left -= l - 1;
			continue;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			continue;
		pol_out_mem(o, run, (size_t)(s - run));
		if (c == '\'' || c == '\\') {
			esc[1] = (char)c;
			pol_out_mem(o, esc, 2);
		} else {
			pol_out_mem(o, esc, 4);
		}
		run = s + 1;
	}
	pol_out_mem(o, run, (size_t)(s - run));
	pol_out_mem(o, "'", 1);
}

void pol_out_ellipsis(struct pol_out *o)
{
	if (o->want == o->len || o->cap < 4)
		return;
	o->len = o->len + 3 < o->cap ? o->len : o->cap - 4;
	while (o->len > 0 && ((unsigned char)o->buf[o->len] & 0xc0) == 0x80)
		o->len--;
	memcpy(o->buf + o->len, "...", 4);
	o->len += 3;
}

void pol_out_sanitized(struct pol_out *o, const char *s)
{
	const char *run = s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t l = utf8_char_len((const unsigned char *)s + i, n - i);

		if (l && c >= 0x20 && c != 0x7f) {
			i += l;
			continue;
		}
		pol_out_mem(o, run, (size_t)(s + i - run));
		pol_out_mem(o, "?", 1);
		i++;
		run = s + i;
	}
	pol_out_mem(o, run, (size_t)(s + n - run));
}
