/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("nsession %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: nsession --version\n");
	return 2;
}
