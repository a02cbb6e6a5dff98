/* modelux-agent: command line entry point. Everything else lives in agent.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: modelux-agent [-c FILE] [-n] [-h]\n"
		   "  -c FILE  configuration file (default: embedded defaults;\n"
		   "           see docs/config.md and etc/modelux-agent.conf)\n"
		   "  -n       check the configuration, print \"configuration OK\" or the error, exit\n"
		   "  -h       this help\n"
		   "Signals: SIGHUP reloads the configuration (a bad file keeps the running one);\n"
		   "SIGTERM/SIGINT stop cleanly.\n");
}

int main(int argc, char **argv)
{
	const char *cfg_path = NULL;
	bool check_only = false;
	int opt;

	while ((opt = getopt(argc, argv, "c:nh")) != -1) {
		switch (opt) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check_only) {
		struct mlx_config cfg;
		char err[1024];

		if (cfg_path && !config_load(cfg_path, &cfg, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		if (!cfg_path)
			config_defaults(&cfg);
		config_free(&cfg);
		printf("configuration OK\n");
		return 0;
	}
	return agent_run(cfg_path);
}
