/* mitm: TLS interception of one provider connection, client side. Terminates the client's TLS
 * with a leaf minted for its SNI and serves HTTP/1.1 or HTTP/2 (ALPN) on it; each request becomes
 * an exchange (exch.h) that the worker's provider pool (upconn.h) carries to the provider over
 * verified TLS. Owns the client-side SSL object, its plaintext buffers and protocol state;
 * borrows the connection's socket. */
#ifndef MODELUX_MITM_H
#define MODELUX_MITM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct conn_end;

/* mitm_start - take over <c> (ClientHello still unread in its socket) and begin the client
 * handshake. On failure the connection is closed. */
void mitm_start(struct conn *c);

/* mitm_event - epoll reported <events> on the client socket of an intercepted connection. */
void mitm_event(struct conn *c, struct conn_end *e, uint32_t events);

/* mitm_free - release the interception state (called from conn_close); exchanges still going
 * on are cut. */
void mitm_free(struct conn *c);

/* mitm_kick - run <c>'s client side at the end of the batch (a response, room, an end). */
void mitm_kick(struct conn *c);

/* mitm_credit - the provider side took <n> request bytes of client stream <sid> (0 for
 * HTTP/1.1): HTTP/2 flow-control credit, or room to read more. */
void mitm_credit(struct conn *c, int32_t sid, size_t n);

#endif
