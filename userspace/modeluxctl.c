/* modeluxctl: the command line for a running modelux-agent (status, reload) and for the
 * state it leaves in the kernel (detach). Talks to the agent over its control socket. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfload.h"
#include "config.h"
#include "ctl_gov.h"
#include "ctlsock.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: modeluxctl [-c CONFIG | -s SOCKET] COMMAND\n"
		   "commands:\n"
		   "  status [--json]   targets learned, flows, attach state\n"
		   "  reload            re-read the agent's configuration (like SIGHUP)\n"
		   "  detach            remove pinned (fail-closed) programs left by a stopped agent\n"
		   "  log [--json] [-n N] [--provider P] [--model M] [--key FP] [--user U] [--exe E]\n"
		   "      [--decision D] [--since SECONDS] [--payload]   the intercept log, newest N\n"
		   "  keys [--json] [--provider P] [--state sanctioned|shadow]   API-key inventory\n"
		   "  keys sanction FINGERPRINT [PROVIDER [LABEL]] | keys revoke FINGERPRINT\n"
		   "  prices [--json]   the price table in use\n"
		   "  policy check FILE | policy explain FILE --request JSON\n"
		   "  budgets [--json]  budgets and their current windows (asks the agent)\n");
}

static long long jint(json_t *o, const char *path)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = json_object_get(o, tok);
	return o ? (json_is_true(o) ? 1 : json_integer_value(o)) : 0;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_status(json_t *st)
{
	json_t *attach = json_object_get(st, "attach"), *dns = json_object_get(st, "dns");
	json_t *flows = json_object_get(st, "flows"), *kinds = json_object_get(flows, "by_kind");
	json_t *list = json_object_get(json_object_get(st, "targets"), "list"), *v;
	const char *k;
	size_t i;

	printf("agent      pid %lld, up %llds, %lld workers, config %s\n", jint(st, "pid"),
	       jint(st, "uptime_s"), jint(st, "workers"), jstr(st, "config"));
	printf("attach     %s to %s (scope %s), %lld programs, fail_closed=%s%s\n",
	       jint(attach, "attached") ? "attached" : "NOT attached", jstr(attach, "cgroup"),
	       jstr(attach, "scope"), jint(attach, "programs"),
	       jint(attach, "fail_closed") ? "yes" : "no", jint(attach, "pinned") ? " (pinned)" : "");
	printf("dns        snoop=%s (queue %lld: %lld answers), resolver=%s (%lld sent, %lld answered)\n",
	       jint(dns, "snoop") ? "on" : "off", jint(dns, "nfqueue"), jint(dns, "answers"),
	       jint(dns, "resolver") ? "on" : "off", jint(dns, "queries_sent"),
	       jint(dns, "queries_answered"));
	printf("targets    %lld learned now (%lld ever, %lld expired)\n", jint(st, "targets.count"),
	       jint(st, "targets.learned_total"), jint(st, "targets.expired_total"));
	for (i = 0; i < json_array_size(list); i++) {
		json_t *t = json_array_get(list, i);

		printf("  %-40s %-14s %-32s %-8s %llds\n", jstr(t, "addr"), jstr(t, "provider"),
		       jstr(t, "name"), jstr(t, "source"), jint(t, "expires_in_s"));
	}
	printf("flows      %lld active, %lld accepted; bytes up %lld down %lld\n",
	       jint(flows, "active"), jint(flows, "accepted"), jint(flows, "bytes_up"),
	       jint(flows, "bytes_down"));
	printf("  by kind:");
	json_object_foreach(kinds, k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
	list = json_object_get(flows, "recent");
	if (json_array_size(list))
		printf("  recent:\n");
	for (i = 0; i < json_array_size(list); i++) {
		json_t *f = json_array_get(list, i);

		printf("  #%-6lld %-9s %-12s %-28s %-22s pid=%-7lld %-20s user=%s up=%lld down=%lld %s\n",
		       jint(f, "id"), jstr(f, "kind"), jstr(f, "provider"), jstr(f, "sni"),
		       jstr(f, "dst"), jint(f, "pid"), jstr(f, "exe"), jstr(f, "user"),
		       jint(f, "bytes_up"), jint(f, "bytes_down"), jstr(f, "end"));
	}
}

int main(int argc, char **argv)
{
	const char *cfg_path = NULL, *sock = NULL, *cmd;
	struct mlx_config cfg;
	char err[1024], *out;
	int opt, rc = 0;
	bool json = false;

	while ((opt = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (opt) {
		case 'c':
			cfg_path = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (optind + 1 < argc && strcmp(argv[optind + 1], "--json") == 0)
		json = true;
	if (cfg_path) {
		if (!config_load(cfg_path, &cfg, err, sizeof(err))) {
			fprintf(stderr, "modeluxctl: %s\n", err);
			return 1;
		}
	} else {
		config_defaults(&cfg);
	}
	if (!sock)
		sock = cfg.control_path;

	if (strcmp(cmd, "detach") == 0) {
		rc = mlx_bpf_unpin_dir(cfg.pin_dir);
		if (rc)
			fprintf(stderr, "modeluxctl: detach %s: %s\n", cfg.pin_dir, strerror(-rc));
		else
			printf("detached: no pinned modelux programs remain in %s\n", cfg.pin_dir);
		config_free(&cfg);
		return rc ? 1 : 0;
	}
	rc = ctl_gov_main(&cfg, sock, argc - optind, argv + optind);
	if (rc >= 0) {
		config_free(&cfg);
		return rc;
	}
	rc = 0;
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "reload") != 0) {
		fprintf(stderr, "modeluxctl: unknown command '%s'\n", cmd);
		usage(stderr);
		config_free(&cfg);
		return 2;
	}
	out = ctl_request(sock, cmd);
	if (!out) {
		fprintf(stderr, "modeluxctl: cannot reach the agent at %s: %s\n", sock,
			strerror(errno));
		config_free(&cfg);
		return 1;
	}
	if (strcmp(cmd, "status") == 0 && !json) {
		json_error_t je;
		json_t *st = json_loads(out, 0, &je);

		if (!st) {
			fprintf(stderr, "modeluxctl: bad answer from agent: %s\n", je.text);
			rc = 1;
		} else {
			print_status(st);
			json_decref(st);
		}
	} else if (strcmp(cmd, "reload") == 0) {
		json_t *r = json_loads(out, 0, NULL);

		if (r && json_is_true(json_object_get(r, "ok"))) {
			printf("reloaded\n");
		} else {
			fprintf(stderr, "modeluxctl: reload rejected: %s\n",
				r ? jstr(r, "error") : out);
			rc = 1;
		}
		json_decref(r);
	} else {
		fputs(out, stdout);
	}
	free(out);
	config_free(&cfg);
	return rc;
}
