#include "config.h"
typedef int pj_placeholder_detail_view;
