/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>

#include "cli.h"

int cli_doctor(int argc, char **argv)
{
	fputs("nsession: doctor is not written yet\n", stderr);
	return EXIT_USAGE;
}
