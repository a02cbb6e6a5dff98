/* agent: state shared by the agent's threads — the configuration snapshot, counters, the recent
 * flows ring — and the main loop that owns BPF, DNS learning, control and metrics.
 * Workers borrow the agent; only the main thread mutates anything but atomics and locked rings. */
#ifndef MODELUX_AGENT_H
#define MODELUX_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "bpfload.h"
#include "config.h"
#include "hook.h"
#include "pinset.h"
#include "resolver.h"
#include "sesscache.h"
#include "snoop.h"
#include "targets.h"

enum flow_kind {
	FLOW_PROVIDER = 0, /* SNI is a configured provider domain */
	FLOW_OTHER_SNI,	   /* TLS to a target IP for some other name (shared CDN): spliced */
	FLOW_NO_SNI,	   /* TLS without SNI: spliced */
	FLOW_NOT_TLS,	   /* first bytes are not TLS, or nothing came before the peek timeout */
	FLOW_MALFORMED,	   /* broken or oversized ClientHello: spliced as-is */
	FLOW_KIND_MAX,
};

extern const char *const flow_kind_names[FLOW_KIND_MAX];

/* A configuration generation. Connections hold a reference for their whole life. */
struct cfg_snap {
	atomic_int refs;
	struct mlx_config cfg;
};

struct agent_stats {
	atomic_uint_fast64_t flows[FLOW_KIND_MAX];
	atomic_uint_fast64_t bytes_up;	 /* client -> provider */
	atomic_uint_fast64_t bytes_down; /* provider -> client */
	atomic_int_fast64_t active;
	atomic_uint_fast64_t accepted;
	atomic_uint_fast64_t refused_full;    /* over max_conns */
	atomic_uint_fast64_t no_origdst;      /* accepted but no record: not ours, closed */
	atomic_uint_fast64_t origdst_sockopt; /* original destination via SO_ORIGINAL_DST */
	atomic_uint_fast64_t origdst_map;     /* ... via the flows map only */
	atomic_uint_fast64_t upstream_fail;
	atomic_uint_fast64_t peek_timeouts;
	atomic_uint_fast64_t idle_timeouts;
	atomic_uint_fast64_t reloads, reload_failures;
	atomic_uint_fast64_t intercepted;     /* flows decrypted */
	atomic_uint_fast64_t pinned_refusals; /* clients that refused our certificate */
	atomic_uint_fast64_t pinned_spliced;  /* flows spliced because their pair is pinned */
	atomic_uint_fast64_t upstream_verify_fail;
	atomic_uint_fast64_t upstream_resumed;	/* provider handshakes that resumed a session */
	atomic_uint_fast64_t upstream_conns;	/* pooled provider connections opened */
	atomic_uint_fast64_t upstream_conns_h2; /* ... of which speak HTTP/2 */
	atomic_uint_fast64_t upstream_reused;	/* exchanges sent on an already used connection */
	atomic_uint_fast64_t http_requests;
	atomic_uint_fast64_t http_upgrades_refused; /* Upgrade requests answered 501 */
	atomic_uint_fast64_t websocket_tunnels;	    /* WebSocket upgrades let through */
	atomic_uint_fast64_t http_errors;	    /* malformed HTTP from either side */
};

#define AGENT_RECENT 32

struct flow_summary {
	uint64_t id;
	enum flow_kind kind;
	char provider[MLX_PROVIDER_NAME_MAX];
	char sni[128];
	char dst[64];
	char exe[128];
	char user[32];
	uint32_t pid;
	uint64_t bytes_up, bytes_down;
	int64_t start_unix_ms, dur_ms;
	char end[32];
};

struct worker;
struct certmint;

struct agent {
	char cfg_path[4096]; /* "" = embedded defaults */
	pthread_mutex_t snap_lock;
	struct cfg_snap *snap;
	struct mlx_bpf bpf;
	bool attached;
	uint64_t netns_cookie;
	struct agent_stats stats;
	atomic_uint_fast64_t next_flow_id;
	pthread_mutex_t recent_lock;
	struct flow_summary recent[AGENT_RECENT];
	size_t recent_next, recent_count;
	struct worker *workers;
	unsigned nworkers;
	struct targets targets;
	struct dns_snoop snoop;
	bool snooping;
	struct resolver resolver;
	bool resolving;
	struct certmint *certmint; /* NULL when interception is off */
	SSL_CTX *upstream_ctx;	   /* verifying client context towards providers */
	struct pinset pinned;	   /* (exe, SNI) pairs that refuse our certificate */
	struct sesscache sessions; /* provider TLS sessions for resumption */
	struct http_hook hook;	   /* provider awareness plugs in here */
	struct govern *gov;	   /* keys, log, policy, budgets (NULL when interception is off) */
	int64_t started_unix_ms;
	atomic_bool stopping;
};

struct cfg_snap *agent_snap_acquire(struct agent *ag);
void agent_snap_release(struct cfg_snap *s);

/* agent_record_flow - remember a finished flow for `modeluxctl status`. */
void agent_record_flow(struct agent *ag, const struct flow_summary *f);

/* agent_run - start everything from the configuration at <cfg_path> (NULL = defaults) and
 * serve until SIGTERM/SIGINT. Returns the process exit status. */
int agent_run(const char *cfg_path);

int64_t mono_ms(void);
int64_t unix_ms(void);

#endif
