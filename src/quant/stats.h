#ifndef PJ_STATS_H
#define PJ_STATS_H
#endif
