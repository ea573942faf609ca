/* quant_recipe.h — which type each weight matrix gets when a GGUF is quantised: one type for
 * every matrix (f16 ... q5_1, and q6_k), or one of llama-quantize's K-quant mixes (Q4_K_M
 * and the rest), whose per-tensor rules (llama.cpp's llama_tensor_get_type for the llama
 * architecture) give the output matrix, some attn_v and some ffn_down matrices more bits. */
#ifndef ROPEWALK_QUANT_RECIPE_H
#define ROPEWALK_QUANT_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "tensor_types.h"

typedef enum {
    RECIPE_ONE_TYPE, /* every matrix `base`; rows that do not fit its blocks stay as they are */
    RECIPE_Q2_K, RECIPE_Q3_K_M, RECIPE_Q4_K_S, RECIPE_Q4_K_M, RECIPE_Q5_K_S, RECIPE_Q5_K_M,
    RECIPE_Q6_K,
} RecipeKind;

typedef struct {
    const char *name;   /* as --type spells it: "q8_0", "q4_k_m" */
    RecipeKind kind;
    TensorType base;    /* the type of the matrices no rule singles out */
    uint32_t file_type; /* llama.cpp's general.file_type (LLAMA_FTYPE_MOSTLY_...) */
} QuantRecipe;

/* What the rules look at besides the tensor itself. */
typedef struct {
    int n_layers;
    int gqa;            /* query heads per KV head */
    int tied;           /* no output.weight: token_embd is also the output matrix */
} RecipeModel;

/* The recipe --type NAME names, or NULL. */
const QuantRecipe *quant_recipe_named(const char *name);
/* The recipe of one type `type` (q6_k's for Q6_K), or NULL. */
const QuantRecipe *quant_recipe_of_type(TensorType type);
/* The names, comma-separated, for messages. */
const char *quant_recipe_names(void);
/* The type of the weight matrix `name` (name_length bytes) with rows of `cols` values: the
 * rules' choice, then llama.cpp's fallbacks where cols is no multiple of its block (Q4_K to
 * Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, Q2_K / Q3_K to Q4_0, then F16). `source` (F32 or F16)
 * is returned for a one-type recipe whose blocks do not fit. */
TensorType recipe_tensor_type(const QuantRecipe *recipe, const RecipeModel *model,
                              const char *name, size_t name_length, int64_t cols,
                              TensorType source);

#endif
