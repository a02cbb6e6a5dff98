/* config: the agent's configuration file (format in docs/config.md) and the built-in defaults,
 * including the default LLM provider list. Owns every string and array inside struct mlx_config. */
#ifndef MODELUX_CONFIG_H
#define MODELUX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MLX_MAX_TARGET_PORTS 8
#define MLX_PROVIDER_NAME_MAX 32

enum mlx_log_level { MLX_LOG_ERR = 3, MLX_LOG_WARN = 4, MLX_LOG_INFO = 6, MLX_LOG_DEBUG = 7 };

struct mlx_provider {
	char name[MLX_PROVIDER_NAME_MAX]; /* [a-z0-9_-]+, e.g. "openai" */
	char **domains;                   /* "api.openai.com" or "*.openai.azure.com" (any subdomain) */
	size_t ndomains;
};

struct mlx_config {
	uint16_t listen_port;          /* agent listener on 127.0.0.1 and ::1; default 15001 */
	char metrics_addr[64];         /* "127.0.0.1:9464"; "" or "off" disables */
	char control_path[108];        /* unix socket for modeluxctl; default /run/modelux/agent.sock */
	char scope[256];               /* cgroup2 path the hooks attach to, relative to the cgroup2 mount; "/" = whole host */
	bool fail_closed;              /* keep redirect (pinned links) when the agent dies */
	char pin_dir[256];             /* bpffs dir for pinned links/maps; default /sys/fs/bpf/modelux */
	unsigned workers;              /* data-path threads; 0 = one per CPU */
	uint32_t mark;                 /* SO_MARK on the agent's upstream sockets; never redirected */
	bool dns_snoop;                /* learn provider IPs from DNS answers via NFQUEUE */
	uint16_t nfqueue_num;          /* queue number; default 4242 */
	char resolver[64];             /* resolver for the agent's own queries; "" = first of /etc/resolv.conf */
	unsigned resolve_interval_s;   /* periodic resolution of non-wildcard domains; 0 = off; default 60 */
	unsigned target_min_ttl_s;     /* learned IPs stay at least this long; default 300 */
	uint16_t target_ports[MLX_MAX_TARGET_PORTS]; /* TCP ports redirected on provider IPs; default 443 */
	size_t ntarget_ports;
	unsigned peek_timeout_ms;      /* wait this long for a ClientHello before splicing blind; default 5000 */
	unsigned idle_timeout_s;       /* close a flow idle this long; default 600 */
	unsigned max_conns;            /* per worker; default 16384 */
	enum mlx_log_level log_level;  /* "err" | "warn" | "info" | "debug"; default info */
	char state_dir[256];           /* default /var/lib/modelux */
	bool intercept;                /* decrypt provider SNIs (TLS interception); default yes */
	bool upstream_h2;              /* offer h2 to providers (multiplexed pooled connections) */
	bool govern;                   /* governance (parsing, keys, policy, budgets, log); default yes */
	/* governance (provider awareness, keys, log, policy, budgets); "" = default */
	char log_db[256];          /* intercept log (SQLite); "" = <state_dir>/intercept.db */
	char fleet_secret[256];    /* key fingerprint secret; "" = <state_dir>/fleet.key */
	char sanctioned_keys[256]; /* sanctioned fingerprints; "" = <state_dir>/sanctioned-keys */
	char prices[256];          /* price table; "" = the copy built into the agent */
	char policy[256];          /* policy file; "" = none: everything is allowed */
	char budgets[256];         /* budgets file; "" = none */
	char tags[512];            /* host tags "k=v,k=v" */
	char tag_map[256];         /* group/user/exe -> tags file; "" = none */
	char tags_locked[256];     /* tag names a request header may not set "a,b" */
	char sensitivity[128];     /* content detectors run on request bodies "all"|"none"|"email,card,..." */
	char payload_projects[256]; /* projects (tag project) whose payloads are kept "a,b" */
	unsigned payload_cap;      /* bytes kept per side of a retained payload */
	char ca_cert[256];             /* corporate CA certificate; "" = <state_dir>/ca/ca.crt */
	char ca_key[256];              /* its private key, read only by the signer; "" = <state_dir>/ca/ca.key */
	char upstream_ca_file[256];    /* trust for provider certificates; "" = system store */
	struct mlx_provider *providers; /* built-in defaults merged with [provider NAME] sections */
	size_t nproviders;
};

/* config_defaults - fill <cfg> with the embedded defaults, including the default providers. */
void config_defaults(struct mlx_config *cfg);

/* config_parse - parse <len> bytes of <text> (named <fname> in messages) on top of the defaults.
 * On failure returns false, leaves <cfg> empty (freed) and writes "fname:line:col: message" to <err>. */
bool config_parse(const char *text, size_t len, const char *fname, struct mlx_config *cfg,
		  char *err, size_t errlen);

/* config_load - read and parse the file at <path>; same contract as config_parse. */
bool config_load(const char *path, struct mlx_config *cfg, char *err, size_t errlen);

/* config_free - release everything <cfg> owns; safe on a zeroed or already freed struct. */
void config_free(struct mlx_config *cfg);

/* domain_matches - does <host> (any case, optional trailing dot) match <pattern>?
 * "*.x.com" matches any name strictly below x.com, never x.com itself. */
bool domain_matches(const char *pattern, const char *host);

/* config_provider_for - index into cfg->providers of the provider serving <host>, or -1. */
int config_provider_for(const struct mlx_config *cfg, const char *host);

#endif
