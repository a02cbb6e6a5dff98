/* fuzz_apikey: libFuzzer driver for key discovery, classification and the leak scanner.
 * Input: byte 0 seeds the chunk sizes, the rest is the text with every DEL byte (0x7f) removed:
 * the seed corpus writes its made-up keys with a DEL inside so that no secret scanner mistakes
 * the corpus for leaked credentials. Beyond "no crash" it checks what
 * the agent relies on: the scanner finds the same keys with the same fingerprints and offsets
 * however the stream is split; every reported leak is really there (the bytes at its offset
 * classify to its format, look plausible and hash to its fingerprint); output strings are only
 * hex and a short last4, never the key; the carried partial token is wiped; and every key
 * apikey_find() returns points inside the request, trimmed and non-empty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/apikey.c"
#include "../../userspace/apikey_scan.c"

static const uint8_t fuzz_secret[APIKEY_SECRET_LEN] = { 0x5e, 0xc7, 0x3e, 0x71 };

static bool run_char(unsigned char c)
{
	return is_run_char(c);
}

static void check_leaks(const struct apikey_scan *s, const char *data, size_t len)
{
	if (s->nleaks > APIKEY_LEAKS_MAX || s->nleaks > s->occurrences || s->error)
		abort();
	for (unsigned i = 0; i < s->nleaks; i++) {
		const struct apikey_leak *l = &s->leaks[i];
		char fp[APIKEY_FP_HEX_LEN + 1];
		size_t end = l->offset, klen;

		if (l->offset >= len)
			abort();
		while (end < len && run_char((unsigned char)data[end]))
			end++;
		klen = end - l->offset;
		if (apikey_classify(data + l->offset, klen) != l->fmt || l->fmt->ephemeral ||
		    !apikey_plausible(data + l->offset, klen, l->fmt))
			abort();
		if (apikey_fingerprint(fuzz_secret, data + l->offset, klen, fp) < 0 ||
		    strcmp(fp, l->fp) != 0)
			abort();
		if (strlen(l->fp) != APIKEY_FP_HEX_LEN ||
		    strspn(l->fp, "0123456789abcdef") != APIKEY_FP_HEX_LEN)
			abort();
		if (strlen(l->last4) != 4 || memcmp(l->last4, data + end - 4, 4) != 0)
			abort();
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(s->leaks[j].fp, l->fp) == 0 || s->leaks[j].offset >= l->offset)
				abort();
		}
	}
	for (size_t i = 0; i < sizeof(s->carry); i++) {
		if (s->carry[i])
			abort();
	}
}

static void check_same(const struct apikey_scan *a, const struct apikey_scan *b)
{
	if (a->occurrences != b->occurrences || a->nleaks != b->nleaks ||
	    a->leaks_truncated != b->leaks_truncated || a->offset != b->offset)
		abort();
	for (unsigned i = 0; i < a->nleaks; i++) {
		if (strcmp(a->leaks[i].fp, b->leaks[i].fp) ||
		    a->leaks[i].offset != b->leaks[i].offset || a->leaks[i].fmt != b->leaks[i].fmt)
			abort();
	}
}

static void check_ref(const struct apikey_ref *r, const char *lo, const char *hi)
{
	if (r->len == 0 || r->key < lo || r->key + r->len > hi || !r->where)
		abort();
	if (r->loc != APIKEY_LOC_QUERY_KEY && (is_blank(r->key[0]) || is_blank(r->key[r->len - 1])))
		abort();
	if (r->pct_encoded != (r->loc == APIKEY_LOC_QUERY_KEY && memchr(r->key, '%', r->len)))
		abort();
}

/* The input as header lines "name: value", one per '\n'. */
static void fuzz_find(const char *data, size_t len)
{
	struct http_field fields[16];
	struct apikey_ref refs[4];
	size_t nfields = 0, n, pos = 0;
	char *path = malloc(len + 1);

	while (pos < len && nfields < 16) {
		const char *line = data + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		const char *colon = memchr(line, ':', llen);

		if (colon) {
			size_t name_len = (size_t)(colon - line);

			fields[nfields++] = (struct http_field){ line, colon + 1, name_len,
								 llen - name_len - 1 };
		}
		pos += llen + 1;
	}
	n = apikey_find(NULL, fields, nfields, refs, 4);
	for (size_t i = 0; i < n && i < 4; i++) {
		struct apikey_id id;

		check_ref(&refs[i], data, data + len);
		if (apikey_identify(fuzz_secret, &refs[i], &id) < 0)
			abort();
	}
	if (!path)
		return;
	memcpy(path, data, len);
	path[len] = '\0';
	n = apikey_find(path, NULL, 0, refs, 4);
	for (size_t i = 0; i < n && i < 4; i++) {
		struct apikey_id id;
		int rc;

		check_ref(&refs[i], path, path + strlen(path));
		rc = apikey_identify(fuzz_secret, &refs[i], &id);
		if (rc < 0 && !(rc == -EMSGSIZE && refs[i].len > APIKEY_DECODE_MAX))
			abort();
	}
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	struct apikey_scan whole, split;
	const char *data;
	size_t len, off = 0;
	uint8_t seed;

	char *text;

	if (size < 1)
		return 0;
	seed = buf[0];
	text = malloc(size);
	if (!text)
		return 0;
	len = 0;
	for (size_t i = 1; i < size; i++) {
		if (buf[i] != 0x7f)
			text[len++] = (char)buf[i];
	}
	data = text;

	apikey_classify(data, len);
	apikey_scan_text(&whole, fuzz_secret, data, len);
	check_leaks(&whole, data, len);

	apikey_scan_init(&split, fuzz_secret);
	while (off < len) {
		size_t chunk = 1 + (seed + off * 7) % 61;

		if (chunk > len - off)
			chunk = len - off;
		apikey_scan_feed(&split, data + off, chunk);
		off += chunk;
	}
	apikey_scan_finish(&split);
	check_same(&whole, &split);

	fuzz_find(data, len);
	free(text);
	return 0;
}
