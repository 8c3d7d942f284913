/*
 * What every libFuzzer harness here shares: the entry point's prototype
 * (for -Wmissing-prototypes) and CHECK, which aborts so libFuzzer records
 * the input that broke a property.
 */
#ifndef AUTHD_TESTS_FUZZ_FUZZ_H
#define AUTHD_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)							\
	do {								\
		if (!(cond))						\
			abort();					\
	} while (0)

#endif
