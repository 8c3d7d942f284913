/*
 * A dozen macros for unit tests. Each test file is one program with one or
 * more TEST(name) functions listed in TEST_MAIN(...). A failed expectation
 * prints file:line and the expression, marks the current test failed and
 * carries on. The program prints "N passed, N failed" and exits non-zero on
 * any failure.
 */
#ifndef AUTHD_TESTS_UNIT_TEST_H
#define AUTHD_TESTS_UNIT_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__failed_here;

#define TEST(name) static void name(void)

#define TEST__FAIL(fmt, ...)                                                  \
	do {                                                                  \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__,     \
		    __VA_ARGS__);                                             \
		test__failed_here = 1;                                        \
	} while (0)

#define EXPECT(cond)                                                          \
	do {                                                                  \
		if (!(cond))                                                  \
			TEST__FAIL("expected %s", #cond);                     \
	} while (0)

#define EXPECT_OK(call)                                                       \
	do {                                                                  \
		long test__r = (long)(call);                                  \
		if (test__r != 0)                                             \
			TEST__FAIL("%s returned %ld, expected 0", #call,      \
			    test__r);                                         \
	} while (0)

#define EXPECT_ERR(call, code)                                                \
	do {                                                                  \
		long test__r = (long)(call);                                  \
		if (test__r != (long)(code))                                  \
			TEST__FAIL("%s returned %ld, expected %s (%ld)",      \
			    #call, test__r, #code, (long)(code));             \
	} while (0)

#define EXPECT_EQ(a, b)                                                       \
	do {                                                                  \
		long long test__a = (long long)(a), test__b = (long long)(b); \
		if (test__a != test__b)                                       \
			TEST__FAIL("%s == %s: %lld != %lld", #a, #b, test__a, \
			    test__b);                                         \
	} while (0)

#define EXPECT_STR(a, b)                                                      \
	do {                                                                  \
		const char *test__a = (a), *test__b = (b);                    \
		if (test__a == NULL || test__b == NULL ||                     \
		    strcmp(test__a, test__b) != 0)                            \
			TEST__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,      \
			    test__a ? test__a : "(null)",                     \
			    test__b ? test__b : "(null)");                    \
	} while (0)

/* Stop the current test when a precondition for the rest does not hold. */
#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			TEST__FAIL("required %s", #cond);                     \
			return;                                               \
		}                                                             \
	} while (0)

static inline int
test__rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path (a test's mkdtemp directory). Returns 0 or -1. */
static inline int
test_rm_tree(const char *path)
{
	return nftw(path, test__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

typedef void (*test__fn)(void);

static inline int
test__run(const char *prog, const char *const *names, const test__fn *fns, size_t n)
{
	const char *only = getenv("TEST_ONLY");
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		if (only != NULL && strcmp(only, names[i]) != 0)
			continue;
		test__failed_here = 0;
		fns[i]();
		if (test__failed_here) {
			failed++;
			fprintf(stderr, "FAIL %s: %s\n", prog, names[i]);
		} else {
			passed++;
			printf("ok   %s: %s\n", prog, names[i]);
		}
	}
	printf("%s: %d passed, %d failed\n", prog, passed, failed);
	return failed ? 1 : 0;
}

#define TEST__STR(...) #__VA_ARGS__

/* TEST_MAIN(t1, t2, ...) defines main() running the listed tests in order. */
#define TEST_MAIN(...)                                                        \
	int main(int argc, char **argv)                                       \
	{                                                                     \
		static const test__fn fns[] = { __VA_ARGS__ };                \
		static char names_buf[] = TEST__STR(__VA_ARGS__);             \
		const char *names[sizeof(fns) / sizeof(fns[0])];              \
		size_t k = 0;                                                 \
		char *save = NULL;                                            \
		(void)argc;                                                   \
		for (char *t = strtok_r(names_buf, ", ", &save);              \
		     t != NULL && k < sizeof(fns) / sizeof(fns[0]);           \
		     t = strtok_r(NULL, ", ", &save))                         \
			names[k++] = t;                                       \
		return test__run(argv[0], names, fns, k);                     \
	}

#endif
