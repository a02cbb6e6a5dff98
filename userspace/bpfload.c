/* bpfload: see bpfload.h. */
#include "bpfload.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "redirect.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int cgroup2_mount(char *out, size_t outlen)
{
	char dev[256], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/mounts", "re");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]\n", dev, dir, type) == 3) {
		if (strcmp(type, "cgroup2") == 0 && strlen(dir) < outlen) {
			strcpy(out, dir);
			rc = 0;
			/* Prefer the canonical mount when several exist. */
			if (strcmp(dir, "/sys/fs/cgroup") == 0)
				break;
		}
	}
	fclose(f);
	return rc;
}

int netns_cookie_self(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Programs in attach order; the pin names are stable across versions. */
static struct bpf_program *prog_at(struct redirect *s, size_t i, const char **name)
{
	struct {
		struct bpf_program *p;
		const char *name;
	} progs[MLX_BPF_NPROGS] = {
		{ s->progs.mlx_sockops, "sockops" },
		{ s->progs.mlx_getsockopt, "getsockopt" },
		{ s->progs.mlx_getpeername4, "getpeername4" },
		{ s->progs.mlx_getpeername6, "getpeername6" },
		{ s->progs.mlx_sendmsg4, "sendmsg4" },
		{ s->progs.mlx_sendmsg6, "sendmsg6" },
		{ s->progs.mlx_quic_guard, "quic_guard" },
		{ s->progs.mlx_connect4, "connect4" },
		{ s->progs.mlx_connect6, "connect6" },
	};

	*name = progs[i].name;
	return progs[i].p;
}

/* Remove every "link_*" pin in <dir>: detaches the programs an earlier agent left. */
static int unpin_links(const char *dir, const char *keep_prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "link_", 5) != 0)
			continue;
		if (keep_prefix && strncmp(e->d_name, keep_prefix, strlen(keep_prefix)) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) < 0 && errno != ENOENT)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

/* Pins need bpffs. Hosts without it mounted get it at /sys/fs/bpf, its conventional place;
 * anywhere else a non-bpffs parent is an error rather than a mount over someone's directory. */
static int ensure_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	struct statfs st;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		snprintf(err, errlen, "pin_dir %s must be inside a bpffs mount", pin_dir);
		return -EINVAL;
	}
	*slash = '\0';
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(parent, "/sys/fs/bpf") != 0) {
		snprintf(err, errlen, "pin_dir parent %s is not a bpffs mount", parent);
		return -EINVAL;
	}
	if (mount("bpf", parent, "bpf", 0, "mode=0700") < 0) {
		int e = errno;

		snprintf(err, errlen, "mount bpffs on %s: %s", parent, strerror(e));
		return -e;
	}
	return 0;
}

int mlx_bpf_unpin_dir(const char *pin_dir)
{
	int rc = unpin_links(pin_dir, NULL);

	if (rc == 0)
		rmdir(pin_dir);
	return rc;
}

int mlx_bpf_attach(struct mlx_bpf *b, const struct mlx_bpf_opts *o, char *err, size_t errlen)
{
	char mnt[PATH_MAX], tag[48];
	const char *name;
	int rc;
	size_t i;

	memset(b, 0, sizeof(*b));
	b->cgroup_fd = -1;
	snprintf(b->pin_dir, sizeof(b->pin_dir), "%s", o->pin_dir ? o->pin_dir : "");
	rc = cgroup2_mount(mnt, sizeof(mnt));
	if (rc) {
		snprintf(err, errlen, "no cgroup2 mount found in /proc/mounts");
		return rc;
	}
	if (snprintf(b->cgroup_path, sizeof(b->cgroup_path), "%s%s", mnt,
		     strcmp(o->scope, "/") == 0 ? "" : o->scope) >= (int)sizeof(b->cgroup_path)) {
		snprintf(err, errlen, "scope cgroup path too long");
		return -ENAMETOOLONG;
	}
	b->cgroup_fd = open(b->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "open scope cgroup %s: %s", b->cgroup_path, strerror(errno));
		return rc;
	}
	b->skel = redirect__open();
	if (!b->skel) {
		rc = -errno;
		snprintf(err, errlen, "open BPF object: %s", strerror(errno));
		goto fail;
	}
	b->skel->rodata->agent_port = o->agent_port;
	b->skel->rodata->agent_mark = o->agent_mark;
	b->skel->rodata->agent_tgid = o->agent_tgid;
	b->skel->rodata->agent_netns_cookie = o->netns_cookie;
	b->skel->rodata->agent_has_v6 = o->has_v6_listener;
	rc = redirect__load(b->skel);
	if (rc) {
		snprintf(err, errlen, "load BPF programs: %s", strerror(-rc));
		goto fail;
	}
	/* A new generation of pins next to the old one: the old is removed only once ours work. */
	snprintf(tag, sizeof(tag), "link_%d_%ld_", (int)getpid(), (long)time(NULL));
	if (o->fail_closed) {
		rc = ensure_bpffs(o->pin_dir, err, errlen);
		if (rc)
			goto fail;
	}
	if (o->fail_closed && mkdir(o->pin_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "create pin dir %s: %s", o->pin_dir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < MLX_BPF_NPROGS; i++) {
		struct bpf_program *p = prog_at(b->skel, i, &name);
		struct bpf_link *l = bpf_program__attach_cgroup(p, b->cgroup_fd);

		if (!l) {
			rc = -errno;
			snprintf(err, errlen, "attach %s to %s: %s", name, b->cgroup_path,
				 strerror(errno));
			goto fail;
		}
		b->links[b->nlinks++] = l;
		if (o->fail_closed) {
			char path[PATH_MAX];

			snprintf(path, sizeof(path), "%s/%s%s", o->pin_dir, tag, name);
			rc = bpf_link__pin(l, path);
			if (rc) {
				snprintf(err, errlen, "pin %s: %s", path, strerror(-rc));
				goto fail;
			}
		}
	}
	b->pinned = o->fail_closed;
	/* Links an earlier agent pinned (crashed in fail-closed mode, or the mode changed). */
	if (o->pin_dir && o->pin_dir[0]) {
		unpin_links(o->pin_dir, o->fail_closed ? tag : NULL);
		if (!o->fail_closed)
			rmdir(o->pin_dir);
	}
	return 0;
fail:
	mlx_bpf_detach(b, true);
	return rc ? rc : -EINVAL;
}

void mlx_bpf_detach(struct mlx_bpf *b, bool unpin)
{
	size_t i;

	for (i = 0; i < b->nlinks; i++) {
		if (b->pinned && unpin)
			bpf_link__unpin(b->links[i]);
		bpf_link__destroy(b->links[i]);
	}
	b->nlinks = 0;
	if (b->pinned && unpin && b->pin_dir[0])
		rmdir(b->pin_dir);
	if (b->skel)
		redirect__destroy(b->skel);
	b->skel = NULL;
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	b->cgroup_fd = -1;
}

int mlx_bpf_target_set(struct mlx_bpf *b, const struct mlx_target_key *k, uint16_t provider_id)
{
	struct mlx_target_val v = { .provider_id = provider_id };

	if (bpf_map__update_elem(b->skel->maps.targets, k, sizeof(*k), &v, sizeof(v), BPF_ANY))
		return -errno;
	return 0;
}

int mlx_bpf_target_del(struct mlx_bpf *b, const struct mlx_target_key *k)
{
	if (bpf_map__delete_elem(b->skel->maps.targets, k, sizeof(*k), 0))
		return -errno;
	return 0;
}

int mlx_bpf_flow_take(struct mlx_bpf *b, const struct mlx_flow_key *k, struct mlx_flow_rec *out)
{
	int fd;

	if (!b->skel)
		return -ENOENT; /* a direct connection while we are still attaching */
	fd = bpf_map__fd(b->skel->maps.flows);
	if (bpf_map_lookup_and_delete_elem(fd, k, out) == 0)
		return 0;
	/* LRU hash maps gained lookup-and-delete late; fall back to two calls. */
	if (bpf_map_lookup_elem(fd, k, out))
		return -ENOENT;
	bpf_map_delete_elem(fd, k);
	return 0;
}

int mlx_bpf_stats(struct mlx_bpf *b, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	uint32_t i;
	int c;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < MLX_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(b->skel->maps.stats, &i, sizeof(i), vals,
					 sizeof(*vals) * ncpu, 0))
			continue;
		for (c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}
