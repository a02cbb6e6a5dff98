/* agent: see agent.h. The main thread owns BPF attach, DNS learning (snoop + resolver), the
 * targets table, reloads, the control socket and metrics; workers own the data path. */
#include "agent.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "certmint.h"
#include "ctlsock.h"
#include "govern.h"
#include "log.h"
#include "worker.h"

#define MAX_WORKERS 64

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct cfg_snap *agent_snap_acquire(struct agent *ag)
{
	struct cfg_snap *s;

	pthread_mutex_lock(&ag->snap_lock);
	s = ag->snap;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&ag->snap_lock);
	return s;
}

void agent_snap_release(struct cfg_snap *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
		config_free(&s->cfg);
		free(s);
	}
}

void agent_record_flow(struct agent *ag, const struct flow_summary *f)
{
	pthread_mutex_lock(&ag->recent_lock);
	ag->recent[ag->recent_next] = *f;
	ag->recent_next = (ag->recent_next + 1) % AGENT_RECENT;
	if (ag->recent_count < AGENT_RECENT)
		ag->recent_count++;
	pthread_mutex_unlock(&ag->recent_lock);
}

static int apply_target(void *ctx, const struct mlx_target_key *k, uint16_t provider_id, bool add)
{
	struct agent *ag = ctx;

	return add ? mlx_bpf_target_set(&ag->bpf, k, provider_id)
		   : mlx_bpf_target_del(&ag->bpf, k);
}

/* DNS answers from snooping and from our own resolver land here (main thread). */
static void learn_answer(struct agent *ag, const struct dns_answer *ans, enum target_source src)
{
	const struct mlx_config *cfg = &ag->snap->cfg; /* main thread: the snapshot is stable */
	int p = config_provider_for(cfg, ans->qname);
	char addr[64];
	uint8_t a16[16];
	size_t i;
	int rc;

	if (p < 0)
		return;
	for (i = 0; i < ans->naddrs; i++) {
		const struct dns_addr *d = &ans->addrs[i];

		rc = targets_learn(&ag->targets, d->family, d->addr, p + 1, d->ttl, ans->qname, src,
				   mono_ms());
		if (rc == 1) {
			addr_to_mapped(d->family, d->addr, a16);
			log_info("target learned provider=%s name=%s addr=%s ttl=%u source=%s",
				 cfg->providers[p].name, ans->qname, addr_format(a16, addr, sizeof(addr)),
				 d->ttl, src == TARGET_SRC_DNS ? "dns" : "resolver");
		} else if (rc < 0) {
			log_warn("target table: cannot add %s: %s", ans->qname, strerror(-rc));
		}
	}
}

static void on_snooped(void *ctx, const struct dns_answer *ans)
{
	learn_answer(ctx, ans, TARGET_SRC_DNS);
}

static void on_resolved(void *ctx, const struct dns_answer *ans)
{
	learn_answer(ctx, ans, TARGET_SRC_RESOLVER);
}

static uint16_t provider_of_name(const char *name, void *ctx)
{
	struct agent *ag = ctx;

	return (uint16_t)(config_provider_for(&ag->snap->cfg, name) + 1);
}

/* Keys a running agent cannot change in place; a reload keeps their old values. */
static void keep_restart_only(struct mlx_config *n, const struct mlx_config *o)
{
#define KEEP(field)                                                                          \
	do {                                                                                 \
		if (memcmp(&n->field, &o->field, sizeof(n->field)) != 0) {                   \
			log_warn("reload: %s changed; it takes effect after a restart", #field); \
			memcpy(&n->field, &o->field, sizeof(n->field));                     \
		}                                                                            \
	} while (0)
	KEEP(listen_port);
	KEEP(metrics_addr);
	KEEP(control_path);
	KEEP(scope);
	KEEP(fail_closed);
	KEEP(pin_dir);
	KEEP(workers);
	KEEP(mark);
	KEEP(dns_snoop);
	KEEP(nfqueue_num);
	KEEP(resolver);
	KEEP(state_dir);
	KEEP(intercept);
	KEEP(ca_cert);
	KEEP(ca_key);
	KEEP(upstream_ca_file);
#undef KEEP
}

/* Reload the file; a bad file keeps the running configuration. Returns 0 or -EINVAL + <err>. */
static int agent_reload(struct agent *ag, char *err, size_t errlen)
{
	struct cfg_snap *n, *old;

	if (!ag->cfg_path[0]) {
		snprintf(err, errlen, "running on embedded defaults: nothing to reload");
		return -ENOENT;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!config_load(ag->cfg_path, &n->cfg, err, errlen)) {
		free(n);
		atomic_fetch_add(&ag->stats.reload_failures, 1);
		log_err("reload rejected, previous configuration stays in force: %s", err);
		return -EINVAL;
	}
	keep_restart_only(&n->cfg, &ag->snap->cfg);
	if (ag->gov && govern_reload(ag->gov, &n->cfg, err, errlen) < 0) {
		free(n);
		atomic_fetch_add(&ag->stats.reload_failures, 1);
		log_err("reload rejected, previous configuration stays in force: %s", err);
		return -EINVAL;
	}
	atomic_init(&n->refs, 1);
	pthread_mutex_lock(&ag->snap_lock);
	old = ag->snap;
	ag->snap = n;
	pthread_mutex_unlock(&ag->snap_lock);
	agent_snap_release(old);
	log_set_level(n->cfg.log_level);
	targets_reconfigure(&ag->targets, n->cfg.target_ports, n->cfg.ntarget_ports,
			    n->cfg.target_min_ttl_s);
	targets_rebind(&ag->targets, provider_of_name, ag);
	if (ag->resolving)
		resolver_query_all(&ag->resolver, &n->cfg);
	atomic_fetch_add(&ag->stats.reloads, 1);
	log_info("configuration reloaded from %s (%zu providers)", ag->cfg_path,
		 n->cfg.nproviders);
	return 0;
}

char *agent_reload_json(struct agent *ag)
{
	char err[1024] = "";
	int rc = agent_reload(ag, err, sizeof(err));
	json_t *j = rc ? json_pack("{s:b, s:s}", "ok", 0, "error", err) : json_pack("{s:b}", "ok", 1);
	char *out = j ? json_dumps(j, 0) : NULL;

	json_decref(j);
	return out;
}

static unsigned pick_workers(const struct mlx_config *cfg)
{
	long n = cfg->workers ? (long)cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static void epoll_watch(int epfd, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Verifying client context towards providers: the system store unless a bundle is configured. */
static SSL_CTX *upstream_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "upstream TLS context: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (ca_file[0] ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
		       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "upstream trust: cannot load %s",
			 ca_file[0] ? ca_file : "the system trust store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Interception needs the corporate CA (through the signer process) and upstream trust. */
static int tls_setup(struct agent *ag, char *err, size_t errlen)
{
	const struct mlx_config *cfg = &ag->snap->cfg;
	char cert[512], key[512];
	const char **names;
	/* certmint_new forks the signer: this runs before any worker thread exists. */
	size_t n = 0, p, d;

	if (!cfg->intercept)
		return 0;
	snprintf(cert, sizeof(cert), "%s", cfg->ca_cert);
	snprintf(key, sizeof(key), "%s", cfg->ca_key);
	if (!cert[0])
		snprintf(cert, sizeof(cert), "%s/ca/ca.crt", cfg->state_dir);
	if (!key[0])
		snprintf(key, sizeof(key), "%s/ca/ca.key", cfg->state_dir);
	ag->upstream_ctx = upstream_ctx_new(cfg->upstream_ca_file, err, errlen);
	if (!ag->upstream_ctx)
		return -EINVAL;
	sesscache_init(&ag->sessions);
	sesscache_attach(&ag->sessions, ag->upstream_ctx);
	ag->certmint = certmint_new(cert, key, 1024, err, errlen);
	if (!ag->certmint)
		return -EINVAL;
	/* Pre-mint the fixed provider names so first connections pay no signing. */
	for (p = 0; p < cfg->nproviders; p++)
		n += cfg->providers[p].ndomains;
	names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	n = 0;
	for (p = 0; p < cfg->nproviders; p++)
		for (d = 0; d < cfg->providers[p].ndomains; d++)
			if (cfg->providers[p].domains[d][0] != '*')
				names[n++] = cfg->providers[p].domains[d];
	if (certmint_premint(ag->certmint, names, n, err, errlen) < 0)
		log_warn("pre-minting: %s", err);
	free(names);
	ag->gov = govern_new(cfg, err, errlen);
	if (!ag->gov)
		return -EINVAL;
	govern_hook(ag->gov, &ag->hook);
	log_info("TLS interception on: CA %s, upstream trust %s", cert,
		 cfg->upstream_ca_file[0] ? cfg->upstream_ca_file : "system store");
	return 0;
}

static int startup(struct agent *ag, char *err, size_t errlen)
{
	const struct mlx_config *cfg = &ag->snap->cfg;
	struct mlx_bpf_opts o = {
		.scope = cfg->scope,
		.agent_port = cfg->listen_port,
		.agent_mark = cfg->mark,
		.agent_tgid = (uint32_t)getpid(),
		.fail_closed = cfg->fail_closed,
		.pin_dir = cfg->pin_dir,
	};
	unsigned i;
	int rc;

	pinset_init(&ag->pinned);
	rc = tls_setup(ag, err, errlen);
	if (rc)
		return rc;
	rc = netns_cookie_self(&ag->netns_cookie);
	if (rc) {
		snprintf(err, errlen, "netns cookie: %s", strerror(-rc));
		return rc;
	}
	/* Redirect only in our own netns: 127.0.0.1 elsewhere is not us. */
	o.netns_cookie = ag->netns_cookie;
	targets_init(&ag->targets, cfg->target_ports, cfg->ntarget_ports, cfg->target_min_ttl_s,
		     MLX_MAX_TARGETS / (cfg->ntarget_ports ? cfg->ntarget_ports : 1), apply_target,
		     ag);
	/* Listeners first: the redirect must never point at a port nobody accepts on. */
	ag->nworkers = pick_workers(cfg);
	ag->workers = calloc(ag->nworkers, sizeof(*ag->workers));
	if (!ag->workers)
		return -ENOMEM;
	/* Workers look up flows in the BPF map: attach before they run, listeners before attach.
	 * worker_start binds and starts at once, which is fine: nothing is redirected yet. */
	for (i = 0; i < ag->nworkers; i++) {
		rc = worker_start(&ag->workers[i], ag, i, cfg->listen_port, err, errlen);
		if (rc) {
			ag->nworkers = i;
			return rc;
		}
	}
	o.has_v6_listener = ag->workers[0].lfd[1] >= 0;
	rc = mlx_bpf_attach(&ag->bpf, &o, err, errlen);
	if (rc)
		return rc;
	ag->attached = true;
	log_info("attached %zu programs to %s (fail_closed=%s)", ag->bpf.nlinks,
		 ag->bpf.cgroup_path, cfg->fail_closed ? "yes" : "no");
	if (cfg->dns_snoop) {
		rc = snoop_open(&ag->snoop, cfg->nfqueue_num, on_snooped, ag, err, errlen);
		if (rc)
			return rc;
		ag->snooping = true;
	}
	if (cfg->resolve_interval_s) {
		char rerr[256];

		if (resolver_open(&ag->resolver, cfg->resolver, cfg->mark, on_resolved, ag, rerr,
				  sizeof(rerr)) == 0)
			ag->resolving = true;
		else
			log_warn("%s; provider names are learned from client DNS only", rerr);
	}
	return 0;
}

static void shutdown_all(struct agent *ag)
{
	unsigned i;
	bool keep_pins = ag->snap->cfg.fail_closed;

	/* Fail-open: end the redirect first, so no new connection meets a closed listener; flows
	 * already accepted finish their course (workers close them last). Fail-closed: pinned links
	 * (and the targets they hold) stay after a stop, on purpose. */
	if (ag->attached && !keep_pins)
		targets_clear(&ag->targets);
	mlx_bpf_detach(&ag->bpf, !keep_pins);
	ag->attached = false;
	if (ag->snooping)
		snoop_close(&ag->snoop);
	if (ag->resolving)
		resolver_close(&ag->resolver);
	for (i = 0; i < ag->nworkers; i++)
		worker_stop(&ag->workers[i]);
	free(ag->workers);
	ag->workers = NULL;
	ag->nworkers = 0;
	govern_free(ag->gov);
	ag->gov = NULL;
	if (ag->certmint)
		certmint_free(ag->certmint);
	ag->certmint = NULL;
	SSL_CTX_free(ag->upstream_ctx);
	ag->upstream_ctx = NULL;
	sesscache_free(&ag->sessions);
}

int agent_run(const char *cfg_path)
{
	static struct agent ag;
	static struct ep_tag sig_tag, timer_tag, snoop_tag, resolver_tag, ctl_tag, metrics_tag;
	char err[1024];
	struct cfg_snap *snap;
	int epfd = -1, sfd = -1, tfd = -1, ctl = -1, met = -1, status = 1;
	int64_t next_resolve = 0;
	struct itimerspec its = { .it_interval = { 0, 250 * 1000000 }, .it_value = { 0, 250 * 1000000 } };
	sigset_t mask;

	pthread_mutex_init(&ag.snap_lock, NULL);
	pthread_mutex_init(&ag.recent_lock, NULL);
	ag.started_unix_ms = unix_ms();
	ag.bpf.cgroup_fd = -1; /* nothing to close if startup fails before attaching */
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return 1;
	atomic_init(&snap->refs, 1);
	if (cfg_path) {
		snprintf(ag.cfg_path, sizeof(ag.cfg_path), "%s", cfg_path);
		if (!config_load(cfg_path, &snap->cfg, err, sizeof(err))) {
			log_err("%s", err);
			free(snap);
			return 1;
		}
	} else {
		config_defaults(&snap->cfg);
	}
	ag.snap = snap;
	log_set_level(snap->cfg.log_level);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before workers start: they inherit it */
	signal(SIGPIPE, SIG_IGN);

	if (startup(&ag, err, sizeof(err))) {
		log_err("startup failed: %s", err);
		goto out;
	}
	ctl = ctl_listen(snap->cfg.control_path, err, sizeof(err));
	if (ctl < 0) {
		log_err("%s", err);
		goto out;
	}
	if (snap->cfg.metrics_addr[0]) {
		met = metrics_listen(snap->cfg.metrics_addr, err, sizeof(err));
		if (met < 0)
			log_warn("%s; metrics disabled", err);
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	timerfd_settime(tfd, 0, &its, NULL);
	epoll_watch(epfd, sfd, &sig_tag);
	epoll_watch(epfd, tfd, &timer_tag);
	epoll_watch(epfd, ctl, &ctl_tag);
	if (met >= 0)
		epoll_watch(epfd, met, &metrics_tag);
	if (ag.snooping)
		epoll_watch(epfd, ag.snoop.fd, &snoop_tag);
	if (ag.resolving)
		epoll_watch(epfd, ag.resolver.fd, &resolver_tag);
	log_info("modelux-agent ready pid=%d listen=127.0.0.1:%u,[::1]:%u workers=%u scope=%s "
		 "dns_snoop=%s resolver=%s",
		 (int)getpid(), snap->cfg.listen_port, snap->cfg.listen_port, ag.nworkers,
		 snap->cfg.scope, ag.snooping ? "on" : "off", ag.resolving ? "on" : "off");

	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(epfd, ev, 16, -1), i;
		bool stop = false;

		for (i = 0; i < n; i++) {
			void *t = ev[i].data.ptr;

			if (t == &sig_tag) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						agent_reload(&ag, err, sizeof(err));
					else
						stop = true;
				}
			} else if (t == &timer_tag) {
				uint64_t ticks;
				int64_t now = mono_ms();
				size_t gone;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				gone = targets_expire(&ag.targets, now);
				if (gone)
					log_info("targets expired count=%zu remaining=%zu", gone,
						 ag.targets.count);
				if (ag.resolving && now >= next_resolve) {
					resolver_query_all(&ag.resolver, &ag.snap->cfg);
					next_resolve = now + ag.snap->cfg.resolve_interval_s * 1000LL;
				}
			} else if (t == &snoop_tag) {
				snoop_dispatch(&ag.snoop);
			} else if (t == &resolver_tag) {
				resolver_dispatch(&ag.resolver);
			} else if (t == &ctl_tag) {
				ctl_serve_one(&ag, ctl);
			} else if (t == &metrics_tag) {
				metrics_serve_one(&ag, met);
			}
		}
		if (stop)
			break;
	}
	log_info("shutting down");
	status = 0;
out:
	shutdown_all(&ag);
	if (ctl >= 0) {
		close(ctl);
		unlink(ag.snap->cfg.control_path);
	}
	if (met >= 0)
		close(met);
	if (epfd >= 0)
		close(epfd);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	agent_snap_release(ag.snap);
	return status;
}
