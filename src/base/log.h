// Structured logging: one JSON object per line on stderr. Thread-safe.
//
// Fields are identifiers, counts and outcomes. Never log key material,
// plaintext, PINs or tokens: there is no API that accepts SecretBytes.
#ifndef KEYFERRY_BASE_LOG_H_
#define KEYFERRY_BASE_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace keyferry {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// SetLogLevel sets the minimum level written; the default is kInfo.
void SetLogLevel(LogLevel level);
// LogEnabled tells whether `level` is written, so a caller can skip
// building fields for a line that would be dropped.
bool LogEnabled(LogLevel level);
// SetLogSink redirects log lines (for tests); nullptr restores stderr. The
// sink is called under the logging mutex.
void SetLogSink(void (*sink)(std::string_view line));

using LogField = std::pair<std::string_view, std::string>;

// Log writes {"ts":…,"level":…,"event":`event`,<fields>} as one line.
void Log(LogLevel level, std::string_view event,
         std::initializer_list<LogField> fields = {});

// JsonEscape returns `s` as a JSON string literal, quotes included.
std::string JsonEscape(std::string_view s);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_LOG_H_
