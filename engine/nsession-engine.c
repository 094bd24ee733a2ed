/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsession-engine - the NAT engine of one session, in a process of its own
 * image: a rootless nsession execs it once the session's command runs, and
 * root's sessions (pam_nsession, run --user) start it in a child that has
 * dropped to the engine's ids (see shared/enginexec.c, shared/engineprog.c).
 * Not meant to be started by hand.
 */
#include "engineprog.h"

int main(int argc, char *argv[])
{
	return nsess_engine_program_main(argc, argv);
}
