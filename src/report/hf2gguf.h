/* hf2gguf.h - a Hugging Face folder seen as the GGUF llama.cpp's converter
 * (convert_hf_to_gguf.py) would write from it.
 *
 * pj_hf2gguf_open() reads config.json, the tokenizer files and the tensor
 * catalog of an opened HF model and prepares, without touching tensor data:
 *   - the metadata, key for key in the converter's order, with its value
 *     types (general.*, <arch>.* hyper-parameters, tokenizer.ggml.*);
 *   - the output tensors in the converter's order, with GGUF names,
 *     ggml-order shapes and the converter's types for the chosen outtype
 *     (F32, F16 or BF16: 1-D tensors, norms, routers and biases are F32);
 *   - for each output tensor, a recipe over the source tensors: plain copy,
 *     llama's q/k rope row permutation, Gemma's norm + 1, per-expert tensors
 *     stacked into 3-D ffn_*_exps (expert outermost), DeepSeek MLA kv_b split
 *     into attn_k_b (transposed per head) and attn_v_b, FP8 weights with
 *     block scales dequantized (scale tensors are consumed, not written).
 *
 * Data is produced one matrix at a time (one expert of a stack, one head of
 * attn_k_b/attn_v_b, the whole tensor otherwise) as the f32 values the
 * converter's file holds: the transformed values rounded through the tensor's
 * output type.  So a caller never holds more than one matrix, and quantizing
 * those values gives llama-quantize's bytes for the converter's file.
 *
 * Supported: LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM, Qwen3MoeForCausalLM, Gemma3ForCausalLM
 * (text), DeepseekV2ForCausalLM, DeepseekV3ForCausalLM.  Vocabularies: GPT-2
 * style BPE from tokenizer.json, SentencePiece from tokenizer.model.
 *
 * Library code: nothing is printed; failures come back in pj_error. */
#ifndef PJ_HF2GGUF_H
#define PJ_HF2GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "dtype.h"
#include "error.h"
#include "report/gguf_write.h"

struct pj_model;

typedef struct pj_hf2gguf pj_hf2gguf;

/* outtype: PJ_DT_F32, PJ_DT_F16 or PJ_DT_BF16, or PJ_DT_COUNT for the
 * converter's "auto" (the type of the first tensor of two or more dimensions
 * when it is BF16 or F16, else F16). */
pj_status pj_hf2gguf_open(struct pj_model *m, pj_dtype outtype, pj_hf2gguf **out, pj_error *err);
void pj_hf2gguf_free(pj_hf2gguf *h);

/* The outtype in effect and its general.file_type value. */
pj_dtype pj_hf2gguf_outtype(const pj_hf2gguf *h);
unsigned pj_hf2gguf_file_type(const pj_hf2gguf *h);

/* Metadata in the converter's order (valid until pj_hf2gguf_free). */
const pj_gguf_wkv *pj_hf2gguf_kv(const pj_hf2gguf *h, size_t *n);

/* The output tensors as a catalog (names, ne, converter type, nbytes; no
 * file data: read through pj_hf2gguf_read_mat).  t[i].n_dims is the number
 * of dimensions the converter writes. */
const pj_catalog *pj_hf2gguf_catalog(const pj_hf2gguf *h);

/* Matrices of tensor i (ne[2] * ne[3]; 1 for 1-D and 2-D tensors). */
int64_t pj_hf2gguf_n_mats(const pj_hf2gguf *h, size_t i);
/* Writes matrix `mat` of tensor i (ne[0] * ne[1] floats) to dst. */
pj_status pj_hf2gguf_read_mat(pj_hf2gguf *h, size_t i, int64_t mat, float *dst, pj_error *err);

/* ---- tables (hf2gguf_tables.c) ------------------------------------------- */

/* The converter's model classes this module follows. */
typedef enum pj_hf_arch {
	PJ_HF_LLAMA,      /* llama, mistral, mixtral: q/k permutation, block_sparse_moe experts */
	PJ_HF_QWEN2,
	PJ_HF_QWEN3,
	PJ_HF_QWEN3MOE,
	PJ_HF_GEMMA3,
	PJ_HF_DEEPSEEK2,  /* DeepSeek V2 / V3: MLA, shared experts, score bias */
	PJ_HF_ARCH_COUNT
} pj_hf_arch;

/* HF "architectures"[0] -> class and GGUF architecture name; false when the
 * converter class is not one this module reproduces. */
bool pj_hf_arch_lookup(const char *hf_arch, pj_hf_arch *arch, const char **gguf_arch);

/* Maps an HF tensor name to its GGUF name for arch.  Per-expert names
 * ("model.layers.3.mlp.experts.5.down_proj.weight") map to the stacked
 * tensor ("blk.3.ffn_down_exps.weight") with *expert = 5, *slot = the
 * converter's stacking position (0..2, the order it emits the three stacks);
 * otherwise *expert = -1.  False for names the table does not know. */
bool pj_hf_tensor_name(pj_hf_arch arch, const char *hf, char *out, size_t outsz, int *expert, int *slot);

/* The BPE pre-tokenizer name (tokenizer.ggml.pre) for tokenizer.json's
 * "pre_tokenizer" object, NULL if unknown.  The converter hashes the token
 * ids of a fixed text; we cannot run the HF tokenizer, so the table keys on
 * what decides those ids: the split regexes and ByteLevel's own regex. */
const char *pj_hf_bpe_pre_name(const cJSON *pre_tokenizer);

#endif
