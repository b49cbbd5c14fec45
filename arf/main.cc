// senderguard-arf: reads one feedback-loop report (ARF, RFC 5965) on stdin,
// as a Postfix pipe transport or an alias hands it over, and counts the
// complaint against the account that sent the original message: by the
// feedback token the milter added ([feedback] header), else by the original
// Message-ID through the queue map. The complainer is suppressed for that
// account; a complaint against an account reinstated for a limited time
// suspends it again at once; the review applies the rate rules. Each
// report counts once: feedback loops resend, and Postfix delivers again
// after a temporary failure that came after our commit, so the report is
// named (ComplaintKey) and the store writes nothing for a name it has seen
// in the last 90 days (FeedbackBatch::once_key).
//
// SECURITY: the report is untrusted (anyone can mail the abuse address).
// It is parsed with hard limits (arf.h). The token is an HMAC with a secret
// only the milter and this program know, so a forged report cannot blame an
// account it never received mail from; a Message-ID can be guessed, so
// attribution by Message-ID is weaker and logged as such. Runs as the user
// of the pipe transport; writes only the LMDB store.
//
// Exit status (sysexits, as Postfix's pipe(8) reads it): 0 counted (or
// deliberately ignored: a "not-spam" report, a report counted before); 65
// EX_DATAERR not a feedback report (Postfix bounces it; nothing stored); 75
// EX_TEMPFAIL for everything that is not the report's fault: a wrong command
// line (master.cf), a bad configuration, the store, reading stdin, empty
// input (the MTA always hands over a message: empty means the delivery
// lost it), any unexpected error. pipe(8) bounces on 64 and 78 too, which would lose a
// provider's report over a typo; on 75 it defers, and the report is counted
// once the typo is fixed.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>

#include "senderguard/base/command_line.h"
#include "senderguard/base/exit_codes.h"
#include "senderguard/base/syslog_logger.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/arf.h"
#include "senderguard/feedback/complaint.h"
#include "senderguard/store/open.h"

namespace sg = senderguard;

// A function-try-block: an exception (memory, say) exits 75 like any failure
// that is not the report's, never abort()'s signal.
int main(int argc, char** argv) try {
  CLI::App app{"senderguard-arf: counts one ARF complaint (RFC 5965) read on stdin"};
  std::string config_flag;
  bool log_stderr = false;
  sg::PrepareCommandLine(app, "senderguard-arf");
  sg::AddConfigOption(app, &config_flag);
  app.add_flag("--stderr", log_stderr, "log to stderr too");
  sg::AddVersionFlag(app);
  // A master.cf typo (an unknown option, -c ""): defer, not bounce.
  if (auto rc = sg::ParseCommandLine(app, argc, argv, sg::kExitTempFail)) return *rc;

  sg::SyslogLogger logger("senderguard-arf", log_stderr);
  auto loaded = sg::LoadConfig(sg::ConfigPath(config_flag));
  if (!loaded.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", loaded.status().message().c_str());
    return sg::kExitTempFail;  // the configuration's fault, not the report's: defer
  }
  const sg::Config& cfg = *loaded.value();
  if (cfg.log_stderr) logger.set_stderr(true);

  std::string msg;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "senderguard-arf: reading stdin: %s\n", std::strerror(errno));
      return sg::kExitTempFail;
    }
    if (n == 0) break;
    msg.append(buf, static_cast<size_t>(n));
    if (msg.size() > sg::kMaxArfMessage) {  // 16 MiB
      std::fprintf(stderr, "senderguard-arf: not a feedback report: message larger than 16 MiB\n");
      return sg::kExitDataError;
    }
  }
  if (msg.find_first_not_of(" \t\r\n") == std::string::npos) {
    // No message at all: Postfix and Sendmail always hand one over with at
    // least their Received: field, so empty input means the delivery lost
    // it on the way (a wrapper that read stdin, a redirect in master.cf).
    // Defer (75) so the report waits in the queue until that is fixed;
    // bouncing (65) or discarding (0) would lose it. Nothing is stored.
    std::fprintf(stderr, "senderguard-arf: no report: the input is empty (expected the message on stdin)\n");
    logger.Log(sg::Logger::Level::kWarning,
               sg::KvLine().Add("action", "defer").Add("reason", "empty-input").str());
    return sg::kExitTempFail;
  }
  auto parsed = sg::ParseArf(msg, cfg.feedback_header);
  if (!parsed.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", parsed.status().message().c_str());
    logger.Log(sg::Logger::Level::kWarning, sg::KvLine()
                                                .Add("action", "refuse")
                                                .Add("reason", "not-arf")
                                                .Add("error", parsed.status().message())
                                                .str());
    return sg::kExitDataError;
  }
  const sg::ArfReport& r = parsed.value();
  if (!sg::IsComplaint(r)) {
    // "not-spam", "virus", "auth-failure", "other": not a complaint about the sender.
    logger.Log(sg::Logger::Level::kInfo, sg::KvLine()
                                             .Add("action", "ignore")
                                             .Add("feedback_type", r.feedback_type)
                                             .Add("message_id", r.message_id)
                                             .str());
    return sg::kExitOk;
  }

  sg::StoreUse use;
  use.logger = &logger;
  use.durable = true;  // one short-lived write: make it durable before exiting
  use.program = "senderguard-arf";
  auto opened = sg::OpenStore(cfg, use);
  if (!opened.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", opened.status().message().c_str());
    return sg::kExitTempFail;
  }
  sg::Store* store = opened.value().get();

  auto attributed = sg::AttributeComplaint(r, cfg.feedback_secret, *store);
  if (!attributed.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", attributed.status().message().c_str());
    return sg::kExitTempFail;
  }
  const std::string& account = attributed.value().account;
  const std::string_view by = sg::AttributedByName(attributed.value().by);
  const std::string complainer = sg::Complainer(r);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const sg::FeedbackBatch batch = sg::ComplaintBatch(r, attributed.value(), complainer,
                                                     cfg.reputation.window_days, now);
  auto res = store->ApplyFeedback(batch, sg::ComplaintReview(cfg.reputation, now));
  if (!res.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", res.status().message().c_str());
    logger.Log(sg::Logger::Level::kError,
               sg::KvLine().Add("action", "error").Add("error", res.status().message()).str());
    return sg::kExitTempFail;
  }
  // The report's line: what it is and whom it blames.
  auto report_line = [&](const char* action) {
    sg::KvLine l;
    l.Add("action", action)
        .Add("account", account.empty() ? "-" : account)
        .Add("by", by)
        .Add("feedback_type", r.feedback_type)
        .Add("complainer", complainer.empty() ? "-" : complainer)
        .Add("message_id", r.message_id);
    return l;
  };
  if (res.value().duplicate) {
    logger.Log(sg::Logger::Level::kInfo, report_line("duplicate").str());
    return sg::kExitOk;  // counted before: Postfix must not bounce it back to the provider
  }
  store->Flush();
  logger.Log(sg::Logger::Level::kInfo, report_line("complaint")
                                           .Add("user_agent", r.user_agent)
                                           .Add("incidents", std::to_string(r.incidents))
                                           .str());
  for (const auto& n : r.notes) {
    logger.Log(sg::Logger::Level::kInfo, sg::KvLine().Add("action", "note").Add("note", n).str());
  }
  for (const auto& a : res.value().alerts) logger.Log(sg::Logger::Level::kWarning, a);
  return sg::kExitOk;
} catch (const std::exception& e) {
  std::fprintf(stderr, "senderguard-arf: %s\n", e.what());
  return sg::kExitTempFail;
}
