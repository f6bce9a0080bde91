#include "compiler/ir/parser.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>
#include <map>

namespace reforge {
namespace {

enum class TokenKind { ident, value_ref, number, string, punct, end };

struct Token {
  TokenKind kind;
  std::string text;
  int line;
};

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '#'; }

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> tokens;
  int line = 1;
  size_t i = 0;
  auto fail = [&](const std::string& what) { throw Error(fmt::format("IR text line {}: {}", line, what)); };
  while (i < s.size()) {
    char c = s[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '%') {
      size_t j = i + 1;
      while (j < s.size() && is_name_char(s[j])) ++j;
      if (j == i + 1) fail("'%' must be followed by a value name");
      tokens.push_back({TokenKind::value_ref, std::string(s.substr(i + 1, j - i - 1)), line});
      i = j;
    } else if (c == '"') {
      std::string text;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          ++j;
          text += s[j] == 'n' ? '\n' : s[j];
        } else {
          text += s[j];
        }
      }
      if (j >= s.size()) fail("unterminated string");
      tokens.push_back({TokenKind::string, text, line});
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '-' && i + 1 < s.size())) {
      size_t j = i + (c == '-' ? 1 : 0);
      if (s.substr(j, 3) == "inf" || s.substr(j, 3) == "nan") {
        j += 3;
      } else {
        if (j >= s.size() || !std::isdigit(static_cast<unsigned char>(s[j]))) fail("stray '-'");
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                                ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E')))) {
          ++j;
        }
      }
      tokens.push_back({TokenKind::number, std::string(s.substr(i, j - i)), line});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && is_name_char(s[j])) ++j;
      tokens.push_back({TokenKind::ident, std::string(s.substr(i, j - i)), line});
      i = j;
    } else if (std::string_view("(){}[],=:@").find(c) != std::string_view::npos) {
      tokens.push_back({TokenKind::punct, std::string(1, c), line});
      ++i;
    } else {
      fail(fmt::format("unexpected character '{}'", c));
    }
  }
  tokens.push_back({TokenKind::end, "", line});
  return tokens;
}

// Regions nest a few levels in real graphs; deeper text is refused before
// the recursive descent could exhaust the stack.
constexpr int kMaxRegionDepth = 64;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::unique_ptr<Graph> parse_top() {
    auto graph = parse_graph_block();
    if (peek().kind != TokenKind::end) fail("trailing text after the graph");
    return graph;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() { return tokens_[pos_++]; }
  [[noreturn]] void fail(const std::string& what) const {
    const Token& t = peek();
    throw Error(fmt::format("IR text line {}: {} (at '{}')", t.line, what, t.text));
  }
  bool at_punct(char c) const { return peek().kind == TokenKind::punct && peek().text[0] == c; }
  void expect_punct(char c) {
    if (!at_punct(c)) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string expect(TokenKind kind, const char* what) {
    if (peek().kind != kind) fail(fmt::format("expected {}", what));
    return next().text;
  }
  void expect_keyword(const char* word) {
    if (peek().kind != TokenKind::ident || peek().text != word) fail(fmt::format("expected '{}'", word));
    ++pos_;
  }
  int64_t parse_int() { return integer_of(expect(TokenKind::number, "an integer")); }

  // The whole token as a 64-bit integer: "1xyz" and 2^64 are errors.
  int64_t integer_of(const std::string& text) {
    int64_t v = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (error == std::errc::result_out_of_range) fail(text + " does not fit in a 64-bit integer");
    if (error != std::errc() || end != text.data() + text.size()) fail("expected an integer, got " + text);
    return v;
  }

  AttrValue parse_attr_value() {
    if (peek().kind == TokenKind::string) return next().text;
    if (at_punct('[')) {
      ++pos_;
      std::vector<int64_t> values;
      while (!at_punct(']')) {
        values.push_back(parse_int());
        if (!at_punct(']')) expect_punct(',');
      }
      ++pos_;
      return values;
    }
    // The printer writes non-finite floats as inf, -inf and nan.
    if (peek().kind == TokenKind::ident && (peek().text == "inf" || peek().text == "nan")) {
      return next().text == "inf" ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    }
    std::string text = expect(TokenKind::number, "an attribute value");
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    if (text == "-nan") return std::numeric_limits<double>::quiet_NaN();
    bool is_float = text.find_first_of(".eE") != std::string::npos;
    if (!is_float) return integer_of(text);
    double v = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (error != std::errc() || end != text.data() + text.size()) fail("bad number " + text);
    return v;
  }

  TensorType parse_type() {
    std::string dtype_text = expect(TokenKind::ident, "a dtype");
    auto dtype = parse_dtype(dtype_text);
    if (!dtype) fail("unknown dtype '" + dtype_text + "'");
    TensorType type{*dtype, {}};
    expect_punct('[');
    while (!at_punct(']')) {
      int64_t d = parse_int();
      if (d < 0) fail(fmt::format("negative dimension {}", d));
      type.shape.push_back(d);
      if (type.shape.size() > 16) fail("a type of rank over 16");
      if (!at_punct(']')) expect_punct(',');
    }
    ++pos_;
    // Checked: the element count must not wrap.
    int64_t elements = 1;
    for (int64_t d : type.shape) {
      if (d > 0 && elements > (int64_t{1} << 48) / d) fail("a tensor of more than 2^48 elements");
      elements *= d;
    }
    return type;
  }

  struct PendingNode {
    std::vector<std::string> inputs;
    int line;
  };

  std::unique_ptr<Graph> parse_graph_block(int depth = 0) {
    if (depth > kMaxRegionDepth) fail(fmt::format("regions nested more than {} deep", kMaxRegionDepth));
    expect_keyword("graph");
    // A plain name, or a quoted one for names with other characters ("byte-lm").
    std::string name = peek().kind == TokenKind::string ? next().text : expect(TokenKind::ident, "a graph name");
    auto graph = std::make_unique<Graph>(name);
    expect_punct('{');
    std::vector<PendingNode> pending;
    std::vector<std::pair<std::string, std::string>> outputs;
    int outputs_line = 0;
    while (!at_punct('}')) {
      if (peek().kind == TokenKind::ident && peek().text == "return") {
        outputs_line = next().line;
        while (!at_punct('}')) {
          std::string name = expect(TokenKind::ident, "an output name");
          expect_punct('=');
          outputs.emplace_back(name, expect(TokenKind::value_ref, "a value"));
          if (!at_punct('}')) expect_punct(',');
        }
        break;
      }
      auto node = std::make_unique<Node>();
      int line = peek().line;
      node->name = expect(TokenKind::value_ref, "'%name = ...' or 'return'");
      expect_punct('=');
      node->op = expect(TokenKind::ident, "an op name");
      node->def = find_op(node->op);
      PendingNode p{{}, line};
      expect_punct('(');
      while (!at_punct(')')) {
        p.inputs.push_back(expect(TokenKind::value_ref, "an input value"));
        if (!at_punct(')')) expect_punct(',');
      }
      ++pos_;
      if (at_punct('{')) {
        ++pos_;
        while (!at_punct('}')) {
          std::string name = expect(TokenKind::ident, "an attribute name");
          expect_punct('=');
          if (node->attrs.has(name)) fail("attribute '" + name + "' given twice");
          node->attrs.set(name, parse_attr_value());
          if (!at_punct('}')) expect_punct(',');
        }
        ++pos_;
      }
      expect_punct(':');
      node->type = parse_type();
      if (at_punct('@')) {
        ++pos_;
        node->loc.file = expect(TokenKind::string, "a quoted file name");
        expect_punct(':');
        node->loc.line = static_cast<int>(parse_int());
      }
      if (peek().kind == TokenKind::ident && peek().text == "regions") {
        ++pos_;
        expect_punct('{');
        while (!at_punct('}')) node->regions.push_back(parse_graph_block(depth + 1));
        ++pos_;
      }
      pending.push_back(std::move(p));
      graph->append(std::move(node));
    }
    expect_punct('}');

    // Resolve names only now, so forward references reach the verifier as
    // "used before definition" or "cycle" rather than a parse error.
    std::map<std::string, int> ids;
    for (int id = 0; id < graph->size(); ++id) ids.emplace(graph->node(id).name, id);
    auto resolve = [&](const std::string& name, int line) {
      auto it = ids.find(name);
      if (it == ids.end()) throw Error(fmt::format("IR text line {}: unknown value %{}", line, name));
      return it->second;
    };
    for (int id = 0; id < graph->size(); ++id) {
      for (const std::string& in : pending[id].inputs) {
        graph->mutable_node(id).inputs.push_back(resolve(in, pending[id].line));
      }
    }
    for (const auto& [name, value] : outputs) graph->mutable_outputs().emplace_back(name, resolve(value, outputs_line));
    return graph;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<Graph> parse_graph(std::string_view text) { return Parser(tokenize(text)).parse_top(); }

}  // namespace reforge
