#include "src/cli.h"

int main(int argc, char **argv) { return mz_cli_main(argc, argv); }
