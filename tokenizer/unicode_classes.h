/* unicode_classes.h — the Unicode classes of code points that the byte-level BPE
 * pre-tokenizer's regex asks about (generated tables in unicode_classes.c). */
#ifndef ROPEWALK_UNICODE_CLASSES_H
#define ROPEWALK_UNICODE_CLASSES_H

#include <stdint.h>

int unicode_is_letter(uint32_t cp);     /* \p{L} */
int unicode_is_number(uint32_t cp);     /* \p{N} */
int unicode_is_whitespace(uint32_t cp); /* White_Space */

#endif
