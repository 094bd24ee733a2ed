/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsession-engine - the NAT engine of a rootless session, in a process of
 * its own image: nsession execs it once the session's command runs (see
 * shared/enginexec.c). Not meant to be started by hand.
 */
#include "enginexec.h"

int main(int argc, char *argv[])
{
	return nsess_engine_program_main(argc, argv);
}
