/* jsonload: a fast JSON reader that builds jansson values. It accepts and rejects exactly what
 * json_loadb(buf, len, JSON_ALLOW_NUL [| JSON_DECODE_ANY]) does and yields equal values
 * (test/fuzz/fuzz_jsonload.c checks this against jansson itself), but scans strings a run at a
 * time instead of a byte per call: request and response bodies of LLM calls are mostly long
 * strings, and jansson's lexer was the largest single cost of governing a request. Owns nothing;
 * the caller owns the returned value. */
#ifndef MODELUX_JSONLOAD_H
#define MODELUX_JSONLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* jsonload - the value in <buf> (<len> bytes), or NULL when it is not valid JSON. <any>: any
 * value at the top (JSON_DECODE_ANY), else only an object or an array. */
json_t *jsonload(const char *buf, size_t len, bool any);

#endif
