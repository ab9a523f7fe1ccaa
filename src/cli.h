/* cli.h - command-line options and mode dispatch (info, demo, TUI). */
#ifndef PJ_CLI_H
#define PJ_CLI_H

/* Exit statuses, documented in --help and the man page. */
enum {
	PJ_EXIT_OK = 0,
	PJ_EXIT_MODEL = 1,    /* the model could not be opened or is malformed */
	PJ_EXIT_USAGE = 2,    /* bad command line */
	PJ_EXIT_RUNTIME = 3,  /* terminal, I/O or internal failure */
};

int pj_cli_main(int argc, char **argv);

#endif
