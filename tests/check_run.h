/* check_run.h - the end of every Check suite's main(): run the suite, free the
 * runner, and turn the failure count into the exit status ctest reads. */
#ifndef FERRY_CHECK_RUN_H
#define FERRY_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int ferry_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
