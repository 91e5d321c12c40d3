/* commands.h - the subcommands of ferry-env, one file each (cmd_<name>.c).
 * Each takes the arguments after the subcommand name (argv[0] is the name),
 * prints its output on stdout and messages on stderr, and returns the exit
 * status: 0 success, 1 failure, 2 bad usage or input. */
#ifndef FERRY_ENV_COMMANDS_H
#define FERRY_ENV_COMMANDS_H

int ferry_env_cmd_seed(int argc, char **argv);
int ferry_env_cmd_describe(int argc, char **argv);
int ferry_env_cmd_plan(int argc, char **argv);
int ferry_env_cmd_checksum(int argc, char **argv);

#endif
