/* h1: incremental HTTP/1.1 parsing (message heads zero-copy, bodies as a streaming state machine)
 * and serialization of heads and chunks. Owns nothing: borrows the caller's buffers. */
#ifndef MODELUX_H1_H
#define MODELUX_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps. A head (start line, header fields, final CRLF) larger than H1_MAX_HEAD or with more than
 * H1_MAX_HEADERS fields is refused with -E2BIG; chunked bodies cap each chunk-size line
 * (extensions included) and the whole trailer section. */
#ifndef H1_MAX_HEAD
#define H1_MAX_HEAD 65536
#endif
#ifndef H1_MAX_HEADERS
#define H1_MAX_HEADERS 128
#endif
#ifndef H1_MAX_CHUNK_LINE
#define H1_MAX_CHUNK_LINE 4096
#endif
#ifndef H1_MAX_TRAILER
#define H1_MAX_TRAILER 16384
#endif

enum h1_kind {
	H1_REQUEST = 1,
	H1_RESPONSE = 2,
};

/* A run of bytes inside the caller's buffer; not NUL-terminated. p is NULL when absent. */
struct h1_span {
	const char *p;
	size_t len;
};

struct h1_header {
	struct h1_span name;  /* a token, case as received */
	struct h1_span value; /* leading and trailing SP/HTAB removed; may be empty */
};

enum h1_target_form {
	H1_TARGET_ORIGIN = 1, /* "/path?query" */
	H1_TARGET_ABSOLUTE,   /* "scheme:..." (the Host field is still the one reported in host) */
	H1_TARGET_AUTHORITY,  /* "host:port", CONNECT only */
	H1_TARGET_ASTERISK,   /* "*", OPTIONS only */
};

/* A parsed head. Every span points into the buffer given to h1_parse_head(), which must outlive
 * the struct's use. Fields marked "requests" / "responses" are zero for the other kind. */
struct h1_head {
	enum h1_kind kind;
	size_t head_len; /* bytes of the head, final CRLF included (= the parse result) */
	int version;	 /* 10 or 11 */
	/* requests; methods are case-sensitive */
	struct h1_span method;
	struct h1_span target;
	enum h1_target_form target_form;
	/* responses: status is 100..599, reason as received and possibly empty */
	int status;
	struct h1_span reason;
	size_t nheaders;
	struct h1_header headers[H1_MAX_HEADERS];
	/* -1 when absent, or when overridden by Transfer-Encoding in a response (see below) */
	int64_t content_length;
	bool chunked; /* Transfer-Encoding: chunked */
	/* The head allows another message on the connection; an UNTIL_CLOSE or TUNNEL body
	 * (h1_body_init) still ends it. */
	bool keep_alive;
	bool expect_100_continue; /* "Expect: 100-continue" in an HTTP/1.1 request */
	bool upgrade;		  /* an Upgrade field is present */
	bool upgrade_websocket;	  /* ... and it names "websocket" (RFC 6455) */
	/* requests: the Host field value; p NULL when absent (HTTP/1.0 only) */
	struct h1_span host;
};

/* h1_parse_head - parse the head at the start of <buf> (<len> bytes received so far) as <kind>.
 * Returns the head length (> 0) when complete, 0 when more bytes are needed, -EBADMSG when
 * malformed and -E2BIG when larger than H1_MAX_HEAD or H1_MAX_HEADERS; on error <err> (may be
 * NULL) says what and at which byte offset of <buf>. <out> is only meaningful on success.
 * The parse restarts from <buf>'s first byte on every call and never reads beyond H1_MAX_HEAD
 * bytes. Bytes after the head (body, the next pipelined message) are not looked at. Syntax
 * errors are reported as soon as the offending byte has arrived: any prefix of a message
 * either needs more or gets the same result as the whole.
 *
 * Strictness, chosen against request smuggling and response splitting:
 *  - lines end in CRLF only; a bare LF or a CR not followed by LF is an error;
 *  - HTTP/1.0 and HTTP/1.1 only; single SP between start-line parts (a response may omit the
 *    SP and reason after the status code); requests may be preceded by empty lines (ignored);
 *  - field names are tokens, with no whitespace before the colon; obs-fold is an error; values
 *    may contain SP, HTAB, visible ASCII and obs-text (0x80-0xff), no other control byte;
 *  - Content-Length: 1*DIGIT fitting int64_t, at most one field (even with equal values);
 *  - Transfer-Encoding: at most one field whose value is exactly "chunked" (any case): other
 *    codings cannot be kept once the proxy strips this hop-by-hop field; refused in HTTP/1.0;
 *  - requests with both Transfer-Encoding and Content-Length are errors. Responses with both
 *    are accepted as RFC 9112 section 6.3 says (chunked wins, content_length = -1) but get
 *    keep_alive = false, so the upstream connection is not reused after a dubious message;
 *  - requests: HTTP/1.1 needs exactly one Host field, HTTP/1.0 at most one; its value must look
 *    like host[:port]; CONNECT needs an authority-form target, "*" only goes with OPTIONS;
 *    the target is visible ASCII only;
 *  - responses: status 100..599. */
int h1_parse_head(const char *buf, size_t len, enum h1_kind kind, struct h1_head *out, char *err,
		  size_t errlen);

/* h1_header_find - the first field of <h> named <name> (compared case-insensitively), or NULL. */
const struct h1_header *h1_header_find(const struct h1_head *h, const char *name);

/* How a message body is delimited (RFC 9112 section 6.3). */
enum h1_body_mode {
	H1_BODY_NONE = 1,    /* no body: done at once */
	H1_BODY_LENGTH,	     /* Content-Length bytes */
	H1_BODY_CHUNKED,     /* chunked coding, decoded; trailers validated and dropped */
	H1_BODY_UNTIL_CLOSE, /* response without framing: everything until the peer closes */
	H1_BODY_TUNNEL,	     /* 101 or 2xx to CONNECT: what follows is not HTTP; passed through */
};

/* Receives decoded payload as soon as it arrives (a chunk's bytes are handed over before the
 * chunk ends). Return 0 to go on, or a negative errno to stop: h1_body_feed() returns it. */
typedef int (*h1_data_cb)(void *ctx, const char *data, size_t len);

/* Body decoder state; read mode, payload and done, treat the rest as private. */
struct h1_body {
	enum h1_body_mode mode;
	int state;	    /* chunked grammar position, or failed */
	uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in the chunk being read */
	uint64_t payload;   /* decoded payload bytes delivered so far */
	uint64_t offset;    /* body bytes consumed so far; error offsets count from the first */
	size_t line_len;    /* bytes of the current chunk-size line */
	size_t trailer_len; /* bytes of the trailer section so far */
	bool done;	    /* the message ended; further bytes belong to the next one */
};

/* h1_body_init - decide the framing of the body following the parsed head <h>. For a response,
 * <req_method>/<req_method_len> is the method of the request it answers (HEAD and CONNECT
 * matter); ignored for requests (may be NULL/0). A request without Content-Length or
 * Transfer-Encoding has no body; a response without either is read until close. */
void h1_body_init(struct h1_body *b, const struct h1_head *h, const char *req_method,
		  size_t req_method_len);

/* h1_body_feed - consume body bytes from <buf> (<len> bytes), calling <cb> (may be NULL) with
 * each run of decoded payload. Partial lines are kept in <b>, so every byte up to the end of the
 * message is consumed and never has to be presented again. Returns the bytes consumed: < len only
 * when the message ended (h1_body_done()) and the rest belongs to the next message, or when
 * <len> exceeds INT_MAX (call again). Returns -EBADMSG when malformed, -E2BIG when a chunk-size
 * line or the trailer section is over its cap (<err> gives the offset counted from the first
 * body byte), or the callback's negative value; after an error <b> stays failed. */
int h1_body_feed(struct h1_body *b, const char *buf, size_t len, h1_data_cb cb, void *ctx,
		 char *err, size_t errlen);

/* h1_body_done - true once the whole body has been consumed. */
bool h1_body_done(const struct h1_body *b);

/* h1_body_init_tunnel - <b> passes every byte through until the peer closes (h1_body_eof): the
 * client's side of a connection switched to another protocol after a 101. */
void h1_body_init_tunnel(struct h1_body *b);

/* h1_body_eof - the peer closed the connection: ends an UNTIL_CLOSE or TUNNEL body (returns 0);
 * for a body that is not complete returns -EBADMSG (truncated message) and fills <err>. */
int h1_body_eof(struct h1_body *b, char *err, size_t errlen);

enum h1_framing {
	H1_FRAMING_VERBATIM = 1, /* Content-Length / Transfer-Encoding copied from the list */
	H1_FRAMING_NONE,	 /* neither is written: a bodiless message */
	H1_FRAMING_LENGTH,	 /* "Content-Length: <content_length>" */
	H1_FRAMING_CHUNKED,	 /* "Transfer-Encoding: chunked"; then use h1_write_chunk() */
};

struct h1_write_opts {
	enum h1_framing framing; /* except VERBATIM, the list's CL and TE fields are dropped */
	uint64_t content_length; /* for H1_FRAMING_LENGTH */
	/* Drop Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade and every
	 * field named in a Connection field of the list. */
	bool strip_hop_by_hop;
	/* written after the list, unfiltered: e.g. "Connection: close" */
	const struct h1_header *extra;
	size_t nextra;
};

/* h1_write_request_head / h1_write_response_head - write an HTTP/1.1 head into <buf> (<cap>
 * bytes): start line, the fields of <hdrs> (<nhdrs>) filtered by <opts> (NULL: verbatim, no
 * stripping), framing, <opts>->extra, final CRLF. Every part is validated like the parser does,
 * so nothing written can split a message. Returns the length, -EINVAL for an invalid method,
 * target, status, reason, name or value, or -ENOSPC when <cap> (or INT_MAX) is too small. */
int h1_write_request_head(char *buf, size_t cap, struct h1_span method, struct h1_span target,
			  const struct h1_header *hdrs, size_t nhdrs,
			  const struct h1_write_opts *opts);
int h1_write_response_head(char *buf, size_t cap, int status, struct h1_span reason,
			   const struct h1_header *hdrs, size_t nhdrs,
			   const struct h1_write_opts *opts);

/* h1_write_chunk - write <len> bytes of <data> as one chunk ("<hex>\r\n<data>\r\n"). Writes
 * nothing and returns 0 for <len> 0, since an empty chunk would end the body. Returns the
 * length or -ENOSPC. */
int h1_write_chunk(char *buf, size_t cap, const char *data, size_t len);

/* h1_write_last_chunk - write the last chunk and an empty trailer section ("0\r\n\r\n"). */
int h1_write_last_chunk(char *buf, size_t cap);

#endif
