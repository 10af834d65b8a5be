// The reference implementation for wordpiece_parity_test: Hugging Face's
// tokenizers.js (@huggingface/tokenizers, pinned by package-lock.json beside
// this file and installed into .npm/ by `make deps`), set up as a BERT
// tokenizer: BertNormalizer (clean text, CJK spacing, lower case, NFD and Mn
// stripping), BertPreTokenizer (whitespace, then punctuation), WordPiece
// ("##", [UNK], 100 characters) and BertProcessing ([CLS] ... [SEP]). No
// added tokens, so "[CLS]" inside a text is text, as in BERT's own code.
//
// usage: node bert_reference.mjs NPM_PREFIX VOCAB_TXT CASES_JSON OUT_JSON
//   CASES_JSON: {"modes": {"NAME": {"lower_case": B, "tokenize_chinese_chars": B}},
//                "texts": ["...", ...]}
//   OUT_JSON:   {"NAME": [[ids of text 0], [ids of text 1], ...], ...}
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [prefix, vocabPath, casesPath, outPath] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(prefix), 'package.json'));
const { Tokenizer } = require('@huggingface/tokenizers');

// One token per line, its line number its id; lines lose surrounding ASCII
// whitespace, as vocab.h reads them.
function readVocab(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = {};
  lines.forEach((line, id) => {
    const token = line.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
    if (token !== '') vocab[token] = id;
  });
  return vocab;
}

function bertTokenizer(vocab, mode) {
  const json = {
    added_tokens: [],
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: mode.tokenize_chinese_chars,
      strip_accents: null,
      lowercase: mode.lower_case,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    model: {
      type: 'WordPiece',
      vocab,
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
    },
    post_processor: {
      type: 'BertProcessing',
      cls: ['[CLS]', vocab['[CLS]']],
      sep: ['[SEP]', vocab['[SEP]']],
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  };
  return new Tokenizer(json, {});
}

const vocab = readVocab(vocabPath);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const out = {};
for (const [name, mode] of Object.entries(cases.modes)) {
  const tokenizer = bertTokenizer(vocab, mode);
  out[name] = cases.texts.map((text) => tokenizer.encode(text).ids);
}
writeFileSync(outPath, JSON.stringify(out));
