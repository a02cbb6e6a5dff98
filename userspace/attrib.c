/* attrib: see attrib.h. Direct-mapped caches: one readlink per new process, not a /proc scan. */
#include "attrib.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void attrib_init(struct attrib_cache *c)
{
	memset(c, 0, sizeof(*c));
}

const char *attrib_exe(struct attrib_cache *c, uint32_t tgid, const char *comm)
{
	size_t i = tgid % ATTRIB_SLOTS;
	char path[64];
	ssize_t n;

	c->exe_lookups++;
	if (c->exe[i].tgid == tgid && tgid && strncmp(c->exe[i].comm, comm, 16) == 0 &&
	    c->exe[i].exe[0]) {
		c->exe_hits++;
		return c->exe[i].exe;
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	n = readlink(path, c->exe[i].exe, sizeof(c->exe[i].exe) - 1);
	if (n <= 0) {
		c->exe[i].tgid = 0;
		return "?";
	}
	c->exe[i].exe[n] = '\0';
	c->exe[i].tgid = tgid;
	strncpy(c->exe[i].comm, comm, sizeof(c->exe[i].comm));
	return c->exe[i].exe;
}

const char *attrib_user(struct attrib_cache *c, uint32_t uid)
{
	size_t i = uid % ATTRIB_SLOTS;
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (c->user[i].valid && c->user[i].uid == uid)
		return c->user[i].name;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(c->user[i].name, sizeof(c->user[i].name), "%s", res->pw_name);
	else
		snprintf(c->user[i].name, sizeof(c->user[i].name), "%u", uid);
	c->user[i].uid = uid;
	c->user[i].valid = 1;
	return c->user[i].name;
}
