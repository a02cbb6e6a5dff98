/* ilog: the durable intercept log - one SQLite row per intercepted exchange, and the API-key
 * inventory kept in the same transaction. Owns a bounded queue, a writer thread and its database
 * connection; borrows nothing past a call (records are copied in by value).
 *
 * Only key fingerprints (HMAC-SHA256 hex), the last 4 characters, the format name and the
 * sanctioned/shadow state pass through here: a raw API key has no field, and a fingerprint that is
 * not exactly 64 lowercase hex digits is refused (so a raw key put in its place never reaches
 * disk). docs/intercept-log.md describes the schema, the durability rule and disk-full behaviour.
 */
#ifndef MODELUX_ILOG_H
#define MODELUX_ILOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Field capacities, NUL included. Longer strings are truncated at a UTF-8 boundary by ilog_set. */
#define ILOG_HOST_LEN 128
#define ILOG_EXE_LEN 512
#define ILOG_USER_LEN 64
#define ILOG_PROVIDER_LEN 32
#define ILOG_ENDPOINT_LEN 256
#define ILOG_MODEL_LEN 128
#define ILOG_TAGS_LEN 512
#define ILOG_FP_LEN 65 /* 64 lowercase hex digits */
#define ILOG_LAST4_LEN 5
#define ILOG_KEYFMT_LEN 32
#define ILOG_GROUP_LEN 64
#define ILOG_TRACE_LEN 512
#define ILOG_ERROR_LEN 64

#define ILOG_RULE_NONE (-1)  /* rule_index when no policy rule matched */
#define ILOG_UNKNOWN_MS (-1) /* ttfb_ms when no response byte arrived */
#define ILOG_UID_UNKNOWN UINT32_MAX

enum ilog_decision {
	ILOG_DECISION_NONE = 0, /* no policy evaluated */
	ILOG_DECISION_ALLOW = 1,
	ILOG_DECISION_DOWNGRADE = 2,
	ILOG_DECISION_BLOCK = 3,
};

enum ilog_key_state {
	ILOG_KEY_NONE = 0, /* the request carried no key */
	ILOG_KEY_SANCTIONED = 1,
	ILOG_KEY_SHADOW = 2,
};

/* One exchange. Fill it after ilog_record_init (which sets the "unknown" sentinels) with ilog_set
 * for strings. Strings need not be NUL-terminated inside their buffers: the last byte is forced. */
struct ilog_record {
	int64_t start_ms, end_ms; /* unix ms: request head seen, exchange finished */
	uint64_t flow_id;
	uint64_t seq;	 /* exchange number within the flow, 1, 2, ... */
	uint32_t pid;	 /* 0 when unknown */
	uint32_t uid;	 /* ILOG_UID_UNKNOWN when unknown */
	int http_status; /* 0 when no response status was seen */
	bool stream;
	bool price_known; /* false: the model has no price; cost_micro is not stored */
	bool estimated;	  /* tokens estimated (stream cut before its usage arrived) */
	enum ilog_key_state key_state;
	enum ilog_decision decision;
	int32_t rule_index;   /* 0-based rule of the policy, ILOG_RULE_NONE */
	uint32_t leaked_keys; /* provider keys found inside the request body */
	int64_t tokens_in, tokens_out, tokens_cached, tokens_cache_write, tokens_reasoning;
	int64_t cost_micro; /* micro-dollars */
	int64_t ttfb_ms;    /* ILOG_UNKNOWN_MS when no response byte arrived */
	int64_t total_ms;
	uint64_t bytes_up, bytes_down;
	char host[ILOG_HOST_LEN]; /* empty: the log's host name (ilog_opts.host or gethostname) */
	char exe[ILOG_EXE_LEN];
	char user[ILOG_USER_LEN];
	char provider[ILOG_PROVIDER_LEN];
	char endpoint[ILOG_ENDPOINT_LEN]; /* path without query string, e.g. /v1/chat/completions */
	char model_requested[ILOG_MODEL_LEN];
	char model_served[ILOG_MODEL_LEN];
	char tags[ILOG_TAGS_LEN]; /* "k=v,k=v" */
	char key_fp[ILOG_FP_LEN]; /* "" or 64 lowercase hex digits */
	char key_last4[ILOG_LAST4_LEN];
	char key_format[ILOG_KEYFMT_LEN]; /* e.g. "openai-proj", "anthropic-api03", "unknown" */
	char rule_group[ILOG_GROUP_LEN];
	char rule_trace[ILOG_TRACE_LEN];
	char error[ILOG_ERROR_LEN]; /* error type, e.g. "upstream_reset"; "" when none */
};

/* Optional payload retention for one record (off unless a pointer to this is passed). Each side is
 * truncated to <cap> bytes (itself capped by ilog_opts.payload_cap_max); the original lengths are
 * stored too. The bytes are copied during ilog_submit. */
struct ilog_payload {
	const void *request;
	size_t request_len;
	const void *response;
	size_t response_len;
	size_t cap;
};

/* Zero means "default" for every field. */
struct ilog_opts {
	uint32_t queue_capacity;   /* records waiting or being written (4096) */
	uint32_t batch_max;	   /* records per transaction (256) */
	uint32_t batch_ms;	   /* longest a record waits before its commit starts (20) */
	uint32_t retry_max_ms;	   /* ceiling of the retry back-off after a failed commit (1000) */
	uint32_t close_timeout_ms; /* ilog_close keeps retrying a failing disk this long (2000) */
	size_t payload_cap_max;	   /* per side (1 MiB) */
	size_t payload_queue_max;  /* payload bytes held in the queue; beyond, payloads dropped (64
				      MiB) */
	bool sync_full;		   /* synchronous=FULL: fsync each commit (survives power loss) */
	const char *host;	   /* host name for records that leave it empty */
};

struct ilog_stats {
	uint64_t submitted;	     /* accepted into the queue */
	uint64_t written;	     /* committed to the database */
	uint64_t dropped_queue_full; /* refused: queue full while the writer was healthy */
	uint64_t dropped_disk; /* refused: queue full while commits failed; abandoned at close */
	uint64_t rejected;     /* refused as invalid (bad fingerprint, enum out of range) */
	uint64_t payloads_dropped; /* record kept without its payload (payload_queue_max, ENOMEM) */
	uint64_t write_errors;	   /* failed transactions (each retried) */
	uint64_t batches;	   /* committed transactions */
	uint32_t queue_depth;	   /* records waiting or being written now */
	uint32_t queue_capacity;
	int64_t last_commit_ms; /* unix ms, 0 = never */
	int64_t last_error_ms;	/* unix ms of the last failed transaction, 0 = never */
	bool failing;		/* the last transaction failed; records wait for a retry */
	int last_error_code;	/* SQLite extended result code, 0 = none */
	char last_error[256];	/* kept after recovery, for the record */
};

struct ilog;

/* ilog_record_init - zero <rec> and set the "unknown" sentinels (rule, ttfb, uid). */
void ilog_record_init(struct ilog_record *rec);

/* ilog_set - copy <src> (NULL = "") into the field <dst> of capacity <cap>, truncating at a UTF-8
 * character boundary. ILOG_SET(rec, field, src) for a field of a struct ilog_record. */
void ilog_set(char *dst, size_t cap, const char *src);
#define ILOG_SET(rec, field, src) ilog_set((rec)->field, sizeof((rec)->field), (src))

/* ilog_open - open or create the log at <path> (parent directories created 0700, the file 0600),
 * refuse a database of a newer schema or one that is not an intercept log, migrate an older one
 * in one transaction, and start the writer. <opts> may be NULL. Returns NULL with <err> filled. */
struct ilog *ilog_open(const char *path, const struct ilog_opts *opts, char *err, size_t errlen);

/* ilog_submit - queue a copy of <rec> (and of <payload>, NULL = none) for writing. Never waits on
 * the disk or the writer. Returns 0; -ENOBUFS when the queue is full (dropped and counted);
 * -EINVAL when the record is invalid (a key fingerprint that is not 64 lowercase hex digits, an
 * enum out of range; counted as rejected); -ESHUTDOWN once ilog_close has begun. Thread-safe. */
int ilog_submit(struct ilog *log, const struct ilog_record *rec,
		const struct ilog_payload *payload);

/* ilog_flush_wait - wait until every record accepted before the call is committed, asking the
 * writer to commit at once. Returns 0, or -ETIMEDOUT after <timeout_ms> (e.g. the disk is full:
 * see ilog_stats). */
int ilog_flush_wait(struct ilog *log, uint32_t timeout_ms);

/* ilog_stats - a consistent snapshot of the counters into <out>. */
void ilog_stats(struct ilog *log, struct ilog_stats *out);

/* ilog_set_page_limit - cap the database at <pages> pages (PRAGMA max_page_count, 0 = no cap),
 * applied by the writer before its next transaction; growing past it fails like a full disk.
 * Used to simulate a full disk; also usable as a hard size cap. */
void ilog_set_page_limit(struct ilog *log, uint32_t pages);

/* ilog_close - stop accepting, commit what is queued (retrying a failing disk for at most
 * close_timeout_ms, then abandoning the rest as dropped_disk), join the writer, close and free.
 * <final> (may be NULL) receives the last counters. Returns 0, or -EIO if records were abandoned.
 */
int ilog_close(struct ilog *log, struct ilog_stats *final);

/* ---- read side (modeluxctl log / keys): read-only connections, safe while the agent writes ----
 */

/* Every string filter NULL = any. Times are unix ms on start_ms: since <= t < until (0 = open). */
struct ilog_filter {
	const char *provider;
	const char *model;	/* requested or served model */
	const char *key_prefix; /* fingerprint prefix, hex digits */
	const char *user;
	const char *exe;      /* full path, or a base name matching the last path component */
	const char *decision; /* "none", "allow", "downgrade", "block" */
	int64_t since_ms, until_ms;
	int64_t after_id; /* only rows with id > after_id (following a live log) */
	uint32_t limit;	  /* 0 = all; else the newest <limit> */
	bool with_payload;
};

struct ilog_row {
	int64_t id; /* insertion order */
	struct ilog_record rec;
	bool has_payload; /* the payload pointers below are valid during the callback only */
	const void *request, *response;
	size_t request_stored, response_stored;
	uint64_t request_len, response_len; /* original sizes */
};

/* Returns 0 to go on, nonzero to stop (that value is returned by ilog_query). */
typedef int (*ilog_row_cb)(void *ctx, const struct ilog_row *row);

/* ilog_query - call <cb> for each matching record, oldest first (with a limit: the newest <limit>,
 * still oldest first). Returns 0, the callback's nonzero value, or a negative errno with <err>. */
int ilog_query(const char *path, const struct ilog_filter *f, ilog_row_cb cb, void *ctx, char *err,
	       size_t errlen);

struct ilog_key_filter {
	const char *provider;
	const char *state; /* "sanctioned", "shadow" */
	const char *key_prefix;
	int64_t since_ms; /* last seen at or after, 0 = any */
};

struct ilog_key_usage {
	char host[ILOG_HOST_LEN];
	char user[ILOG_USER_LEN];
	char exe[ILOG_EXE_LEN];
	uint64_t requests;
	int64_t first_seen_ms, last_seen_ms;
};

struct ilog_key_row {
	char fingerprint[ILOG_FP_LEN];
	char provider[ILOG_PROVIDER_LEN];
	char last4[ILOG_LAST4_LEN];
	char format[ILOG_KEYFMT_LEN];
	enum ilog_key_state state; /* as last seen */
	int64_t first_seen_ms, last_seen_ms;
	uint64_t requests;
	uint64_t unpriced; /* requests whose cost is unknown (not in spend) */
	int64_t spend_micro;
	size_t nusage; /* who used it, most requests first; valid during the callback */
	const struct ilog_key_usage *usage;
};

typedef int (*ilog_key_cb)(void *ctx, const struct ilog_key_row *key);

/* ilog_keys - call <cb> for each key of the inventory matching <f> (NULL = all), most recently
 * seen first. Returns like ilog_query. */
int ilog_keys(const char *path, const struct ilog_key_filter *f, ilog_key_cb cb, void *ctx,
	      char *err, size_t errlen);

/* ---- formatting ---- */

const char *ilog_decision_name(enum ilog_decision d);
bool ilog_decision_parse(const char *s, enum ilog_decision *out);
const char *ilog_key_state_name(enum ilog_key_state s);
bool ilog_key_state_parse(const char *s, enum ilog_key_state *out);

/* Table output: a header line and one line per row (no newline; control bytes escaped). Return
 * the length written (always NUL-terminated, truncated to <cap>). */
size_t ilog_row_header(char *buf, size_t cap);
size_t ilog_row_format(const struct ilog_row *row, char *buf, size_t cap);
size_t ilog_key_header(char *buf, size_t cap);
/* A key line, then one indented line per usage entry (lines separated by '\n'). */
size_t ilog_key_format(const struct ilog_key_row *key, char *buf, size_t cap);

/* JSON objects (the caller owns the reference). Strings that are not valid UTF-8 have each bad
 * byte replaced by U+FFFD; a payload that is not UTF-8 is given in base64. NULL only on ENOMEM. */
json_t *ilog_row_json(const struct ilog_row *row);
json_t *ilog_key_json(const struct ilog_key_row *key);

#endif
