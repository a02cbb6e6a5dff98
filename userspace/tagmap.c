/* tagmap: see tagmap.h. Rules are kept in three lists (group, user, exe) so matching walks them
 * in precedence order without sorting; a uid's supplementary groups come from NSS once and are
 * cached in a direct-mapped table, because getgrouplist can read /etc/group or ask sssd. */
#include "tagmap.h"
#include "taglist.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAGMAP_FILE_MAX (1u << 20)
#define TAGMAP_SELECTOR_MAX 256
#define TAGMAP_GROUPS_PER_UID 64
#define TAGMAP_UID_SLOTS 256

enum rule_kind { RULE_GROUP, RULE_USER, RULE_EXE, RULE_KINDS };

struct rule {
	enum rule_kind kind;
	bool numeric;    /* user/group given as a number */
	bool resolved;   /* group: gid is known */
	uint32_t id;     /* uid or gid */
	char selector[TAGMAP_SELECTOR_MAX];
	char tags[TAGMAP_TAGS_MAX];
};

struct uid_groups {
	bool valid;
	uint32_t uid;
	int n;
	gid_t gids[TAGMAP_GROUPS_PER_UID];
};

struct tagmap {
	struct rule *rules;
	size_t n;
	size_t unresolved;
	pthread_mutex_t lock; /* cache */
	struct uid_groups cache[TAGMAP_UID_SLOTS];
};

struct cursor {
	const char *text, *p, *end, *line_start;
	unsigned line;
	const char *origin;
	char *err;
	size_t errlen;
};

static bool fail_at(struct cursor *c, const char *at, const char *what)
{
	snprintf(c->err, c->errlen, "%s:%u:%u: %s", c->origin, c->line,
		 (unsigned)(at - c->line_start) + 1, what);
	return false;
}

static void skip_blanks(struct cursor *c, const char *eol)
{
	while (c->p < eol && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* word - the next blank-separated word, or a double-quoted string (no escapes: a selector
 * never needs a quote in it). */
static bool word(struct cursor *c, const char *eol, const char **w, size_t *wl)
{
	skip_blanks(c, eol);
	if (c->p < eol && *c->p == '"') {
		const char *q = memchr(c->p + 1, '"', (size_t)(eol - c->p - 1));

		if (!q)
			return fail_at(c, c->p, "unterminated quoted selector");
		*w = c->p + 1;
		*wl = (size_t)(q - c->p - 1);
		c->p = q + 1;
		if (c->p < eol && *c->p != ' ' && *c->p != '\t')
			return fail_at(c, c->p, "expected a blank after the quoted selector");
		return true;
	}
	*w = c->p;
	while (c->p < eol && *c->p != ' ' && *c->p != '\t')
		c->p++;
	*wl = (size_t)(c->p - *w);
	return true;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return strtoull(s, NULL, 10) <= UINT32_MAX;
}

/* check_tags - "k=v,k=v" with tag characters, each pair non-empty on both sides. */
static bool check_tags(struct cursor *c, const char *v, size_t n)
{
	const char *at;

	switch (taglist_check(v, n, false, &at)) {
	case TAGLIST_NOT_PAIR:
		return fail_at(c, at, "expected name=value pairs separated by ','");
	case TAGLIST_BAD_CHAR:
		return fail_at(c, at,
			       "character not allowed in a tag (allowed: A-Z a-z 0-9 _ . : / -)");
	case TAGLIST_OK:
		break;
	}
	return true;
}

static bool parse_line(struct cursor *c, const char *eol, struct tagmap *m)
{
	static const char *const kinds[RULE_KINDS] = {"group", "user", "exe"};
	const char *w, *sel, *tags, *tags_end;
	size_t wl, sl;
	struct rule *r;
	int k;

	if (!word(c, eol, &w, &wl))
		return false;
	if (wl == 0 || *w == '#')
		return true;
	for (k = 0; k < RULE_KINDS; k++)
		if (strlen(kinds[k]) == wl && memcmp(kinds[k], w, wl) == 0)
			break;
	if (k == RULE_KINDS)
		return fail_at(c, w, "unknown rule kind (expected group, user or exe)");
	if (!word(c, eol, &sel, &sl))
		return false;
	if (sl == 0)
		return fail_at(c, c->p, "missing selector after the rule kind");
	if (sl >= TAGMAP_SELECTOR_MAX)
		return fail_at(c, sel, "selector too long");
	if (memchr(sel, '\0', sl))
		return fail_at(c, sel, "NUL byte in the selector");
	skip_blanks(c, eol);
	tags = c->p;
	tags_end = eol;
	{
		size_t rest = eol > tags ? (size_t)(eol - tags) : 0;
		const char *hash = rest ? memchr(tags, '#', rest) : NULL;

		if (hash)
			tags_end = hash;
	}
	while (tags_end > tags && (tags_end[-1] == ' ' || tags_end[-1] == '\t' ||
				   tags_end[-1] == '\r'))
		tags_end--;
	if (tags_end == tags)
		return fail_at(c, tags, "missing tags (name=value,...) after the selector");
	if (memchr(tags, ' ', (size_t)(tags_end - tags)) ||
	    memchr(tags, '\t', (size_t)(tags_end - tags)))
		return fail_at(c, tags, "blank inside the tag list (write name=value,name=value)");
	if ((size_t)(tags_end - tags) >= TAGMAP_TAGS_MAX)
		return fail_at(c, tags, "tag list too long");
	if (!check_tags(c, tags, (size_t)(tags_end - tags)))
		return false;
	if (m->n == TAGMAP_RULES_MAX)
		return fail_at(c, w, "too many rules (at most 1024)");
	r = &m->rules[m->n];
	memset(r, 0, sizeof(*r));
	r->kind = (enum rule_kind)k;
	memcpy(r->selector, sel, sl);
	memcpy(r->tags, tags, (size_t)(tags_end - tags));
	if (r->kind != RULE_EXE && all_digits(sel, sl)) {
		r->numeric = r->resolved = true;
		r->id = (uint32_t)strtoul(r->selector, NULL, 10);
	} else if (r->kind == RULE_EXE && r->selector[0] != '/' && r->selector[0] != '*') {
		return fail_at(c, sel, "exe pattern must be an absolute path or start with '*'");
	} else if (r->kind == RULE_GROUP) {
		struct group gr, *res = NULL;
		char buf[16384];

		if (getgrnam_r(r->selector, &gr, buf, sizeof(buf), &res) == 0 && res) {
			r->resolved = true;
			r->id = (uint32_t)res->gr_gid;
		} else {
			m->unresolved++;
		}
	}
	m->n++;
	return true;
}

struct tagmap *tagmap_parse(const char *text, size_t len, const char *origin, char *err,
			    size_t errlen)
{
	struct cursor c = {text, text, text + len, text, 1, origin, err, errlen};
	struct tagmap *m = calloc(1, sizeof(*m));

	if (!m || !(m->rules = calloc(TAGMAP_RULES_MAX, sizeof(*m->rules)))) {
		free(m);
		snprintf(err, errlen, "%s: out of memory", origin);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	while (c.p < c.end) {
		const char *eol = memchr(c.p, '\n', (size_t)(c.end - c.p));

		if (!eol)
			eol = c.end;
		c.line_start = c.p;
		if (!parse_line(&c, eol, m)) {
			tagmap_free(m);
			return NULL;
		}
		c.p = eol + 1;
		c.line++;
	}
	return m;
}

struct tagmap *tagmap_load_file(const char *path, char *err, size_t errlen)
{
	struct tagmap *m;
	struct stat st;
	char *buf;
	ssize_t got;
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TAGMAP_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	while (have < (size_t)st.st_size &&
	       (got = read(fd, buf + have, (size_t)st.st_size - have)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return NULL;
		}
		have += (size_t)got;
	}
	close(fd);
	m = tagmap_parse(buf, have, path, err, errlen);
	free(buf);
	return m;
}

void tagmap_free(struct tagmap *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->rules);
	free(m);
}

/* uid_groups - copy <uid>'s groups (primary first) into <out>; -1 when the uid is unknown. The
 * NSS lookup runs outside the lock: it may ask sssd or LDAP, and other workers must not wait
 * behind it (two threads missing at once both look up; either answer is the same). */
static int uid_groups(struct tagmap *m, uint32_t uid, gid_t *out)
{
	struct uid_groups *slot = &m->cache[uid % TAGMAP_UID_SLOTS], fresh = {.valid = true,
									       .uid = uid, .n = -1};
	struct passwd pw, *res = NULL;
	char buf[16384];
	int n;

	pthread_mutex_lock(&m->lock);
	if (slot->valid && slot->uid == uid) {
		n = slot->n;
		if (n > 0)
			memcpy(out, slot->gids, (size_t)n * sizeof(*out));
		pthread_mutex_unlock(&m->lock);
		return n;
	}
	pthread_mutex_unlock(&m->lock);
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
		int cnt = TAGMAP_GROUPS_PER_UID;

		/* More groups than fit: the first ones are kept (getgrouplist reports -1 and the
		 * count it needed; what fitted is filled in). */
		if (getgrouplist(res->pw_name, res->pw_gid, fresh.gids, &cnt) < 0)
			cnt = TAGMAP_GROUPS_PER_UID;
		fresh.n = cnt;
	}
	pthread_mutex_lock(&m->lock);
	*slot = fresh;
	pthread_mutex_unlock(&m->lock);
	n = fresh.n;
	if (n > 0)
		memcpy(out, fresh.gids, (size_t)n * sizeof(*out));
	return n;
}

static bool rule_applies(const struct rule *r, uint32_t uid, const char *user, const char *exe,
			 const gid_t *gids, int ngids)
{
	switch (r->kind) {
	case RULE_GROUP:
		if (!r->resolved)
			return false;
		for (int i = 0; i < ngids; i++)
			if ((uint32_t)gids[i] == r->id)
				return true;
		return false;
	case RULE_USER:
		return r->numeric ? r->id == uid : strcmp(r->selector, user) == 0;
	case RULE_EXE:
		return fnmatch(r->selector, exe, 0) == 0;
	default:
		return false;
	}
}

size_t tagmap_match(struct tagmap *m, uint32_t uid, const char *user, const char *exe,
		    const char **lists, size_t max)
{
	gid_t gids[TAGMAP_GROUPS_PER_UID];
	int ngids = -2; /* not looked up yet: only when a group rule needs it */
	size_t out = 0;
	bool known_user = user && user[0], known_exe = exe && exe[0] && strcmp(exe, "?");

	if (!m)
		return 0;
	for (int kind = 0; kind < RULE_KINDS; kind++) {
		if (kind != RULE_EXE && !known_user)
			continue;
		if (kind == RULE_EXE && !known_exe)
			continue;
		for (size_t i = 0; i < m->n && out < max; i++) {
			const struct rule *r = &m->rules[i];

			if ((int)r->kind != kind)
				continue;
			if (kind == RULE_GROUP && ngids == -2)
				ngids = uid_groups(m, uid, gids);
			if (rule_applies(r, uid, user, exe, gids, ngids))
				lists[out++] = r->tags;
		}
	}
	return out;
}

size_t tagmap_rules(const struct tagmap *m)
{
	return m ? m->n : 0;
}

size_t tagmap_unresolved_groups(const struct tagmap *m)
{
	return m ? m->unresolved : 0;
}
