/* run_session.h — everything one ./run invocation opens, in order: the model file, the
 * tokenizer, the effective RoPE settings, the memory plan (printed and checked before any
 * large allocation) and the engine. */
#ifndef ROPEWALK_RUN_SESSION_H
#define ROPEWALK_RUN_SESSION_H

#include "../engine/transformer.h"
#include "../models/model.h"
#include "../tokenizer/end_of_generation.h"
#include "../tokenizer/tokenizer.h"
#include "run_args.h"
#include "run_rope.h"

typedef struct {
    Model model;
    Tokenizer *tokenizer;
    EndTokens end_tokens;  /* where generation stops (with a tokenizer) */
    Transformer *transformer;
    EngineOptions engine;
    RopeFactorStorage rope_storage;
    char *settings_text; /* the effective settings and memory plan, until announced */
    int no_repack;       /* --no-repack: the matrices stay as the file has them */
} Session;

/* Opens model, tokenizer (when need_tokenizer) and engine for the options, and writes the
 * effective settings and the memory plan into s->settings_text. 0, or -1 with a message
 * (everything opened so far is closed again). */
int session_open(Session *s, const RunOptions *o, int need_tokenizer, char *err, size_t err_size);
/* Opens the vocabulary (model_open_vocabulary) and the tokenizer alone, for --tokenize. */
int session_open_tokenizer(Session *s, const RunOptions *o, char *err, size_t err_size);
/* The TOKENIZE_* flags a prompt is encoded with: BOS when the vocabulary asks for it
 * (tokenizer.ggml.add_bos_token; always with --tokenizer FILE) and no --no-bos, control
 * tokens parsed unless --no-parse-special. */
int session_encode_flags(const Session *s, const RunOptions *o);
/* Prints the settings on stderr (once). Modes call it after their own input checks, so
 * a refused run says one line: the error. */
void session_announce(Session *s);
void session_close(Session *s);

/* Bytes the system can still give us (MemAvailable), or 0 when unknown. */
size_t available_memory_bytes(void);

#endif
