/* modelux.h: map keys, values and counters shared by the BPF programs and the agent.
 * Includes nothing: the includer provides __u8/__u16/__u32/__u64 (vmlinux.h or linux/types.h). */
#ifndef MODELUX_BPF_SHARED_H
#define MODELUX_BPF_SHARED_H

#ifndef MLX_MAX_TARGETS
#define MLX_MAX_TARGETS 65536
#endif
#ifndef MLX_MAX_FLOWS
#define MLX_MAX_FLOWS 65536
#endif
#define MLX_COMM_LEN 16

/* Addresses are always 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d) so one key serves both. */

/* targets map: (provider IP, port) -> provider. Filled by the agent from DNS answers. */
struct mlx_target_key {
	__u8 addr[16];
	__u16 port; /* host order */
	__u16 pad;
};

struct mlx_target_val {
	__u16 provider_id; /* index + 1 into the agent's provider table; 0 never stored */
	__u16 flags;
	__u32 pad;
};

/* flows map key: the client's connection to the agent as seen from the client socket,
 * i.e. the accepted socket's (peer, local) pair, qualified by network namespace. */
struct mlx_flow_key {
	__u64 netns_cookie;
	__u8 src[16]; /* client address */
	__u8 dst[16]; /* agent listener address */
	__u16 sport;  /* host order */
	__u16 dport;  /* host order */
	__u32 pad;
};

/* What connect4/6 learned about a redirected connection. */
struct mlx_flow_rec {
	__u8 orig_dst[16];
	__u16 orig_port; /* host order */
	__u16 provider_id;
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u32 sock_family; /* AF_INET or AF_INET6 of the client's socket */
	__u64 cgroup_id;
	__u64 connect_ns; /* CLOCK_MONOTONIC at connect() */
	char comm[MLX_COMM_LEN];
};

enum mlx_stat {
	MLX_STAT_REDIRECT4 = 0,   /* connect4 redirected to the agent */
	MLX_STAT_REDIRECT6,       /* connect6 redirected (native v6 or v4-mapped) */
	MLX_STAT_SKIP_MARK,       /* target connect skipped: socket carries the agent's mark */
	MLX_STAT_SKIP_AGENT,      /* target connect skipped: issued by the agent process */
	MLX_STAT_NO_STORAGE,      /* could not attach the flow record: connection left direct */
	MLX_STAT_QUIC_CONNECT,    /* UDP connect() to a target refused */
	MLX_STAT_QUIC_SENDMSG,    /* UDP sendmsg() to a target refused */
	MLX_STAT_QUIC_SKB,        /* UDP packet to a target dropped at cgroup egress */
	MLX_STAT_FLOW_RECORDED,   /* sockops copied the record into the flows map */
	MLX_STAT_FLOW_MAP_FAIL,   /* flows map update failed */
	MLX_STAT_PEERNAME,        /* getpeername answered with the original destination */
	MLX_STAT_ORIGDST_HIT,     /* SO_ORIGINAL_DST answered */
	MLX_STAT_ORIGDST_MISS,    /* SO_ORIGINAL_DST asked for a socket with no record */
	MLX_STAT_MAX,
};

#define MLX_STAT_NAMES                                                                        \
	{ "redirect4", "redirect6", "skip_mark", "skip_agent", "no_storage", "quic_connect",  \
	  "quic_sendmsg", "quic_skb", "flow_recorded", "flow_map_fail", "peername",          \
	  "origdst_hit", "origdst_miss" }

#define MLX_SO_ORIGINAL_DST 80 /* SO_ORIGINAL_DST == IP6T_SO_ORIGINAL_DST */

#endif
