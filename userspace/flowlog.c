/* flowlog: see flowlog.h. */
#include "flowlog.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"

void kv_append(char *buf, size_t *off, size_t cap, const char *key, const char *val)
{
	size_t o = *off;
	bool quote = !val || !*val;
	const unsigned char *p;

	if (!val)
		val = "";
	for (p = (const unsigned char *)val; *p && !quote; p++)
		quote = *p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f;
	o += snprintf(buf + o, o < cap ? cap - o : 0, " %s=%s", key, quote ? "\"" : "");
	for (p = (const unsigned char *)val; *p && o + 5 < cap; p++) {
		if (*p < ' ' || *p == '"' || *p == '\\' || *p >= 0x7f)
			o += snprintf(buf + o, cap - o, "\\x%02x", *p);
		else
			buf[o++] = *p;
	}
	if (quote && o + 1 < cap)
		buf[o++] = '"';
	if (o >= cap)
		o = cap - 1;
	buf[o] = '\0';
	*off = o;
}

static void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip,
			 ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

void flowlog_emit(struct conn *c, const char *end)
{
	struct agent *ag = c->w->ag;
	const struct mlx_config *cfg = &c->snap->cfg;
	struct flow_summary f = { .id = c->id, .kind = c->kind };
	char line[1536], num[64], comm[MLX_COMM_LEN + 1];
	size_t off = 0;
	int64_t dur = mono_ms() - c->start_ms;

	sockaddr_format(&c->orig, f.dst, sizeof(f.dst));
	snprintf(f.provider, sizeof(f.provider), "%s",
		 c->provider >= 0 ? cfg->providers[c->provider].name : "-");
	snprintf(f.sni, sizeof(f.sni), "%s", c->sni.has_sni ? c->sni.server_name : "");
	snprintf(f.exe, sizeof(f.exe), "%s", c->exe ? c->exe : "?");
	snprintf(f.user, sizeof(f.user), "%s", c->user ? c->user : "?");
	snprintf(f.end, sizeof(f.end), "%s", end);
	f.pid = c->have_rec ? c->rec.tgid : 0;
	f.bytes_up = c->c2u.bytes;
	f.bytes_down = c->u2c.bytes;
	f.start_unix_ms = c->start_unix_ms;
	f.dur_ms = dur;

	off = snprintf(line, sizeof(line), "flow id=%" PRIu64, c->id);
	kv_append(line, &off, sizeof(line), "kind", flow_kind_names[c->kind]);
	kv_append(line, &off, sizeof(line), "provider", f.provider);
	kv_append(line, &off, sizeof(line), "tls",
		  c->mitm ? "intercepted" : c->pinned ? "pinned_splice" : "splice");
	kv_append(line, &off, sizeof(line), "sni", f.sni);
	kv_append(line, &off, sizeof(line), "alpn", c->sni.alpn);
	kv_append(line, &off, sizeof(line), "dst", f.dst);
	sockaddr_format(&c->peer, num, sizeof(num));
	kv_append(line, &off, sizeof(line), "src", num);
	if (c->have_rec) {
		snprintf(num, sizeof(num), "%u", c->rec.tgid);
		kv_append(line, &off, sizeof(line), "pid", num);
		kv_append(line, &off, sizeof(line), "exe", f.exe);
		memcpy(comm, c->rec.comm, MLX_COMM_LEN);
		comm[MLX_COMM_LEN] = '\0';
		kv_append(line, &off, sizeof(line), "comm", comm);
		snprintf(num, sizeof(num), "%u", c->rec.uid);
		kv_append(line, &off, sizeof(line), "uid", num);
		kv_append(line, &off, sizeof(line), "user", f.user);
		snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)c->rec.cgroup_id);
		kv_append(line, &off, sizeof(line), "cgroup", num);
	}
	snprintf(num, sizeof(num), "%" PRIu64, f.bytes_up);
	kv_append(line, &off, sizeof(line), "bytes_up", num);
	snprintf(num, sizeof(num), "%" PRIu64, f.bytes_down);
	kv_append(line, &off, sizeof(line), "bytes_down", num);
	snprintf(num, sizeof(num), "%" PRId64, dur);
	kv_append(line, &off, sizeof(line), "dur_ms", num);
	kv_append(line, &off, sizeof(line), "end", end);
	log_info("%s", line);
	agent_record_flow(ag, &f);
}
