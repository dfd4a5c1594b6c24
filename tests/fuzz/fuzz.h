/*
 * fuzz.h - what every libFuzzer target here shares: the entry point's
 * prototype and CHECK, which traps (a crash libFuzzer reports, with the
 * input saved) when a property that holds for any input fails.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#endif
