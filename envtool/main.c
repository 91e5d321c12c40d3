/* ferry-env: the environment tool (no Kafka needed): seed, describe, plan,
 * checksum. Each subcommand lives in cmd_<name>.c. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static int usage(FILE *to)
{
    fprintf(to,
            "usage: ferry-env COMMAND ...\n"
            "  seed STORE [--rows N] [--seed S]       create a sample source environment\n"
            "  describe STORE [--json]                objects, fields, keys and relations\n"
            "  plan STORE OBJECT... [--json]          closure and apply order of an export\n"
            "  checksum STORE [OBJECT...] [--json]    per-table row count and content checksum\n"
            "STORE is a store URI such as sqlite:path/dev.db or postgresql://USER@HOST/DB;\n"
            "every command takes --schema SCHEMA for a PostgreSQL store\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"seed", ferry_env_cmd_seed},
        {"describe", ferry_env_cmd_describe},
        {"plan", ferry_env_cmd_plan},
        {"checksum", ferry_env_cmd_checksum},
    };

    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ferry-env: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
