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

/* Family first, then the other traits: "MoE 128x8 + GQA 32/4",
 * "hybrid 5:1 local(1024)/global + GQA 32/16 + vision", "MoE 256x8+1 shared +
 * MLA r=512", "dense GQA 32/8", "enc-dec 12+12", "hybrid 3:1 linear/full". */
const char *pj_arch_summary(const pj_arch *a, char *buf, size_t len)
{
	size_t off = 0;
	unsigned t = a->traits;
#define PUT(...) do { if (off < len) off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); } while (0)
	if (!len)
		return buf;
	buf[0] = '\0';
	switch (a->family) {
	case PJ_FAMILY_MOE:
		PUT("MoE %dx%d", a->n_experts, a->n_experts_active);
		if (a->n_shared_experts)
			PUT("+%d shared", a->n_shared_experts);
		break;
	case PJ_FAMILY_HYBRID: PUT("hybrid"); break;
	case PJ_FAMILY_MLA: PUT("MLA r=%d", a->kv_lora_rank); break;
	case PJ_FAMILY_MULTIMODAL: PUT("multimodal(%s)", a->vision_type[0] ? a->vision_type : "vision"); break;
	case PJ_FAMILY_ENCDEC: PUT("enc-dec %d+%d", a->encoder_layers, a->decoder_layers); break;
	default: PUT("dense"); break;
	}
	if (t & PJ_TRAIT(HYBRID)) {
		const char *lg = a->local_global[0] ? a->local_global : "?";
		PUT("%s", a->family == PJ_FAMILY_HYBRID ? " " : " + hybrid ");
		if (a->n_linear_layers)
			PUT("%s linear/full", lg);
		else
			PUT("%s local(%d)/global", lg, a->sliding_window);
	} else if (a->n_local_layers) {
		PUT(" + sliding(%d)", a->sliding_window);
	}
	if ((t & PJ_TRAIT(MLA)) && a->family != PJ_FAMILY_MLA)
		PUT(" + MLA r=%d", a->kv_lora_rank);
	const char *sep = a->family == PJ_FAMILY_DENSE ? " " : " + ";
	if (t & PJ_TRAIT(MQA))
		PUT("%sMQA %d/1", sep, a->n_heads);
	else if (t & PJ_TRAIT(GQA))
		PUT("%sGQA %d/%d", sep, a->n_heads, a->n_kv_heads);
	else if (a->family == PJ_FAMILY_DENSE && a->n_heads && !(t & PJ_TRAIT(MLA)))
		PUT(" MHA %d", a->n_heads);
	if ((t & PJ_TRAIT(MULTIMODAL)) && a->family != PJ_FAMILY_MULTIMODAL)
		PUT(" + vision");
	if ((t & PJ_TRAIT(ENCDEC)) && a->family != PJ_FAMILY_ENCDEC)
		PUT(" + enc-dec %d+%d", a->encoder_layers, a->decoder_layers);
#undef PUT
	return buf;
}
