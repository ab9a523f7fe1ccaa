#include "config.h"
#include <stdio.h>
int main(void) { fprintf(stderr, "pj-fixture: not implemented yet\n"); return 1; }
