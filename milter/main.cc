// senderguard-milter: enforces per-account quotas, suspension and recipient
// suppression inside the SMTP transaction, for Postfix or Sendmail.
//
// SECURITY: everything from the MTA is untrusted: the envelope sender and
// recipients, the SASL login, the client address (only as the MTA reports
// them). They are normalized, length-capped and logged escaped. Runs as the
// user systemd gives it (not root); writes only the LMDB store under
// [store] path and its milter socket. Spawns [milter] notify_command
// without a shell.
//
// Signals: SIGTERM/SIGHUP stop (libmilter's), SIGUSR1 reloads the
// configuration (a bad file keeps the old one), connections keep the
// configuration they started with.
#include <grp.h>
#include <libmilter/mfapi.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "callbacks.h"
#include "monitor.h"
#include "reload.h"
#include "senderguard/base/command_line.h"
#include "senderguard/base/exit_codes.h"
#include "senderguard/base/syslog_logger.h"
#include "senderguard/config/config.h"
#include "senderguard/monitor/textfile.h"
#include "senderguard/store/open.h"
#include "session.h"
#include "socket.h"

namespace sg = senderguard;

namespace {

// smfi_main's failure (not a sysexits value, kept as it was).
constexpr int kExitMilterFailed = 1;

}  // namespace

int main(int argc, char** argv) {
  std::string conf_flag;
  bool to_stderr = false, check_only = false;
  CLI::App app{"senderguard-milter: quotas, suspension, suppression and DMARC inside the SMTP "
               "transaction, for Postfix or Sendmail"};
  sg::PrepareCommandLine(app, "senderguard-milter");
  sg::AddConfigOption(app, &conf_flag);
  app.add_flag("--stderr", to_stderr, "log to stderr as well as syslog");
  app.add_flag("--check", check_only, "check the configuration and exit");
  sg::AddVersionFlag(app);
  app.footer("Runs in the foreground; SIGUSR1 reloads the configuration.");
  if (auto rc = sg::ParseCommandLine(app, argc, argv)) return *rc;
  const std::string path = sg::ConfigPath(conf_flag);
  auto cfg = sg::LoadConfig(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "senderguard-milter: %s\n", cfg.status().message().c_str());
    return sg::kExitConfig;
  }
  if (!(*cfg)->socket_group.empty() && getgrnam((*cfg)->socket_group.c_str()) == nullptr) {
    std::fprintf(stderr, "senderguard-milter: %s: milter.socket_group: no such group \"%s\"\n",
                 path.c_str(), (*cfg)->socket_group.c_str());
    return sg::kExitConfig;
  }
  if (check_only) {
    if (const sg::Status st = sg::CheckStoreSettings(**cfg); !st.ok()) {
      std::fprintf(stderr, "senderguard-milter: %s: %s\n", path.c_str(), st.message().c_str());
      return sg::kExitConfig;
    }
    const sg::Status dir = sg::monitor::CheckTextfileDirectory(sg::MonitoringTextfile(**cfg, "senderguard-milter"));
    if (!dir.ok()) {
      std::fprintf(stderr, "senderguard-milter: %s: %s\n", path.c_str(), dir.message().c_str());
      return sg::kExitConfig;
    }
    std::printf("%s: ok\n", path.c_str());
    return sg::kExitOk;
  }
  sg::SyslogLogger logger("senderguard-milter", to_stderr || (*cfg)->log_stderr);

  // Before any thread starts (the store's writer, the reload thread): the
  // signals their own threads sigwait() for must be blocked in all others.
  sg::milter::BlockHandledSignals();

  // The fleet's quota alerts come from the store's lease thread: they are
  // reported as a message's are, with the configuration in force (reloads
  // included) once the context exists, with the one read at start before.
  struct AlertSink {
    std::mutex mu;
    sg::milter::Context* context = nullptr;
  } alerts;
  sg::StoreUse use;
  use.on_alert = [&alerts, &cfg, &logger](std::string_view account, const sg::QuotaAlert& a) {
    std::lock_guard<std::mutex> lk(alerts.mu);
    if (alerts.context != nullptr) {
      sg::milter::ReportQuotaAlert(*alerts.context->config(), alerts.context->logger(), account, a, "");
    } else {
      sg::milter::ReportQuotaAlert(**cfg, &logger, account, a, "");
    }
  };
  use.logger = &logger;
  use.housekeeping = true;
  use.cached_reads = true;  // PostgreSQL: decide from this node's cache
  use.claim_node = true;
  use.program = "senderguard-milter";
  // A setting wrong is a configuration error (systemd does not restart on
  // it); anything else opening the store may pass (exit 75: retried).
  if (const sg::Status st = sg::CheckStoreSettings(**cfg); !st.ok()) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", st.message()).str());
    std::fprintf(stderr, "senderguard-milter: %s: %s\n", path.c_str(), st.message().c_str());
    return sg::kExitConfig;
  }
  auto store = sg::OpenStore(**cfg, use);
  if (!store.ok()) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", store.status().message()).str());
    std::fprintf(stderr, "senderguard-milter: %s\n", store.status().message().c_str());
    // kInvalid: this configuration cannot work (PostgreSQL refused its login,
    // the store is another node's); anything else may pass (retried).
    return store.status().code() == sg::Status::Code::kInvalid ? sg::kExitConfig : sg::kExitTempFail;
  }
  // DNS, SPF and DKIM for DMARC, set up whatever the mode ([dmarc] upstream
  // changes only at restart).
  auto auth = sg::AuthServices::Create(**cfg);
  if (!auth.ok()) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", auth.status().message()).str());
    std::fprintf(stderr, "senderguard-milter: %s\n", auth.status().message().c_str());
    return sg::kExitTempFail;
  }
  if ((*cfg)->dmarc_mode == sg::DmarcMode::kOutbound && (*cfg)->dmarc_egress.empty() &&
      (*cfg)->dmarc_signing_domains.empty()) {
    logger.Log(sg::Logger::Level::kWarning,
               sg::KvLine().Add("action", "config-warning").Add("note", "[dmarc] mode is outbound but neither egress nor signing_domains is set: only mail already DKIM-signed or from accounts' verified domains can pass p=reject domains").str());
  }
  sg::milter::Context context(*cfg, store->get(), &logger, auth->get());
  {
    std::lock_guard<std::mutex> lk(alerts.mu);
    alerts.context = &context;
  }
  // On a failed start the context goes before the store (and its thread).
  struct Detach {
    AlertSink* sink;
    ~Detach() {
      std::lock_guard<std::mutex> lk(sink->mu);
      sink->context = nullptr;
    }
  } detach{&alerts};
  sg::milter::StartReloadThread(path, &context, &logger);

  const smfiDesc desc = sg::milter::FilterDescription(&context);
  if (sg::milter::UnixSocketInUse(**cfg)) {  // libmilter would take it over silently
    const std::string error = (*cfg)->socket + ": another milter is listening there";
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("error", error).str());
    std::fprintf(stderr, "senderguard-milter: %s\n", error.c_str());
    return sg::kExitTempFail;
  }
  if (smfi_setconn(const_cast<char*>((*cfg)->socket.c_str())) == MI_FAILURE ||
      smfi_register(desc) == MI_FAILURE || smfi_opensocket(true) == MI_FAILURE) {
    logger.Log(sg::Logger::Level::kError, sg::KvLine().Add("action", "start-failed").Add("socket", (*cfg)->socket).str());
    std::fprintf(stderr, "senderguard-milter: cannot listen on %s\n", (*cfg)->socket.c_str());
    return sg::kExitOsError;
  }
  if (!sg::milter::PrepareUnixSocket(**cfg, &logger)) return sg::kExitOsError;
  logger.Log(sg::Logger::Level::kInfo, sg::KvLine().Add("action", "start").Add("socket", (*cfg)->socket).Add("store", (*cfg)->store_path).Add("config", path).str());
  auto reporter = sg::milter::StartReporter(&context);  // action=summary and [monitoring] textfile
  const int rc = smfi_main();
  reporter->Stop();  // the last summary, textfile and daily figures (before the Flush)
  logger.Log(sg::Logger::Level::kInfo, sg::KvLine().Add("action", "stop").Add("status", rc).str());
  // Leave without running destructors: the reload thread and libmilter's
  // threads may still hold `context`, and every commit is already in the
  // store. Flush it to disk first, and give back what sessions the MTA
  // left unfinished still hold (nothing is left to reclaim at the next start).
  (*store)->ReleaseHolds();
  (*store)->Flush();
  std::_Exit(rc == MI_SUCCESS ? sg::kExitOk : kExitMilterFailed);
}
