/* arch_names.c - names of traits, families and layer kinds (from the tables
 * in arch.h), and the one-line architecture summary used by --info and the
 * TUI header.  Detection itself lives in arch.c. */
#include "config.h"
#include "arch.h"

#include <stdio.h>

static const char *const trait_names[PJ_TRAIT_COUNT] = {
#define PJ_TRAIT_NAME(id, name) [PJ_TRAIT_BIT_##id] = name,
	PJ_TRAITS(PJ_TRAIT_NAME)
#undef PJ_TRAIT_NAME
};

static const char *const family_names[PJ_FAMILY_COUNT] = {
#define PJ_FAMILY_NAME(id, name) [PJ_FAMILY_##id] = name,
	PJ_FAMILIES(PJ_FAMILY_NAME)
#undef PJ_FAMILY_NAME
};

static const char *const attn_names[PJ_ATTN_COUNT] = {
	[PJ_ATTN_NONE] = "none", [PJ_ATTN_GLOBAL] = "global", [PJ_ATTN_LOCAL] = "local",
	[PJ_ATTN_MLA] = "mla", [PJ_ATTN_LINEAR] = "linear",
};

static const char *const ffn_names[PJ_FFN_COUNT] = {
	[PJ_FFN_NONE] = "none", [PJ_FFN_DENSE] = "dense", [PJ_FFN_MOE] = "moe",
};

const char *pj_trait_name(unsigned bit_index)
{
	return bit_index < PJ_TRAIT_COUNT ? trait_names[bit_index] : "?";
}

const char *pj_family_name(pj_family f)
{
	return (unsigned)f < PJ_FAMILY_COUNT ? family_names[f] : "?";
}

const char *pj_attn_kind_name(pj_attn_kind k)
{
	return (unsigned)k < PJ_ATTN_COUNT ? attn_names[k] : "?";
}

const char *pj_ffn_kind_name(pj_ffn_kind k)
{
	return (unsigned)k < PJ_FFN_COUNT ? ffn_names[k] : "?";
}

/* "MoE 128x8 + GQA 32/4", "hybrid 5:1 local(1024)/global + GQA 8/4",
 * "MoE 256x8+1 shared + MLA r=512", "enc-dec 12+12", "dense MHA 32". */
const char *pj_arch_summary(const pj_arch *a, char *buf, size_t len)
{
	size_t off = 0;
#define PUT(...) do { if (off < len) off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); } while (0)
	buf[0] = '\0';
	if (a->traits & PJ_TRAIT(MOE)) {
		PUT("MoE %dx%d", a->n_experts, a->n_experts_active);
		if (a->n_shared_experts)
			PUT("+%d shared", a->n_shared_experts);
	} else if (a->traits & PJ_TRAIT(ENCDEC)) {
		PUT("enc-dec %d+%d", a->encoder_layers, a->decoder_layers);
	} else {
		PUT("dense");
	}
	if (a->traits & PJ_TRAIT(HYBRID))
		PUT(" + hybrid %s local(%d)/global", a->local_global[0] ? a->local_global : "?", a->sliding_window);
	if (a->traits & PJ_TRAIT(LINEAR))
		PUT(" + linear-attn %d/%d", a->n_linear_layers, a->n_layers);
	if (a->traits & PJ_TRAIT(MLA))
		PUT(" + MLA r=%d", a->kv_lora_rank);
	else if (a->traits & PJ_TRAIT(MQA))
		PUT(" + MQA %d/1", a->n_heads);
	else if (a->traits & PJ_TRAIT(GQA))
		PUT(" + GQA %d/%d", a->n_heads, a->n_kv_heads);
	else if (a->n_heads)
		PUT(" + MHA %d", a->n_heads);
	if (a->traits & PJ_TRAIT(MULTIMODAL))
		PUT(" + vision(%s)", a->vision_type[0] ? a->vision_type : "tower");
#undef PUT
	return buf;
}
