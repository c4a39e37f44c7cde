#include "cli.h"
int cmd_tokenize(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cmd_embed(int argc, char **argv) { (void)argc; (void)argv; return 1; }
