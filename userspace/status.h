/* status: renders the agent's state — attach state, learned targets, DNS learning, flows,
 * BPF counters — as JSON for `modeluxctl status` and as Prometheus text for the metrics port.
 * Reads the agent (main thread); owns what it returns. */
#ifndef MODELUX_STATUS_H
#define MODELUX_STATUS_H

#include <stddef.h>

struct agent;

/* status_json - malloc'd JSON document (caller frees), or NULL on allocation failure. */
char *status_json(struct agent *ag);

/* status_prometheus - malloc'd text exposition format (caller frees), or NULL. */
char *status_prometheus(struct agent *ag, size_t *len);

#endif
