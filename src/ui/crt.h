#ifndef PJ_UI_CRT_H
#define PJ_UI_CRT_H
#endif
