/* The `mazero` command line: train | eval | bench | config | version. */
#ifndef MZ_CLI_H
#define MZ_CLI_H

#define MZ_VERSION "0.1.0"

/* Returns the process exit status: 0 ok, 1 runtime failure, 2 bad usage,
 * config or input. */
int mz_cli_main(int argc, char **argv);

#endif
