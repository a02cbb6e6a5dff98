// SPDX-License-Identifier: GPL-2.0
/* redirect.bpf.c: steers TCP connections to LLM provider endpoints into modelux-agent,
 * keeps the original destination for the agent (flows map, SO_ORIGINAL_DST) and for the
 * application (getpeername), and refuses UDP (QUIC) to the same endpoints so clients fall back
 * to TCP at once. Every hook fails open: anything unexpected lets the call through untouched. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "modelux.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOL_IP 0
#define SOL_IPV6 41
#define IPPROTO_UDP 17
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

#define VERDICT_ALLOW 1
#define VERDICT_REFUSE 0 /* the syscall fails with EPERM */

_Static_assert(sizeof(struct mlx_target_key) == 20, "target key layout");
_Static_assert(sizeof(struct mlx_target_val) == 8, "target value layout");
_Static_assert(sizeof(struct mlx_flow_key) == 48, "flow key layout");
_Static_assert(sizeof(struct mlx_flow_rec) == 72, "flow record layout");

/* Set by the agent before load. */
const volatile __u16 agent_port = 15001;    /* listener on 127.0.0.1 and ::1, host order */
const volatile __u32 agent_mark = 0;        /* SO_MARK of the agent's own upstream sockets */
const volatile __u32 agent_tgid = 0;        /* the agent process: never redirected */
const volatile __u64 agent_netns_cookie = 0; /* TCP redirect only in the agent's netns (0 = any) */
const volatile bool agent_has_v6 = true;    /* a listener on ::1 exists; else native v6 stays direct */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MLX_MAX_TARGETS);
	__type(key, struct mlx_target_key);
	__type(value, struct mlx_target_val);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MLX_MAX_FLOWS);
	__type(key, struct mlx_flow_key);
	__type(value, struct mlx_flow_rec);
} flows SEC(".maps");

/* Per-socket record on the client's socket: lives exactly as long as the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mlx_flow_rec);
} sock_recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MLX_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);

	if (v)
		*v += 1;
}

static __always_inline void addr_from_v4(__u8 out[16], __u32 ip4_be)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &ip4_be, 4);
}

static __always_inline void addr_from_v6(__u8 out[16], const __u32 w[4])
{
	__u32 tmp[4] = { w[0], w[1], w[2], w[3] };

	__builtin_memcpy(out, tmp, 16);
}

static __always_inline bool addr_is_v4_mapped(const __u32 w[4])
{
	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

static __always_inline struct mlx_target_val *target_lookup(const __u8 addr[16], __u16 port)
{
	struct mlx_target_key key = { .port = port };

	__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(&targets, &key);
}

/* Fill the per-socket record of a connection about to be redirected. False: leave it direct. */
static __always_inline bool record_connect(struct bpf_sock_addr *ctx, const __u8 dst[16],
					   __u16 port, __u16 provider_id)
{
	struct mlx_flow_rec *rec;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	if (!ctx->sk)
		return false;
	rec = bpf_sk_storage_get(&sock_recs, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!rec) {
		count(MLX_STAT_NO_STORAGE);
		return false;
	}
	__builtin_memcpy(rec->orig_dst, dst, 16);
	rec->orig_port = port;
	rec->provider_id = provider_id;
	rec->tgid = pid_tgid >> 32;
	rec->tid = (__u32)pid_tgid;
	rec->uid = (__u32)uid_gid;
	rec->gid = uid_gid >> 32;
	rec->sock_family = ctx->family;
	rec->cgroup_id = bpf_get_current_cgroup_id();
	rec->connect_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	return true;
}

/* Common decision for connect4/connect6. Returns the provider id to redirect to, 0 to leave the
 * call alone, or -1 to refuse it (UDP to a target: QUIC). */
static __always_inline int connect_decision(struct bpf_sock_addr *ctx, const __u8 dst[16],
					    __u16 port)
{
	struct mlx_target_val *tv = target_lookup(dst, port);

	if (!tv)
		return 0;
	if (ctx->type == SOCK_DGRAM) {
		count(MLX_STAT_QUIC_CONNECT);
		return -1;
	}
	if (ctx->type != SOCK_STREAM)
		return 0;
	if (agent_netns_cookie && bpf_get_netns_cookie(ctx) != agent_netns_cookie)
		return 0;
	if (agent_mark && ctx->sk && ctx->sk->mark == agent_mark) {
		count(MLX_STAT_SKIP_MARK);
		return 0;
	}
	if (agent_tgid && (bpf_get_current_pid_tgid() >> 32) == agent_tgid) {
		count(MLX_STAT_SKIP_AGENT);
		return 0;
	}
	return tv->provider_id;
}

SEC("cgroup/connect4")
int mlx_connect4(struct bpf_sock_addr *ctx)
{
	__u8 dst[16];
	__u16 port = bpf_ntohs(ctx->user_port);
	int provider;

	addr_from_v4(dst, ctx->user_ip4);
	provider = connect_decision(ctx, dst, port);
	if (provider < 0)
		return VERDICT_REFUSE;
	if (provider == 0 || !record_connect(ctx, dst, port, provider))
		return VERDICT_ALLOW;
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons(agent_port);
	count(MLX_STAT_REDIRECT4);
	return VERDICT_ALLOW;
}

SEC("cgroup/connect6")
int mlx_connect6(struct bpf_sock_addr *ctx)
{
	__u32 w[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	__u16 port = bpf_ntohs(ctx->user_port);
	__u8 dst[16];
	int provider;
	bool mapped = addr_is_v4_mapped(w);

	addr_from_v6(dst, w);
	provider = connect_decision(ctx, dst, port);
	if (provider < 0)
		return VERDICT_REFUSE;
	if (provider == 0 || (!mapped && !agent_has_v6))
		return VERDICT_ALLOW;
	if (!record_connect(ctx, dst, port, provider))
		return VERDICT_ALLOW;
	if (mapped) {
		/* A dual-stack socket reaching an IPv4 target: stay on IPv4 via ::ffff:127.0.0.1. */
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = bpf_htonl(0x7f000001);
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = bpf_htons(agent_port);
	count(MLX_STAT_REDIRECT6);
	return VERDICT_ALLOW;
}

/* Unconnected UDP sends to a target (QUIC) are refused too. */
static __always_inline int sendmsg_verdict(const __u8 dst[16], __u16 port)
{
	if (!target_lookup(dst, port))
		return VERDICT_ALLOW;
	count(MLX_STAT_QUIC_SENDMSG);
	return VERDICT_REFUSE;
}

SEC("cgroup/sendmsg4")
int mlx_sendmsg4(struct bpf_sock_addr *ctx)
{
	__u8 dst[16];

	addr_from_v4(dst, ctx->user_ip4);
	return sendmsg_verdict(dst, bpf_ntohs(ctx->user_port));
}

SEC("cgroup/sendmsg6")
int mlx_sendmsg6(struct bpf_sock_addr *ctx)
{
	__u32 w[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	__u8 dst[16];

	addr_from_v6(dst, w);
	return sendmsg_verdict(dst, bpf_ntohs(ctx->user_port));
}

/* Applications keep seeing the peer they asked for. */
SEC("cgroup/getpeername4")
int mlx_getpeername4(struct bpf_sock_addr *ctx)
{
	struct mlx_flow_rec *rec;
	__u32 ip4;

	if (!ctx->sk)
		return VERDICT_ALLOW;
	rec = bpf_sk_storage_get(&sock_recs, ctx->sk, 0, 0);
	if (!rec)
		return VERDICT_ALLOW;
	__builtin_memcpy(&ip4, &rec->orig_dst[12], 4);
	ctx->user_ip4 = ip4;
	ctx->user_port = bpf_htons(rec->orig_port);
	count(MLX_STAT_PEERNAME);
	return VERDICT_ALLOW;
}

SEC("cgroup/getpeername6")
int mlx_getpeername6(struct bpf_sock_addr *ctx)
{
	struct mlx_flow_rec *rec;
	__u32 w[4];

	if (!ctx->sk)
		return VERDICT_ALLOW;
	rec = bpf_sk_storage_get(&sock_recs, ctx->sk, 0, 0);
	if (!rec)
		return VERDICT_ALLOW;
	__builtin_memcpy(w, rec->orig_dst, 16);
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	ctx->user_port = bpf_htons(rec->orig_port);
	count(MLX_STAT_PEERNAME);
	return VERDICT_ALLOW;
}

/* Once the source port is chosen, publish the record under the 4-tuple the agent will see. */
SEC("sockops")
int mlx_sockops(struct bpf_sock_ops *skops)
{
	struct mlx_flow_key key = {};
	struct mlx_flow_rec *rec;
	struct bpf_sock *sk;

	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	rec = bpf_sk_storage_get(&sock_recs, sk, 0, 0);
	if (!rec)
		return 1;
	key.netns_cookie = bpf_get_netns_cookie(skops);
	if (skops->family == AF_INET) {
		addr_from_v4(key.src, skops->local_ip4);
		addr_from_v4(key.dst, skops->remote_ip4);
	} else {
		__u32 l[4] = { skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2],
			       skops->local_ip6[3] };
		__u32 r[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			       skops->remote_ip6[3] };

		addr_from_v6(key.src, l);
		addr_from_v6(key.dst, r);
	}
	key.sport = (__u16)skops->local_port;
	key.dport = (__u16)bpf_ntohl(skops->remote_port);
	if (bpf_map_update_elem(&flows, &key, rec, BPF_ANY))
		count(MLX_STAT_FLOW_MAP_FAIL);
	else
		count(MLX_STAT_FLOW_RECORDED);
	return 1;
}

/* Answer getsockopt(SOL_IP/SOL_IPV6, SO_ORIGINAL_DST) on the agent's accepted sockets, so the
 * agent reads its original destination as if it sat behind an iptables REDIRECT. */
SEC("cgroup/getsockopt")
int mlx_getsockopt(struct bpf_sockopt *ctx)
{
	struct mlx_flow_key key = {};
	struct mlx_flow_rec *rec;
	struct bpf_sock *sk = ctx->sk;
	bool want_v4;

	if (ctx->optname != MLX_SO_ORIGINAL_DST || !sk)
		return 1;
	if (ctx->level == SOL_IP)
		want_v4 = true;
	else if (ctx->level == SOL_IPV6)
		want_v4 = false;
	else
		return 1;
	key.netns_cookie = bpf_get_netns_cookie(ctx);
	if (sk->family == AF_INET) {
		addr_from_v4(key.src, sk->dst_ip4);
		addr_from_v4(key.dst, sk->src_ip4);
	} else {
		__u32 l[4] = { sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3] };
		__u32 r[4] = { sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2], sk->dst_ip6[3] };

		addr_from_v6(key.src, r);
		addr_from_v6(key.dst, l);
	}
	key.sport = bpf_ntohs(sk->dst_port);
	key.dport = (__u16)sk->src_port;
	rec = bpf_map_lookup_elem(&flows, &key);
	if (!rec) {
		count(MLX_STAT_ORIGDST_MISS);
		return 1;
	}
	if (want_v4) {
		struct sockaddr_in *sin = ctx->optval;
		__u32 ip4;

		if ((void *)(sin + 1) > ctx->optval_end)
			return 1;
		__builtin_memcpy(&ip4, &rec->orig_dst[12], 4);
		sin->sin_family = AF_INET;
		sin->sin_port = bpf_htons(rec->orig_port);
		sin->sin_addr.s_addr = ip4;
		__builtin_memset(sin->__pad, 0, sizeof(sin->__pad));
		ctx->optlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = ctx->optval;

		if ((void *)(sin6 + 1) > ctx->optval_end)
			return 1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = bpf_htons(rec->orig_port);
		sin6->sin6_flowinfo = 0;
		__builtin_memcpy(&sin6->sin6_addr, rec->orig_dst, 16);
		sin6->sin6_scope_id = 0;
		ctx->optlen = sizeof(*sin6);
	}
	ctx->retval = 0;
	count(MLX_STAT_ORIGDST_HIT);
	return 1;
}

/* Egress guard for UDP to targets that reached the wire anyway (a socket connected before its
 * destination was learned). Pure packet logic, so it is unit tested with BPF_PROG_TEST_RUN. */
SEC("cgroup_skb/egress")
int mlx_quic_guard(struct __sk_buff *skb)
{
	__u8 dst[16];
	__u16 dport_be;
	__u32 l4off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP)
			return VERDICT_ALLOW;
		if (ip.frag_off & bpf_htons(0x1fff))
			return VERDICT_ALLOW; /* later fragments carry no UDP header */
		l4off = ip.ihl * 4;
		if (l4off < sizeof(ip))
			return VERDICT_ALLOW;
		addr_from_v4(dst, ip.daddr);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP)
			return VERDICT_ALLOW;
		l4off = sizeof(ip6);
		__builtin_memcpy(dst, &ip6.daddr, 16);
	} else {
		return VERDICT_ALLOW;
	}
	if (bpf_skb_load_bytes(skb, l4off + 2, &dport_be, sizeof(dport_be)))
		return VERDICT_ALLOW;
	if (!target_lookup(dst, bpf_ntohs(dport_be)))
		return VERDICT_ALLOW;
	count(MLX_STAT_QUIC_SKB);
	return VERDICT_REFUSE;
}

char LICENSE[] SEC("license") = "GPL";
