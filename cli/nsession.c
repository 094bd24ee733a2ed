/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsession - the command line front end. Translates options into a run
 * request for the core and its result into an exit code; no logic here.
 *
 * Exit codes: the command's own status (128+N when killed by signal N),
 * 127/126 when the command cannot be run, 125 when nsession itself failed,
 * 2 for usage errors.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "netplan.h"
#include "session.h"


static void cli_usage(FILE *f)
{
	fputs("usage: nsession run [OPTIONS] [--] COMMAND [ARGS...]\n"
	      "       nsession doctor [--user NAME] [--json]\n"
	      "       nsession --version | --help\n"
	      "\n"
	      "Run COMMAND in a fresh user, network and mount namespace.\n"
	      "\n"
	      "run options:\n"
	      "  --map=keep-id|root|auto   id map layout (auto: root rootless, keep-id with --user)\n"
	      "  --net=slirp|none|host     network: private with NAT (default), lo only, host's\n"
	      "  --allow-host-loopback     let the session reach host 127.0.0.1/::1 via 10.0.2.2\n"
	      "  --publish [IP:]HPORT:PORT[/udp]  forward host IP:HPORT to the session's PORT\n"
	      "  --mtu N                   MTU of tap0 (1280..65520, default 65520)\n"
	      "  --no-ipv6                 IPv4 only inside\n"
	      "  --hostname NAME           name for the session's address in /etc/hosts\n"
	      "  --user NAME               (root) run as NAME with NAME's subordinate ids\n"
	      "  --engine-user ACCOUNT     (root, with --user) run the NAT engine as ACCOUNT\n"
	      "  -v, --verbose             say what is done\n",
	      f);
}

static int cli_usage_error(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));

static int cli_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "nsession: ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	fprintf(stderr, fmt, arg);
#pragma GCC diagnostic pop
	fprintf(stderr, "\nTry 'nsession run --help'.\n");
	return EXIT_USAGE;
}

enum {
	OPT_MAP = 256,
	OPT_NET,
	OPT_ALLOW_LOOPBACK,
	OPT_PUBLISH,
	OPT_MTU,
	OPT_NO_IPV6,
	OPT_HOSTNAME,
	OPT_USER,
	OPT_ENGINE_USER,
};

static int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "map", required_argument, NULL, OPT_MAP },
		{ "net", required_argument, NULL, OPT_NET },
		{ "allow-host-loopback", no_argument, NULL, OPT_ALLOW_LOOPBACK },
		{ "publish", required_argument, NULL, OPT_PUBLISH },
		{ "mtu", required_argument, NULL, OPT_MTU },
		{ "no-ipv6", no_argument, NULL, OPT_NO_IPV6 },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "user", required_argument, NULL, OPT_USER },
		{ "engine-user", required_argument, NULL, OPT_ENGINE_USER },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nsess_run_opts o = {
		.root = "/",
		.newuidmap = NSESS_NEWUIDMAP,
		.newgidmap = NSESS_NEWGIDMAP,
	};
	struct nsess_error e = { 0 };
	struct nsess_log log;
	const char *map = "auto";
	int verbose = 0, c, r, code = 0;

	nsess_netplan_defaults(&o.net);
	opterr = 0;
	optind = 1;
	/* '+': options end at the command, whose own options are its business */
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		struct nsess_publish pub;

		switch (c) {
		case OPT_MAP:
			map = optarg;
			break;
		case OPT_NET:
			if (nsess_net_mode_parse(optarg, &o.net.mode, &e) < 0)
				return cli_usage_error("%s", e.msg);
			break;
		case OPT_ALLOW_LOOPBACK:
			o.net.allow_host_loopback = true;
			break;
		case OPT_PUBLISH:
			if (nsess_publish_parse(optarg, &pub, &e) < 0 ||
			    nsess_netplan_add_publish(&o.net, &pub, &e) < 0)
				return cli_usage_error("%s", e.msg);
			break;
		case OPT_MTU:
			if (nsess_mtu_parse(optarg, &o.net.mtu, &e) < 0)
				return cli_usage_error("%s", e.msg);
			break;
		case OPT_NO_IPV6:
			o.net.ipv6 = false;
			break;
		case OPT_HOSTNAME:
			if (strlen(optarg) >= sizeof(o.net.hostname))
				return cli_usage_error("--hostname '%s' is too long (63 characters at most)",
						       optarg);
			strcpy(o.net.hostname, optarg);
			break;
		case OPT_USER:
			o.user = optarg;
			break;
		case OPT_ENGINE_USER:
			o.engine_user = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		case ':':
			return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("unknown option '%s' for 'run'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("%s", "run: no command given (nsession run [OPTIONS] -- COMMAND)");
	o.argv = argv + optind;

	if (strcmp(map, "auto") == 0) {
		o.layout = o.user ? NSESS_LAYOUT_KEEP_ID : NSESS_LAYOUT_ROOT;
	} else if (nsess_layout_parse(map, &o.layout) < 0 || o.layout == NSESS_LAYOUT_SINGLE) {
		return cli_usage_error("--map '%s': choose keep-id, root or auto", map);
	}
	if (o.user && geteuid() != 0)
		return cli_usage_error("--user %s needs root (a normal user runs as themselves)",
				       o.user);
	if (o.engine_user && !o.user)
		return cli_usage_error("--engine-user %s goes with --user (a rootless engine is "
				       "the user's own process)", o.engine_user);
	if (o.engine_user && o.net.mode != NSESS_NET_SLIRP)
		return cli_usage_error("--engine-user needs --net=slirp (got --net=%s: no engine)",
				       nsess_net_mode_name(o.net.mode));
	if (o.net.mode != NSESS_NET_SLIRP && (o.net.n_publish || o.net.allow_host_loopback))
		return cli_usage_error("--publish and --allow-host-loopback need --net=slirp (got --net=%s)",
				       nsess_net_mode_name(o.net.mode));

	nsess_log_stderr(&log, verbose);
	r = nsess_run(&o, &log, &code);
	if (r < 0)
		return EXIT_SETUP;
	return code;
}

int main(int argc, char **argv)
{
	/*
	 * SIGCHLD ignored by whoever started us (kept across exec) would have
	 * the kernel reap our children on exit: their pids could then be
	 * reused while we still name them, and their exit codes would be lost.
	 */
	signal(SIGCHLD, SIG_DFL);
	if (argc < 2) {
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("nsession %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cli_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cli_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "doctor") == 0)
		return cli_doctor(argc - 1, argv + 1);
	fprintf(stderr, "nsession: unknown command '%s'\nTry 'nsession --help'.\n", argv[1]);
	return EXIT_USAGE;
}
