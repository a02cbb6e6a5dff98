/* flowlog: the per-flow `key=value` log line and the summary kept for `modeluxctl status`.
 * Borrows the connection; owns nothing. */
#ifndef MODELUX_FLOWLOG_H
#define MODELUX_FLOWLOG_H

#include <stddef.h>

struct conn;

/* kv_append - append " key=value" to <buf> (at *<off>, capacity <cap>), quoting the value
 * when it holds spaces, quotes, '=' or control bytes; such bytes are escaped as \xNN. */
void kv_append(char *buf, size_t *off, size_t cap, const char *key, const char *val);

/* flowlog_emit - log the finished flow <c> ("flow id=... end=<end>") and record its summary. */
void flowlog_emit(struct conn *c, const char *end);

#endif
