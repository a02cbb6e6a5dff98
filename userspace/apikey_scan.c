/* apikey_scan: finds provider API keys pasted into request bodies (prompts), in one pass over
 * the bytes as they stream, without a regex engine. Owns the scanner state's carried partial
 * token (wiped when consumed); borrows the fleet secret and every chunk it is fed.
 *
 * The text is cut into maximal runs of key characters ([A-Za-z0-9_-]). A run is reported when it
 * fits one of the known formats as a whole (apikey_rules[]) and looks random (apikey_plausible):
 * a word boundary on both sides is implied by the run being maximal. Extra rules keep ordinary
 * text and binary blobs out:
 *  - runs shorter than APIKEY_SCAN_MIN_TOKEN or longer than APIKEY_SCAN_MAX_TOKEN are skipped;
 *  - a run touching '+' or '/' on either side is inside base64, not a pasted key;
 *  - a run right after a JSON escape (\n, \t, \r, \b, \f, \uXXXX) or a %XX escape starts after
 *    the escape, so "line1\nsk-proj-..." in a JSON body is still found. */

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apikey.h"
#include "apikey_rules.h"

static inline bool is_run_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool plausible_rule(const struct apikey_rule *r, const char *key, size_t len)
{
	bool upper = false, lower = false, digit = false;
	size_t seps = 0, body_len;
	const char *body;

	if (r->min_classes == 0 || len < r->prefix_len)
		return false;
	body = key + r->prefix_len;
	body_len = len - r->prefix_len;
	for (size_t i = 0; i < body_len; i++) {
		char c = body[i];

		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		digit |= c >= '0' && c <= '9';
		seps += c == '-' || c == '_';
	}
	/* Random base64url has about one separator in 32 characters; identifiers in kebab or
	 * snake case have one every few characters. */
	if (seps > body_len / 8 + 1)
		return false;
	return (unsigned)upper + lower + digit >= r->min_classes;
}

bool apikey_plausible(const char *key, size_t len, const struct apikey_format *fmt)
{
	if (!key || !fmt)
		return false;
	for (size_t i = 0; i < apikey_nrules; i++) {
		if (apikey_rules[i].fmt == fmt->id)
			return plausible_rule(&apikey_rules[i], key, len);
	}
	return false;
}

static void record(struct apikey_scan *s, const struct apikey_format *fmt, const char *key,
		   size_t len, uint64_t offset)
{
	char fp[APIKEY_FP_HEX_LEN + 1];
	struct apikey_leak *l;

	if (apikey_fingerprint(s->secret, key, len, fp) < 0) {
		if (!s->error)
			s->error = -EIO;
		return;
	}
	s->occurrences++;
	for (unsigned i = 0; i < s->nleaks; i++) {
		if (memcmp(s->leaks[i].fp, fp, sizeof(fp)) == 0)
			return;
	}
	if (s->nleaks == APIKEY_LEAKS_MAX) {
		s->leaks_truncated = true;
		return;
	}
	l = &s->leaks[s->nleaks++];
	l->fmt = fmt;
	memcpy(l->fp, fp, sizeof(fp));
	apikey_last4(key, len, l->last4);
	l->offset = offset;
}

/* Decide one complete run. <before>/<after> are the bytes around it (0 at the stream's ends). */
static void evaluate(struct apikey_scan *s, const char *run, size_t len, char before, char after,
		     uint64_t offset)
{
	const struct apikey_rule *r;
	size_t skip = 0;

	if (len < APIKEY_SCAN_MIN_TOKEN || len > APIKEY_SCAN_MAX_TOKEN || after == '+' ||
	    after == '/')
		return;
	if (before == '\\' && len > 5 && run[0] == 'u' && is_hex(run[1]) && is_hex(run[2]) &&
	    is_hex(run[3]) && is_hex(run[4]))
		skip = 5;
	else if (before == '\\' && strchr("ntrbf", run[0]))
		skip = 1;
	else if (before == '%' && len > 2 && is_hex(run[0]) && is_hex(run[1]))
		skip = 2;
	else if (before == '+' || before == '/')
		return;
	run += skip;
	len -= skip;
	offset += skip;
	if (len < APIKEY_SCAN_MIN_TOKEN || !strchr("sAgxph", run[0]))
		return;
	r = apikey_rule_match(run, len);
	if (!r || !plausible_rule(r, run, len))
		return;
	record(s, apikey_format_of(r->fmt), run, len, offset);
}

void apikey_scan_init(struct apikey_scan *s, const uint8_t secret[APIKEY_SECRET_LEN])
{
	memset(s, 0, sizeof(*s));
	s->secret = secret;
}

static void end_carried_run(struct apikey_scan *s, char after)
{
	size_t kept = s->carry_len < sizeof(s->carry) ? s->carry_len : sizeof(s->carry);

	if (s->carry_len <= APIKEY_SCAN_MAX_TOKEN)
		evaluate(s, s->carry, s->carry_len, s->before_run, after, s->run_offset);
	OPENSSL_cleanse(s->carry, kept);
	s->carry_len = 0;
	s->in_run = false;
}

static void carry_append(struct apikey_scan *s, const char *data, size_t n)
{
	if (s->carry_len < sizeof(s->carry)) {
		size_t room = sizeof(s->carry) - s->carry_len;

		memcpy(s->carry + s->carry_len, data, n < room ? n : room);
	}
	s->carry_len += n;
}

void apikey_scan_feed(struct apikey_scan *s, const char *data, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return;
	if (s->in_run) {
		while (i < len && is_run_char((unsigned char)data[i]))
			i++;
		carry_append(s, data, i);
		if (i == len) {
			s->offset += len;
			s->after_prev = data[len - 1];
			return;
		}
		end_carried_run(s, data[i]);
	}
	while (i < len) {
		size_t start;
		char before;

		if (!is_run_char((unsigned char)data[i])) {
			i++;
			continue;
		}
		start = i;
		before = start ? data[start - 1] : s->after_prev;
		while (i < len && is_run_char((unsigned char)data[i]))
			i++;
		if (i == len) {
			s->in_run = true;
			s->before_run = before;
			s->run_offset = s->offset + start;
			s->carry_len = 0;
			carry_append(s, data + start, len - start);
			break;
		}
		evaluate(s, data + start, i - start, before, data[i], s->offset + start);
	}
	s->offset += len;
	s->after_prev = data[len - 1];
}

void apikey_scan_finish(struct apikey_scan *s)
{
	if (s->in_run)
		end_carried_run(s, 0);
}

void apikey_scan_text(struct apikey_scan *s, const uint8_t secret[APIKEY_SECRET_LEN],
		      const char *text, size_t len)
{
	apikey_scan_init(s, secret);
	apikey_scan_feed(s, text, len);
	apikey_scan_finish(s);
}
