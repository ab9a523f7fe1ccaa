#include "config.h"
typedef int pj_placeholder_keys;
