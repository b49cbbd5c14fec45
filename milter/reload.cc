#include "reload.h"

#include <signal.h>

#include <thread>
#include <utility>

#include "senderguard/config/config.h"

namespace senderguard::milter {
namespace {

// Reloads the configuration on SIGUSR1 (blocked in every other thread).
void ReloadLoop(std::string path, Context* ctx, Logger* log) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    auto cfg = LoadConfig(path);
    if (!cfg.ok()) {
      log->Log(Logger::Level::kError,
               KvLine().Add("action", "reload-failed").Add("kept", "previous").Add("error", cfg.status().message()).str());
      continue;
    }
    auto old = ctx->config();
    if ((*cfg)->store_path != old->store_path || (*cfg)->socket != old->socket) {
      log->Log(Logger::Level::kWarning,
               KvLine().Add("action", "reload").Add("note", "store.path and milter.socket change only at restart").str());
    }
    if ((*cfg)->dns_upstream != old->dns_upstream || (*cfg)->dns_timeout_ms != old->dns_timeout_ms ||
        (*cfg)->dns_test_tld != old->dns_test_tld) {
      log->Log(Logger::Level::kWarning,
               KvLine().Add("action", "reload").Add("note", "dmarc.upstream, dns_timeout_ms and test_tld change only at restart").str());
    }
    ctx->set_config(*cfg);
    log->Log(Logger::Level::kInfo, KvLine().Add("action", "reload").Add("config", path).str());
  }
}

}  // namespace

void BlockHandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGUSR1, SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void StartReloadThread(std::string path, Context* ctx, Logger* log) {
  std::thread(ReloadLoop, std::move(path), ctx, log).detach();
}

}  // namespace senderguard::milter
