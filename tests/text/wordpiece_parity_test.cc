// adaptd's BERT tokenizer against an independent implementation, Hugging
// Face's tokenizers.js (tests/text/bert_reference.mjs, run with node), on a
// few thousand generated strings and a vocab made here: the ids must be
// identical, uncased, cased, and uncased without CJK splitting. The strings
// cover ordinary words and ## continuations, accents (precomposed and
// combining), CJK, emoji (ZWJ sequences, skin tones, flags, keycaps),
// punctuation and symbols of many kinds, words over 100 characters,
// control characters, odd whitespace, mixed scripts and case, and "".
//
// Two places where tokenizers.js departs from BERT are kept out of the
// strings (wordpiece_tokenizer_test.cc checks BERT's answer there): it tests
// UTF-16 units, not code points, for CJK ideographs, so it never splits one
// outside the BMP (extension B and later: here only ever between spaces);
// and it keeps unassigned code points, which BERT drops as controls.
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/engine/text/unicode_chars.h"
#include "server/engine/text/wordpiece_tokenizer.h"
#include "tests/test_util/subprocess.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

constexpr char kReference[] = ADAPTD_SOURCE_DIR "/tests/text/bert_reference.mjs";
constexpr char kNpmPrefix[] = ADAPTD_SOURCE_DIR "/.npm";
constexpr char kPackage[] =
    ADAPTD_SOURCE_DIR "/.npm/node_modules/@huggingface/tokenizers/package.json";
constexpr int kGeneratedTexts = 3000;

std::string U8(char32_t c) { return unicode::EncodeUtf8(std::u32string(1, c)); }

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The vocab: special tokens, punctuation, letters and their continuations
// (a few left out, so some words cannot be covered), words in both cases,
// suffixes, accented letters, Greek, Cyrillic, CJK, kana, hangul, emoji.
std::vector<std::string> MakeVocab() {
  std::vector<std::string> vocab;
  std::set<std::string> seen;
  auto add = [&](const std::string& token) {
    if (seen.insert(token).second) vocab.push_back(token);
  };
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) add(special);
  for (char c = 33; c < 127; ++c) {
    if (!std::isalnum(static_cast<unsigned char>(c))) add(std::string(1, c));
  }
  for (char c = '0'; c <= '9'; ++c) {
    add(std::string(1, c));
    add(absl::StrCat("##", std::string(1, c)));
  }
  for (char c = 'a'; c <= 'z'; ++c) {
    const char upper = static_cast<char>(c - 'a' + 'A');
    if (c != 'q') add(std::string(1, c));
    if (c != 'q' && c != 'x' && c != 'z') add(absl::StrCat("##", std::string(1, c)));
    if (c < 'm') add(std::string(1, upper));
    if (c < 'f') add(absl::StrCat("##", std::string(1, upper)));
  }
  for (const char* token :
       {"the", "The", "quick", "brown", "fox", "jump", "##s", "##ed", "##ing", "over", "lazy",
        "dog", "Dog", "hello", "Hello", "world", "World", "token", "##izer", "##ize", "un",
        "##aff", "##able", "play", "##ground", "new", "York", "New", "##ly", "##er", "##est",
        "##tion", "##ness", "data", "set", "model", "Model", "adapt", "##ation", "few", "shot",
        "learn", "I", "a", "an", "is", "of", "and", "to", "in", "it", "you", "don", "can",
        "café", "cafe", "über", "uber", "naïve", "naive", "résumé", "resume", "é", "è", "ü",
        "ñ", "ç", "ö", "å", "ø", "ß", "æ", "É", "Ü", "##é", "##è", "##ü", "##ñ", "##ß",
        "##\u0301", "##\u0308", "##\u0327", "ο", "δ", "ς", "σ", "λ", "γ", "α", "##ο", "##δ",
        "##ς", "##σ", "##α", "οδος", "λογος", "Σ", "ΟΔΟΣ", "привет", "мир", "Мир", "п",
        "##р", "##и", "##в", "##е", "##т", "的", "一", "是", "不", "了", "人", "我", "在", "有",
        "他", "这", "中", "大", "来", "上", "国", "个", "到", "说", "们", "豈", "\U00020000",
        "の", "は", "こんにちは", "##は", "##に", "##ち", "안녕", "##하세요", "\u110b",
        "##\u1161", "##\u11ab", "😀", "👍", "##🏽", "##🏻", "❤", "##\ufe0f", "👨", "👩",
        "🇺", "##🇸", "⭐", "🎉", "€", "©", "±", "°", "¡", "¿", "«", "»", "—", "–", "…", "‘",
        "’", "“", "”", "、", "。", "「", "」", "・", "！", "？", "§", "¶", "·", "сп", "नमसत",
        "नमस्ते", "سلام", "שלום", "ok", "OK", "k", "K", "istanbul", "i"}) {
    add(token);
  }
  return vocab;
}

// A deterministic generator of test strings (std::mt19937 gives the same
// sequence everywhere; the draws use only its raw output).
class TextGenerator {
 public:
  explicit TextGenerator(uint32_t seed) : rng_(seed) {}

  std::string Text();

 private:
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }
  char32_t InRange(char32_t first, char32_t last) {
    return first + static_cast<char32_t>(Below(last - first + 1));
  }
  std::string Segment();
  std::string Word();
  std::string Accented();
  std::string Cjk();
  std::string Emoji();
  std::string Punctuation();
  std::string LongWord();
  std::string OddCharacter();
  std::string Whitespace();
  std::string RandomScript();

  std::mt19937 rng_;
};

std::string TextGenerator::Text() {
  const size_t segments = Below(12);
  std::string text;
  for (size_t i = 0; i < segments; ++i) {
    text += Segment();
    const size_t glue = Below(10);
    if (glue < 5) {
      text += " ";
    } else if (glue < 7) {
      text += Whitespace();
    }  // else glued to the next segment
  }
  return text;
}

std::string TextGenerator::Segment() {
  switch (Below(14)) {
    case 0: case 1: case 2: return Word();
    case 3: return Accented();
    case 4: return Cjk();
    case 5: return Emoji();
    case 6: case 7: return Punctuation();
    case 8: return Below(4) == 0 ? LongWord() : Word();
    case 9: return OddCharacter();
    case 10: return Whitespace();
    case 11: case 12: return RandomScript();
    default: return Word() + Punctuation() + Word();
  }
}

// A vocab word or random letters, in lower, upper, title or random case.
std::string TextGenerator::Word() {
  static const std::vector<std::string> words = {
      "the", "quick", "brown", "fox", "jumps", "jumped", "jumping", "over", "lazy", "dog",
      "hello", "world", "tokenizer", "tokenize", "unaffable", "playground", "newly",
      "newest", "adaptation", "fewshot", "learner", "datasets", "models", "quiz", "xyz",
      "zebra", "i", "a", "don", "t", "can", "ok", "istanbul", "resume", "naive", "cafe"};
  std::string word;
  if (Below(3) == 0) {
    for (size_t n = 1 + Below(14); n > 0; --n) word.push_back(static_cast<char>('a' + Below(26)));
  } else {
    word = Pick(words);
  }
  switch (Below(5)) {
    case 0: for (char& c : word) c = static_cast<char>(std::toupper(c)); break;
    case 1: word[0] = static_cast<char>(std::toupper(word[0])); break;
    case 2:
      for (char& c : word) {
        if (Below(2) == 0) c = static_cast<char>(std::toupper(c));
      }
      break;
    default: break;
  }
  return word;
}

// Accented words, precomposed or with combining marks (one or several).
std::string TextGenerator::Accented() {
  static const std::vector<std::string> words = {
      "café", "Café", "CAFÉ", "über", "Über", "naïve", "NAÏVE", "résumé", "Résumé", "señor",
      "garçon", "Ångström", "Øre", "Straße", "STRASSE", "ẞ", "İstanbul", "ǅemal", "Ærø",
      "Ελληνικά", "ΟΔΟΣ", "ΟΔΟΣ.", "ΣΑΣ", "Σ", "ΑΣ'Β", "Ὀδυσσεύς", "Привет", "Ёлка",
      "\u212a\u212b\u2126", "ﬁne", "Ǆ", "ǲ", "ŉ"};
  if (Below(2) == 0) return Pick(words);
  std::string word;
  for (size_t n = 1 + Below(6); n > 0; --n) {
    word += Below(4) == 0 ? std::string(1, static_cast<char>('A' + Below(26)))
                          : std::string(1, static_cast<char>('a' + Below(26)));
    for (size_t marks = Below(3); marks > 0; --marks) word += U8(InRange(0x300, 0x36F));
    if (Below(4) == 0) word += U8(InRange(0xC0, 0xFF));
    if (Below(6) == 0) word += U8(InRange(0x100, 0x17F));
  }
  return word;
}

// BMP ideographs (common ones, random ones, extension A, compatibility),
// kana and hangul, glued or spaced; extension B only between spaces.
std::string TextGenerator::Cjk() {
  static const std::vector<std::string> common = {"的", "一", "是", "不", "了", "人", "我",
                                                  "在", "有", "他", "这", "中", "大", "来",
                                                  "上", "国", "个", "到", "说", "们"};
  std::string out;
  for (size_t n = 1 + Below(6); n > 0; --n) {
    switch (Below(8)) {
      case 0: out += U8(InRange(0x4E00, 0x9FA5)); break;
      case 1: out += U8(InRange(0x3400, 0x4DB5)); break;
      case 2: out += U8(InRange(0xF900, 0xFA2D)); break;
      case 3: out += U8(InRange(0x3041, 0x3096)); break;
      case 4: out += U8(InRange(0x30A1, 0x30FA)); break;
      case 5: out += U8(InRange(0xAC00, 0xD7A3)); break;
      case 6:
        out += absl::StrCat(" ", Below(2) == 0 ? "\U00020000" : U8(InRange(0x20000, 0x2A6D6)), " ");
        break;
      default: out += Pick(common); break;
    }
  }
  return out;
}

// Single emoji, ZWJ sequences, skin tones, flags (regional and tag),
// keycaps, variation selectors.
std::string TextGenerator::Emoji() {
  static const std::vector<std::string> sequences = {
      "😀", "👍", "👍🏽", "👍🏻", "❤", "❤\ufe0f", "⭐", "🎉", "👨",
      "👨\u200d👩\u200d👧\u200d👦", "👩🏽\u200d💻", "🏳\ufe0f\u200d🌈", "🤷🏿\u200d♀\ufe0f",
      "🇺🇸", "🇫🇷", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
      "1\ufe0f\u20e3", "#\ufe0f\u20e3", "*\u20e3", "☺\ufe0e"};
  if (Below(3) == 0) {
    const char32_t blocks[][2] = {{0x1F300, 0x1F5FF}, {0x1F600, 0x1F64F}, {0x2600, 0x26FF},
                                  {0x1F3FB, 0x1F3FF}};
    const auto& block = blocks[Below(4)];
    return U8(InRange(block[0], block[1]));
  }
  return Pick(sequences);
}

// ASCII punctuation, Unicode P*, and symbols that are not punctuation.
std::string TextGenerator::Punctuation() {
  const char32_t ranges[][2] = {{0x21, 0x2F},     {0x3A, 0x40},     {0x5B, 0x60},
                                {0x7B, 0x7E},     {0xA1, 0xBF},     {0x2010, 0x2027},
                                {0x2030, 0x205E}, {0x3001, 0x3003}, {0x3008, 0x3011},
                                {0xFF01, 0xFF0F}, {0xFF1A, 0xFF20}, {0x2190, 0x21FF},
                                {0x20A0, 0x20BF}, {0x2E00, 0x2E4F}};
  std::string out;
  for (size_t n = 1 + Below(3); n > 0; --n) {
    const auto& range = ranges[Below(sizeof(ranges) / sizeof(ranges[0]))];
    out += U8(InRange(range[0], range[1]));
  }
  return out;
}

// Words around the 100-character limit, in one- and two-byte letters, and
// decomposed accents that fall under it only once stripped.
std::string TextGenerator::LongWord() {
  const int length = 95 + static_cast<int>(Below(12));
  switch (Below(4)) {
    case 0: return Repeat("a", length);
    case 1: return Repeat("é", length);
    case 2: return Repeat("e\u0301", length / 2 + 1);
    default: return Repeat("ab", length / 2) + (length % 2 ? "c" : "");
  }
}

// Control and format characters, NUL, U+FFFD, private use.
std::string TextGenerator::OddCharacter() {
  static const std::vector<char32_t> odd = {
      0x0,    0x1,    0x7,    0x8,    0xB,    0xC,    0x1B,   0x1F,   0x7F,   0x80,
      0x85,   0x9F,   0xAD,   0x200B, 0x200C, 0x200D, 0x200E, 0x202E, 0x2060, 0xFEFF,
      0xFFFD, 0xE000, 0xF8FF, 0x180E, 0x061C, 0xFE0F, 0x034F, 0x1D173, 0xE0001, 0xF0000};
  return U8(Pick(odd));
}

std::string TextGenerator::Whitespace() {
  static const std::vector<char32_t> spaces = {0x20,   0x9,    0xA,    0xD,    0xA0,
                                               0x1680, 0x2000, 0x2003, 0x200A, 0x2028,
                                               0x2029, 0x202F, 0x205F, 0x3000};
  std::string out;
  for (size_t n = 1 + Below(3); n > 0; --n) out += U8(Pick(spaces));
  return out;
}

// Letters from other scripts and mixed-script words.
std::string TextGenerator::RandomScript() {
  const char32_t ranges[][2] = {
      {0x391, 0x3A1},   {0x3A3, 0x3A9},   {0x3B1, 0x3C9},   {0x410, 0x44F},   {0x5D0, 0x5EA},
      {0x621, 0x64A},   {0x64B, 0x652},   {0x905, 0x939},   {0x93E, 0x94D},
      {0xE01, 0xE3A},   {0x13A0, 0x13F4}, {0x1C90, 0x1CBA}, {0x10400, 0x1044F},
      {0x1D400, 0x1D454}, {0x1E900, 0x1E943}, {0x2160, 0x2188}, {0x24B6, 0x24E9}};
  std::string out = Below(3) == 0 ? Word() : "";
  for (size_t n = 1 + Below(6); n > 0; --n) {
    const auto& range = ranges[Below(sizeof(ranges) / sizeof(ranges[0]))];
    out += U8(InRange(range[0], range[1]));
  }
  if (Below(3) == 0) out += Word();
  return out;
}

// Hand-picked strings, then the generated ones.
std::vector<std::string> MakeTexts() {
  std::vector<std::string> texts = {
      "", " ", "\t\n\r", "Hello, World!", "The quick brown fox jumped over the lazy dog.",
      "unaffable playground", "[CLS] [SEP] [UNK] [MASK] ##s", "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ",
      "İstanbul \u212a ẞ ǅ", "Café cafe\u0301 CAFE\u0301", "我爱北京天安门。", "a\u00a0b\u2028c",
      "x\u200by", "\U00020000", "👨\u200d👩\u200d👧 👍🏽 🇺🇸", "don't stop—ever…",
      Repeat("a", 100), Repeat("a", 101), Repeat("é", 100), Repeat("é", 101),
      Repeat("e\u0301", 60), std::string("a\0b", 3), "\ufffd\ufffd", "안녕하세요", "नमस्ते"};
  TextGenerator generator(20240611);
  for (int i = 0; i < kGeneratedTexts; ++i) texts.push_back(generator.Text());
  return texts;
}

struct Mode {
  const char* name;
  bool lower_case;
  bool tokenize_chinese_chars;
};
constexpr Mode kModes[] = {
    {"uncased", true, true}, {"cased", false, true}, {"uncased_no_cjk_split", true, false}};

// One run of the reference over every text in every mode, shared by the
// tests; `error` says why there is none.
struct Reference {
  std::string dir;
  std::vector<std::string> vocab;
  std::vector<std::string> texts;
  nlohmann::json ids;
  std::string error;
};

// Writes vocab.txt and cases.json (bert_reference.mjs's input) into ref.dir;
// "" or what went wrong.
std::string WriteInputs(const Reference& ref) {
  std::ofstream vocab_file(ref.dir + "/vocab.txt", std::ios::binary);
  for (const std::string& token : ref.vocab) vocab_file << token << "\n";
  nlohmann::json cases;
  for (const Mode& mode : kModes) {
    cases["modes"][mode.name] = {{"lower_case", mode.lower_case},
                                 {"tokenize_chinese_chars", mode.tokenize_chinese_chars}};
  }
  cases["texts"] = ref.texts;
  std::ofstream cases_file(ref.dir + "/cases.json", std::ios::binary);
  cases_file << cases.dump();
  vocab_file.close();
  cases_file.close();
  return vocab_file && cases_file ? "" : "cannot write into " + ref.dir;
}

Reference RunReference() {
  Reference ref;
  const std::string node = testing::FindProgram("node");
  if (node.empty()) {
    ref.error = "node is not installed: run `make deps` (it installs nodejs and the reference "
                "tokenizer, tests/text/package.json, into .npm/)";
    return ref;
  }
  if (!std::ifstream(kPackage).good()) {
    ref.error = absl::StrCat("the reference tokenizer is not installed (", kPackage,
                             " is missing): run `make deps`, which runs npm ci into .npm/");
    return ref;
  }
  ref.dir = adaptd::testing::MakeTempDir("wordpiece_parity_");
  ref.vocab = MakeVocab();
  ref.texts = MakeTexts();
  ref.error = WriteInputs(ref);
  if (!ref.error.empty()) return ref;
  const std::string log = ref.dir + "/reference.log";
  auto child = testing::Subprocess::Start(
      {node, kReference, kNpmPrefix, ref.dir + "/vocab.txt", ref.dir + "/cases.json",
       ref.dir + "/ids.json"},
      log);
  auto status = child.ok() ? (*child)->Wait(absl::Minutes(3)) : child.status();
  if (!status.ok() || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    ref.error = absl::StrCat("the reference failed (", status.status().ToString(),
                             "); run `make deps` if .npm/ is stale:\n",
                             testing::ReadWholeFile(log));
    return ref;
  }
  ref.ids = nlohmann::json::parse(testing::ReadWholeFile(ref.dir + "/ids.json"), nullptr,
                                  /*allow_exceptions=*/false);
  bool complete = !ref.ids.is_discarded();
  for (const Mode& mode : kModes) {
    complete = complete && ref.ids.contains(mode.name) &&
               ref.ids[mode.name].size() == ref.texts.size();
  }
  if (!complete) ref.error = "the reference wrote no ids for some texts: see " + ref.dir;
  return ref;
}

const Reference& SharedReference() {
  static const auto* ref = new Reference(RunReference());
  return *ref;
}

// `text` with everything outside printable ASCII written as \u{...}.
std::string Escape(const std::string& text) {
  auto code_points = unicode::DecodeUtf8(text, "text");
  if (!code_points.ok()) return "(invalid UTF-8)";
  std::string out;
  for (char32_t c : *code_points) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "\\u{%X}", static_cast<uint32_t>(c));
    }
  }
  return out;
}

std::string Tokens(const WordPieceTokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    tokens.push_back(id >= 0 && id < tokenizer.vocab_size() ? Escape(tokenizer.Token(id)) : "?");
  }
  return absl::StrJoin(tokens, " ");
}

std::unique_ptr<WordPieceTokenizer> MakeTokenizer(const Reference& ref, const Mode& mode) {
  WordPieceTokenizer::Options options;
  options.vocab_path = ref.dir + "/vocab.txt";
  options.lower_case = mode.lower_case;
  options.tokenize_chinese_chars = mode.tokenize_chinese_chars;
  auto tokenizer = WordPieceTokenizer::Create(options);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  if (!tokenizer.ok()) return nullptr;
  EXPECT_EQ((*tokenizer)->vocab_size(), static_cast<int32_t>(ref.vocab.size()));
  return std::move(*tokenizer);
}

// Encodes every text in `mode` and compares with the reference's ids.
void ExpectIdenticalIds(const Mode& mode) {
  const Reference& ref = SharedReference();
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  auto tokenizer = MakeTokenizer(ref, mode);
  ASSERT_NE(tokenizer, nullptr);
  const nlohmann::json& expected = ref.ids[mode.name];
  int identical = 0, reported = 0;
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    const auto want = expected[i].get<std::vector<int32_t>>();
    auto got = tokenizer->Encode(ref.texts[i], 1 << 20);
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->ids == want) {
      ++identical;
    } else if (++reported <= 20) {
      ADD_FAILURE() << mode.name << " text " << i << ": \"" << Escape(ref.texts[i])
                    << "\"\n  adaptd:    " << Tokens(*tokenizer, got->ids)
                    << "\n  reference: " << Tokens(*tokenizer, want);
    }
  }
  std::printf("%s: %d of %zu texts tokenized to identical ids\n", mode.name, identical,
              ref.texts.size());
  EXPECT_EQ(identical, static_cast<int>(ref.texts.size()));
}

TEST(WordPieceParityTest, UncasedIdsMatchTheReference) { ExpectIdenticalIds(kModes[0]); }
TEST(WordPieceParityTest, CasedIdsMatchTheReference) { ExpectIdenticalIds(kModes[1]); }
TEST(WordPieceParityTest, IdsWithoutCjkSplittingMatchTheReference) {
  ExpectIdenticalIds(kModes[2]);
}

// Truncation keeps the reference's first max_length - 2 wordpieces.
TEST(WordPieceParityTest, TruncationKeepsTheReferencePrefix) {
  const Reference& ref = SharedReference();
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  auto tokenizer = MakeTokenizer(ref, kModes[0]);
  ASSERT_NE(tokenizer, nullptr);
  const nlohmann::json& expected = ref.ids[kModes[0].name];
  int truncated = 0;
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    const auto full = expected[i].get<std::vector<int32_t>>();
    const int max_length = 2 + static_cast<int>(i % 12);
    auto got = tokenizer->Encode(ref.texts[i], max_length);
    ASSERT_TRUE(got.ok()) << got.status();
    const size_t keep = std::min(full.size() - 2, static_cast<size_t>(max_length - 2));
    std::vector<int32_t> want(full.begin(), full.begin() + 1 + keep);
    want.push_back(full.back());
    EXPECT_EQ(got->ids, want) << "text " << i;
    EXPECT_EQ(got->num_truncated, static_cast<int64_t>(full.size() - 2 - keep));
    truncated += got->truncated();
  }
  EXPECT_GT(truncated, static_cast<int>(ref.texts.size()) / 2);
}

// The strings reach every path: [UNK], continuations, accented, CJK and
// emoji tokens all occur in the reference's output, uncased or cased.
TEST(WordPieceParityTest, TheStringsExerciseEveryPath) {
  const Reference& ref = SharedReference();
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  auto tokenizer = MakeTokenizer(ref, kModes[1]);
  ASSERT_NE(tokenizer, nullptr);
  std::map<std::string, int> seen;
  for (const Mode& mode : {kModes[0], kModes[1]}) {
    for (const auto& ids : ref.ids[mode.name]) {
      for (int32_t id : ids.get<std::vector<int32_t>>()) ++seen[tokenizer->Token(id)];
    }
  }
  for (const char* token : {"[UNK]", "##s", "##ing", "é", "##é", "##\u0301", "我", "\U00020000",
                            "👍", "##🏽", "##\ufe0f", "##ς", "。", "…", "€", "Hello", "hello",
                            "οδος", "istanbul", "k"}) {
    EXPECT_GE(seen[token], 3) << Escape(token);
  }
  int total = 0;
  for (const auto& [token, count] : seen) total += count;
  std::printf("%zu distinct tokens, %d in all, [UNK] %d times\n", seen.size(), total,
              seen["[UNK]"]);
}

}  // namespace
}  // namespace adaptd::engine
