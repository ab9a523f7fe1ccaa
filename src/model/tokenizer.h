/* tokenizer.h - text to token ids, the way llama.cpp and Hugging Face do it.
 *
 * Two kinds of vocabulary:
 *   - byte-level BPE (GPT-2 byte<->unicode mapping, merges by rank, a
 *     pre-tokenizer that splits text into words first: gpt2, llama3, qwen2,
 *     deepseek-llm, deepseek-v3 patterns), also the SentencePiece-style BPE
 *     of Hugging Face tokenizer.json files (spaces as U+2581, byte fallback);
 *   - SentencePiece (token scores, byte fallback <0xNN>, llama.cpp's greedy
 *     best-score merge with a dummy-prefix space).
 * Loaded from GGUF metadata (tokenizer.ggml.*) or from a Hugging Face folder
 * (tokenizer.json, tokenizer_config.json, tokenizer.model).
 *
 * A loaded tokenizer is read-only: encode/decode may run on many threads at
 * once.  Nothing here prints. */
#ifndef PJ_TOKENIZER_H
#define PJ_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "model.h"

typedef struct pj_tokenizer pj_tokenizer;

typedef enum pj_tok_kind {
	PJ_TOK_BPE,       /* byte-level BPE (tokenizer.ggml.model "gpt2") */
	PJ_TOK_SPM,       /* SentencePiece scores (tokenizer.ggml.model "llama") */
	PJ_TOK_BPE_SPM,   /* BPE merges over U+2581-escaped text, byte fallback (HF llama-2 style) */
} pj_tok_kind;

/* Encode flags. */
enum {
	/* add BOS/EOS when the vocabulary asks for them (add_bos_token ...) */
	PJ_TOK_ADD_SPECIAL   = 1u << 0,
	/* recognise control tokens (e.g. "<|im_start|>") written in the text;
	 * user-defined added tokens are always recognised, as in llama.cpp */
	PJ_TOK_PARSE_SPECIAL = 1u << 1,
};

/* From a model opened with pj_model_open(): its GGUF metadata, or the
 * tokenizer files of its Hugging Face folder. */
pj_status pj_tokenizer_load(const pj_model *m, pj_tokenizer **out, pj_error *err);
/* From GGUF metadata (any pj_gguf, e.g. a vocab-only file). */
pj_status pj_tokenizer_from_gguf(const pj_gguf *g, pj_tokenizer **out, pj_error *err);
/* From a Hugging Face folder: tokenizer.json (+ tokenizer_config.json,
 * config.json for BOS/EOS), or tokenizer.model when there is no JSON. */
pj_status pj_tokenizer_from_hf_dir(const char *dir, pj_tokenizer **out, pj_error *err);
/* From the text of a tokenizer.json; `label` names it in messages and
 * config_json (tokenizer_config.json text, may be NULL) gives BOS/EOS. */
pj_status pj_tokenizer_from_hf_json(const char *label, const char *json, size_t len,
                                    const char *config_json, pj_tokenizer **out, pj_error *err);
/* From the bytes of a SentencePiece tokenizer.model (protobuf). */
pj_status pj_tokenizer_from_spm_model(const char *label, const uint8_t *buf, size_t len,
                                      pj_tokenizer **out, pj_error *err);
void pj_tokenizer_free(pj_tokenizer *t);

/* Tokenizes text[0..len) (UTF-8; invalid bytes become U+FFFD as in
 * llama.cpp).  *ids is malloc'd (free() it), *n_ids its length. */
pj_status pj_tokenizer_encode(const pj_tokenizer *t, const char *text, size_t len, unsigned flags,
                              int32_t **ids, size_t *n_ids, pj_error *err);

/* The bytes a token stands for (byte-level mapping undone, U+2581 -> space,
 * <0xNN> -> that byte; control tokens give their text).  NULL when id is out
 * of range.  Valid while t lives. */
const char *pj_tokenizer_piece(const pj_tokenizer *t, int32_t id, size_t *len);
/* The token's string as stored in the vocabulary. */
const char *pj_tokenizer_text(const pj_tokenizer *t, int32_t id);
/* Concatenated pieces (malloc'd, NUL-terminated); control and unknown tokens
 * are left out unless `special`.  SPM's dummy-prefix space is removed. */
char *pj_tokenizer_decode(const pj_tokenizer *t, const int32_t *ids, size_t n, bool special, size_t *len);
/* Looks a token up by its vocabulary string; -1 when absent. */
int32_t pj_tokenizer_find(const pj_tokenizer *t, const char *text, size_t len);

size_t pj_tokenizer_n_vocab(const pj_tokenizer *t);
pj_tok_kind pj_tokenizer_kind(const pj_tokenizer *t);
/* -1 when the vocabulary has none. */
int32_t pj_tokenizer_bos(const pj_tokenizer *t);
int32_t pj_tokenizer_eos(const pj_tokenizer *t);
bool pj_tokenizer_adds_bos(const pj_tokenizer *t);
/* Control or unknown token (never produced from plain text). */
bool pj_tokenizer_is_control(const pj_tokenizer *t, int32_t id);
/* Pre-tokenizer name ("gpt-2", "llama-bpe", "qwen2", ..., "" for SPM). */
const char *pj_tokenizer_pre(const pj_tokenizer *t);
/* The file the vocabulary came from. */
const char *pj_tokenizer_source(const pj_tokenizer *t);

#endif
