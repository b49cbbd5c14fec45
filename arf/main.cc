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
// EX_TEMPFAIL the store failed (Postfix retries later); 78 EX_CONFIG bad
// configuration.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "senderguard/base/exit_codes.h"
#include "senderguard/feedback/arf.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/decide/identity.h"
#include "senderguard/store/open.h"
#include "senderguard/base/syslog_logger.h"
#include "senderguard/decide/token.h"

namespace sg = senderguard;

namespace {

constexpr int kExOk = 0, kExDataErr = 65, kExTempFail = 75;
constexpr size_t kMaxInput = 16u << 20;

// The name of one complaint, for counting it once: the same report delivered
// again yields the same name, another recipient's or another message's a
// different one. By the original's Message-ID (RFC 5965 §2 (d)) when it has
// one; else by the Arrival-Date and Source-IP fields (§3.2), which are
// only good together with the complainer: one bulk send reaches a provider
// from one IP within the same second many times over. "" when the report
// identifies nothing (counted every time, as a complaint can't be told from
// another). Each field is length-prefixed, so no choice of bytes in one
// (they are untrusted and may hold any byte but LF) can forge another's; the
// store keeps only a digest, so the length does not matter.
std::string ComplaintKey(const sg::ArfReport& r, std::string_view account,
                         std::string_view complainer) {
  std::string key;
  auto field = [&key](std::string_view v) {
    key += std::to_string(v.size());
    key += ':';
    key.append(v);
  };
  if (!r.message_id.empty()) {
    key = "arf1 message-id ";
    field(account);
    field(r.message_id);
  } else if (!r.arrival_date.empty() && !complainer.empty()) {
    key = "arf1 arrival ";
    field(account);
    field(r.arrival_date);
    field(r.source_ip);
  } else {
    return key;
  }
  field(complainer);
  field(r.feedback_type);
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"senderguard-arf: counts one ARF complaint (RFC 5965) read on stdin"};
  std::string config_flag;
  bool log_stderr = false;
  app.add_option("-c,--config", config_flag, "configuration file");
  app.add_flag("--stderr", log_stderr, "log to stderr too");
  CLI11_PARSE(app, argc, argv);

  sg::SyslogLogger logger("senderguard-arf", log_stderr);
  auto loaded = sg::LoadConfig(sg::ConfigPath(config_flag));
  if (!loaded.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", loaded.status().message().c_str());
    return sg::kExitConfig;
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
      return kExTempFail;
    }
    if (n == 0) break;
    msg.append(buf, static_cast<size_t>(n));
    if (msg.size() > kMaxInput) {
      std::fprintf(stderr, "senderguard-arf: not a feedback report: message larger than 16 MiB\n");
      return kExDataErr;
    }
  }
  auto parsed = sg::ParseArf(msg, cfg.feedback_header);
  if (!parsed.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", parsed.status().message().c_str());
    logger.Log(sg::Logger::Level::kWarning, sg::KvLine()
                                                .Add("action", "refuse")
                                                .Add("reason", "not-arf")
                                                .Add("error", parsed.status().message())
                                                .str());
    return kExDataErr;
  }
  const sg::ArfReport& r = parsed.value();
  if (r.feedback_type != "abuse" && r.feedback_type != "fraud") {
    // "not-spam", "virus", "auth-failure", "other": not a complaint about the sender.
    logger.Log(sg::Logger::Level::kInfo, sg::KvLine()
                                             .Add("action", "ignore")
                                             .Add("feedback_type", r.feedback_type)
                                             .Add("message_id", r.message_id)
                                             .str());
    return kExOk;
  }

  sg::StoreUse use;
  use.logger = &logger;
  use.durable = true;  // one short-lived write: make it durable before exiting
  auto opened = sg::OpenStore(cfg, use);
  if (!opened.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", opened.status().message().c_str());
    return kExTempFail;
  }
  sg::Store* store = opened.value().get();

  // Attribution: the token first, then the Message-ID.
  std::string account, by = "none";
  if (!r.token.empty() && !cfg.feedback_secret.empty()) {
    auto accounts = store->ListAccounts();
    if (!accounts.ok()) {
      std::fprintf(stderr, "senderguard-arf: %s\n", accounts.status().message().c_str());
      return kExTempFail;
    }
    std::vector<std::string> names;
    for (const auto& a : accounts.value()) names.push_back(a.name);
    if (auto a = sg::AccountForToken(cfg.feedback_secret, r.token, names)) {
      account = *a;
      by = "token";
    }
  }
  if (account.empty() && !r.message_id.empty()) {
    auto ids = store->FindByMessageId(r.message_id);
    if (!ids.ok()) {
      std::fprintf(stderr, "senderguard-arf: %s\n", ids.status().message().c_str());
      return kExTempFail;
    }
    auto entries = store->GetQueueEntries(ids.value());
    if (!entries.ok()) {
      std::fprintf(stderr, "senderguard-arf: %s\n", entries.status().message().c_str());
      return kExTempFail;
    }
    for (size_t i = entries.value().size(); i-- > 0;) {  // newest first
      const auto& e = entries.value()[i];
      if (e && !e->account.empty()) {
        account = e->account;
        by = "message-id";
        break;
      }
    }
  }
  std::string complainer;
  for (const auto& rc : r.original_rcpt_to) {
    if (auto a = sg::NormalizeAddress(rc)) {
      complainer = *a;
      break;
    }
  }

  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  sg::FeedbackBatch batch;
  batch.now = now;
  batch.actor = "senderguard-arf";
  batch.review_days = cfg.reputation.window_days;
  sg::FeedbackEvent e;
  e.account = account;
  e.time = now;
  // One complaint per report, whatever its Incidents field says: reports are
  // not authenticated, and anyone who received the account's mail holds its
  // token, so a forged "Incidents: 1000" must not suspend an account alone.
  e.delta.complaints = 1;
  e.complainer = account.empty() ? "" : complainer;
  batch.events.push_back(e);
  batch.once_key = ComplaintKey(r, account, complainer);
  const sg::ReputationConfig rep = cfg.reputation;
  auto review = [&rep, now](sg::AccountRecord* a, const sg::StoredDays& days, uint64_t complaints,
                            sg::ReviewOutcome* out) {
    sg::ReviewAccount(rep, now, "senderguard-arf", a, days, complaints, out);
  };
  auto res = store->ApplyFeedback(batch, review);
  if (!res.ok()) {
    std::fprintf(stderr, "senderguard-arf: %s\n", res.status().message().c_str());
    logger.Log(sg::Logger::Level::kError,
               sg::KvLine().Add("action", "error").Add("error", res.status().message()).str());
    return kExTempFail;
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
    return kExOk;  // counted before: Postfix must not bounce it back to the provider
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
  return kExOk;
}
