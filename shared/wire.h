/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wire.h - big-endian fields of the frames the engine parses and builds
 * (guard.c, tcpfast.c, vnet.c), read and written a byte at a time: a field
 * of a frame from the session may sit at any alignment.
 */
#ifndef NSESS_WIRE_H
#define NSESS_WIRE_H

#include <stdint.h>

static inline uint16_t wire_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wire_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
