#include "http/message.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "base/status.h"

namespace keyferry::http {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return absl::ascii_tolower(static_cast<unsigned char>(x)) ==
                  absl::ascii_tolower(static_cast<unsigned char>(y));
         });
}

void Headers::Add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

void Headers::Set(std::string_view name, std::string_view value) {
  Remove(name);
  Add(name, value);
}

void Headers::Remove(std::string_view name) {
  std::erase_if(
      fields_, [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::QueryParam(
    std::string_view name) const {
  for (const auto& [n, v] : query) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view s,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError("malformed percent-encoding");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status ParseTarget(std::string_view target, Request& req) {
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError("request target must start with '/'");
  }
  std::string_view path = target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  if (size_t h = query.find('#'); h != std::string_view::npos) {
    query = query.substr(0, h);
  }
  req.path_segments.clear();
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    ASSIGN_OR_RETURN(std::string seg,
                     PercentDecode(path.substr(0, slash), false));
    req.path_segments.push_back(std::move(seg));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  req.query.clear();
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    ASSIGN_OR_RETURN(std::string n, PercentDecode(name, true));
    ASSIGN_OR_RETURN(std::string v, PercentDecode(value, true));
    req.query.emplace_back(std::move(n), std::move(v));
  }
  return absl::OkStatus();
}

absl::Status ParseHost(std::string_view value, std::string& host,
                       std::optional<uint16_t>& port) {
  std::string_view name = value;
  std::string_view port_text;
  bool has_port = false;
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("unterminated IPv6 literal in Host");
    }
    name = value.substr(1, close - 1);
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError("junk after IPv6 literal in Host");
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else if (size_t colon = value.rfind(':'); colon != std::string_view::npos) {
    name = value.substr(0, colon);
    port_text = value.substr(colon + 1);
    has_port = true;
  }
  if (name.empty()) return absl::InvalidArgumentError("empty Host");
  port.reset();
  if (has_port) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(),
                                     port_text.data() + port_text.size(), p);
    if (port_text.empty() || ec != std::errc() ||
        end != port_text.data() + port_text.size() || p > 65535) {
      return absl::InvalidArgumentError("bad port in Host");
    }
    port = static_cast<uint16_t>(p);
  }
  host = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
  return absl::OkStatus();
}

}  // namespace keyferry::http
