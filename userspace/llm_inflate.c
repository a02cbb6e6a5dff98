/* llm_inflate: Content-Encoding gzip and deflate (zlib) decoding of response bodies, as they
 * stream, so compressed answers are read like plain ones. Owns a zlib stream; borrows input and
 * hands output to a sink in stack-sized pieces. Output is capped (LLM_DECODED_CAP) against
 * decompression bombs. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "llm_int.h"

struct llm_inflate {
	z_stream zs;
	bool failed, done;
	uint64_t out_total;
};

enum llm_coding llm_coding_parse(const char *v, size_t len)
{
	while (len && isspace((unsigned char)*v))
		v++, len--;
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	if (len == 0 || (len == 8 && strncasecmp(v, "identity", 8) == 0))
		return LLM_CODING_IDENTITY;
	if ((len == 4 && strncasecmp(v, "gzip", 4) == 0) ||
	    (len == 6 && strncasecmp(v, "x-gzip", 6) == 0))
		return LLM_CODING_GZIP;
	if (len == 7 && strncasecmp(v, "deflate", 7) == 0)
		return LLM_CODING_DEFLATE;
	return LLM_CODING_UNKNOWN; /* br, zstd, or a list of codings */
}

struct llm_inflate *llm_inflate_new(enum llm_coding coding)
{
	struct llm_inflate *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	/* 16 + window bits: gzip wrapper; plain window bits: zlib wrapper (HTTP "deflate") */
	if (inflateInit2(&z->zs, coding == LLM_CODING_GZIP ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

int llm_inflate_feed(struct llm_inflate *z, const char *p, size_t len,
		     void (*sink)(void *ctx, const char *p, size_t len), void *ctx)
{
	char out[16384];

	if (z->failed)
		return -1;
	while (len > 0 && !z->done) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		int rc;

		z->zs.next_in = (Bytef *)(uintptr_t)p;
		z->zs.avail_in = chunk;
		do {
			size_t got;

			z->zs.next_out = (Bytef *)out;
			z->zs.avail_out = sizeof(out);
			rc = inflate(&z->zs, Z_NO_FLUSH);
			got = sizeof(out) - z->zs.avail_out;
			z->out_total += got;
			if (z->out_total > LLM_DECODED_CAP) {
				z->failed = true;
				return -1;
			}
			/* what decoded before an error is passed on: the same however the input
			 * was split */
			if (got)
				sink(ctx, out, got);
			if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
				z->failed = true;
				return -1;
			}
			if (rc == Z_STREAM_END) {
				z->done = true; /* anything after the stream's end is ignored */
				break;
			}
		} while (z->zs.avail_out == 0 || (z->zs.avail_in > 0 && rc != Z_BUF_ERROR));
		p += chunk;
		len -= chunk;
	}
	return 0;
}

void llm_inflate_free(struct llm_inflate *z)
{
	if (!z)
		return;
	inflateEnd(&z->zs);
	free(z);
}
