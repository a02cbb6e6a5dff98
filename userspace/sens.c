/* sens: the names of the sensitivity kinds and secrets, kind lists as written in configuration
 * ("email,card", "all", "pii") and as rendered ("email+card"), and the level a report maps to
 * for tags.sensitivity. Owns nothing; the detectors themselves live in sens_scan.c. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errfmt.h"
#include "sens_int.h"

static const char *const kind_names[SENS_NKINDS] = {
	"email", "phone", "card", "national_id", "iban", "secret",
};

static const char *const secret_names[SENS_NSECRETS] = {
	"aws_key_id", "aws_secret", "github", "slack", "stripe",
	"google_oauth", "private_key", "jwt", "password", "db_url",
};

static bool single_bit(uint32_t v, unsigned nbits)
{
	return v != 0 && (v & (v - 1)) == 0 && v < (1u << nbits);
}

const char *sens_kind_name(enum sens_kind k)
{
	if (!single_bit((uint32_t)k, SENS_NKINDS))
		return NULL;
	return kind_names[sens_kind_index(k)];
}

const char *sens_secret_name(enum sens_secret s)
{
	if (!single_bit((uint32_t)s, SENS_NSECRETS))
		return NULL;
	return secret_names[__builtin_ctz((unsigned)s)];
}

const char *sens_level(const struct sens_report *r)
{
	if (!r)
		return "none";
	if (r->kinds & SENS_SECRET_MASK)
		return "secret";
	if (r->kinds & SENS_PII_MASK)
		return "pii";
	return "none";
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The mask a word names, or 0 with *known false. */
static uint32_t word_mask(const char *w, size_t n, bool *known)
{
	static const struct {
		const char *name;
		uint32_t mask;
	} groups[] = {
		{ "all", SENS_ALL_MASK },
		{ "none", 0 },
		{ "pii", SENS_PII_MASK },
	};

	*known = true;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (strlen(groups[i].name) == n && memcmp(groups[i].name, w, n) == 0)
			return groups[i].mask;
	}
	for (unsigned i = 0; i < SENS_NKINDS; i++) {
		if (strlen(kind_names[i]) == n && memcmp(kind_names[i], w, n) == 0)
			return 1u << i;
	}
	*known = false;
	return 0;
}

int sens_kinds_parse(const char *list, uint32_t *mask, char *err, size_t errlen)
{
	uint32_t m = 0;
	const char *p = list;
	bool any = false;

	if (!list || !mask)
		return err_fmt(err, errlen, -EINVAL, "sensitivity kinds: no list");
	for (;;) {
		const char *w, *end;
		size_t n;
		bool known;
		uint32_t bits;

		while (is_blank(*p))
			p++;
		w = p;
		while (*p && *p != ',' && *p != '+')
			p++;
		end = p;
		while (end > w && is_blank(end[-1]))
			end--;
		n = (size_t)(end - w);
		if (n == 0) {
			if (!any && !*p)
				return err_fmt(err, errlen, -EINVAL, "sensitivity kinds: empty list");
			return err_fmt(err, errlen, -EINVAL,
				       "sensitivity kinds: empty name at column %zu", (size_t)(w - list) + 1);
		}
		bits = word_mask(w, n, &known);
		if (!known)
			return err_fmt(err, errlen, -EINVAL,
				       "sensitivity kinds: unknown kind '%.*s' (known: email, phone, card, "
				       "national_id, iban, secret, pii, all, none)",
				       n > 32 ? 32 : (int)n, w);
		m |= bits;
		any = true;
		if (!*p)
			break;
		p++;
	}
	*mask = m;
	return 0;
}

size_t sens_kinds_render(uint32_t mask, char *out, size_t cap)
{
	size_t need = 0;
	char empty[1];

	if (!out || cap == 0) {
		out = empty;
		cap = 1;
	}
	out[0] = 0;
	mask &= SENS_ALL_MASK;
	if (!mask) {
		snprintf(out, cap, "none");
		return strlen("none");
	}
	for (unsigned i = 0; i < SENS_NKINDS; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (need > 0) {
			if (need + 1 < cap)
				out[need] = '+';
			need++;
		}
		for (const char *c = kind_names[i]; *c; c++, need++) {
			if (need + 1 < cap)
				out[need] = *c;
		}
	}
	out[need < cap ? need : cap - 1] = 0;
	return need;
}
