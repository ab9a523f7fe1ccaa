#ifndef PJ_POOL_H
#define PJ_POOL_H
#endif
