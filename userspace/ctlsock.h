/* ctlsock: the agent's two small local servers — the unix control socket modeluxctl talks to
 * ("status", "reload": one command line in, one JSON document out) and the Prometheus metrics
 * port. Both answer from the main thread; requests are tiny and local, so each is read with a
 * short timeout rather than kept as state. Owns the listening sockets. */
#ifndef MODELUX_CTLSOCK_H
#define MODELUX_CTLSOCK_H

#include <stddef.h>

struct agent;

/* ctl_listen - bind the unix socket at <path> (mode 0600, parent created). fd or -errno. */
int ctl_listen(const char *path, char *err, size_t errlen);

/* metrics_listen - bind "host:port" / "[v6]:port". fd or -errno. */
int metrics_listen(const char *addr, char *err, size_t errlen);

/* ctl_serve_one / metrics_serve_one - accept and answer one pending client. */
void ctl_serve_one(struct agent *ag, int lfd);
void metrics_serve_one(struct agent *ag, int lfd);

/* ctl_request - client side: send <cmd> to <path>, return the malloc'd answer or NULL (errno). */
char *ctl_request(const char *path, const char *cmd);

#endif
