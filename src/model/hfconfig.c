#include "config.h"
/* TODO: placeholder until implemented */
typedef int pj_placeholder_hfconfig;
