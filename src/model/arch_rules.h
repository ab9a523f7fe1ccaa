#ifndef PJ_ARCH_RULES_H
#define PJ_ARCH_RULES_H
#endif
