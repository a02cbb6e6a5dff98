/* exch: one intercepted HTTP exchange (a request and its response) between the client side of a
 * flow (an HTTP/1.1 connection or an HTTP/2 stream, see mitm.h) and a pooled provider connection
 * (see upconn.h). It is the meeting point of the two sides: the request head in neutral form,
 * body bytes queued in each direction, the response head, the hook's view, and the log line.
 * Each side produces into the exchange and schedules the other; neither calls into the other.
 * Owns its heads and queues; freed once both sides have let go. */
#ifndef MODELUX_EXCH_H
#define MODELUX_EXCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bq.h"
#include "hook.h"
#include "xhead.h"

struct agent;
struct conn;
struct upconn;
struct upkey;

/* A side stops producing into a queue holding this much (HTTP/1.1 readers); HTTP/2 producers
 * are bounded by the flow-control credit returned as the other side takes the bytes. */
#define EXCH_QUEUE_CAP (256 * 1024)

struct exch {
	/* client side */
	struct conn *front; /* NULL once the client side let go */
	int32_t fsid;	    /* its HTTP/2 stream; 0 for HTTP/1.1 */
	struct exch *fnext, *fprev;
	/* provider side */
	struct upconn *up;	    /* the provider connection carrying it, while it does */
	int32_t usid;		    /* its HTTP/2 stream there; 0 for HTTP/1.1 */
	struct upkey *waiting;	    /* queued for a provider connection */
	struct exch *unext, *uprev; /* in up's list or in the wait queue */

	struct xhead req, resp;
	struct bq req_q, resp_q;
	bool req_end;	    /* every request body byte has been queued */
	bool req_head_sent; /* provider side: head written / stream opened */
	bool req_all_sent;  /* provider side: body ended */
	uint64_t req_taken; /* request body bytes the provider side took */
	bool resp_has_head;
	bool resp_head_sent; /* client side */
	bool resp_end;	     /* every response body byte has been queued */
	bool aborted;	     /* ended abnormally after the client saw the head: cut it */
	bool local;	     /* answered by us */
	bool held;	     /* the hook waits for the whole body before it decides */
	/* A WebSocket upgrade let through (HTTP/1.1 on both sides). Once the provider answers
	 * 101 (tunnel_open), the request "body" is every byte the client sends and the
	 * response "body" every byte the provider sends, each passed through untouched until
	 * one side closes; any other answer is an ordinary response to a bodiless GET. */
	bool tunnel;
	bool tunnel_open;
	char *path_override; /* a rewritten request target (owned) */
	bool retried;
	bool logged;

	struct agent *ag;
	struct http_exchange hx;
	const char *front_proto;
	char up_proto[12];
	bool up_reused;
	int64_t start_ms, ttfb_ms;
	uint64_t req_bytes, resp_bytes; /* body payload bytes */
	const char *end_note;		/* why it ended abnormally */
};

/* exch_new - an exchange of client-side connection <front> (stream <fsid>, 0 for HTTP/1.1),
 * number <seq> on it, spoken in <proto> ("http/1.1" or "h2"); its request head is <req>
 * (moved in: the caller's is cleared). Returns NULL when out of memory (<req> freed). */
struct exch *exch_new(struct conn *front, int32_t fsid, uint64_t seq, const char *proto,
		      struct xhead *req);

/* exch_start - show the request head to the hook, then send it on through the worker's pool,
 * or answer it locally as the hook says. */
void exch_start(struct exch *ex);

/* Client side, producing the request body. */
bool exch_req_data(struct exch *ex, const char *p, size_t n); /* false: out of memory */
void exch_req_end(struct exch *ex);
/* Provider side took <n> request bytes out of req_q: return the room/credit to the client side. */
void exch_req_taken(struct exch *ex, size_t n);

/* Provider side, producing the response. exch_resp_head moves <head> in. */
void exch_resp_head(struct exch *ex, struct xhead *head);
bool exch_resp_data(struct exch *ex, const char *p, size_t n); /* false: out of memory */
void exch_resp_end(struct exch *ex);
/* Client side took <n> response bytes out of resp_q. */
void exch_resp_taken(struct exch *ex, size_t n);

/* exch_answer - answer locally: <status> with a body, unless a response head already went to
 * the client, in which case the exchange is cut (aborted). */
void exch_answer(struct exch *ex, int status, const char *content_type, const char *body,
		 size_t len);

/* exch_answer_hook - the same with the hook's answer (its extra field included). */
void exch_answer_hook(struct exch *ex, const struct hook_answer *a);

/* exch_fail - the provider side failed (<why> for the log, <text> for the client's 502). */
void exch_fail(struct exch *ex, const char *why, const char *text);

/* exch_front_detach - the client side is done with <ex>: <complete> when the whole response
 * was delivered. Any provider-side work still going on for it is cancelled. May free <ex>. */
void exch_front_detach(struct exch *ex, bool complete);

/* exch_up_detach - the provider side is done with <ex> (response ended, or failed after
 * exch_fail / exch_answer). May free <ex>. */
void exch_up_detach(struct exch *ex);

/* exch_kick_front / exch_kick_up - schedule the side (if still attached). */
void exch_kick_front(struct exch *ex);
void exch_kick_up(struct exch *ex);

#endif
