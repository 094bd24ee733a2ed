/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_sync.c - libFuzzer target for the parent/child protocol decoder.
 *
 * The input is one datagram as nsess_sync_recv() would hand it over. A
 * datagram the decoder accepts must encode back to the very same bytes:
 * the wire format has exactly one spelling per message, so anything else
 * means the decoder accepted something the encoder cannot produce (or lost
 * a field on the way). Built by scripts/fuzz; see tests/fuzz/README.md.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t wire[NSESS_SYNC_WIRE_MAX];
	struct nsess_sync_msg m;
	size_t n;

	memset(&m, 0xa5, sizeof(m));
	if (nsess_sync_decode(data, size, &m) < 0)
		return 0;

	/* what the header promises about a decoded message */
	if (m.type < NSESS_SYNC_ERROR || m.type >= NSESS_SYNC_TYPE_MAX)
		abort();
	if (m.stage < 0 || m.stage >= NSESS_STAGE_MAX || m.err < 0)
		abort();
	if (m.text_len > NSESS_SYNC_TEXT_MAX || m.text[m.text_len] != '\0' ||
	    strlen(m.text) != m.text_len)
		abort();
	if (!nsess_stage_name(m.stage))
		abort();

	n = nsess_sync_encode(&m, wire);
	if (n != size || memcmp(wire, data, size) != 0)
		abort();
	return 0;
}
