/* tok_internal.h - what tokenizer.c, tok_bpe.c and tok_spm.c share.
 * Not part of the library's interface (tests may use it). */
#ifndef PJ_TOK_INTERNAL_H
#define PJ_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* ---- Unicode (tok_unicode.c, generated) ---------------------------------- */
enum { PJ_UC_OTHER, PJ_UC_L, PJ_UC_N, PJ_UC_P, PJ_UC_S, PJ_UC_M };
int pj_uc_class(uint32_t cp);
/* White_Space as llama.cpp's unicode tables have it (\s of the patterns). */
bool pj_uc_space(uint32_t cp);
/* Decodes one code point at s[*i] (advancing *i); invalid or truncated
 * sequences yield U+FFFD and advance by one byte, as llama.cpp does. */
uint32_t pj_utf8_next(const char *s, size_t len, size_t *i);
/* Writes cp as UTF-8 into out (4 bytes room); returns its length. */
size_t pj_utf8_put(uint32_t cp, char *out);
/* Length of the UTF-8 sequence a lead byte announces (1 for stray bytes). */
static inline size_t pj_utf8_len(uint8_t lead)
{
	static const uint8_t n[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	return n[lead >> 4];
}

/* ---- token attributes (llama.cpp's llama_token_attr subset) -------------- */
enum {
	PJ_TA_NORMAL       = 1u << 0,
	PJ_TA_UNKNOWN      = 1u << 1,
	PJ_TA_UNUSED       = 1u << 2,
	PJ_TA_CONTROL      = 1u << 3,
	PJ_TA_USER_DEFINED = 1u << 4,
	PJ_TA_BYTE         = 1u << 5,
	PJ_TA_LSTRIP       = 1u << 6,
	PJ_TA_RSTRIP       = 1u << 7,
};

/* ---- string -> int32 hash map over strings that outlive it --------------- */
typedef struct tok_map_ent {
	const char *key;
	uint32_t len;
	int32_t val;
} tok_map_ent;

typedef struct tok_map {
	tok_map_ent *ent;
	size_t cap, n;             /* cap is a power of two */
} tok_map;

void tok_map_init(tok_map *m, size_t expect);
void tok_map_free(tok_map *m);
/* Inserts key -> val; returns the existing value instead when key is present. */
int32_t tok_map_put(tok_map *m, const char *key, size_t len, int32_t val);
int32_t tok_map_get(const tok_map *m, const char *key, size_t len);

/* ---- stable string storage ---------------------------------------------- */
typedef struct tok_pool_blk tok_pool_blk;
typedef struct tok_pool {
	tok_pool_blk *head;
} tok_pool;

/* Copies s[0..len) (s NULL: leaves the bytes to the caller) plus a NUL;
 * the copy lives until tok_pool_free(). */
char *tok_pool_add(tok_pool *p, const char *s, size_t len);
void tok_pool_free(tok_pool *p);

/* ---- growable id list ------------------------------------------------------ */
typedef struct tok_out {
	int32_t *ids;
	size_t n, cap;
} tok_out;

void tok_out_push(tok_out *o, int32_t id);

/* ---- pre-tokenizer stages (tok_bpe.c) ----------------------------------- */
#define PJ_TOK_MAX_STAGES 8

/* Chooses the stages for a GGUF tokenizer.ggml.pre name; false if unknown. */
bool pj_tok_pre_from_name(pj_tokenizer *t, const char *pre);
/* Maps one Hugging Face Split regex (JSON-decoded) onto a known stage and
 * appends it; false if the pattern is not one we implement. */
bool pj_tok_pre_add_regex(pj_tokenizer *t, const char *pattern);
/* Appends the GPT-2 pattern (ByteLevel pre-tokenizer with use_regex). */
void pj_tok_pre_add_gpt2(pj_tokenizer *t);
/* Splits text into pre-tokenizer words; lens[] gets their byte lengths
 * (malloc'd).  For tests and for the BPE encoder. */
size_t pj_tok_pre_split(const pj_tokenizer *t, const char *text, size_t len, size_t **lens);

/* ---- the tokenizer -------------------------------------------------------- */
struct pj_tokenizer {
	pj_tok_kind kind;
	char *source;              /* the file, for messages */
	char *pre;                 /* pre-tokenizer name */

	uint32_t n_vocab;
	const char **text;         /* vocabulary strings (in pool) */
	uint32_t *len;
	float *score;
	uint8_t *attr;             /* PJ_TA_* */
	tok_map vocab;             /* text -> id */
	tok_map merges;            /* "left right" -> rank */
	tok_pool pool;

	int32_t bos, eos, unk;
	bool add_bos, add_eos;
	bool add_space_prefix;     /* SPM dummy prefix / HF ByteLevel add_prefix_space */
	bool ignore_merges;        /* a word that is a token is taken whole (llama3) */
	bool byte_fallback;        /* unknown bytes become <0xNN> tokens */

	uint8_t n_stages;
	uint8_t stage[PJ_TOK_MAX_STAGES];

	int32_t *special;          /* control/user-defined/unknown ids, longest first */
	size_t n_special;
	int32_t *special_sorted;   /* the same ids by text bytes, for scanning */
	int32_t *sorted_to_order;  /* index in special_sorted -> index in special */
	int32_t byte_tok[256];     /* byte -> token (byte-level char, <0xNN>), -1 */

	const char **piece;        /* decoded bytes of each token */
	uint32_t *piece_len;
};

/* Encoders for one raw-text fragment (no special tokens inside). */
void pj_tok_bpe_encode(const pj_tokenizer *t, const char *text, size_t len, tok_out *out);
void pj_tok_spm_encode(const pj_tokenizer *t, const char *text, size_t len, tok_out *out);

/* GPT-2's byte <-> code point bijection. */
uint32_t pj_tok_byte_to_cp(uint8_t b);
int pj_tok_cp_to_byte(uint32_t cp);   /* -1 if cp is not an image of a byte */

#endif
