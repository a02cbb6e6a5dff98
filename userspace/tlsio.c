/* tlsio: see tlsio.h. */
#include "tlsio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

size_t mbuf_room(const struct mbuf *b)
{
	return b->len < MBUF_DEFAULT ? MBUF_DEFAULT - b->len : 0;
}

char *mbuf_tail(struct mbuf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : MBUF_DEFAULT;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (cap > MBUF_MAX)
			return NULL;
		p = realloc(b->p, cap);
		if (!p)
			return NULL;
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

void mbuf_commit(struct mbuf *b, size_t n)
{
	b->len += n;
}

bool mbuf_put(struct mbuf *b, const void *p, size_t n)
{
	char *t = mbuf_tail(b, n);

	if (!t)
		return false;
	memcpy(t, p, n);
	b->len += n;
	return true;
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void mbuf_consume(struct mbuf *b, size_t n)
{
	if (n >= b->len) {
		/* Idle connections hold no plaintext buffers. */
		mbuf_free(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void tls_tune(SSL *s)
{
	SSL_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				SSL_MODE_RELEASE_BUFFERS);
	SSL_set_read_ahead(s, 1);
	/* Many peers close without close_notify after their last message: that is an end, not an
	 * error (truncation is still caught by HTTP framing). */
	SSL_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

int tls_read_into(SSL *s, struct mbuf *b, size_t limit, bool *eof, bool *readable)
{
	int n, progress = 0;

	if (*eof)
		return 0;
	while (b->len < limit) {
		size_t want = limit - b->len < MBUF_DEFAULT ? limit - b->len : MBUF_DEFAULT;
		char *t = mbuf_tail(b, want);

		if (!t)
			return -1;
		n = SSL_read(s, t, (int)want);
		if (n > 0) {
			b->len += n;
			progress = 1;
			continue;
		}
		if (b->len == 0)
			mbuf_free(b);
		switch (SSL_get_error(s, n)) {
		case SSL_ERROR_WANT_READ:
			*readable = false;
			return progress;
		case SSL_ERROR_WANT_WRITE:
			return progress;
		case SSL_ERROR_ZERO_RETURN:
			*eof = true;
			return 1;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET)) {
				*eof = true; /* peer closed without close_notify */
				ERR_clear_error();
				return 1;
			}
			return -1;
		default:
			return -1;
		}
	}
	return progress;
}

int tls_write_from(SSL *s, struct mbuf *b)
{
	int n, progress = 0;

	while (b->len) {
		n = SSL_write(s, b->p, (int)b->len);
		if (n > 0) {
			mbuf_consume(b, n);
			progress = 1;
			continue;
		}
		switch (SSL_get_error(s, n)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return progress;
		default:
			return -1;
		}
	}
	return progress;
}
