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

/* Opens the store at uri read-only and reads its metadata into *store and
 * *objs (free with ferry_store_destroy / ferry_objset_destroy, also on
 * failure). On failure prints "ferry-env CMD: reason" and returns the exit
 * status (1 out of memory, 2 unreadable store); 0 on success. */
int ferry_env_open_store(const char *cmd, const char *uri, ferry_store_t **store,
                         ferry_objset_t **objs);

#endif
