#include "senderguard/base/notify.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace senderguard {

void SpawnNotify(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env, Logger* logger) {
  if (argv.empty()) return;
  std::vector<std::string> env_strings = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env_strings) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  // The child starts with no blocked signals and default dispositions: the
  // milter blocks SIGTERM/SIGHUP/SIGINT/SIGUSR1 and ignores SIGPIPE.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0].c_str(), nullptr, &attr, cargv.data(), cenv.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    if (logger != nullptr) {
      logger->Log(Logger::Level::kError, KvLine()
                                             .Add("action", "notify-failed")
                                             .Add("command", argv[0])
                                             .Add("error", std::strerror(rc))
                                             .str());
    }
    return;
  }
  std::thread([pid, logger, cmd = argv[0]] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (logger != nullptr && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      logger->Log(Logger::Level::kWarning,
                  KvLine().Add("action", "notify-failed").Add("command", cmd)
                      .Add("status", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status))
                      .str());
    }
  }).detach();
}

}  // namespace senderguard
