// Test helpers shared by the unit tests that need a real DNS server:
// TempDir, TestDnsServer (ldns-testns on 127.0.0.1, a port it picks itself),
// SilentServer (a loopback UDP port that never answers, for timeouts) and
// Entry (one ldns-testns datafile entry). Header-only, for tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

namespace senderguard::test_support {

using namespace std::chrono_literals;

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sg-dns-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ldns-testns on 127.0.0.1, on a port it picks itself (-r: it retries until a
// bind succeeds and prints "Listening on port N"). Killed and reaped by
// Stop() or the destructor; PR_SET_PDEATHSIG kills it if the test dies.
class TestDnsServer {
 public:
  // Starts the server, on `port` if given (else one it picks); check ok() (a
  // failure is also reported through gtest).
  explicit TestDnsServer(const std::string& datafile_text, int port = 0) {
    if (dir_.path().empty()) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    const std::string data = dir_.path() + "/zone.data";
    const std::string log = dir_.path() + "/server.log";
    std::ofstream(data) << datafile_text;
    const std::string port_text = std::to_string(port);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls: the parent may run resolver threads.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(127);
      if (port > 0) {
        execlp("ldns-testns", "ldns-testns", "-p", port_text.c_str(), data.c_str(),
               static_cast<char*>(nullptr));
      } else {
        execlp("ldns-testns", "ldns-testns", "-r", data.c_str(), static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    if (pid_ < 0) {
      ADD_FAILURE() << "fork failed";
      return;
    }
    static constexpr std::string_view kListening = "Listening on port ";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string text;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      if (const size_t at = text.find(kListening); at != std::string::npos) {
        port_ = std::atoi(text.c_str() + at + kListening.size());
        if (port_ > 0) return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "ldns-testns did not start (is ldnsutils installed?):\n" << text;
    Stop();
  }
  ~TestDnsServer() { Stop(); }
  TestDnsServer(const TestDnsServer&) = delete;
  TestDnsServer& operator=(const TestDnsServer&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string upstream() const { return "127.0.0.1@" + std::to_string(port_); }

  // Kills the server and waits for it: after this, nothing answers.
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A UDP socket on loopback that reads queries and never answers: a resolver
// pointed at it times out (a stopped TestDnsServer leaves a closed port).
// Closed by the destructor.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      ADD_FAILURE() << "cannot bind a UDP socket";
      return;
    }
    port_ = ntohs(sa.sin_port);
  }
  ~SilentServer() {
    if (fd_ >= 0) close(fd_);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  int port() const { return port_; }
  std::string upstream() const { return "127.0.0.1@" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// One ldns-testns entry answering `qname qtype` (QUESTION copied from the
// query, which unbound checks) with `rcode` and the given sections.
inline std::string Entry(const std::string& qname, const std::string& qtype, const std::string& rcode,
                  const std::string& answer, const std::string& authority = "",
                  const std::string& match_extra = "", const std::string& flags = "AA") {
  std::string e = "ENTRY_BEGIN\nMATCH opcode qtype qname" + match_extra +
                  "\nADJUST copy_id\nREPLY QR RD RA " + flags + " " + rcode +
                  "\nSECTION QUESTION\n" + qname + " IN " + qtype + "\n";
  if (!answer.empty()) e += "SECTION ANSWER\n" + answer;
  if (!authority.empty()) e += "SECTION AUTHORITY\n" + authority;
  return e + "ENTRY_END\n";
}

}  // namespace senderguard::test_support
