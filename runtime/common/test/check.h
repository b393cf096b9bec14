/* The C unit tests' checks (make check): CHECK counts a failure and goes on; checks_done ends
 * the test with its verdict. */
#ifndef VMRT_CHECK_H
#define VMRT_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                   \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

/* The exit status of a test named `what`: 0 when every check held. */
static inline int checks_done(const char *what)
{
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("%s: all checks passed\n", what);
    return 0;
}

#endif
