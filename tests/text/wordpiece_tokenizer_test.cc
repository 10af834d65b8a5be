// BERT's tokenizer on cases whose answer BERT's own code gives (worked out
// by hand from google-research/bert tokenization.py), and the errors; the
// comparison with an independent implementation on thousands of generated
// strings is wordpiece_parity_test.cc.
#include "server/engine/text/wordpiece_tokenizer.h"

#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "server/engine/text/basic_tokenizer.h"
#include "server/engine/text/unicode_chars.h"
#include "server/engine/text/vocab.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The words BasicTokenizer makes of `text`, joined by " | ".
std::string Words(const std::string& text, bool lower_case = true, bool chinese = true) {
  BasicTokenizer basic({lower_case, chinese});
  auto words = basic.Split(text, "text");
  if (!words.ok()) return std::string(words.status().message());
  std::vector<std::string> utf8;
  for (const auto& word : *words) utf8.push_back(unicode::EncodeUtf8(word));
  return absl::StrJoin(utf8, " | ");
}

const std::vector<std::string>& TestVocab() {
  static const auto* vocab = new std::vector<std::string>{
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "a",
      "##a", "hello", ",", "world", "!", "é", "##é", "οδος", "##ς", "x", "我"};
  return *vocab;
}

std::unique_ptr<WordPieceTokenizer> MakeTokenizer(bool lower_case = true) {
  WordPieceTokenizer::Options options;
  options.lower_case = lower_case;
  auto tokenizer = WordPieceTokenizer::CreateFromTokens(TestVocab(), options);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(*tokenizer) : nullptr;
}

// The wordpieces of `text` as tokens, joined by spaces.
std::string Pieces(const WordPieceTokenizer& tokenizer, const std::string& text) {
  auto ids = tokenizer.Tokenize(text);
  if (!ids.ok()) return std::string(ids.status().message());
  std::vector<std::string> tokens;
  for (int32_t id : *ids) tokens.push_back(tokenizer.Token(id));
  return absl::StrJoin(tokens, " ");
}

WordPieceTokenizer::Options VocabAt(const std::string& path) {
  WordPieceTokenizer::Options options;
  options.vocab_path = path;
  return options;
}

std::string TempFile(const std::string& name, const std::string& contents) {
  static const std::string* dir = new std::string(adaptd::testing::MakeTempDir("wordpiece_"));
  const std::string path = *dir + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(BasicTokenizerTest, SplitsAtWhitespaceAndPunctuation) {
  EXPECT_EQ(Words("Hello, World!  a.b"), "hello | , | world | ! | a | . | b");
  EXPECT_EQ(Words("Hello, World!", false), "Hello | , | World | !");
  // Every ASCII symbol is punctuation to BERT; other symbols only when P*.
  EXPECT_EQ(Words("$5 a+b x^y «q» ¿qué?"),
            "$ | 5 | a | + | b | x | ^ | y | « | q | » | ¿ | que | ?");
  EXPECT_EQ(Words("€5 ©x ±1 °c"), "€5 | ©x | ±1 | °c");
  EXPECT_EQ(Words("don't--stop..."), "don | ' | t | - | - | stop | . | . | .");
}

TEST(BasicTokenizerTest, CleansControlsAndWhitespace) {
  EXPECT_EQ(Words("a\tb\nc\rd\u00a0e\u2028f\u2029g\u3000h\u202fi"),
            "a | b | c | d | e | f | g | h | i");
  // Dropped: U+0000, U+FFFD, Cc, Cf (zero-width space, soft hyphen, BOM),
  // Co (private use) and Cn (unassigned).
  EXPECT_EQ(Words(std::string("a\0b", 3) + "\ufffdc\x01\x7f" "d\u200be\u00adf\ufeffg"),
            "abcdefg");
  EXPECT_EQ(Words("a\ue000b\u0378c\v\fd\u0085e"), "abcde");
  EXPECT_EQ(Words(" \t\n "), "");
  EXPECT_EQ(Words(""), "");
}

TEST(BasicTokenizerTest, UncasedLowerCasesAndStripsAccents) {
  EXPECT_EQ(Words("Café NAÏVE Ångström Ærø"), "cafe | naive | angstrom | ærø");
  // Decomposed accents go too; cased keeps them, with no NFC.
  EXPECT_EQ(Words("Cafe\u0301"), "cafe");
  EXPECT_EQ(Words("Cafe\u0301", false), "Cafe\u0301");
  EXPECT_EQ(Words("Café", false), "Café");
  // A word of marks alone disappears.
  EXPECT_EQ(Words("a \u0301\u0308 b"), "a | b");
  // Python's str.lower(): final sigma, dotted capital I, Kelvin sign,
  // capital sharp s, title-case digraph.
  EXPECT_EQ(Words("ΟΔΟΣ ΟΔΟΣ. ΣΑΣ Σ"), "οδος | οδος | . | σας | σ");
  EXPECT_EQ(Words("İstanbul \u212a ẞ ǅ"), "istanbul | k | ß | ǆ");
  // Mn marks go (Devanagari's virama and vowel sign e), Mc ones stay
  // (visarga); NFD takes Hangul syllables apart into their jamo.
  EXPECT_EQ(Words("नमस्ते नमः"), "नमसत | नमः");
  EXPECT_EQ(Words("안녕"), "\u110b\u1161\u11ab\u1102\u1167\u11bc");
}

TEST(BasicTokenizerTest, SplitsCjkIdeographs) {
  EXPECT_EQ(Words("我爱ab中文"), "我 | 爱 | ab | 中 | 文");
  // Extension B (outside the BMP) and the compatibility ideographs are in
  // BERT's ranges; kana, hangul and CJK punctuation are not ideographs.
  // Uncased, NFD maps the compatibility ideograph to its unified one.
  EXPECT_EQ(Words("a\U00020000b\uf900c", false), "a | \U00020000 | b | \uf900 | c");
  EXPECT_EQ(Words("a\uf900c"), "a | \u8c48 | c");
  EXPECT_EQ(Words("こんにちは안녕。", false), "こんにちは안녕 | 。");
  EXPECT_EQ(Words("我爱ab", true, false), "我爱ab");
}

TEST(WordPieceTokenizerTest, GreedyLongestMatchFirst) {
  auto tokenizer = MakeTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(Pieces(*tokenizer, "unaffable"), "un ##aff ##able");
  EXPECT_EQ(Pieces(*tokenizer, "Hello, world!"), "hello , world !");
  EXPECT_EQ(Pieces(*tokenizer, "aaa"), "a ##a ##a");
  // One uncovered piece makes the whole word [UNK], not just that piece.
  EXPECT_EQ(Pieces(*tokenizer, "unaffablex hello"), "[UNK] hello");
  EXPECT_EQ(Pieces(*tokenizer, "Éé"), "[UNK]");
  EXPECT_EQ(Pieces(*tokenizer, "ΟΔΟΣ 我我"), "οδος 我 我");
  // Special tokens in the text are text.
  EXPECT_EQ(Pieces(*tokenizer, "[CLS]"), "[UNK] [UNK] [UNK]");
}

TEST(WordPieceTokenizerTest, CasedKeepsCaseAndAccents) {
  auto tokenizer = MakeTokenizer(false);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(Pieces(*tokenizer, "Hello hello éé"), "[UNK] hello é ##é");
}

TEST(WordPieceTokenizerTest, WordsOverOneHundredCodePointsAreUnknown) {
  auto tokenizer = MakeTokenizer(false);
  ASSERT_NE(tokenizer, nullptr);
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  auto pieces = [&](const std::string& text) { return tokenizer->Tokenize(text)->size(); };
  EXPECT_EQ(pieces(repeat("a", 100)), 100u);
  EXPECT_EQ(Pieces(*tokenizer, repeat("a", 101)), "[UNK]");
  // Code points, not bytes: 100 two-byte letters fit.
  EXPECT_EQ(pieces(repeat("é", 100)), 100u);
  EXPECT_EQ(Pieces(*tokenizer, repeat("é", 101)), "[UNK]");
  // Cased, a decomposed "é" is two code points.
  EXPECT_EQ(Pieces(*tokenizer, repeat("e\u0301", 51)), "[UNK]");
}

TEST(WordPieceTokenizerTest, EncodeAddsClsAndSepAndTruncates) {
  auto tokenizer = MakeTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const SpecialTokenIds& special = tokenizer->special_ids();
  EXPECT_EQ(special.pad, 0);
  EXPECT_EQ(special.unk, 1);
  EXPECT_EQ(special.cls, 2);
  EXPECT_EQ(special.sep, 3);
  EXPECT_EQ(special.mask, 4);

  auto full = tokenizer->Encode("unaffable, hello", 16);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_THAT(full->ids, ElementsAre(2, 5, 6, 7, 11, 10, 3));
  EXPECT_THAT(full->attention_mask, ElementsAre(1, 1, 1, 1, 1, 1, 1));
  EXPECT_FALSE(full->truncated());

  auto cut = tokenizer->Encode("unaffable, hello", 4);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_THAT(cut->ids, ElementsAre(2, 5, 6, 3));
  EXPECT_EQ(cut->num_truncated, 3);
  EXPECT_TRUE(cut->truncated());

  auto bare = tokenizer->Encode("hello", 2);
  ASSERT_TRUE(bare.ok());
  EXPECT_THAT(bare->ids, ElementsAre(2, 3));
  EXPECT_EQ(bare->num_truncated, 1);

  auto empty = tokenizer->Encode("", 8);
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(empty->ids, ElementsAre(2, 3));
}

TEST(WordPieceTokenizerTest, EncodePadsToMaxLength) {
  auto tokenizer = MakeTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  TextEncodeOptions options;
  options.pad_to_max_length = true;
  auto padded = tokenizer->Encode("hello", 5, options);
  ASSERT_TRUE(padded.ok()) << padded.status();
  EXPECT_THAT(padded->ids, ElementsAre(2, 10, 3, 0, 0));
  EXPECT_THAT(padded->attention_mask, ElementsAre(1, 1, 1, 0, 0));

  auto no_pad = WordPieceTokenizer::CreateFromTokens({"[UNK]", "[CLS]", "[SEP]"}, {});
  ASSERT_TRUE(no_pad.ok()) << no_pad.status();
  EXPECT_EQ((*no_pad)->special_ids().pad, -1);
  EXPECT_EQ((*no_pad)->special_ids().mask, -1);
  auto refused = (*no_pad)->Encode("x", 5, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("[PAD]"));
}

TEST(WordPieceTokenizerTest, RefusesTooShortMaxLength) {
  auto tokenizer = MakeTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  auto encoding = tokenizer->Encode("hello", 1);
  EXPECT_EQ(encoding.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(encoding.status().message()), StartsWith("max_length:"));
}

TEST(WordPieceTokenizerTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  auto tokenizer = MakeTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<std::string> bad = {
      "\xff",              // never a UTF-8 byte
      "ok \xc3",           // truncated sequence
      "\xc0\xaf",          // overlong '/'
      "\xed\xa0\x80",      // surrogate U+D800
      "\xf4\x90\x80\x80",  // past U+10FFFF
      "a\x80",             // stray continuation byte
  };
  for (const std::string& text : bad) {
    auto encoding = tokenizer->Encode(text, 8);
    EXPECT_EQ(encoding.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(encoding.status().message()),
                StartsWith("text: invalid UTF-8 at byte"));
  }
  TextEncodeOptions options;
  options.field = "inputs[2].text";
  auto named = tokenizer->Encode("ab\xff", 8, options);
  EXPECT_EQ(named.status().message(), "inputs[2].text: invalid UTF-8 at byte 2");
}

TEST(VocabTest, IdsAreLineNumbers) {
  auto vocab = ParseVocab("[PAD]\r\n[UNK]\n  spaced \t\n\n##x\n", "v.txt");
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_THAT(*vocab, ElementsAre("[PAD]", "[UNK]", "spaced", "", "##x"));
  const std::string path = TempFile("ids.txt", "[PAD]\n[UNK]\n[CLS]\n\n[SEP]\n\nhi\n");
  auto tokenizer = WordPieceTokenizer::Create(VocabAt(path));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 7);
  EXPECT_EQ((*tokenizer)->TokenId("[SEP]"), 4);
  EXPECT_EQ((*tokenizer)->TokenId("hi"), 6);
  EXPECT_EQ((*tokenizer)->TokenId(""), std::nullopt);
}

TEST(VocabTest, BadVocabsAreRefusedNamingTheProblem) {
  auto missing = WordPieceTokenizer::Create(VocabAt("/nonexistent/vocab.txt"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/vocab.txt"));

  auto unnamed = WordPieceTokenizer::Create({});
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unnamed.status().message(), HasSubstr("vocab_path"));

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[CLS]\n[SEP]\nhi\n", "no [UNK] token"},
      {"[UNK]\n[SEP]\nhi\n", "no [CLS] token"},
      {"[UNK]\n[CLS]\nhi\n", "no [SEP] token"},
      {"[UNK]\n[CLS]\n[SEP]\nhi\nyo\nhi\n", "line 6: duplicate token \"hi\", first on line 4"},
      {"[UNK]\n[CLS]\n[SEP]\nh\xffi\n", "line 4: invalid UTF-8"},
  };
  for (const auto& [contents, problem] : cases) {
    const std::string path = TempFile("bad.txt", contents);
    auto tokenizer = WordPieceTokenizer::Create(VocabAt(path));
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument) << problem;
    EXPECT_THAT(tokenizer.status().message(), HasSubstr(path)) << problem;
    EXPECT_THAT(tokenizer.status().message(), HasSubstr(problem));
  }
  auto duplicate = WordPieceTokenizer::CreateFromTokens({"[UNK]", "[CLS]", "[SEP]", "[UNK]"}, {});
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(duplicate.status().message(), HasSubstr("duplicate token \"[UNK]\""));
}

TEST(VocabTest, BadOptionsAreRefused) {
  WordPieceTokenizer::Options options;
  options.max_input_chars_per_word = 0;
  auto tokenizer = WordPieceTokenizer::CreateFromTokens(TestVocab(), options);
  EXPECT_THAT(std::string(tokenizer.status().message()), StartsWith("max_input_chars_per_word"));
  options = {};
  options.continuing_prefix = "";
  tokenizer = WordPieceTokenizer::CreateFromTokens(TestVocab(), options);
  EXPECT_THAT(std::string(tokenizer.status().message()), StartsWith("continuing_prefix"));
  options = {};
  options.unk_token = "<unk>";
  tokenizer = WordPieceTokenizer::CreateFromTokens(TestVocab(), options);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("no <unk> token"));
}

}  // namespace
}  // namespace adaptd::engine
