#include "base/json_reader.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "base/error.h"

namespace reforge {

bool JsonValue::integer(int64_t& out) const {
  if (kind_ != Kind::number || !integral_) return false;
  out = integer_;
  return true;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& [k, v] : object_) {
    if (k == key) return &v;
  }
  return nullptr;
}

class JsonParser {
 public:
  JsonParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  JsonValue document() {
    JsonValue v = value(0);
    skip_space();
    if (at_ != text_.size()) fail("text after the value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(fmt::format("{}: invalid JSON at byte {}: {}", what_, at_, why));
  }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t'))
      ++at_;
  }
  char peek() {
    skip_space();
    if (at_ >= text_.size()) fail("unexpected end");
    return text_[at_];
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++at_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) fail("nested deeper than 64 levels");
    JsonValue v;
    char c = peek();
    if (c == '{') {
      v.kind_ = JsonValue::Kind::object;
      ++at_;
      if (peek() == '}') {
        ++at_;
        return v;
      }
      while (true) {
        if (peek() != '"') fail("expected a member name");
        std::string key = string_body();
        if (v.find(key)) fail(fmt::format("member \"{}\" appears twice", key));
        expect(':');
        v.object_.emplace_back(std::move(key), value(depth + 1));
        if (peek() == ',') {
          ++at_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind_ = JsonValue::Kind::array;
      ++at_;
      if (peek() == ']') {
        ++at_;
        return v;
      }
      while (true) {
        v.array_.push_back(value(depth + 1));
        if (peek() == ',') {
          ++at_;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.kind_ = JsonValue::Kind::string;
      v.string_ = string_body();
      return v;
    }
    if (literal("true") || literal("false")) {
      v.kind_ = JsonValue::Kind::boolean;
      v.boolean_ = text_[at_ - 1] == 'e' && text_[at_ - 2] == 'u';
      return v;
    }
    if (literal("null")) return v;
    return number();
  }

  JsonValue number() {
    size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    auto digits = [&] {
      size_t from = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      return at_ - from;
    };
    size_t whole = digits();
    if (whole == 0) fail("expected a value");
    if (whole > 1 && text_[at_ - whole] == '0') fail("a number with a leading zero");
    bool integral = true;
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (digits() == 0) fail("a digit must follow the decimal point");
      integral = false;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (digits() == 0) fail("a digit must follow the exponent");
      integral = false;
    }
    JsonValue v;
    v.kind_ = JsonValue::Kind::number;
    std::string_view token = text_.substr(start, at_ - start);
    if (integral) {
      auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), v.integer_);
      v.integral_ = error == std::errc() && end == token.data() + token.size();
    }
    auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), v.number_);
    if (error != std::errc() || !std::isfinite(v.number_)) fail("a number out of range");
    return v;
  }

  void utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xe0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  uint32_t hex4() {
    if (text_.size() - at_ < 4) fail("a short \\u escape");
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      char h = text_[at_++];
      code <<= 4;
      if (h >= '0' && h <= '9')
        code |= h - '0';
      else if (h >= 'a' && h <= 'f')
        code |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        code |= h - 'A' + 10;
      else
        fail("a bad \\u escape");
    }
    return code;
  }

  std::string string_body() {
    ++at_;  // the opening quote
    std::string out;
    while (true) {
      if (at_ >= text_.size()) fail("an unterminated string");
      char c = text_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) fail("an unterminated escape");
      char e = text_[at_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t code = hex4();
          if (code >= 0xd800 && code < 0xdc00) {
            if (!literal("\\u")) fail("a lone surrogate");
            uint32_t low = hex4();
            if (low < 0xdc00 || low >= 0xe000) fail("a bad surrogate pair");
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          } else if (code >= 0xdc00 && code < 0xe000) {
            fail("a lone surrogate");
          }
          utf8(out, code);
          break;
        }
        default:
          fail(fmt::format("an unknown escape \\{}", e));
      }
    }
  }

  std::string_view text_;
  std::string what_;
  size_t at_ = 0;
};

JsonValue parse_json(std::string_view text, const std::string& what) { return JsonParser(text, what).document(); }

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace reforge
