#ifndef PJ_UI_KEYS_H
#define PJ_UI_KEYS_H
#endif
