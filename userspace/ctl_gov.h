/* ctl_gov: modeluxctl's governance commands (log, keys, prices, policy, budgets). */
#ifndef MODELUX_CTL_GOV_H
#define MODELUX_CTL_GOV_H

#include "config.h"

/* ctl_gov_main - run argv[0] with its arguments; the exit status, or -1 when argv[0] is not one
 * of these commands. <sock> is the agent's control socket. */
int ctl_gov_main(const struct mlx_config *cfg, const char *sock, int argc, char **argv);

#endif
