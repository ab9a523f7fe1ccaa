#ifndef PJ_HFCONFIG_H
#define PJ_HFCONFIG_H
#endif
