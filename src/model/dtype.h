/* dtype.h - every element type a model file can hold: safetensors dtypes and
 * ggml tensor types, in one table (dtype.c).  The table is the only place that
 * knows block sizes, byte sizes and the ids used by each file format. */
#ifndef PJ_DTYPE_H
#define PJ_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* X(ID, name, ggml_id or -1, safetensors name or NULL, block size, bytes per block, quantized) */
#define PJ_DTYPES(X)                                        \
	X(F32,     "F32",     0,  "F32",     1,   4,   0)      \
	X(F16,     "F16",     1,  "F16",     1,   2,   0)      \
	X(BF16,    "BF16",    30, "BF16",    1,   2,   0)      \
	X(F64,     "F64",     28, "F64",     1,   8,   0)      \
	X(I8,      "I8",      24, "I8",      1,   1,   0)      \
	X(I16,     "I16",     25, "I16",     1,   2,   0)      \
	X(I32,     "I32",     26, "I32",     1,   4,   0)      \
	X(I64,     "I64",     27, "I64",     1,   8,   0)      \
	X(U8,      "U8",      -1, "U8",      1,   1,   0)      \
	X(U16,     "U16",     -1, "U16",     1,   2,   0)      \
	X(U32,     "U32",     -1, "U32",     1,   4,   0)      \
	X(U64,     "U64",     -1, "U64",     1,   8,   0)      \
	X(BOOL,    "BOOL",    -1, "BOOL",    1,   1,   0)      \
	X(F8_E4M3, "F8_E4M3", -1, "F8_E4M3", 1,   1,   0)      \
	X(F8_E5M2, "F8_E5M2", -1, "F8_E5M2", 1,   1,   0)      \
	X(F8_E8M0, "F8_E8M0", -1, "F8_E8M0", 1,   1,   0)      \
	X(Q4_0,    "Q4_0",    2,  NULL,      32,  18,  1)      \
	X(Q4_1,    "Q4_1",    3,  NULL,      32,  20,  1)      \
	X(Q5_0,    "Q5_0",    6,  NULL,      32,  22,  1)      \
	X(Q5_1,    "Q5_1",    7,  NULL,      32,  24,  1)      \
	X(Q8_0,    "Q8_0",    8,  NULL,      32,  34,  1)      \
	X(Q8_1,    "Q8_1",    9,  NULL,      32,  36,  1)      \
	X(Q2_K,    "Q2_K",    10, NULL,      256, 84,  1)      \
	X(Q3_K,    "Q3_K",    11, NULL,      256, 110, 1)      \
	X(Q4_K,    "Q4_K",    12, NULL,      256, 144, 1)      \
	X(Q5_K,    "Q5_K",    13, NULL,      256, 176, 1)      \
	X(Q6_K,    "Q6_K",    14, NULL,      256, 210, 1)      \
	X(Q8_K,    "Q8_K",    15, NULL,      256, 292, 1)      \
	X(IQ2_XXS, "IQ2_XXS", 16, NULL,      256, 66,  1)      \
	X(IQ2_XS,  "IQ2_XS",  17, NULL,      256, 74,  1)      \
	X(IQ3_XXS, "IQ3_XXS", 18, NULL,      256, 98,  1)      \
	X(IQ1_S,   "IQ1_S",   19, NULL,      256, 50,  1)      \
	X(IQ4_NL,  "IQ4_NL",  20, NULL,      32,  18,  1)      \
	X(IQ3_S,   "IQ3_S",   21, NULL,      256, 110, 1)      \
	X(IQ2_S,   "IQ2_S",   22, NULL,      256, 82,  1)      \
	X(IQ4_XS,  "IQ4_XS",  23, NULL,      256, 136, 1)      \
	X(IQ1_M,   "IQ1_M",   29, NULL,      256, 56,  1)      \
	X(TQ1_0,   "TQ1_0",   34, NULL,      256, 54,  1)      \
	X(TQ2_0,   "TQ2_0",   35, NULL,      256, 66,  1)      \
	X(MXFP4,   "MXFP4",   39, NULL,      32,  17,  1)      \
	X(NVFP4,   "NVFP4",   40, NULL,      64,  36,  1)      \
	X(Q1_0,    "Q1_0",    41, NULL,      128, 18,  1)

typedef enum pj_dtype {
#define PJ_DT_ENUM(id, name, g, st, b, s, q) PJ_DT_##id,
	PJ_DTYPES(PJ_DT_ENUM)
#undef PJ_DT_ENUM
	PJ_DT_COUNT
} pj_dtype;

typedef struct pj_dtype_info {
	const char *name;
	int ggml_id;          /* -1: no ggml type (safetensors only) */
	const char *st_name;  /* NULL: no safetensors dtype (ggml only) */
	uint32_t block;       /* elements per block */
	uint32_t type_size;   /* bytes per block */
	bool quantized;
} pj_dtype_info;

const pj_dtype_info *pj_dtype_info_of(pj_dtype t);
const char *pj_dtype_name(pj_dtype t);
/* Lookups return false when the id/name is unknown. */
bool pj_dtype_from_ggml(uint32_t ggml_id, pj_dtype *out);
bool pj_dtype_from_safetensors(const char *name, pj_dtype *out);
bool pj_dtype_from_name(const char *name, pj_dtype *out); /* case-insensitive */
/* Bytes of n elements; false when n is not a multiple of the block or overflows. */
bool pj_dtype_bytes(pj_dtype t, uint64_t n, uint64_t *out);
/* Bits per weight, e.g. 4.5 for Q4_K. */
double pj_dtype_bpw(pj_dtype t);

#endif
