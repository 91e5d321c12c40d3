/* check_config FILE: exits 0 when ferry's config parser accepts FILE, else
 * prints the error and exits 1. Used by test_deploy.sh on the example configs. */
#include "config.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    ferry_config_t *cfg = NULL;
    char err[512];

    if (argc != 2) {
        fprintf(stderr, "usage: check_config FILE\n");
        return 2;
    }
    if (ferry_config_load(argv[1], &cfg, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ferry_config_destroy(cfg);
    return 0;
}
