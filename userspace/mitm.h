/* mitm: TLS interception of one provider connection. Terminates the client's TLS with a leaf
 * minted for its SNI, opens TLS to the provider verified against the trust store, and proxies
 * HTTP/1.1 between the two, exposing every exchange to the hook as it streams.
 * Owns both SSL objects and the plaintext buffers; borrows the connection's sockets. */
#ifndef MODELUX_MITM_H
#define MODELUX_MITM_H

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct conn_end;

/* mitm_start - take over <c> (ClientHello still unread in its socket) and begin the client
 * handshake. On failure the connection is closed. */
void mitm_start(struct conn *c);

/* mitm_event - epoll reported <events> on one end of an intercepted connection. */
void mitm_event(struct conn *c, struct conn_end *e, uint32_t events);

/* mitm_free - release the interception state (called from conn_close). */
void mitm_free(struct conn *c);

#endif
