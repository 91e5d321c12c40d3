/* args.c - the arguments most ferry-env subcommands share (commands.h). */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ferry_env_parse_args(const char *cmd, int argc, char **argv, const char **store_uri,
                         const char **schema, const char ***names, size_t *nnames, int *json)
{
    *store_uri = NULL;
    *schema = NULL;
    *nnames = 0;
    *json = 0;
    if (!(*names = calloc((size_t)argc + 1, sizeof(**names)))) {
        fprintf(stderr, "ferry-env %s: out of memory\n", cmd);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (!strcmp(argv[i], "--schema") && i + 1 < argc)
            *schema = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return 2;
        else if (!*store_uri)
            *store_uri = argv[i];
        else
            (*names)[(*nnames)++] = argv[i];
    }
    return *store_uri ? 0 : 2;
}
