#include "check/history.hpp"

#include <charconv>
#include <limits>
#include <sstream>

namespace synod::check {

const char* to_string(EventType type) {
  switch (type) {
    case EventType::invoke: return "invoke";
    case EventType::ok: return "ok";
    case EventType::fail: return "fail";
    case EventType::info: return "info";
  }
  return "?";
}

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::put: return "put";
    case OpKind::get: return "get";
    case OpKind::del: return "del";
    case OpKind::cas: return "cas";
  }
  return "?";
}

namespace {

// A flat JSON value: what one field of an event can hold.
struct JsonValue {
  enum class Kind { string, integer, boolean, null } kind = Kind::null;
  std::string text;
  std::int64_t integer = 0;
  bool is_negative = false;
  std::uint64_t magnitude = 0;
  bool boolean = false;
};

// A recursive-descent reader for one flat JSON object. No recursion: nested
// objects and arrays are rejected (no event field needs them).
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}

  std::optional<std::string> error;

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r')) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  std::size_t column() const { return pos_ + 1; }

  bool fail(std::string message) {
    if (!error) error = message + " at column " + std::to_string(column());
    return false;
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool read_hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(text_[pos_++]);
      if (d < 0) return fail("bad hex digit in \\u escape");
      out = out * 16 + static_cast<std::uint32_t>(d);
    }
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // After the opening quote. Bytes >= 0x80 are taken as they are (the
  // history's strings are byte strings; to_json_line writes them raw).
  bool read_string(std::string& out) {
    out.clear();
    if (!consume('"')) return fail("expected a string");
    while (true) {
      if (pos_ >= text_.size()) return fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!read_hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t low = 0;
            if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
              return fail("unpaired surrogate in \\u escape");
            }
            pos_ += 2;
            if (!read_hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: return fail(std::string("bad escape \\") + (static_cast<unsigned char>(e) >= 0x20 ? std::string(1, e) : "?"));
      }
    }
  }

  bool read_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return fail("unexpected token");
    pos_ += word.size();
    return true;
  }

  // Integers only (times and process ids); fractions and exponents are errors.
  bool read_integer(JsonValue& v) {
    v.kind = JsonValue::Kind::integer;
    v.is_negative = false;
    if (pos_ < text_.size() && text_[pos_] == '-') {
      v.is_negative = true;
      ++pos_;
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == start) return fail("expected a number");
    if (pos_ - start > 1 && text_[start] == '0') return fail("leading zero in number");
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      return fail("numbers must be integers");
    }
    const auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, v.magnitude);
    if (ec != std::errc{} || end != text_.data() + pos_) return fail("number out of range");
    return true;
  }

  bool read_value(JsonValue& v) {
    switch (peek()) {
      case '"': v.kind = JsonValue::Kind::string; return read_string(v.text);
      case 't': v.kind = JsonValue::Kind::boolean; v.boolean = true; return read_literal("true");
      case 'f': v.kind = JsonValue::Kind::boolean; v.boolean = false; return read_literal("false");
      case 'n': v.kind = JsonValue::Kind::null; return read_literal("null");
      case '{':
      case '[': return fail("nested objects and arrays are not part of the format");
      default: return read_integer(v);
    }
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::optional<std::uint64_t> as_unsigned(const JsonValue& v) {
  if (v.kind != JsonValue::Kind::integer || v.is_negative) return std::nullopt;
  return v.magnitude;
}

std::optional<std::int64_t> as_signed(const JsonValue& v) {
  if (v.kind != JsonValue::Kind::integer) return std::nullopt;
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (v.magnitude > max) return std::nullopt;
  const auto m = static_cast<std::int64_t>(v.magnitude);
  return v.is_negative ? -m : m;
}

ParseError error_at(std::size_t line, std::string reason) { return ParseError{line, std::move(reason)}; }

// Field-level rules: which event types / ops a field belongs to.
std::optional<std::string> validate(const Event& e) {
  if (e.type == EventType::invoke) {
    if (!e.op) return "invoke without \"op\"";
    if (!e.key) return "invoke without \"key\"";
    if (e.success) return "\"success\" belongs to a cas completion, not an invoke";
    switch (*e.op) {
      case OpKind::put:
        if (!e.value.present || !e.value.value) return "put invoke needs a string \"value\"";
        if (e.expected.present) return "\"expected\" belongs to cas";
        break;
      case OpKind::cas:
        if (!e.value.present || !e.value.value) return "cas invoke needs a string \"value\" (the new value)";
        if (!e.expected.present) return "cas invoke needs \"expected\" (a string, or null for absent)";
        break;
      case OpKind::get:
      case OpKind::del:
        if (e.value.present) return std::string(to_string(*e.op)) + " invoke takes no \"value\"";
        if (e.expected.present) return "\"expected\" belongs to cas";
        break;
    }
    return std::nullopt;
  }
  if (e.expected.present) return "\"expected\" belongs to a cas invoke";
  if (e.type != EventType::ok) {
    if (e.value.present || e.success) return std::string(to_string(e.type)) + " carries no result";
    return std::nullopt;
  }
  // ok: the result fields are checked against the invoked op when pairing
  // (the op may be omitted here); only the shapes are checked now.
  if (e.op) return result_shape_problem(*e.op, e);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> result_shape_problem(OpKind kind, const Event& e) {
  switch (kind) {
    case OpKind::put:
      if (e.value.present || e.success) return "ok put carries no result";
      break;
    case OpKind::get:
      if (!e.value.present) return "ok get needs \"value\" (a string, or null for absent)";
      if (e.success) return "\"success\" belongs to cas";
      break;
    case OpKind::del:
      if (e.success) return "\"success\" belongs to cas";
      break;
    case OpKind::cas:
      if (!e.success) return "ok cas needs \"success\" (true or false)";
      if (*e.success && e.value.present) return "a successful cas carries no \"value\"";
      break;
  }
  return std::nullopt;
}

std::variant<Event, ParseError> parse_event(std::string_view line, std::size_t line_number) {
  if (line.size() > kMaxLineBytes) {
    return error_at(line_number, "line longer than " + std::to_string(kMaxLineBytes) + " bytes");
  }
  LineReader r(line);
  Event e;
  e.line = line_number;
  bool have_type = false, have_process = false, have_time = false;
  if (!r.consume('{')) return error_at(line_number, "expected a JSON object ('{')");
  bool first = true;
  // Every field name seen, so a repeated field is an error (at most 8 are known).
  std::vector<std::string> seen;
  while (!r.consume('}')) {
    if (!first && !r.consume(',')) {
      r.fail("expected ',' or '}'");
      return error_at(line_number, *r.error);
    }
    first = false;
    std::string name;
    JsonValue v;
    if (!r.read_string(name) || !r.consume(':') || (!r.error && !r.read_value(v))) {
      if (!r.error) r.fail("expected ':'");
      return error_at(line_number, *r.error);
    }
    for (const auto& s : seen) {
      if (s == name) return error_at(line_number, "field \"" + name + "\" appears twice");
    }
    if (seen.size() < 64) seen.push_back(name);
    using K = JsonValue::Kind;
    auto bad = [&](const std::string& what) { return error_at(line_number, "field \"" + name + "\": " + what); };
    if (name == "type") {
      if (v.kind != K::string) return bad("expected a string");
      if (v.text == "invoke") e.type = EventType::invoke;
      else if (v.text == "ok") e.type = EventType::ok;
      else if (v.text == "fail") e.type = EventType::fail;
      else if (v.text == "info") e.type = EventType::info;
      else return bad("expected invoke, ok, fail or info");
      have_type = true;
    } else if (name == "process") {
      auto p = as_unsigned(v);
      if (!p) return bad("expected a non-negative integer");
      e.process = *p;
      have_process = true;
    } else if (name == "time") {
      auto t = as_signed(v);
      if (!t) return bad("expected an integer (microseconds)");
      e.time_us = *t;
      have_time = true;
    } else if (name == "op") {
      if (v.kind != K::string) return bad("expected a string");
      if (v.text == "put") e.op = OpKind::put;
      else if (v.text == "get") e.op = OpKind::get;
      else if (v.text == "del") e.op = OpKind::del;
      else if (v.text == "cas") e.op = OpKind::cas;
      else return bad("expected put, get, del or cas");
    } else if (name == "key") {
      if (v.kind != K::string) return bad("expected a string");
      e.key = std::move(v.text);
    } else if (name == "value" || name == "expected") {
      if (v.kind != K::string && v.kind != K::null) return bad("expected a string or null");
      OptionalValue ov;
      ov.present = true;
      if (v.kind == K::string) ov.value = std::move(v.text);
      (name == "value" ? e.value : e.expected) = std::move(ov);
    } else if (name == "success") {
      if (v.kind != K::boolean) return bad("expected true or false");
      e.success = v.boolean;
    }
    // Other fields (e.g. a user's "index" or "note") are ignored.
  }
  r.skip_space();
  if (!r.at_end()) {
    r.fail("trailing characters after the object");
    return error_at(line_number, *r.error);
  }
  if (!have_type) return error_at(line_number, "missing \"type\"");
  if (!have_process) return error_at(line_number, "missing \"process\"");
  if (!have_time) return error_at(line_number, "missing \"time\"");
  if (auto problem = validate(e)) return error_at(line_number, *problem);
  return e;
}

std::variant<std::vector<Event>, ParseError> parse_history(std::istream& in, std::size_t max_events) {
  std::vector<Event> events;
  std::string line;
  std::size_t number = 0;
  while (true) {
    // getline with a bound: read at most kMaxLineBytes + 1 characters.
    line.clear();
    ++number;
    bool eof = false;
    while (true) {
      const int c = in.get();
      if (c == std::char_traits<char>::eof()) {
        eof = true;
        break;
      }
      if (c == '\n') break;
      if (line.size() > kMaxLineBytes) {
        return error_at(number, "line longer than " + std::to_string(kMaxLineBytes) + " bytes");
      }
      line.push_back(static_cast<char>(c));
    }
    if (eof && line.empty()) break;
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (!blank) {
      if (events.size() >= max_events) {
        return error_at(number, "more than " + std::to_string(max_events) + " events");
      }
      auto parsed = parse_event(line, number);
      if (auto* err = std::get_if<ParseError>(&parsed)) return *err;
      events.push_back(std::move(std::get<Event>(parsed)));
    }
    if (eof) break;
  }
  if (in.bad()) return error_at(number, "read error");
  return events;
}

std::variant<std::vector<Event>, ParseError> parse_history(std::string_view text, std::size_t max_events) {
  std::istringstream in{std::string(text)};
  return parse_history(in, max_events);
}

std::string json_quote(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() + 2);
  out.push_back('"');
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string to_json_line(const Event& e) {
  std::string out = "{\"type\":\"";
  out += to_string(e.type);
  out += "\",\"process\":" + std::to_string(e.process) + ",\"time\":" + std::to_string(e.time_us);
  if (e.op) out += std::string(",\"op\":\"") + to_string(*e.op) + "\"";
  if (e.key) out += ",\"key\":" + json_quote(*e.key);
  if (e.expected.present) out += ",\"expected\":" + (e.expected.value ? json_quote(*e.expected.value) : "null");
  if (e.value.present) out += ",\"value\":" + (e.value.value ? json_quote(*e.value.value) : "null");
  if (e.success) out += *e.success ? ",\"success\":true" : ",\"success\":false";
  out += "}";
  return out;
}

}  // namespace synod::check
