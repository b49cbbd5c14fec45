// smtp_replier: a TEST TOOL, not product code. A small SMTP server that plays the remote side
// of Postfix deliveries in end-to-end tests, answering each recipient (or each message) with a
// reply chosen by a rules file, so Postfix logs real-looking receiver texts.
//
// SECURITY: binds 127.0.0.0/8 only (refuses any other address); messages are counted, not kept.
//
// Usage: smtp_replier --listen 127.0.0.1:PORT --rules FILE [--count-file FILE] [--pid-file FILE]
//   SIGHUP re-reads the rules file (a bad file keeps the old rules); SIGTERM/SIGINT exit 0.
//
// Rules file: one rule per line; blank lines and lines starting with '#' are ignored.
//   PATTERN  STAGE  REPLY...
// PATTERN (case-insensitive, '*' matches any run of characters):
//   containing '@': matched against the whole recipient address (bob@bounce.test, unknown*@*);
//   without '@':    matched against the local part only (full*, bob); '*' alone matches all.
// STAGE: rcpt | rcpt-close | data | data-close ("-close" closes the connection after replying).
//   Stages are independent: RCPT TO uses the first matching rcpt rule of the recipient; after the
//   final dot, the first data rule (in file order) matching any accepted recipient answers for
//   the whole message. Defaults: "250 2.1.5 ok" at RCPT, "250 2.0.0 ok queued" after DATA.
// REPLY: the rest of the line, starting with a 3-digit code 2xx/4xx/5xx. A literal "\n" (backslash,
//   n) separates lines of a multi-line reply; later lines may omit the code (the first line's code
//   is used, with '-' continuation marks added), e.g.
//   unknown*@*  rcpt  550 5.1.1 The email account does not exist.\n5.1.1 Please try again.
//
// --count-file: rewritten atomically (temp + rename) after each completed DATA with one line
//   "accepted=N refused=M" (messages answered 2xx / anything else); written as 0/0 at startup.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kLineMax = 1000;               // bytes per line, CRLF included (RFC 5321)
constexpr std::size_t kMessageMax = 10 * 1024 * 1024;  // bytes per message
constexpr std::size_t kMaxConnections = 1000;
constexpr int kMaxBadCommands = 50;

struct Rule {
  std::string pattern;  // lower case
  bool data_stage = false;
  bool close = false;
  std::string wire;  // the reply as sent, CRLF-terminated lines
};
using Rules = std::vector<Rule>;

std::mutex g_rules_mu;
std::shared_ptr<const Rules> g_rules;

std::mutex g_count_mu;
std::string g_count_path;
unsigned long g_accepted = 0, g_refused = 0;

std::mutex g_conn_mu;
std::condition_variable g_conn_cv;
std::set<int> g_conns;

volatile sig_atomic_t g_stop = 0, g_reload = 0;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_code(const std::string& s) {
  return s.size() >= 3 && std::isdigit(static_cast<unsigned char>(s[0])) &&
         std::isdigit(static_cast<unsigned char>(s[1])) &&
         std::isdigit(static_cast<unsigned char>(s[2])) && (s.size() == 3 || s[3] == ' ');
}

// Turns "550 5.1.1 a\n5.1.1 b" into "550-5.1.1 a\r\n550 5.1.1 b\r\n"; empty on a bad reply.
std::string format_reply(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t start = 0;;) {
    std::size_t sep = text.find("\\n", start);
    lines.push_back(text.substr(start, sep == std::string::npos ? sep : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 2;
  }
  if (!is_code(lines[0]) || !std::strchr("245", lines[0][0])) return "";
  const std::string code = lines[0].substr(0, 3);
  std::string wire;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string body = lines[i];
    if (body.compare(0, 3, code) == 0 && is_code(body)) body.erase(0, 3);
    while (!body.empty() && body[0] == ' ') body.erase(0, 1);
    wire += code + (i + 1 < lines.size() ? "-" : " ") + body + "\r\n";
  }
  return wire;
}

bool load_rules(const std::string& path, Rules& out, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = path + ": cannot open";
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream fields(line);
    std::string pattern, stage, reply;
    if (!(fields >> pattern) || pattern[0] == '#') continue;
    fields >> stage >> std::ws;
    std::getline(fields, reply);
    while (!reply.empty() && std::isspace(static_cast<unsigned char>(reply.back())))
      reply.pop_back();
    if (reply.empty()) {
      err = path + ":" + std::to_string(n) + ": expected PATTERN STAGE REPLY";
      return false;
    }
    Rule rule;
    rule.pattern = lower(pattern);
    stage = lower(stage);
    rule.data_stage = stage.rfind("data", 0) == 0;
    rule.close = stage.size() > 6 && stage.compare(stage.size() - 6, 6, "-close") == 0;
    if (stage != "rcpt" && stage != "rcpt-close" && stage != "data" && stage != "data-close") {
      err = path + ":" + std::to_string(n) + ": unknown stage '" + stage + "'";
      return false;
    }
    rule.wire = format_reply(reply);
    if (rule.wire.empty()) {
      err = path + ":" + std::to_string(n) + ": reply must start with a 2xx/4xx/5xx code";
      return false;
    }
    out.push_back(std::move(rule));
  }
  return true;
}

std::shared_ptr<const Rules> current_rules() {
  std::lock_guard<std::mutex> lock(g_rules_mu);
  return g_rules;
}

// Glob with '*' only; both strings already lower case.
bool glob(const std::string& pat, const std::string& s) {
  std::size_t p = 0, i = 0, star = std::string::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pat.size() && pat[p] == s[i]) {
      ++p, ++i;
    } else if (star != std::string::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool matches(const Rule& rule, const std::string& addr) {
  if (rule.pattern.find('@') != std::string::npos) return glob(rule.pattern, addr);
  return glob(rule.pattern, addr.substr(0, std::min(addr.rfind('@'), addr.size())));
}

void write_counts() {  // caller holds g_count_mu
  if (g_count_path.empty()) return;
  const std::string tmp = g_count_path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "accepted=%lu refused=%lu\n", g_accepted, g_refused);
    if (std::fclose(f) == 0 && std::rename(tmp.c_str(), g_count_path.c_str()) == 0) return;
  }
  std::fprintf(stderr, "smtp_replier: cannot write %s: %s\n", g_count_path.c_str(),
               std::strerror(errno));
}

void count_message(bool accepted) {
  std::lock_guard<std::mutex> lock(g_count_mu);
  ++(accepted ? g_accepted : g_refused);
  write_counts();
}

// One client connection: a blocking socket read through a small line buffer.
class Session {
 public:
  explicit Session(int fd) : fd_(fd) {}
  void run();

 private:
  enum class Got { Line, TooLong, Eof };
  Got read_line(std::string& line);
  bool send(const std::string& s);
  bool data();  // false: close the connection

  int fd_;
  std::string buf_;
  std::size_t start_ = 0;
  bool discarding_ = false;  // inside an over-long line, dropping bytes until its LF
  bool in_mail_ = false;
  std::vector<std::string> rcpts_;  // accepted recipients, lower case
};

Session::Got Session::read_line(std::string& line) {
  for (;;) {
    std::size_t nl = buf_.find('\n', start_);
    if (nl != std::string::npos) {
      line.assign(buf_, start_, nl - start_);
      start_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (discarding_ || line.size() + 2 > kLineMax) {
        discarding_ = false;
        return Got::TooLong;
      }
      return Got::Line;
    }
    buf_.erase(0, start_);
    start_ = 0;
    if (discarding_ || buf_.size() > kLineMax) {
      discarding_ = true;
      buf_.clear();
    }
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Got::Eof;  // closed, reset, or idle timeout
    buf_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool Session::send(const std::string& s) {
  for (std::size_t off = 0; off < s.size();) {
    ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool Session::data() {
  if (!send("354 End data with <CR><LF>.<CR><LF>\r\n")) return false;
  std::size_t size = 0;
  for (std::string line;;) {
    Got got = read_line(line);
    if (got == Got::Eof) return false;
    if (got == Got::TooLong) {
      size += kLineMax;
      continue;
    }
    if (line == ".") break;
    if (!line.empty() && line[0] == '.') line.erase(0, 1);  // dot-unstuffing
    size += line.size() + 2;
  }
  std::string reply = "250 2.0.0 ok queued\r\n";
  bool close = false;
  if (size > kMessageMax) {
    reply = "552 5.3.4 message size exceeds fixed limit\r\n";
  } else {
    auto rules = current_rules();
    for (const Rule& rule : *rules) {
      if (!rule.data_stage) continue;
      auto hit = [&](const std::string& a) { return matches(rule, a); };
      if (std::any_of(rcpts_.begin(), rcpts_.end(), hit)) {
        reply = rule.wire;
        close = rule.close;
        break;
      }
    }
  }
  in_mail_ = false;
  rcpts_.clear();
  count_message(reply[0] == '2');
  return send(reply) && !close;
}

// Returns the address inside <...> after "VERB:", or after the colon if unbracketed.
std::string path_arg(const std::string& line, std::size_t colon) {
  std::size_t lt = line.find('<', colon);
  if (lt != std::string::npos) {
    std::size_t gt = line.find('>', lt);
    return line.substr(lt + 1, gt == std::string::npos ? gt : gt - lt - 1);
  }
  std::size_t b = line.find_first_not_of(' ', colon + 1);
  if (b == std::string::npos) return "";
  return line.substr(b, line.find(' ', b) - b);
}

void Session::run() {
  if (!send("220 replier ESMTP\r\n")) return;
  int bad = 0;
  for (std::string line;;) {
    Got got = read_line(line);
    if (got == Got::Eof) return;
    std::string reply;
    if (got == Got::TooLong) {
      reply = "500 5.5.0 line too long\r\n";
      ++bad;
    } else {
      const std::string up = lower(line.substr(0, 10));
      const std::string verb = up.substr(0, up.find(' '));
      if (verb == "ehlo") {
        in_mail_ = false, rcpts_.clear();
        reply = "250-replier\r\n250-8BITMIME\r\n250-SIZE " + std::to_string(kMessageMax) +
                "\r\n250 ENHANCEDSTATUSCODES\r\n";
      } else if (verb == "helo") {
        in_mail_ = false, rcpts_.clear();
        reply = "250 replier\r\n";
      } else if (verb == "mail") {
        if (up.rfind("mail from:", 0) != 0) {
          reply = "501 5.5.4 syntax: MAIL FROM:<address>\r\n";
        } else if (in_mail_) {
          reply = "503 5.5.1 nested MAIL command\r\n";
        } else {
          std::size_t sz = lower(line).find(" size=");
          if (sz != std::string::npos &&
              std::strtoull(line.c_str() + sz + 6, nullptr, 10) > kMessageMax) {
            reply = "552 5.3.4 message size exceeds fixed limit\r\n";
          } else {
            in_mail_ = true;
            reply = "250 2.1.0 ok\r\n";
          }
        }
      } else if (verb == "rcpt") {
        if (up.rfind("rcpt to:", 0) != 0) {
          reply = "501 5.5.4 syntax: RCPT TO:<address>\r\n";
        } else if (!in_mail_) {
          reply = "503 5.5.1 need MAIL command\r\n";
        } else {
          const std::string addr = lower(path_arg(line, line.find(':')));
          reply = "250 2.1.5 ok\r\n";
          bool close = false;
          auto rules = current_rules();
          for (const Rule& rule : *rules) {
            if (!rule.data_stage && matches(rule, addr)) {
              reply = rule.wire;
              close = rule.close;
              break;
            }
          }
          if (reply[0] == '2') rcpts_.push_back(addr);
          if (!send(reply) || close) return;
          continue;
        }
      } else if (verb == "data") {
        if (!in_mail_) {
          reply = "503 5.5.1 need MAIL command\r\n";
        } else if (rcpts_.empty()) {
          reply = "554 5.5.1 no valid recipients\r\n";
        } else {
          if (!data()) return;
          continue;
        }
      } else if (verb == "rset") {
        in_mail_ = false, rcpts_.clear();
        reply = "250 2.0.0 ok\r\n";
      } else if (verb == "noop") {
        reply = "250 2.0.0 ok\r\n";
      } else if (verb == "quit") {
        send("221 2.0.0 bye\r\n");
        return;
      } else {
        reply = "502 5.5.2 command not recognized\r\n";
        ++bad;
      }
    }
    if (bad > kMaxBadCommands) reply = "421 4.7.0 too many errors\r\n";
    if (!send(reply) || bad > kMaxBadCommands) return;
  }
}

void serve(int fd) {
  Session(fd).run();
  std::lock_guard<std::mutex> lock(g_conn_mu);
  ::close(fd);
  g_conns.erase(fd);
  g_conn_cv.notify_all();
}

void on_signal(int sig) {
  if (sig == SIGHUP) g_reload = 1; else g_stop = 1;
}

int usage() {
  std::fprintf(stderr, "usage: smtp_replier --listen 127.0.0.1:PORT --rules FILE "
                       "[--count-file FILE] [--pid-file FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen, rules_path, pid_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--listen") listen = argv[++i];
    else if (a == "--rules") rules_path = argv[++i];
    else if (a == "--count-file") g_count_path = argv[++i];
    else if (a == "--pid-file") pid_path = argv[++i];
    else return usage();
  }
  std::size_t colon = listen.rfind(':');
  if (listen.empty() || rules_path.empty() || colon == std::string::npos) return usage();

  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  char* end = nullptr;
  unsigned long port = std::strtoul(listen.c_str() + colon + 1, &end, 10);
  if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &sa.sin_addr) != 1 || *end ||
      port > 65535 || end == listen.c_str() + colon + 1) {
    std::fprintf(stderr, "smtp_replier: bad --listen '%s' (want IPv4:PORT)\n", listen.c_str());
    return 2;
  }
  if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "smtp_replier: refusing non-loopback address %s\n", listen.c_str());
    return 2;
  }
  sa.sin_port = htons(static_cast<uint16_t>(port));

  auto rules = std::make_shared<Rules>();
  std::string err;
  if (!load_rules(rules_path, *rules, err)) {
    std::fprintf(stderr, "smtp_replier: %s\n", err.c_str());
    return 2;
  }
  g_rules = rules;

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 256) != 0) {
    std::fprintf(stderr, "smtp_replier: cannot listen on %s: %s\n", listen.c_str(),
                 std::strerror(errno));
    return 1;
  }
  socklen_t salen = sizeof sa;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &salen);
  std::fprintf(stderr, "smtp_replier: listening on %s:%u, %zu rules\n",
               listen.substr(0, colon).c_str(), ntohs(sa.sin_port), rules->size());

  // Signals stay blocked everywhere (threads inherit the mask) except inside ppoll below.
  sigset_t block, waitmask;
  sigemptyset(&block);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&block, s);
  pthread_sigmask(SIG_BLOCK, &block, &waitmask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigdelset(&waitmask, s);
  struct sigaction act{};
  act.sa_handler = on_signal;
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaction(s, &act, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!pid_path.empty()) {
    if (FILE* f = std::fopen(pid_path.c_str(), "w")) {
      std::fprintf(f, "%ld\n", static_cast<long>(getpid()));
      std::fclose(f);
    }
  }
  {
    std::lock_guard<std::mutex> lock(g_count_mu);
    write_counts();
  }

  while (!g_stop) {
    if (g_reload) {
      g_reload = 0;
      auto fresh = std::make_shared<Rules>();
      if (load_rules(rules_path, *fresh, err)) {
        std::lock_guard<std::mutex> lock(g_rules_mu);
        g_rules = fresh;
        std::fprintf(stderr, "smtp_replier: reloaded %zu rules\n", fresh->size());
      } else {
        std::fprintf(stderr, "smtp_replier: reload failed, keeping old rules: %s\n", err.c_str());
      }
    }
    pollfd pfd{lfd, POLLIN, 0};
    if (ppoll(&pfd, 1, nullptr, &waitmask) <= 0) continue;  // EINTR: a signal arrived
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval rcv{300, 0}, snd{60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
    std::lock_guard<std::mutex> lock(g_conn_mu);
    if (g_conns.size() >= kMaxConnections) {
      static const char busy[] = "421 4.3.2 too many connections\r\n";
      (void)!::send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    try {
      std::thread(serve, fd).detach();
      g_conns.insert(fd);
    } catch (const std::system_error&) {
      ::close(fd);
    }
  }

  ::close(lfd);
  std::unique_lock<std::mutex> lock(g_conn_mu);
  for (int fd : g_conns) ::shutdown(fd, SHUT_RDWR);  // wakes sessions blocked in recv/send
  g_conn_cv.wait_for(lock, std::chrono::seconds(3), [] { return g_conns.empty(); });
  if (!pid_path.empty()) ::unlink(pid_path.c_str());
  std::fprintf(stderr, "smtp_replier: exiting\n");
  std::fflush(nullptr);
  _exit(0);  // skip static destructors: a detached session thread may still be unwinding
}
