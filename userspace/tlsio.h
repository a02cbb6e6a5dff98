/* tlsio: plaintext buffers and non-blocking OpenSSL reads/writes shared by both TLS ends of an
 * intercepted flow (the client side and the pooled provider connections). An empty buffer holds
 * no memory, so idle connections cost only their SSL objects. Owns the buffers' memory. */
#ifndef MODELUX_TLSIO_H
#define MODELUX_TLSIO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#define MBUF_DEFAULT 16384
#define MBUF_MAX (256 * 1024) /* the largest a buffer grows to (an oversized head) */

struct mbuf {
	char *p;
	size_t len, cap;
};

/* mbuf_room - bytes that fit without growing beyond the default size. */
size_t mbuf_room(const struct mbuf *b);

/* mbuf_put - append <n> bytes, growing up to MBUF_MAX. false when they do not fit or no memory. */
bool mbuf_put(struct mbuf *b, const void *p, size_t n);

/* mbuf_tail - make room for <n> more bytes (growing up to MBUF_MAX) and return where they go;
 * commit them with mbuf_commit. NULL when impossible. */
char *mbuf_tail(struct mbuf *b, size_t n);
void mbuf_commit(struct mbuf *b, size_t n);

/* mbuf_consume - drop <n> bytes from the front; an emptied buffer is freed. */
void mbuf_consume(struct mbuf *b, size_t n);

void mbuf_free(struct mbuf *b);

/* tls_read_into - SSL_read into <b> until it would block or <b> holds <limit> bytes.
 * Returns 1 on progress, 0 when nothing moved, -1 on a TLS error (the reason is on the OpenSSL
 * error queue); sets *<eof> when the peer closed (with or without close_notify), and clears
 * *<readable> when the socket ran dry: with edge-triggered epoll, reading again before the next
 * event would only cost a syscall that fails with EAGAIN. */
int tls_read_into(SSL *s, struct mbuf *b, size_t limit, bool *eof, bool *readable);

/* tls_tune - settings for every proxied SSL: read whole socket buffers at once (read-ahead)
 * instead of a record header and body per syscall, partial and moving writes, no idle buffers. */
void tls_tune(SSL *s);

/* tls_write_from - SSL_write what <b> holds until it would block. 1 progress, 0 none, -1 error. */
int tls_write_from(SSL *s, struct mbuf *b);

#endif
