/* commands.h - the subcommands of ferry-env, one file each (cmd_<name>.c).
 * Each takes the arguments after the subcommand name (argv[0] is the name),
 * prints its output on stdout and messages on stderr, and returns the exit
 * status: 0 success, 1 failure, 2 bad usage or input. */
#ifndef FERRY_ENV_COMMANDS_H
#define FERRY_ENV_COMMANDS_H

#include "meta.h"
#include "store.h"

int ferry_env_cmd_seed(int argc, char **argv);
int ferry_env_cmd_describe(int argc, char **argv);
int ferry_env_cmd_plan(int argc, char **argv);
int ferry_env_cmd_checksum(int argc, char **argv);

/* The arguments "STORE [NAME...] [--schema SCHEMA] [--json]" of subcommand
 * cmd (argv[0] is its name): the store URI, the names in their order (argv's
 * own strings), the schema (NULL when not given) and whether --json was
 * given. *names is new (free with free(), also on
 * failure). Returns 0; 1 when out of memory (the message printed); 2 on a
 * usage error (an unknown --option, no STORE), printing nothing: the caller
 * prints its usage. */
int ferry_env_parse_args(const char *cmd, int argc, char **argv, const char **store_uri,
                         const char **schema, const char ***names, size_t *nnames, int *json);

/* Opens the store at uri (schema: the environment's schema, or NULL)
 * read-only and reads its metadata into *store and *objs (free with ferry_store_destroy / ferry_objset_destroy, also on
 * failure). On failure prints "ferry-env CMD: reason" and returns the exit
 * status (1 out of memory, 2 unreadable store); 0 on success. */
int ferry_env_open_store(const char *cmd, const char *uri, const char *schema,
                         ferry_store_t **store, ferry_objset_t **objs);

#endif
