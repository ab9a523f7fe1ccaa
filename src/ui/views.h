#ifndef PJ_UI_VIEWS_H
#define PJ_UI_VIEWS_H
#endif
