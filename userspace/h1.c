/* h1: incremental HTTP/1.1 parsing (message heads zero-copy, bodies as a streaming state machine)
 * and serialization of heads and chunks. Owns nothing: borrows the caller's buffers. */
#include "h1.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hexdigit.h"

/* ---- character classes (RFC 9110 section 5.6) ---- */

static bool h1_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool h1_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* h1_in - whether <c> is one of <set>; strchr() alone would also match the terminating NUL. */
static bool h1_in(unsigned char c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

static bool h1_is_tchar(unsigned char c)
{
	return h1_is_alpha(c) || h1_is_digit(c) || h1_in(c, "!#$%&'*+-.^_`|~");
}

static bool h1_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-value bytes, also used for reason phrases and chunk extensions: SP, HTAB, VCHAR and
 * obs-text. Everything else is a control byte, and NUL, CR and LF inside a value are how
 * header injection and smuggling payloads get through less careful parsers. */
static bool h1_is_field_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static unsigned char h1_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool h1_span_ieq(struct h1_span s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (h1_lower((unsigned char)s.p[i]) != h1_lower((unsigned char)lit[i]))
			return false;
	return true;
}

static bool h1_spans_ieq(struct h1_span a, struct h1_span b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (h1_lower((unsigned char)a.p[i]) != h1_lower((unsigned char)b.p[i]))
			return false;
	return true;
}

static bool h1_span_eq(struct h1_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static bool h1_span_is_token(struct h1_span s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!h1_is_tchar((unsigned char)s.p[i]))
			return false;
	return true;
}

/* h1_list_next - the next element of the comma-separated list <*p>..<end>, OWS trimmed, empty
 * elements skipped (RFC 9110 section 5.6.1 asks recipients to tolerate them). Returns false at
 * the end of the list. */
static bool h1_list_next(const char **p, const char *end, struct h1_span *elem)
{
	while (*p < end) {
		const char *s = *p, *e;

		while (s < end && *s != ',')
			s++;
		e = s;
		elem->p = *p;
		*p = s < end ? s + 1 : s;
		while (elem->p < e && h1_is_ows((unsigned char)*elem->p))
			elem->p++;
		while (e > elem->p && h1_is_ows((unsigned char)e[-1]))
			e--;
		elem->len = (size_t)(e - elem->p);
		if (elem->len)
			return true;
	}
	return false;
}

static void h1_vfmt(char *err, size_t errlen, size_t off, const char *fmt, va_list ap)
{
	char what[160];

	if (!err || errlen == 0)
		return;
	vsnprintf(what, sizeof(what), fmt, ap);
	snprintf(err, errlen, "%s at offset %zu", what, off);
}

/* ---- heads ---- */

/* The part of <buf> the head parser may look at, and where it stands. */
struct h1_scan {
	const char *b;
	size_t n;   /* min(len, H1_MAX_HEAD) */
	size_t len; /* bytes the caller has */
	size_t pos;
	char *err;
	size_t errlen;
};

/* What the field lines seen so far imply, checked line by line so that an error is reported at
 * the field that causes it. */
struct h1_fields {
	bool seen_cl, seen_te, seen_host, conn_close, conn_keep_alive;
};

__attribute__((format(printf, 4, 5))) static int h1_fail(struct h1_scan *s, int rc, size_t off,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	h1_vfmt(s->err, s->errlen, off, fmt, ap);
	va_end(ap);
	return rc;
}

/* Out of bytes: either wait for more, or the head has outgrown its cap. */
static int h1_more(struct h1_scan *s)
{
	if (s->len > s->n)
		return h1_fail(s, -E2BIG, s->n, "head larger than %d bytes", H1_MAX_HEAD);
	return 0;
}

/* h1_bad_char - report the byte at the scan position, which is not allowed in <where>. */
static int h1_bad_char(struct h1_scan *s, const char *where)
{
	unsigned char c = (unsigned char)s->b[s->pos];

	if (c == '\n')
		return h1_fail(s, -EBADMSG, s->pos, "bare LF line ending");
	if (c == '\r')
		return h1_fail(s, -EBADMSG, s->pos, "unexpected end of line in %s", where);
	return h1_fail(s, -EBADMSG, s->pos, "invalid character 0x%02x in %s", c, where);
}

/* h1_crlf - consume the CRLF ending a line after <where>. 1 done, 0 need more, < 0 error. */
static int h1_crlf(struct h1_scan *s, const char *where)
{
	if (s->pos >= s->n)
		return h1_more(s);
	if (s->b[s->pos] != '\r') {
		if (s->b[s->pos] == '\n')
			return h1_fail(s, -EBADMSG, s->pos, "bare LF line ending");
		return h1_fail(s, -EBADMSG, s->pos, "invalid character 0x%02x after %s",
			       (unsigned char)s->b[s->pos], where);
	}
	if (s->pos + 1 >= s->n)
		return h1_more(s);
	if (s->b[s->pos + 1] != '\n')
		return h1_fail(s, -EBADMSG, s->pos, "CR not followed by LF");
	s->pos += 2;
	return 1;
}

/* h1_version - "HTTP/1.0" or "HTTP/1.1". Anything else (2.0 has its own framing, 0.9 none) is
 * refused; the mismatch is reported as soon as the first wrong byte is there. */
static int h1_version(struct h1_scan *s, int *version)
{
	static const char prefix[] = "HTTP/1.";
	size_t start = s->pos;

	for (size_t i = 0; i < 8; i++) {
		unsigned char c;

		if (start + i >= s->n)
			return h1_more(s);
		c = (unsigned char)s->b[start + i];
		if (i < 7 ? c != (unsigned char)prefix[i] : (c != '0' && c != '1'))
			return h1_fail(s, -EBADMSG, start, "unsupported HTTP version");
	}
	if (start + 8 >= s->n)
		return h1_more(s);
	if (h1_is_digit((unsigned char)s->b[start + 8]))
		return h1_fail(s, -EBADMSG, start, "unsupported HTTP version");
	*version = s->b[start + 7] == '1' ? 11 : 10;
	s->pos = start + 8;
	return 1;
}

/* h1_valid_host - uri-host [":" port] as found in Host and CONNECT targets: a reg-name made of
 * unreserved characters and pct-encodings, or a bracketed IPv6 literal. Sub-delims (",;=" ...)
 * are legal in a reg-name but never in a real host name, and a comma would let two readers of
 * the policy see two different hosts. */
static bool h1_valid_host(struct h1_span v, bool need_port)
{
	size_t i = 0;

	if (v.len && v.p[0] == '[') {
		for (i = 1; i < v.len && v.p[i] != ']'; i++)
			if (hex_digit_value((unsigned char)v.p[i]) < 0 && v.p[i] != ':' &&
			    v.p[i] != '.')
				return false;
		if (i == v.len || i == 1)
			return false;
		i++;
	} else {
		while (i < v.len &&
		       (h1_is_alpha((unsigned char)v.p[i]) || h1_is_digit((unsigned char)v.p[i]) ||
			h1_in((unsigned char)v.p[i], "-._~%")))
			i++;
		if (i == 0)
			return false;
	}
	if (i == v.len)
		return !need_port;
	if (v.p[i] != ':' || i + 1 == v.len || v.len - i - 1 > 5)
		return false;
	for (i++; i < v.len; i++)
		if (!h1_is_digit((unsigned char)v.p[i]))
			return false;
	return true;
}

/* h1_target_form - classify the request-target and check that it fits the method
 * (RFC 9112 section 3.2). */
static int h1_target_form(struct h1_scan *s, struct h1_head *out, size_t off)
{
	struct h1_span t = out->target;
	bool connect = h1_span_eq(out->method, "CONNECT");
	size_t i;

	if (connect) {
		if (!h1_valid_host(t, true))
			return h1_fail(s, -EBADMSG, off, "CONNECT target is not host:port");
		out->target_form = H1_TARGET_AUTHORITY;
		return 1;
	}
	if (t.p[0] == '/') {
		out->target_form = H1_TARGET_ORIGIN;
		return 1;
	}
	if (t.len == 1 && t.p[0] == '*') {
		if (!h1_span_eq(out->method, "OPTIONS"))
			return h1_fail(s, -EBADMSG, off, "asterisk-form target without OPTIONS");
		out->target_form = H1_TARGET_ASTERISK;
		return 1;
	}
	/* absolute-form: scheme ":" hier-part */
	for (i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.p[i];

		if (c == ':' && i > 0)
			break;
		if (!h1_is_alpha(c) && (i == 0 || (!h1_is_digit(c) && !h1_in(c, "+-."))))
			return h1_fail(s, -EBADMSG, off, "invalid request target");
	}
	if (i == t.len)
		return h1_fail(s, -EBADMSG, off, "invalid request target");
	out->target_form = H1_TARGET_ABSOLUTE;
	return 1;
}

static int h1_request_line(struct h1_scan *s, struct h1_head *out)
{
	const char *b = s->b;
	size_t start;
	int rc;

	/* RFC 9112 section 2.2: ignore empty lines before a request-line; some clients send an
	 * extra CRLF after a POST body. */
	for (;;) {
		if (s->pos >= s->n)
			return h1_more(s);
		if (b[s->pos] != '\r')
			break;
		if ((rc = h1_crlf(s, "empty line")) <= 0)
			return rc;
	}
	start = s->pos;
	while (s->pos < s->n && h1_is_tchar((unsigned char)b[s->pos]))
		s->pos++;
	if (s->pos >= s->n)
		return h1_more(s);
	if (s->pos == start || b[s->pos] != ' ')
		return h1_bad_char(s, "method");
	out->method = (struct h1_span){b + start, s->pos - start};

	start = ++s->pos;
	while (s->pos < s->n && b[s->pos] >= 0x21 && b[s->pos] <= 0x7e)
		s->pos++;
	if (s->pos >= s->n)
		return h1_more(s);
	if (b[s->pos] != ' ')
		return h1_bad_char(s, "request target");
	if (s->pos == start)
		return h1_fail(s, -EBADMSG, start, "empty request target");
	out->target = (struct h1_span){b + start, s->pos - start};
	s->pos++;
	if ((rc = h1_version(s, &out->version)) <= 0)
		return rc;
	if ((rc = h1_crlf(s, "HTTP version")) <= 0)
		return rc;
	return h1_target_form(s, out, start);
}

static int h1_status_line(struct h1_scan *s, struct h1_head *out)
{
	const char *b = s->b;
	size_t start;
	int rc;

	if ((rc = h1_version(s, &out->version)) <= 0)
		return rc;
	if (b[s->pos] != ' ')
		return h1_bad_char(s, "status line");
	start = ++s->pos;
	for (int i = 0; i < 3; i++, s->pos++) {
		if (s->pos >= s->n)
			return h1_more(s);
		if (!h1_is_digit((unsigned char)b[s->pos]))
			return h1_fail(s, -EBADMSG, start, "invalid status code");
		out->status = out->status * 10 + (b[s->pos] - '0');
	}
	if (out->status < 100 || out->status > 599)
		return h1_fail(s, -EBADMSG, start, "status code %d out of range", out->status);
	if (s->pos >= s->n)
		return h1_more(s);
	/* The grammar wants SP even before an empty reason, but servers that omit it are common
	 * and nothing can be smuggled through the absence of a reason. */
	if (b[s->pos] == ' ') {
		start = ++s->pos;
		while (s->pos < s->n && h1_is_field_char((unsigned char)b[s->pos]))
			s->pos++;
		if (s->pos >= s->n)
			return h1_more(s);
		if (b[s->pos] != '\r')
			return h1_bad_char(s, "reason phrase");
		out->reason = (struct h1_span){b + start, s->pos - start};
	} else if (h1_is_digit((unsigned char)b[s->pos])) {
		return h1_fail(s, -EBADMSG, start, "invalid status code");
	} else {
		out->reason = (struct h1_span){b + s->pos, 0};
	}
	return h1_crlf(s, "reason phrase");
}

/* h1_content_length - 1*DIGIT into <*out>; an error when empty, not digits, or beyond int64_t. */
static int h1_content_length(struct h1_scan *s, struct h1_span v, int64_t *out, size_t off)
{
	int64_t n = 0;

	if (v.len == 0)
		return h1_fail(s, -EBADMSG, off, "invalid Content-Length value");
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (!h1_is_digit(c))
			return h1_fail(s, -EBADMSG, off, "invalid Content-Length value");
		if (n > (INT64_MAX - (c - '0')) / 10)
			return h1_fail(s, -EBADMSG, off, "Content-Length too large");
		n = n * 10 + (c - '0');
	}
	*out = n;
	return 1;
}

/* h1_field - apply what the complete field line <f> at offset <off> means for framing and
 * connection handling. Smuggling-relevant conflicts are refused at the line that creates them. */
static int h1_field(struct h1_scan *s, struct h1_head *out, struct h1_fields *st,
		    const struct h1_header *f, size_t off)
{
	bool req = out->kind == H1_REQUEST;
	const char *p = f->value.p, *end = f->value.p + f->value.len;
	struct h1_span e;
	int rc;

	if (h1_span_ieq(f->name, "content-length")) {
		if (st->seen_cl)
			return h1_fail(s, -EBADMSG, off, "duplicate Content-Length");
		if ((rc = h1_content_length(s, f->value, &out->content_length, off)) <= 0)
			return rc;
		if (req && st->seen_te)
			return h1_fail(s, -EBADMSG, off,
				       "Content-Length with Transfer-Encoding in a request");
		st->seen_cl = true;
	} else if (h1_span_ieq(f->name, "transfer-encoding")) {
		/* RFC 9112 section 6.1: framing of an HTTP/1.0 message with it is faulty. */
		if (out->version == 10)
			return h1_fail(s, -EBADMSG, off,
				       "Transfer-Encoding in an HTTP/1.0 message");
		if (st->seen_te)
			return h1_fail(s, -EBADMSG, off, "duplicate Transfer-Encoding");
		if (!h1_span_ieq(f->value, "chunked"))
			return h1_fail(s, -EBADMSG, off, "Transfer-Encoding other than chunked");
		if (req && st->seen_cl)
			return h1_fail(s, -EBADMSG, off,
				       "Transfer-Encoding with Content-Length in a request");
		st->seen_te = true;
	} else if (req && h1_span_ieq(f->name, "host")) {
		if (st->seen_host)
			return h1_fail(s, -EBADMSG, off, "duplicate Host");
		if (f->value.len && !h1_valid_host(f->value, false))
			return h1_fail(s, -EBADMSG, off, "invalid Host value");
		st->seen_host = true;
		out->host = f->value;
	} else if (h1_span_ieq(f->name, "connection")) {
		while (h1_list_next(&p, end, &e)) {
			if (!h1_span_is_token(e))
				return h1_fail(s, -EBADMSG, off, "invalid Connection option");
			if (h1_span_ieq(e, "close"))
				st->conn_close = true;
			else if (h1_span_ieq(e, "keep-alive"))
				st->conn_keep_alive = true;
		}
	} else if (req && h1_span_ieq(f->name, "expect")) {
		/* RFC 9110 section 10.1.1: an HTTP/1.0 request's 100-continue is ignored. */
		while (h1_list_next(&p, end, &e))
			if (out->version == 11 && h1_span_ieq(e, "100-continue"))
				out->expect_100_continue = true;
	} else if (h1_span_ieq(f->name, "upgrade")) {
		out->upgrade = true;
		while (h1_list_next(&p, end, &e))
			if (h1_span_ieq(e, "websocket"))
				out->upgrade_websocket = true;
	}
	return 1;
}

/* h1_field_line - parse one "name: value CRLF" line at the scan position into a new header of
 * <out>, or the empty line ending the head (returns 2). */
static int h1_field_line(struct h1_scan *s, struct h1_head *out, struct h1_fields *st)
{
	const char *b = s->b;
	size_t start = s->pos, name_end, vstart, vend;
	struct h1_header *f;
	unsigned char c;
	int rc;

	if (s->pos >= s->n)
		return h1_more(s);
	c = (unsigned char)b[s->pos];
	if (c == '\r')
		return (rc = h1_crlf(s, "head")) <= 0 ? rc : 2;
	if (c == '\n')
		return h1_fail(s, -EBADMSG, s->pos, "bare LF line ending");
	if (h1_is_ows(c))
		return h1_fail(s, -EBADMSG, s->pos,
			       "obs-fold or whitespace at start of field line");
	if (out->nheaders == H1_MAX_HEADERS)
		return h1_fail(s, -E2BIG, s->pos, "more than %d header fields", H1_MAX_HEADERS);
	while (s->pos < s->n && h1_is_tchar((unsigned char)b[s->pos]))
		s->pos++;
	if (s->pos >= s->n)
		return h1_more(s);
	c = (unsigned char)b[s->pos];
	if (c != ':') {
		if (h1_is_ows(c))
			return h1_fail(s, -EBADMSG, s->pos,
				       "whitespace before colon in field line");
		if (c == '\r')
			return h1_fail(s, -EBADMSG, s->pos, "field line without colon");
		return h1_bad_char(s, "field name");
	}
	if (s->pos == start)
		return h1_fail(s, -EBADMSG, s->pos, "empty field name");
	name_end = s->pos++;
	while (s->pos < s->n && h1_is_ows((unsigned char)b[s->pos]))
		s->pos++;
	vstart = vend = s->pos;
	while (s->pos < s->n && b[s->pos] != '\r') {
		c = (unsigned char)b[s->pos];
		if (!h1_is_field_char(c))
			return h1_bad_char(s, "field value");
		if (!h1_is_ows(c))
			vend = s->pos + 1;
		s->pos++;
	}
	if ((rc = h1_crlf(s, "field value")) <= 0)
		return rc;
	f = &out->headers[out->nheaders++];
	f->name = (struct h1_span){b + start, name_end - start};
	f->value = (struct h1_span){b + vstart, vend - vstart};
	return h1_field(s, out, st, f, start);
}

int h1_parse_head(const char *buf, size_t len, enum h1_kind kind, struct h1_head *out, char *err,
		  size_t errlen)
{
	struct h1_scan s = {buf, len < H1_MAX_HEAD ? len : H1_MAX_HEAD, len, 0, err, errlen};
	struct h1_fields st = {0};
	int rc;

	out->kind = kind;
	out->head_len = 0;
	out->version = 0;
	out->method = out->target = out->reason = out->host = (struct h1_span){NULL, 0};
	out->target_form = 0;
	out->status = 0;
	out->nheaders = 0;
	out->content_length = -1;
	out->chunked = out->keep_alive = out->expect_100_continue = out->upgrade = false;
	out->upgrade_websocket = false;
	if (kind != H1_REQUEST && kind != H1_RESPONSE)
		return h1_fail(&s, -EBADMSG, 0, "unknown message kind");

	rc = kind == H1_REQUEST ? h1_request_line(&s, out) : h1_status_line(&s, out);
	if (rc <= 0)
		return rc;
	while ((rc = h1_field_line(&s, out, &st)) == 1)
		;
	if (rc <= 0)
		return rc;

	if (kind == H1_REQUEST && out->version == 11 && !st.seen_host)
		return h1_fail(&s, -EBADMSG, s.pos - 2, "missing Host in HTTP/1.1 request");
	out->chunked = st.seen_te;
	if (st.seen_te && st.seen_cl)
		out->content_length = -1; /* a response: chunked wins (RFC 9112 section 6.3) */
	if (out->version == 11)
		out->keep_alive = !st.conn_close;
	else
		out->keep_alive = st.conn_keep_alive && !st.conn_close;
	if (st.seen_te && st.seen_cl)
		out->keep_alive = false;
	out->head_len = s.pos;
	return (int)s.pos;
}

const struct h1_header *h1_header_find(const struct h1_head *h, const char *name)
{
	for (size_t i = 0; i < h->nheaders; i++)
		if (h1_span_ieq(h->headers[i].name, name))
			return &h->headers[i];
	return NULL;
}

/* ---- bodies ---- */

/* Where a chunked body's parser stands (struct h1_body's state). */
enum h1_chunk_state {
	H1_CS_SIZE = 1, /* hex digits of a chunk size */
	H1_CS_SIZE_WS,	/* BWS after the size: only ";" may follow */
	H1_CS_EXT,	/* chunk extensions, up to CR */
	H1_CS_SIZE_LF,	/* LF ending the chunk-size line */
	H1_CS_DATA,	/* chunk data */
	H1_CS_DATA_CR,	/* CRLF after the data */
	H1_CS_DATA_LF,
	H1_CS_TRAILER_LINE, /* start of a trailer line, or of the final CRLF */
	H1_CS_TRAILER_NAME,
	H1_CS_TRAILER_VALUE,
	H1_CS_TRAILER_LF,
	H1_CS_END_LF, /* LF of the final CRLF */
	H1_CS_FAILED,
};

void h1_body_init(struct h1_body *b, const struct h1_head *h, const char *req_method,
		  size_t req_method_len)
{
	struct h1_span m = {req_method ? req_method : "", req_method ? req_method_len : 0};

	memset(b, 0, sizeof(*b));
	b->mode = H1_BODY_NONE;
	if (h->kind == H1_RESPONSE) {
		/* RFC 9112 section 6.3, rules 1 and 2, in order. */
		if (h1_span_eq(m, "HEAD") || h->status == 204 || h->status == 304)
			b->mode = H1_BODY_NONE;
		else if (h->status == 101 || (h1_span_eq(m, "CONNECT") && h->status / 100 == 2))
			b->mode = H1_BODY_TUNNEL;
		else if (h->status < 200)
			b->mode = H1_BODY_NONE; /* interim: the final response follows */
		else if (h->chunked)
			b->mode = H1_BODY_CHUNKED;
		else if (h->content_length >= 0)
			b->mode = H1_BODY_LENGTH;
		else
			b->mode = H1_BODY_UNTIL_CLOSE;
	} else if (h->chunked) {
		b->mode = H1_BODY_CHUNKED;
	} else if (h->content_length >= 0) {
		b->mode = H1_BODY_LENGTH;
	}
	if (b->mode == H1_BODY_LENGTH)
		b->remaining = (uint64_t)h->content_length;
	b->state = H1_CS_SIZE;
	b->done = b->mode == H1_BODY_NONE || (b->mode == H1_BODY_LENGTH && b->remaining == 0);
}

void h1_body_init_tunnel(struct h1_body *b)
{
	memset(b, 0, sizeof(*b));
	b->mode = H1_BODY_TUNNEL;
	b->state = H1_CS_SIZE;
}

__attribute__((format(printf, 6, 7))) static int h1_body_fail(struct h1_body *b, char *err,
							      size_t errlen, int rc, uint64_t off,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	h1_vfmt(err, errlen, (size_t)off, fmt, ap);
	va_end(ap);
	b->state = H1_CS_FAILED;
	return rc;
}

/* h1_body_deliver - hand <n> payload bytes to <cb>; a callback error fails the body. */
static int h1_body_deliver(struct h1_body *b, const char *p, size_t n, h1_data_cb cb, void *ctx)
{
	int rc = 0;

	if (n == 0)
		return 0;
	b->payload += n;
	if (cb && (rc = cb(ctx, p, n)) < 0)
		b->state = H1_CS_FAILED;
	return rc < 0 ? rc : 0;
}

/* h1_chunk_byte - advance the chunked grammar by the non-data byte <c> at body offset <off>.
 * Returns 0 or a negative errno. */
static int h1_chunk_byte(struct h1_body *b, unsigned char c, uint64_t off, char *err, size_t errlen)
{
	int d;

	switch (b->state) {
	case H1_CS_SIZE:
	case H1_CS_SIZE_WS:
	case H1_CS_EXT:
		if (++b->line_len > H1_MAX_CHUNK_LINE)
			return h1_body_fail(b, err, errlen, -E2BIG, off,
					    "chunk-size line longer than %d bytes",
					    H1_MAX_CHUNK_LINE);
		if (c == '\r') {
			if (b->state == H1_CS_SIZE && b->line_len == 1)
				return h1_body_fail(b, err, errlen, -EBADMSG, off,
						    "missing chunk size");
			if (b->state == H1_CS_SIZE_WS)
				return h1_body_fail(b, err, errlen, -EBADMSG, off,
						    "whitespace after chunk size");
			b->state = H1_CS_SIZE_LF;
			return 0;
		}
		if (c == '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off, "bare LF line ending");
		if (b->state == H1_CS_EXT) {
			/* Extensions are dropped, so their inner grammar does not matter; what
			 * matters is that the line can only end at CRLF, as for every reader. */
			if (!h1_is_field_char(c))
				return h1_body_fail(b, err, errlen, -EBADMSG, off,
						    "invalid character 0x%02x in chunk extension",
						    c);
			return 0;
		}
		if (b->state == H1_CS_SIZE && (d = hex_digit_value(c)) >= 0) {
			if (b->remaining > (uint64_t)INT64_MAX >> 4)
				return h1_body_fail(b, err, errlen, -EBADMSG, off,
						    "chunk size too large");
			b->remaining = b->remaining << 4 | (uint64_t)d;
			return 0;
		}
		if (b->state == H1_CS_SIZE && b->line_len == 1)
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "invalid character 0x%02x in chunk size", c);
		if (c == ';') {
			b->state = H1_CS_EXT;
			return 0;
		}
		if (h1_is_ows(c)) {
			b->state = H1_CS_SIZE_WS;
			return 0;
		}
		return h1_body_fail(b, err, errlen, -EBADMSG, off,
				    "invalid character 0x%02x in chunk size", c);
	case H1_CS_SIZE_LF:
		if (c != '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off, "CR not followed by LF");
		b->line_len = 0;
		b->state = b->remaining ? H1_CS_DATA : H1_CS_TRAILER_LINE;
		return 0;
	case H1_CS_DATA_CR:
		if (c != '\r')
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "missing CRLF after chunk data");
		b->state = H1_CS_DATA_LF;
		return 0;
	case H1_CS_DATA_LF:
		if (c != '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "missing CRLF after chunk data");
		b->state = H1_CS_SIZE;
		return 0;
	default:
		break;
	}

	/* Trailer section: validated like header fields, then dropped (RFC 9110 section 6.5.1
	 * lets a recipient discard trailers, and the proxy re-frames the body anyway). */
	if (++b->trailer_len > H1_MAX_TRAILER)
		return h1_body_fail(b, err, errlen, -E2BIG, off,
				    "trailer section larger than %d bytes", H1_MAX_TRAILER);
	switch (b->state) {
	case H1_CS_TRAILER_LINE:
		if (c == '\r')
			b->state = H1_CS_END_LF;
		else if (c == '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off, "bare LF line ending");
		else if (h1_is_ows(c))
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "obs-fold or whitespace at start of trailer line");
		else if (h1_is_tchar(c))
			b->state = H1_CS_TRAILER_NAME;
		else
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "invalid character 0x%02x in trailer field name", c);
		return 0;
	case H1_CS_TRAILER_NAME:
		if (c == ':')
			b->state = H1_CS_TRAILER_VALUE;
		else if (h1_is_ows(c))
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "whitespace before colon in trailer line");
		else if (c == '\r' || c == '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "trailer line without colon");
		else if (!h1_is_tchar(c))
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "invalid character 0x%02x in trailer field name", c);
		return 0;
	case H1_CS_TRAILER_VALUE:
		if (c == '\r')
			b->state = H1_CS_TRAILER_LF;
		else if (c == '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off, "bare LF line ending");
		else if (!h1_is_field_char(c))
			return h1_body_fail(b, err, errlen, -EBADMSG, off,
					    "invalid character 0x%02x in trailer field value", c);
		return 0;
	case H1_CS_TRAILER_LF:
	case H1_CS_END_LF:
		if (c != '\n')
			return h1_body_fail(b, err, errlen, -EBADMSG, off, "CR not followed by LF");
		if (b->state == H1_CS_END_LF)
			b->done = true;
		b->state = H1_CS_TRAILER_LINE;
		return 0;
	default:
		return h1_body_fail(b, err, errlen, -EBADMSG, off, "body parser in a bad state");
	}
}

int h1_body_feed(struct h1_body *b, const char *buf, size_t len, h1_data_cb cb, void *ctx,
		 char *err, size_t errlen)
{
	size_t n = len > INT_MAX ? INT_MAX : len, i = 0, take;
	int rc = 0;

	if (b->state == H1_CS_FAILED)
		return h1_body_fail(b, err, errlen, -EBADMSG, b->offset, "body already failed");
	if (b->done)
		return 0;
	switch (b->mode) {
	case H1_BODY_LENGTH:
		i = b->remaining < n ? (size_t)b->remaining : n;
		b->remaining -= i;
		b->done = b->remaining == 0;
		rc = h1_body_deliver(b, buf, i, cb, ctx);
		break;
	case H1_BODY_UNTIL_CLOSE:
	case H1_BODY_TUNNEL:
		i = n;
		rc = h1_body_deliver(b, buf, i, cb, ctx);
		break;
	case H1_BODY_CHUNKED:
		while (i < n && !b->done && rc == 0) {
			if (b->state == H1_CS_DATA) {
				/* Hand over whatever part of the chunk is here: streamed responses
				 * (SSE) must not wait for the end of a chunk. */
				take = b->remaining < n - i ? (size_t)b->remaining : n - i;
				b->remaining -= take;
				if (b->remaining == 0)
					b->state = H1_CS_DATA_CR;
				rc = h1_body_deliver(b, buf + i, take, cb, ctx);
				i += take;
			} else {
				rc = h1_chunk_byte(b, (unsigned char)buf[i], b->offset + i, err,
						   errlen);
				i++;
			}
		}
		break;
	default:
		return h1_body_fail(b, err, errlen, -EBADMSG, b->offset,
				    "body parser in a bad state");
	}
	b->offset += i;
	return rc < 0 ? rc : (int)i;
}

bool h1_body_done(const struct h1_body *b)
{
	return b->done;
}

int h1_body_eof(struct h1_body *b, char *err, size_t errlen)
{
	if (b->done)
		return 0;
	if (b->state != H1_CS_FAILED &&
	    (b->mode == H1_BODY_UNTIL_CLOSE || b->mode == H1_BODY_TUNNEL)) {
		b->done = true;
		return 0;
	}
	if (b->mode == H1_BODY_LENGTH)
		return h1_body_fail(b, err, errlen, -EBADMSG, b->offset,
				    "connection closed with %llu body bytes missing",
				    (unsigned long long)b->remaining);
	return h1_body_fail(b, err, errlen, -EBADMSG, b->offset,
			    "connection closed inside chunked body");
}

/* ---- serialization ---- */

/* An append-only writer over the caller's buffer; once something does not fit it stays full. */
struct h1_out {
	char *buf;
	size_t cap;
	size_t len;
	bool full;
};

static void h1_put(struct h1_out *o, const char *p, size_t n)
{
	if (n == 0)
		return; /* <p> may be NULL for an empty span */
	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void h1_puts(struct h1_out *o, const char *s)
{
	h1_put(o, s, strlen(s));
}

static int h1_out_result(const struct h1_out *o)
{
	return o->full ? -ENOSPC : (int)o->len;
}

static void h1_out_init(struct h1_out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap > INT_MAX ? INT_MAX : cap;
	o->len = 0;
	o->full = false;
}

static bool h1_valid_value(struct h1_span v)
{
	for (size_t i = 0; i < v.len; i++)
		if (!h1_is_field_char((unsigned char)v.p[i]))
			return false;
	return true;
}

static bool h1_valid_header(const struct h1_header *f)
{
	return h1_span_is_token(f->name) && (f->value.len == 0 || f->value.p) &&
	       h1_valid_value(f->value);
}

/* h1_is_hop - whether the field <name> is hop-by-hop: one of the fixed names, or named by a
 * Connection field anywhere in <hdrs> (RFC 9110 section 7.6.1). */
static bool h1_is_hop(struct h1_span name, const struct h1_header *hdrs, size_t n)
{
	static const char *const fixed[] = {
	    "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
	};
	struct h1_span e;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (h1_span_ieq(name, fixed[i]))
			return true;
	for (size_t i = 0; i < n; i++) {
		const char *p = hdrs[i].value.p, *end = p + hdrs[i].value.len;

		if (!h1_span_ieq(hdrs[i].name, "connection"))
			continue;
		while (h1_list_next(&p, end, &e))
			if (h1_spans_ieq(e, name))
				return true;
	}
	return false;
}

/* h1_write_fields - the header list filtered by <opts>, the framing, the extras, final CRLF. */
static int h1_write_fields(struct h1_out *o, const struct h1_header *hdrs, size_t nhdrs,
			   const struct h1_write_opts *opts)
{
	static const struct h1_write_opts verbatim = {.framing = H1_FRAMING_VERBATIM};
	char num[32];

	if (!opts)
		opts = &verbatim;
	if (opts->framing < H1_FRAMING_VERBATIM || opts->framing > H1_FRAMING_CHUNKED)
		return -EINVAL;
	if ((nhdrs && !hdrs) || (opts->nextra && !opts->extra))
		return -EINVAL;
	for (size_t i = 0; i < nhdrs; i++) {
		const struct h1_header *f = &hdrs[i];

		if (!h1_valid_header(f))
			return -EINVAL;
		if (opts->framing != H1_FRAMING_VERBATIM &&
		    (h1_span_ieq(f->name, "content-length") ||
		     h1_span_ieq(f->name, "transfer-encoding")))
			continue;
		if (opts->strip_hop_by_hop && h1_is_hop(f->name, hdrs, nhdrs))
			continue;
		h1_put(o, f->name.p, f->name.len);
		h1_put(o, ": ", 2);
		h1_put(o, f->value.p, f->value.len);
		h1_put(o, "\r\n", 2);
	}
	if (opts->framing == H1_FRAMING_LENGTH) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)opts->content_length);
		h1_puts(o, "Content-Length: ");
		h1_puts(o, num);
		h1_put(o, "\r\n", 2);
	} else if (opts->framing == H1_FRAMING_CHUNKED) {
		h1_puts(o, "Transfer-Encoding: chunked\r\n");
	}
	for (size_t i = 0; i < opts->nextra; i++) {
		const struct h1_header *f = &opts->extra[i];

		if (!h1_valid_header(f))
			return -EINVAL;
		h1_put(o, f->name.p, f->name.len);
		h1_put(o, ": ", 2);
		h1_put(o, f->value.p, f->value.len);
		h1_put(o, "\r\n", 2);
	}
	h1_put(o, "\r\n", 2);
	return h1_out_result(o);
}

int h1_write_request_head(char *buf, size_t cap, struct h1_span method, struct h1_span target,
			  const struct h1_header *hdrs, size_t nhdrs,
			  const struct h1_write_opts *opts)
{
	struct h1_out o;

	if (!method.p || !h1_span_is_token(method) || !target.p || target.len == 0)
		return -EINVAL;
	for (size_t i = 0; i < target.len; i++)
		if (target.p[i] < 0x21 || target.p[i] > 0x7e)
			return -EINVAL;
	h1_out_init(&o, buf, cap);
	h1_put(&o, method.p, method.len);
	h1_put(&o, " ", 1);
	h1_put(&o, target.p, target.len);
	h1_puts(&o, " HTTP/1.1\r\n");
	return h1_write_fields(&o, hdrs, nhdrs, opts);
}

int h1_write_response_head(char *buf, size_t cap, int status, struct h1_span reason,
			   const struct h1_header *hdrs, size_t nhdrs,
			   const struct h1_write_opts *opts)
{
	struct h1_out o;
	char line[16];

	if (status < 100 || status > 599 || (reason.len && !reason.p) || !h1_valid_value(reason))
		return -EINVAL;
	h1_out_init(&o, buf, cap);
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
	h1_puts(&o, line);
	h1_put(&o, reason.p, reason.len);
	h1_put(&o, "\r\n", 2);
	return h1_write_fields(&o, hdrs, nhdrs, opts);
}

int h1_write_chunk(char *buf, size_t cap, const char *data, size_t len)
{
	struct h1_out o;
	char size[24];

	if (len == 0)
		return 0;
	h1_out_init(&o, buf, cap);
	snprintf(size, sizeof(size), "%zx\r\n", len);
	h1_puts(&o, size);
	h1_put(&o, data, len);
	h1_put(&o, "\r\n", 2);
	return h1_out_result(&o);
}

int h1_write_last_chunk(char *buf, size_t cap)
{
	struct h1_out o;

	h1_out_init(&o, buf, cap);
	h1_puts(&o, "0\r\n\r\n");
	return h1_out_result(&o);
}
