/* main.c - main() only; everything else is in cli.c. */
#include "config.h"
#include "cli.h"

int main(int argc, char **argv)
{
	return pj_cli_main(argc, argv);
}
