/* h2conv: header translation for a proxy that serves an HTTP/2 client over an HTTP/1.1 upstream:
 * an h2 request head to HTTP/1.1 request fields, an HTTP/1.1 response head to h2 fields.
 * Owns nothing: results point into the inputs or into the caller's scratch buffer. */
#ifndef MODELUX_H2CONV_H
#define MODELUX_H2CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "h1.h"
#include "h2conn.h"

/* h2conv_request_to_h1 - the header fields of the HTTP/1.1 request that carries the h2 request
 * <h>, written to <out> (<cap> entries): "Host" first, from :authority (or from the request's
 * single host field when :authority is absent), then <h>'s fields in order, without
 * connection-specific ones (connection, keep-alive, proxy-connection, transfer-encoding, upgrade,
 * te) and without host; every cookie field is joined into one with "; " (RFC 9113 section
 * 8.2.3) at the place of the first, in <scratch> (<scratch_cap> bytes) when there are several.
 * The request line is <h>->method and <h>->path. Framing is the caller's: keep content-length
 * (H1_FRAMING_VERBATIM) when present, else chunked, or none when h->end_stream.
 * Returns the number of fields, -EINVAL when there is no authority to make Host from, a host
 * field contradicts :authority, or <h> is a CONNECT or has no path; -E2BIG when <cap> or
 * <scratch_cap> is too small. <err> (may be NULL) says why. */
int h2conv_request_to_h1(const struct h2_head *h, struct h1_header *out, size_t cap, char *scratch,
			 size_t scratch_cap, char *err, size_t errlen);

/* h2conv_response_from_h1 - the h2 response fields for the parsed HTTP/1.1 response head <h>
 * (status: h->status), written to <out> (<cap> entries) in order: names lowercased into
 * <scratch> (<scratch_cap> bytes), values pointing into <h>'s buffer; Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding, Upgrade, TE and every field named in a Connection field
 * are dropped. Content-Length is kept (HTTP/2 checks DATA against it). Returns the number of
 * fields, or -E2BIG when <cap> or <scratch_cap> is too small; <err> (may be NULL) says why. */
int h2conv_response_from_h1(const struct h1_head *h, struct http_field *out, size_t cap,
			    char *scratch, size_t scratch_cap, char *err, size_t errlen);

/* h2conv_named_in_connection - whether a Connection field of <h> lists <name> (<len> bytes;
 * case-insensitive): such a field describes the hop, not the message, and is not forwarded. */
bool h2conv_named_in_connection(const struct h1_head *h, const char *name, size_t len);

#endif
