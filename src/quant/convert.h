#ifndef PJ_CONVERT_H
#define PJ_CONVERT_H
#endif
