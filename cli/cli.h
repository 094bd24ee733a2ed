/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.h - the CLI's subcommands (each a thin front end over shared/) */
#ifndef NSESS_CLI_H
#define NSESS_CLI_H

#define EXIT_USAGE 2
#define EXIT_SETUP 125

/**
 * cli_doctor() - `nsession doctor [--user NAME] [--json] ...`
 * @argc, @argv: argv[0] is "doctor"
 * Return: exit code: 0 nothing failed, 1 a check failed, 2 usage error.
 */
int cli_doctor(int argc, char **argv);

#endif
