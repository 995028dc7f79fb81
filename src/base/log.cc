#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/mutex.h"

namespace keyferry {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
Mutex g_mu;
void (*g_sink)(std::string_view) ABSL_GUARDED_BY(g_mu) = nullptr;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch())
                .count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void SetLogSink(void (*sink)(std::string_view)) {
  MutexLock lock(&g_mu);
  g_sink = sink;
}

std::string JsonEscape(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
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
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

void Log(LogLevel level, std::string_view event,
         std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string line = "{\"ts\":" + JsonEscape(Timestamp()) +
                     ",\"level\":" + JsonEscape(LevelName(level)) +
                     ",\"event\":" + JsonEscape(event);
  for (const auto& [k, v] : fields) {
    line += ',';
    line += JsonEscape(k);
    line += ':';
    line += JsonEscape(v);
  }
  line += "}\n";
  MutexLock lock(&g_mu);
  if (g_sink != nullptr) {
    g_sink(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace keyferry
