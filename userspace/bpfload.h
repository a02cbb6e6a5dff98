/* bpfload: loads the redirect programs, attaches them to the scope cgroup, pins them in
 * fail-closed mode, and is the only module touching the BPF maps from userspace.
 * Owns the skeleton, the cgroup fd and the links. */
#ifndef MODELUX_BPFLOAD_H
#define MODELUX_BPFLOAD_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modelux.h"

struct redirect;

struct mlx_bpf_opts {
	const char *scope;       /* cgroup path relative to the cgroup2 mount ("/" = whole host) */
	uint16_t agent_port;
	uint32_t agent_mark;
	uint32_t agent_tgid;
	uint64_t netns_cookie;   /* restrict TCP redirect to this netns (0 = any) */
	bool has_v6_listener;    /* the agent listens on ::1; without it native IPv6 stays direct */
	bool fail_closed;        /* pin links under <pin_dir> so they outlive the agent */
	const char *pin_dir;
};

#define MLX_BPF_NPROGS 9

struct mlx_bpf {
	struct redirect *skel;
	int cgroup_fd;
	char cgroup_path[512];
	struct bpf_link *links[MLX_BPF_NPROGS];
	size_t nlinks;
	bool pinned;
	char pin_dir[256];
};

/* cgroup2_mount - find the cgroup2 mount point in /proc/mounts into <out>. 0 or -ENOENT. */
int cgroup2_mount(char *out, size_t outlen);

/* netns_cookie_self - the network namespace cookie of the calling thread's netns. */
int netns_cookie_self(uint64_t *cookie);

/* mlx_bpf_attach - load, configure and attach. Replaces links pinned by an earlier agent
 * (attach new first, then drop old pins) so there is no window without redirect.
 * Returns 0 or -errno with a message in <err>. */
int mlx_bpf_attach(struct mlx_bpf *b, const struct mlx_bpf_opts *o, char *err, size_t errlen);

/* mlx_bpf_detach - drop our links. With <unpin>, pinned links are removed too (redirect ends);
 * without, pinned links stay in force (fail-closed survives a stop). */
void mlx_bpf_detach(struct mlx_bpf *b, bool unpin);

/* mlx_bpf_unpin_dir - remove pinned links left in <pin_dir> (modeluxctl detach). */
int mlx_bpf_unpin_dir(const char *pin_dir);

int mlx_bpf_target_set(struct mlx_bpf *b, const struct mlx_target_key *k, uint16_t provider_id);
int mlx_bpf_target_del(struct mlx_bpf *b, const struct mlx_target_key *k);

/* mlx_bpf_flow_take - look up and delete the flow record for <k>. 0 or -ENOENT. */
int mlx_bpf_flow_take(struct mlx_bpf *b, const struct mlx_flow_key *k, struct mlx_flow_rec *out);

/* mlx_bpf_stats - sum the per-CPU counters into <out>[MLX_STAT_MAX]. */
int mlx_bpf_stats(struct mlx_bpf *b, uint64_t *out);

#endif
