/* sens_secret: the checks that turn Hyperscan's credential candidates into detections: exact
 * token extents, "looks random, not a placeholder" rules, the JWT header decode, and the value
 * rules of password assignments and database URLs. Owns nothing; borrows the text. Nothing here
 * keeps or returns the bytes it looks at. */

#include <string.h>
#include <strings.h>

#include "sens_int.h"

/* Whether <n> bytes look like generated key material rather than a placeholder: at least
 * <min_classes> of upper/lower/digit, and no run of 6 identical characters (XXXXXX, 000000). */
static bool plausible(const char *p, size_t n, unsigned min_classes)
{
	bool upper = false, lower = false, digit = false;
	size_t run = 1;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		upper |= sens_is_upper(c);
		lower |= sens_is_lower(c);
		digit |= sens_is_digit(c);
		run = (i > 0 && p[i - 1] == p[i]) ? run + 1 : 1;
		if (run >= 6)
			return false;
	}
	return (unsigned)upper + lower + digit >= min_classes;
}

static bool span_if(bool ok, size_t s, size_t e, struct sens_span *out)
{
	if (ok) {
		out->s = s;
		out->e = e;
	}
	return ok;
}

/* A fixed token [s, e) of <prefix_len> + body, not continued by <cont> characters. */
static bool fixed_token(const struct sens_text *t, size_t s, size_t e, size_t prefix_len,
			bool (*cont)(unsigned char), unsigned min_classes, struct sens_span *out)
{
	if (e < t->len && cont(sens_at(t, e)))
		return false;
	return span_if(plausible(t->p + s + prefix_len, e - s - prefix_len, min_classes), s, e, out);
}

bool sens_check_aws_key_id(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	return fixed_token(t, s, e, 4, sens_is_word, 1, out);
}

static bool is_b64_char(unsigned char c)
{
	return sens_is_alnum(c) || c == '+' || c == '/' || c == '=';
}

/* aws_secret_access_key = <40 base64 characters>: the match ends with the value. */
bool sens_check_aws_secret(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	if (e - s < 40 || (e < t->len && is_b64_char(sens_at(t, e))))
		return false;
	return span_if(plausible(t->p + e - 40, 40, 3), s, e, out);
}

bool sens_check_github(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	size_t prefix = t->p[s + 2] == 't' ? strlen("github_pat_") : 4;

	return fixed_token(t, s, e, prefix, sens_is_word, 2, out);
}

static bool is_slack_char(unsigned char c)
{
	return sens_is_alnum(c) || c == '-';
}

/* xoxb-<digits>-<digits>-<secret>: the match ends at the first dash; read the rest here. */
bool sens_check_slack(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	size_t end = e, last_dash = e - 1;

	while (end < t->len && end - s < 256 && is_slack_char(sens_at(t, end))) {
		if (t->p[end] == '-')
			last_dash = end;
		end++;
	}
	if (end - s >= 256 || (end < t->len && sens_at(t, end) == '_'))
		return false;
	/* Long enough to be a token, and a final segment that looks generated. */
	if (end - (s + 5) < 20 || end - last_dash - 1 < 8)
		return false;
	return span_if(plausible(t->p + last_dash + 1, end - last_dash - 1, 2), s, end, out);
}

bool sens_check_stripe(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	return fixed_token(t, s, e, strlen("sk_live_"), sens_is_word, 2, out);
}

bool sens_check_google_oauth(const struct sens_text *t, size_t s, size_t e,
			     struct sens_span *out)
{
	return fixed_token(t, s, e, strlen("GOCSPX-"), sens_is_b64url, 2, out);
}

/* Skips blanks and line breaks after <i>, whether real or JSON escapes (\n \r \t). */
static size_t skip_breaks(const struct sens_text *t, size_t i)
{
	for (;;) {
		unsigned char c = sens_at(t, i);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			i++;
		else if (c == '\\' && strchr("nrt", sens_at(t, i + 1)) && sens_at(t, i + 1))
			i += 2;
		else
			return i;
	}
}

/* A PEM header counts only with key material right after it (after at most a few RFC 1421
 * header lines such as "Proc-Type: 4,ENCRYPTED"): a sentence that merely names the header is
 * not a leaked key. */
bool sens_check_private_key(const struct sens_text *t, size_t s, size_t e,
			    struct sens_span *out)
{
	size_t i = skip_breaks(t, e), run;

	for (int headers = 0; headers < 4; headers++) {
		size_t k = i;

		while (k < t->len && (sens_is_alnum(sens_at(t, k)) || sens_at(t, k) == '-'))
			k++;
		if (k == i || sens_at(t, k) != ':')
			break;
		/* a header line: skip to its end */
		while (k < t->len && sens_at(t, k) != '\n' && sens_at(t, k) != '\\')
			k++;
		i = skip_breaks(t, k);
	}
	for (run = 0; i + run < t->len && is_b64_char(sens_at(t, i + run)) && run < 40; run++)
		;
	return span_if(run >= 40, s, e, out);
}

static int b64url_value(unsigned char c)
{
	if (sens_is_upper(c))
		return c - 'A';
	if (sens_is_lower(c))
		return c - 'a' + 26;
	if (sens_is_digit(c))
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decodes unpadded base64url <in> (<n> chars) into <out> (<cap> bytes); -1 if malformed. */
static long b64url_decode(const char *in, size_t n, char *out, size_t cap)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return (long)o;
}

#define JWT_MAX_HEADER 640 /* base64url characters; real headers are well under 200 */

/* header.payload.signature with a header that decodes to a JSON object naming "alg". */
bool sens_check_jwt(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	char header[JWT_MAX_HEADER];
	const char *p = t->p;
	size_t dot = s, i;
	long hlen;

	while (dot < e && p[dot] != '.')
		dot++;
	if (dot >= e || dot - s > JWT_MAX_HEADER)
		return false;
	for (i = dot + 1; i < t->len && sens_is_b64url((unsigned char)p[i]); i++)
		;
	if (i - dot - 1 < 4 || i >= t->len || p[i] != '.')
		return false;
	for (i++; i < t->len && sens_is_b64url((unsigned char)p[i]); i++)
		;
	hlen = b64url_decode(p + s, dot - s, header, sizeof(header));
	if (hlen < 2 || header[0] != '{' || !memmem(header, (size_t)hlen, "\"alg\"", 5))
		return false;
	return span_if(true, s, i, out);
}

/* ---- password assignments ---- */

static bool placeholder_word(const char *v, size_t n)
{
	static const char *const words[] = {
		"password", "passwd", "your", "example", "placeholder", "redacted", "changeme",
		"secret_here", "undefined", "required", "optional", "hidden", "masked",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wl = strlen(words[i]);

		for (size_t k = 0; k + wl <= n; k++) {
			if (strncasecmp(v + k, words[i], wl) == 0)
				return true;
		}
	}
	return false;
}

/* Whether an unquoted value is code (a variable, attribute or call), not a literal. */
static bool looks_like_code(const char *v, size_t n)
{
	bool ident = true, sep = false, digit = false, upper = false, lower = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '(' || c == '[' || c == '{')
			return true;
		if (!(sens_is_alnum(c) || c == '_' || c == '.'))
			ident = false;
		sep |= c == '_' || c == '.';
		digit |= sens_is_digit(c);
		upper |= sens_is_upper(c);
		lower |= sens_is_lower(c);
	}
	/* db_password, config.secret, self.pw: identifiers joined by '_' or '.'; a literal of
	 * that alphabet would usually mix cases and digits. */
	return ident && sens_is_alpha((unsigned char)v[0]) && sep && !(digit && upper && lower);
}

/* Whether a password value (already delimited) is a real credential. <assigned>: it follows
 * '=' (code, configuration) rather than ':' (also prose). */
static bool password_value_ok(const char *v, size_t n, bool quoted, bool assigned)
{
	unsigned classes;
	bool upper = false, lower = false, digit = false, other = false;
	size_t run = 0;

	if (n < 6 || n > 128)
		return false;
	if (strchr("$%<{*[(", v[0]) || v[0] == 0)
		return false; /* ${VAR}, %s, <password>, {{pw}}, *****, [redacted] */
	if (placeholder_word(v, n))
		return false;
	if (!quoted && looks_like_code(v, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		upper |= sens_is_upper(c);
		lower |= sens_is_lower(c);
		digit |= sens_is_digit(c);
		other |= !sens_is_alnum(c);
		run = (i > 0 && v[i - 1] == v[i]) ? run + 1 : 1;
		if (run >= 5)
			return false; /* xxxxxxxx, 00000000, ........ */
	}
	classes = (unsigned)upper + lower + digit + other;
	if (!quoted && !digit && !other && (!assigned || n < 8))
		return false; /* a bare word in prose: "password: forgotten" */
	return classes >= 2 || n >= 12;
}

/* The match ends after "password", an optional closing quote and ':' / '=' / ':='. */
bool sens_check_password(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p;
	size_t i = e, v, n, k = e;
	bool escaped_quote = false, assigned;
	char quote = 0;

	while (k > s && (p[k - 1] == ' ' || p[k - 1] == '\t'))
		k--;
	assigned = k > s && p[k - 1] == '=';

	while (i < t->len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i < t->len && p[i] == '=')
		return false; /* "==" / "===": a comparison */
	if (i + 1 < t->len && p[i] == '\\' && (p[i + 1] == '"' || p[i + 1] == '\'')) {
		escaped_quote = true; /* \"value\" inside a JSON string */
		quote = p[i + 1];
		i += 2;
	} else if (i < t->len && (p[i] == '"' || p[i] == '\'' || p[i] == '`')) {
		quote = p[i];
		i++;
	}
	v = i;
	while (i < t->len && i - v <= 128) {
		unsigned char c = (unsigned char)p[i];

		if (quote) {
			if (c == '\\' && i + 1 < t->len) {
				if (escaped_quote && p[i + 1] == quote)
					break;
				if (!escaped_quote) {
					i += 2;
					continue;
				}
				if (p[i + 1] == 'n' || p[i + 1] == 't' || p[i + 1] == 'r')
					return false; /* unterminated on this line */
			}
			if (!escaped_quote && c == (unsigned char)quote)
				break;
			if (c == '\n')
				return false;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\\' || c == '"' ||
			   c == '\'' || c == ',' || c == ';' || c == '&' || c == ')' || c == '}' ||
			   c == ']' || c == '<' || c == '>' || c == '`') {
			break;
		}
		i++;
	}
	n = i - v;
	if (quote && (i >= t->len || i - v > 128))
		return false;
	if (!quote && n > 0 && (p[v + n - 1] == '.' || p[v + n - 1] == ':'))
		n--; /* sentence punctuation after the value */
	if (!password_value_ok(p + v, n, quote != 0, assigned))
		return false;
	return span_if(true, s, v + n, out);
}

/* ---- database URLs ---- */

static bool is_host_char(unsigned char c)
{
	return sens_is_alnum(c) || c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
}

/* scheme://user:password@host: the match ends after '@'; the password must be a literal. */
bool sens_check_db_url(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p, *sep = memmem(p + s, e - s, "://", 3);
	size_t user, colon, pass_len, host;

	if (!sep || !sens_is_alnum(sens_at(t, e)))
		return false;
	user = (size_t)(sep - p) + 3;
	colon = user;
	while (colon < e && p[colon] != ':')
		colon++;
	if (colon >= e - 1)
		return false;
	pass_len = e - 1 - (colon + 1);
	if (pass_len == 0 || strchr("$%<{*[", p[colon + 1]) || p[colon + 1] == 0)
		return false; /* ${DB_PASSWORD}, %s, <password>, {pw}, **** */
	for (host = e; host < t->len && is_host_char(sens_at(t, host)); host++)
		;
	return span_if(true, s, host, out);
}
