#ifndef PJ_UI_TREE_H
#define PJ_UI_TREE_H
#endif
