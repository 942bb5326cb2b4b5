#include "passerelle/formula/expr.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "passerelle/base/text.h"

namespace passerelle::formula {
namespace {

struct Token {
  enum Kind { kEnd, kNumber, kString, kName, kOp, kLParen, kRParen, kComma, kAssign };
  Kind kind = kEnd;
  std::string text;
  double number = 0;
  size_t position = 0;
};

class Parser {
 public:
  Parser(std::string_view source, std::string_view what) : source_(source), what_(what) {}

  Result<Expr> ParseAll() {
    // Messages quote the source: it must be text (a byte cut out of a character is not).
    if (const std::optional<size_t> bad = FindInvalidUtf8(source_)) {
      return InvalidArgument(std::string(what_) + ": byte " + std::to_string(*bad + 1) +
                             " is not UTF-8 text");
    }
    RETURN_IF_ERROR(Tokenize());
    ASSIGN_OR_RETURN(Expr e, ParseTilde());
    if (Peek().kind != Token::kEnd) return Error(Peek(), "unexpected '" + Peek().text + "'");
    if (Depth(e) > kMaxDepth) return Error(Peek(), "nested deeper than " + Limit());
    return e;
  }

 private:
  // Expressions nest at most this deep (parentheses, calls, operators): deeper ones are no
  // one's formula, and evaluating them would take the stack.
  static constexpr int kMaxDepth = 256;
  // The parser's own frames: three per level of parentheses (~, !, unary).
  static constexpr int kMaxFrames = 3 * kMaxDepth;
  static std::string Limit() { return std::to_string(kMaxDepth) + " levels"; }

  // The tree's depth, without recursion.
  static int Depth(const Expr& root) {
    int deepest = 0;
    std::vector<std::pair<const Expr*, int>> stack = {{&root, 1}};
    while (!stack.empty()) {
      const auto [e, depth] = stack.back();
      stack.pop_back();
      deepest = std::max(deepest, depth);
      if (deepest > kMaxDepth) break;
      for (const Expr& child : e->args) stack.emplace_back(&child, depth + 1);
    }
    return deepest;
  }

  // Counts the parser's own recursion (parentheses, calls, chains of unary operators).
  struct Nested {
    explicit Nested(int* depth) : depth_(depth) { ++*depth_; }
    ~Nested() { --*depth_; }
    bool too_deep() const { return *depth_ > kMaxFrames; }
    int* depth_;
  };
  int depth_ = 0;

  static bool IsNameStart(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalpha(u) || c == '.' || c == '_' || u >= 0x80;
  }

  Status Error(const Token& at, const std::string& message) const {
    return InvalidArgument(std::string(what_) + " '" + std::string(source_) + "': column " +
                           std::to_string(at.position + 1) + ": " + message);
  }

  Status Tokenize() {
    size_t i = 0;
    const std::string_view s = source_;
    while (i < s.size()) {
      const char c = s[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
        continue;
      }
      Token t;
      t.position = i;
      if ((c >= '0' && c <= '9') ||
          (c == '.' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9')) {
        size_t j = i;
        while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
        if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
          ++j;
          if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
          while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        }
        const auto [end, ec] = std::from_chars(s.data() + i, s.data() + j, t.number);
        if (ec != std::errc() || end != s.data() + j) {
          t.text = std::string(s.substr(i, j - i));
          return Error(t, "malformed number '" + t.text + "'");
        }
        if (j < s.size() && s[j] == 'L') ++j;  // R's integer suffix
        t.kind = Token::kNumber;
        t.text = std::string(s.substr(i, j - i));
        i = j;
      } else if (IsNameStart(c)) {
        // Names as R reads them, letters of any script included (âge, 年龄): bytes of a UTF-8
        // character other than ASCII are part of a name.
        size_t j = i;
        while (j < s.size() && (IsNameStart(s[j]) || (s[j] >= '0' && s[j] <= '9'))) ++j;
        t.kind = Token::kName;
        t.text = std::string(s.substr(i, j - i));
        i = j;
      } else if (c == '`') {
        const size_t j = s.find('`', i + 1);
        if (j == std::string_view::npos) return Error(t, "unclosed `");
        t.kind = Token::kName;
        t.text = std::string(s.substr(i + 1, j - i - 1));
        i = j + 1;
      } else if (c == '"' || c == '\'') {
        std::string value;
        size_t j = i + 1;
        for (; j < s.size() && s[j] != c; ++j) {
          if (s[j] == '\\' && j + 1 < s.size()) {
            ++j;
            value.push_back(s[j] == 'n' ? '\n' : s[j] == 't' ? '\t' : s[j]);
          } else {
            value.push_back(s[j]);
          }
        }
        if (j >= s.size()) return Error(t, "unclosed string");
        t.kind = Token::kString;
        t.text = std::move(value);
        i = j + 1;
      } else if (c == '%') {
        const size_t j = s.find('%', i + 1);
        if (j == std::string_view::npos) return Error(t, "unclosed %operator%");
        t.kind = Token::kOp;
        t.text = std::string(s.substr(i, j - i + 1));
        if (t.text != "%in%") return Error(t, "unknown operator '" + t.text + "' (only %in%)");
        i = j + 1;
      } else if (c == '(') {
        t.kind = Token::kLParen, t.text = "(", ++i;
      } else if (c == ')') {
        t.kind = Token::kRParen, t.text = ")", ++i;
      } else if (c == ',') {
        t.kind = Token::kComma, t.text = ",", ++i;
      } else {
        static constexpr std::string_view kOps[] = {"==", "!=", "<=", ">=", "&&", "||", "<",
                                                    ">",  "&",  "|",  "!",  "+",  "-",  "*",
                                                    "/",  "^",  ":",  "~",  "="};
        bool found = false;
        for (std::string_view op : kOps) {
          if (s.substr(i).starts_with(op)) {
            t.kind = op == "=" ? Token::kAssign : Token::kOp;
            t.text = std::string(op);
            i += op.size();
            found = true;
            break;
          }
        }
        if (!found) {
          t.text = std::string(1, c);
          return Error(t, "unexpected character '" + t.text + "'");
        }
      }
      tokens_.push_back(std::move(t));
    }
    Token end;
    end.position = s.size();
    end.text = "end of input";
    tokens_.push_back(end);
    return Status::Ok();
  }

  const Token& Peek() const { return tokens_[pos_]; }
  bool IsOp(std::string_view op) const { return Peek().kind == Token::kOp && Peek().text == op; }

  Expr Binary(std::string op, Expr lhs, Expr rhs, size_t position) {
    Expr e;
    e.kind = Expr::Kind::kBinary;
    e.text = std::move(op);
    e.position = position;
    e.args.push_back(std::move(lhs));
    e.args.push_back(std::move(rhs));
    return e;
  }
  Expr Unary(std::string op, Expr operand, size_t position) {
    Expr e;
    e.kind = Expr::Kind::kUnary;
    e.text = std::move(op);
    e.position = position;
    e.args.push_back(std::move(operand));
    return e;
  }

  // Precedence, loosest first: ~, | ||, & &&, !, comparisons, + -, * /, %in%, :, unary - +, ^.
  Result<Expr> ParseTilde() {
    const Nested nested(&depth_);
    if (nested.too_deep()) return Error(Peek(), "nested deeper than " + Limit());
    if (IsOp("~")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseOr());
      return Unary("~", std::move(rhs), at);
    }
    ASSIGN_OR_RETURN(Expr lhs, ParseOr());
    if (IsOp("~")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseOr());
      return Binary("~", std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseOr() {
    ASSIGN_OR_RETURN(Expr lhs, ParseAnd());
    while (IsOp("|") || IsOp("||")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseAnd());
      lhs = Binary("|", std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseAnd() {
    ASSIGN_OR_RETURN(Expr lhs, ParseNot());
    while (IsOp("&") || IsOp("&&")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseNot());
      lhs = Binary("&", std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseNot() {
    const Nested nested(&depth_);
    if (nested.too_deep()) return Error(Peek(), "nested deeper than " + Limit());
    if (IsOp("!")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr operand, ParseNot());
      return Unary("!", std::move(operand), at);
    }
    return ParseComparison();
  }
  Result<Expr> ParseComparison() {
    ASSIGN_OR_RETURN(Expr lhs, ParseAdditive());
    for (std::string_view op : {"==", "!=", "<", "<=", ">", ">="}) {
      if (IsOp(op)) {
        const size_t at = Peek().position;
        ++pos_;
        ASSIGN_OR_RETURN(Expr rhs, ParseAdditive());
        return Binary(std::string(op), std::move(lhs), std::move(rhs), at);
      }
    }
    return lhs;
  }
  Result<Expr> ParseAdditive() {
    ASSIGN_OR_RETURN(Expr lhs, ParseMultiplicative());
    while (IsOp("+") || IsOp("-")) {
      const std::string op = Peek().text;
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseMultiplicative());
      lhs = Binary(op, std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseMultiplicative() {
    ASSIGN_OR_RETURN(Expr lhs, ParseSpecial());
    while (IsOp("*") || IsOp("/")) {
      const std::string op = Peek().text;
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseSpecial());
      lhs = Binary(op, std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseSpecial() {
    ASSIGN_OR_RETURN(Expr lhs, ParseColon());
    while (IsOp("%in%")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseColon());
      lhs = Binary("%in%", std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseColon() {
    ASSIGN_OR_RETURN(Expr lhs, ParseUnary());
    while (IsOp(":")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr rhs, ParseUnary());
      lhs = Binary(":", std::move(lhs), std::move(rhs), at);
    }
    return lhs;
  }
  Result<Expr> ParseUnary() {
    const Nested nested(&depth_);
    if (nested.too_deep()) return Error(Peek(), "nested deeper than " + Limit());
    if (IsOp("-") || IsOp("+")) {
      const std::string op = Peek().text;
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr operand, ParseUnary());
      return Unary(op, std::move(operand), at);
    }
    return ParsePower();
  }
  Result<Expr> ParsePower() {
    ASSIGN_OR_RETURN(Expr base, ParsePrimary());
    if (IsOp("^")) {
      const size_t at = Peek().position;
      ++pos_;
      ASSIGN_OR_RETURN(Expr exponent, ParseUnary());  // right-associative, binds -x^2 as -(x^2)
      return Binary("^", std::move(base), std::move(exponent), at);
    }
    return base;
  }
  Result<Expr> ParsePrimary() {
    const Token t = Peek();
    Expr e;
    e.position = t.position;
    switch (t.kind) {
      case Token::kNumber:
        ++pos_;
        e.kind = Expr::Kind::kNumber;
        e.number = t.number;
        e.text = t.text;
        return e;
      case Token::kString:
        ++pos_;
        e.kind = Expr::Kind::kString;
        e.text = t.text;
        return e;
      case Token::kLParen: {
        ++pos_;
        ASSIGN_OR_RETURN(Expr inner, ParseTilde());
        if (Peek().kind != Token::kRParen) return Error(Peek(), "expected ')'");
        ++pos_;
        e.kind = Expr::Kind::kParen;
        e.args.push_back(std::move(inner));
        return e;
      }
      case Token::kName: {
        ++pos_;
        if (t.text == "TRUE" || t.text == "FALSE" || t.text == "T" || t.text == "F") {
          e.kind = Expr::Kind::kLogical;
          e.logical = t.text[0] == 'T';
          return e;
        }
        if (t.text == "NA") {
          e.kind = Expr::Kind::kNA;
          return e;
        }
        if (Peek().kind != Token::kLParen) {
          e.kind = Expr::Kind::kName;
          e.text = t.text;
          return e;
        }
        ++pos_;
        e.kind = Expr::Kind::kCall;
        e.text = t.text;
        if (Peek().kind == Token::kRParen) {
          ++pos_;
          return e;
        }
        for (;;) {
          std::string name;
          if (Peek().kind == Token::kName && tokens_[pos_ + 1].kind == Token::kAssign) {
            name = Peek().text;
            pos_ += 2;
          }
          ASSIGN_OR_RETURN(Expr arg, ParseTilde());
          e.args.push_back(std::move(arg));
          e.arg_names.push_back(std::move(name));
          if (Peek().kind == Token::kComma) {
            ++pos_;
            continue;
          }
          if (Peek().kind == Token::kRParen) {
            ++pos_;
            return e;
          }
          return Error(Peek(), "expected ',' or ')' in the arguments of " + t.text + "()");
        }
      }
      default:
        return Error(t, t.kind == Token::kEnd ? "the expression ends too early"
                                              : "unexpected '" + t.text + "'");
    }
  }

  std::string_view source_;
  std::string_view what_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

std::string DeparseNumber(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", x);
  return buf;
}

}  // namespace

Result<Expr> ParseExpr(std::string_view source, std::string_view what) {
  if (source.size() > 10000) return InvalidArgument(std::string(what) + " is too long");
  Parser parser(source, what);
  return parser.ParseAll();
}

std::string Deparse(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber:
      return DeparseNumber(e.number);
    case Expr::Kind::kString: {
      std::string out = "\"";
      for (char c : e.text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      return out + "\"";
    }
    case Expr::Kind::kLogical:
      return e.logical ? "TRUE" : "FALSE";
    case Expr::Kind::kNA:
      return "NA";
    case Expr::Kind::kName:
      return e.text;
    case Expr::Kind::kParen:
      return "(" + Deparse(e.args[0]) + ")";
    case Expr::Kind::kUnary:
      return e.text + Deparse(e.args[0]);
    case Expr::Kind::kBinary: {
      const bool tight = e.text == "^" || e.text == ":";
      const std::string sep = tight ? e.text : " " + e.text + " ";
      return Deparse(e.args[0]) + sep + Deparse(e.args[1]);
    }
    case Expr::Kind::kCall: {
      std::string out = e.text + "(";
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) out += ", ";
        if (!e.arg_names[i].empty()) out += e.arg_names[i] + " = ";
        out += Deparse(e.args[i]);
      }
      return out + ")";
    }
  }
  return "";
}

void CollectNames(const Expr& e, std::vector<std::string>* names) {
  if (e.kind == Expr::Kind::kName) {
    if (std::find(names->begin(), names->end(), e.text) == names->end()) {
      names->push_back(e.text);
    }
    return;
  }
  for (const Expr& child : e.args) CollectNames(child, names);
}

}  // namespace passerelle::formula
