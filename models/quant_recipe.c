/* quant_recipe.c — the per-tensor types of quantised files (quant_recipe.h). The K-quant
 * mixes follow llama.cpp's llama_tensor_get_type for a dense llama model without an
 * importance matrix: the output matrix (or a tied token_embd) Q6_K; attn_v, ffn_down and
 * attn_output by the mix's rule per layer; everything else the mix's base type. */
#include "quant_recipe.h"

#include <stdio.h>
#include <string.h>

static const QuantRecipe RECIPES[] = {
    {"f16", RECIPE_ONE_TYPE, TENSOR_F16, 1},     {"bf16", RECIPE_ONE_TYPE, TENSOR_BF16, 32},
    {"q8_0", RECIPE_ONE_TYPE, TENSOR_Q8_0, 7},   {"q4_0", RECIPE_ONE_TYPE, TENSOR_Q4_0, 2},
    {"q4_1", RECIPE_ONE_TYPE, TENSOR_Q4_1, 3},   {"q5_0", RECIPE_ONE_TYPE, TENSOR_Q5_0, 8},
    {"q5_1", RECIPE_ONE_TYPE, TENSOR_Q5_1, 9},   {"q2_k", RECIPE_Q2_K, TENSOR_Q2_K, 10},
    {"q3_k_m", RECIPE_Q3_K_M, TENSOR_Q3_K, 12},  {"q4_k_s", RECIPE_Q4_K_S, TENSOR_Q4_K, 14},
    {"q4_k_m", RECIPE_Q4_K_M, TENSOR_Q4_K, 15},  {"q5_k_s", RECIPE_Q5_K_S, TENSOR_Q5_K, 16},
    {"q5_k_m", RECIPE_Q5_K_M, TENSOR_Q5_K, 17},  {"q6_k", RECIPE_Q6_K, TENSOR_Q6_K, 18},
};

const QuantRecipe *quant_recipe_named(const char *name) {
    for (size_t i = 0; i < sizeof RECIPES / sizeof RECIPES[0]; i++)
        if (strcmp(RECIPES[i].name, name) == 0) return &RECIPES[i];
    return NULL;
}

const QuantRecipe *quant_recipe_of_type(TensorType type) {
    for (size_t i = 0; i < sizeof RECIPES / sizeof RECIPES[0]; i++)
        if (RECIPES[i].base == type && (RECIPES[i].kind == RECIPE_ONE_TYPE || type == TENSOR_Q6_K))
            return &RECIPES[i];
    return NULL;
}

const char *quant_recipe_names(void) {
    return "f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_s, "
           "q5_k_m, q6_k";
}

static int name_is(const char *name, size_t length, const char *wanted) {
    return length == strlen(wanted) && memcmp(name, wanted, length) == 0;
}

static int name_ends(const char *name, size_t length, const char *suffix) {
    size_t n = strlen(suffix);
    return length >= n && memcmp(name + length - n, suffix, n) == 0;
}

/* N of "blk.N.", or -1. */
static int layer_of(const char *name, size_t length) {
    char text[32];
    int layer;
    size_t n = length < sizeof text - 1 ? length : sizeof text - 1;
    memcpy(text, name, n);
    text[n] = '\0';
    return sscanf(text, "blk.%d.", &layer) == 1 ? layer : -1;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and every third between. */
static int more_bits(int layer, int n_layers) {
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

static TensorType attn_v_type(const QuantRecipe *r, const RecipeModel *m, int layer) {
    switch (r->kind) {
    case RECIPE_Q2_K: return m->gqa >= 4 ? TENSOR_Q4_K : TENSOR_Q3_K;
    case RECIPE_Q3_K_M: return layer < 2 ? TENSOR_Q5_K : TENSOR_Q4_K;
    case RECIPE_Q4_K_S: return layer < 4 ? TENSOR_Q5_K : r->base;
    case RECIPE_Q4_K_M: case RECIPE_Q5_K_M:
        return more_bits(layer, m->n_layers) ? TENSOR_Q6_K : r->base;
    default: return r->base;
    }
}

static TensorType ffn_down_type(const QuantRecipe *r, const RecipeModel *m, int layer) {
    switch (r->kind) {
    case RECIPE_Q2_K: return TENSOR_Q3_K;
    case RECIPE_Q3_K_M: return layer < m->n_layers / 16 ? TENSOR_Q5_K : TENSOR_Q4_K;
    case RECIPE_Q4_K_S: return layer < m->n_layers / 8 ? TENSOR_Q5_K : r->base;
    case RECIPE_Q4_K_M: case RECIPE_Q5_K_M:
        return more_bits(layer, m->n_layers) ? TENSOR_Q6_K : r->base;
    default: return r->base;
    }
}

static TensorType rule_type(const QuantRecipe *r, const RecipeModel *m, const char *name,
                            size_t length, int64_t cols) {
    int layer = layer_of(name, length);
    if (name_is(name, length, "output.weight") ||
        (m->tied && name_is(name, length, "token_embd.weight")))
        return cols % tensor_type_info(r->base)->block_values != 0 ? TENSOR_Q8_0 : TENSOR_Q6_K;
    if (layer >= 0 && name_ends(name, length, ".attn_v.weight")) return attn_v_type(r, m, layer);
    if (layer >= 0 && name_ends(name, length, ".ffn_down.weight")) return ffn_down_type(r, m, layer);
    if (name_ends(name, length, ".attn_output.weight")) {
        if (r->kind == RECIPE_Q2_K) return TENSOR_Q3_K;
        if (r->kind == RECIPE_Q3_K_M) return TENSOR_Q4_K;
    }
    return r->base;
}

static TensorType fallback_of(TensorType type) {
    switch (type) {
    case TENSOR_Q2_K: case TENSOR_Q3_K: return TENSOR_Q4_0;
    case TENSOR_Q4_K: return TENSOR_Q5_0;
    case TENSOR_Q5_K: return TENSOR_Q5_1;
    case TENSOR_Q6_K: return TENSOR_Q8_0;
    default: return type;
    }
}

static int fits(TensorType type, int64_t cols) {
    return cols % tensor_type_info(type)->block_values == 0;
}

TensorType recipe_tensor_type(const QuantRecipe *recipe, const RecipeModel *model,
                              const char *name, size_t name_length, int64_t cols,
                              TensorType source) {
    if (recipe->kind == RECIPE_ONE_TYPE) return fits(recipe->base, cols) ? recipe->base : source;
    TensorType type = rule_type(recipe, model, name, name_length, cols);
    if (!fits(type, cols)) type = fallback_of(type);
    return fits(type, cols) ? type : TENSOR_F16;
}
