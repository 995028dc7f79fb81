// kf_loadgen: a closed-loop HTTPS load generator for keyferryd's benchmark.
//
// `--connections` keep-alive TLS connections, each driven by its own thread,
// send the same request back to back for `--seconds` after a warm-up
// request each (the TLS handshake is not measured). `{n}` in the target or
// body is replaced by a number unique to the request, so create and import
// runs make new keys; `{c}` by the connection's index (0, 1, …), so each
// connection can use a key of its own. Prints one JSON object: requests,
// errors, seconds, rps, p50_ms, p99_ms, cpu_seconds (the generator's own
// user+system time) and cpu_share (cpu_seconds / seconds, in cores).
//
//   kf_loadgen --host myvault.localhost --port 8443 --ca ca.pem
//              --token-file tok --method POST
//              --target '/keys/k/sign?api-version=7.4'
//              --body-file body.json --connections 16 --seconds 5
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "myvault.localhost";
  std::string connect = "127.0.0.1";
  std::string port = "8443";
  std::string ca;
  std::string token;
  std::string method = "GET";
  std::string target;
  std::string body;
  int connections = 16;
  double seconds = 5;
  int expect = 200;
};

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "kf_loadgen: %s\n", m.c_str());
  std::exit(2);
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) Die("cannot read " + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Die("missing value for " + a);
    std::string v = argv[++i];
    if (a == "--host") {
      o.host = v;
    } else if (a == "--connect") {
      o.connect = v;
    } else if (a == "--port") {
      o.port = v;
    } else if (a == "--ca") {
      o.ca = v;
    } else if (a == "--token-file") {
      o.token = ReadAll(v);
      while (!o.token.empty() &&
             (o.token.back() == '\n' || o.token.back() == '\r')) {
        o.token.pop_back();
      }
    } else if (a == "--method") {
      o.method = v;
    } else if (a == "--target") {
      o.target = v;
    } else if (a == "--body-file") {
      o.body = ReadAll(v);
    } else if (a == "--connections") {
      o.connections = std::atoi(v.c_str());
    } else if (a == "--seconds") {
      o.seconds = std::atof(v.c_str());
    } else if (a == "--expect") {
      o.expect = std::atoi(v.c_str());
    } else {
      Die("unknown flag " + a);
    }
  }
  if (o.target.empty()) Die("--target is required");
  if (o.connections < 1) Die("--connections must be at least 1");
  return o;
}

// Replace replaces every `pattern` in `s` with `with`.
std::string Replace(const std::string& s, const std::string& pattern,
                    const std::string& with) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t at = s.find(pattern, pos);
    if (at == std::string::npos) break;
    out.append(s, pos, at - pos);
    out += with;
    pos = at + pattern.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// Expand replaces every "{n}" in `s` with `n` and every "{c}" with `c`.
std::string Expand(const std::string& s, const std::string& n, int c) {
  return Replace(Replace(s, "{n}", n), "{c}", std::to_string(c));
}

struct Shared {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::string first_error;
};

void Worker(const Options& o, int id, asio::ssl::context& ctx, Shared& sh) {
  std::vector<double> lat;
  lat.reserve(1 << 16);
  long seq = 0;
  auto fail = [&](const std::string& what) {
    sh.errors.fetch_add(1);
    std::lock_guard<std::mutex> l(sh.mu);
    if (sh.first_error.empty()) sh.first_error = what;
  };
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), o.host.c_str())) {
      Die("SNI");
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(o.host));
    beast::get_lowest_layer(stream).connect(
        resolver.resolve(o.connect, o.port));
    beast::get_lowest_layer(stream).socket().set_option(tcp::no_delay(true));
    stream.handshake(asio::ssl::stream_base::client);
    beast::flat_buffer buf;
    const std::string host_header = o.host + ":" + o.port;
    auto once = [&](bool measure) {
      std::string n = std::to_string(id) + "x" + std::to_string(seq++);
      http::request<http::string_body> req{http::string_to_verb(o.method),
                                           Expand(o.target, n, id), 11};
      req.set(http::field::host, host_header);
      req.set(http::field::authorization, "Bearer " + o.token);
      req.keep_alive(true);
      if (!o.body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = Expand(o.body, n, id);
        req.prepare_payload();
      }
      auto t0 = Clock::now();
      http::write(stream, req);
      http::response<http::string_body> res;
      http::read(stream, buf, res);
      double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (static_cast<int>(res.result_int()) != o.expect) {
        fail("HTTP " + std::to_string(res.result_int()) + ": " +
             res.body().substr(0, 300));
      } else if (measure) {
        lat.push_back(ms);
      }
    };
    once(false);  // warm-up: handshake and first request are not measured
    sh.ready.fetch_add(1);
    while (!sh.go.load()) std::this_thread::yield();
    while (!sh.stop.load()) once(true);
  } catch (const std::exception& e) {
    fail(std::string("connection ") + std::to_string(id) + ": " + e.what());
    if (!sh.go.load()) sh.ready.fetch_add(1);
  }
  std::lock_guard<std::mutex> l(sh.mu);
  sh.latencies_ms.insert(sh.latencies_ms.end(), lat.begin(), lat.end());
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace

// An Asio error while setting up (TLS context, resolve) ends the run with
// std::terminate and its message: what a benchmark tool should do.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  Options o = Parse(argc, argv);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  if (!o.ca.empty()) {
    ctx.load_verify_file(o.ca);
    ctx.set_verify_mode(asio::ssl::verify_peer);
  }
  Shared sh;
  std::vector<std::thread> threads;
  for (int i = 0; i < o.connections; ++i) {
    threads.emplace_back([&, i] { Worker(o, i, ctx, sh); });
  }
  while (sh.ready.load() < o.connections) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double cpu0 = CpuSeconds();
  auto t0 = Clock::now();
  sh.go.store(true);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  sh.stop.store(true);
  for (auto& t : threads) t.join();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  const size_t n = sh.latencies_ms.size();
  double p50 = Percentile(sh.latencies_ms, 0.50);
  double p99 = Percentile(sh.latencies_ms, 0.99);
  std::printf(
      "{\"requests\":%zu,\"errors\":%ld,\"seconds\":%.3f,\"rps\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_seconds\":%.3f,"
      "\"cpu_share\":%.3f}\n",
      n, sh.errors.load(), wall, static_cast<double>(n) / wall, p50, p99, cpu,
      cpu / wall);
  if (!sh.first_error.empty()) {
    std::fprintf(stderr, "kf_loadgen: first error: %s\n",
                 sh.first_error.c_str());
  }
  return sh.errors.load() == 0 ? 0 : 1;
}
