#include "config.h"
#include "roles.h"

#include <string.h>

static const pj_role_info role_table[PJ_ROLE_COUNT] = {
#define PJ_ROLE_ROW(id, name, group, desc) [PJ_ROLE_##id] = { name, PJ_RG_##group, desc },
	PJ_ROLES(PJ_ROLE_ROW)
#undef PJ_ROLE_ROW
};

static const char *const group_names[PJ_RG_COUNT] = {
	[PJ_RG_EMBED] = "embed", [PJ_RG_OUTPUT] = "output", [PJ_RG_ATTN] = "attention",
	[PJ_RG_MLA] = "mla", [PJ_RG_NORM] = "norm", [PJ_RG_FFN] = "ffn",
	[PJ_RG_EXPERT] = "expert", [PJ_RG_SHARED] = "shared_expert", [PJ_RG_ROUTER] = "router",
	[PJ_RG_VISION] = "vision", [PJ_RG_PROJECTOR] = "projector", [PJ_RG_OTHER] = "other",
};

static const char *const component_names[PJ_COMP_COUNT] = {
#define PJ_COMP_ROW(id, name) [PJ_COMP_##id] = name,
	PJ_COMPONENTS(PJ_COMP_ROW)
#undef PJ_COMP_ROW
};

const pj_role_info *pj_role_info_of(pj_role r)
{
	return (unsigned)r < PJ_ROLE_COUNT ? &role_table[r] : &role_table[PJ_ROLE_UNKNOWN];
}

const char *pj_role_name(pj_role r)
{
	return pj_role_info_of(r)->name;
}

const char *pj_role_group_name(pj_role_group g)
{
	return (unsigned)g < PJ_RG_COUNT ? group_names[g] : "other";
}

bool pj_role_from_name(const char *name, pj_role *out)
{
	for (int i = 0; i < PJ_ROLE_COUNT; i++) {
		if (strcmp(role_table[i].name, name) == 0) {
			*out = (pj_role)i;
			return true;
		}
	}
	return false;
}

const char *pj_component_name(pj_component c)
{
	return (unsigned)c < PJ_COMP_COUNT ? component_names[c] : "?";
}
