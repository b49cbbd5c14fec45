#include "session.h"

#include <cctype>
#include <ctime>

#include "senderguard/base/clock.h"
#include "senderguard/base/text.h"
#include "senderguard/auth/authres.h"
#include "senderguard/base/notify.h"
#include "senderguard/decide/token.h"

namespace senderguard::milter {

Session::Session(Context* ctx, std::string client_address)
    : ctx_(ctx), cfg_(ctx->config()), client_address_(std::move(client_address)) {}

Session::~Session() { ResetTxn(); }

void Session::OnConnect(std::string client_address) {
  ResetTxn();
  connect_failed_.clear();
  client_address_ = std::move(client_address);
  helo_.clear();
}

void Session::ResetTxn() {
  if (txn_.identity && !txn_.held.empty()) ctx_->store()->Release(txn_.identity->account, txn_.held);
  txn_ = Txn{};
}

void Session::OnAbort() { ResetTxn(); }

void Session::Hold(const std::vector<QuotaCharge>& charges) {
  for (const auto& c : charges) {
    bool merged = false;
    for (auto& h : txn_.held) {
      if (h.window == c.window && h.span.start == c.span.start) {
        h.amount += c.amount;
        merged = true;
        break;
      }
    }
    if (!merged) txn_.held.push_back(c);
  }
}

void Session::LogDecision(const Decision& d, std::string_view stage, std::string_view queue_id) {
  KvLine line;
  line.Add("queue_id", queue_id.empty() ? std::string_view("NOQUEUE") : queue_id);
  line.Add("account", txn_.identity ? std::string_view(txn_.identity->account) : std::string_view("-"));
  if (txn_.identity) line.Add("source", IdentitySourceName(txn_.identity->source));
  line.Add("stage", stage).Add("action", d.action);
  if (!d.reason.empty()) line.Add("reason", d.reason);
  for (const auto& [k, v] : d.fields) line.Add(k, v);
  if (d.verdict != Verdict::kContinue || d.action.rfind("would-", 0) == 0) {
    line.Add("reply", std::to_string(d.reply.code) + " " + d.reply.enhanced + " " + d.reply.text);
  }
  const bool refused = d.verdict != Verdict::kContinue || d.reason == "error";
  ctx_->logger()->Log(refused ? Logger::Level::kWarning : Logger::Level::kInfo, line.str());
  ctx_->metrics()->CountDecision(monitor::ParseStage(stage), monitor::ParseAction(d.action),
                                 monitor::ParseReason(d.reason));
  // Each refusal replied counts for the account's day (`report`, `top --by
  // refusals`); a dry run's would-refuse replies nothing and is not one.
  if (d.verdict != Verdict::kContinue && txn_.identity) {
    ctx_->sending()->AddRefused(txn_.identity->account, DayNumber(UnixNow()), TierInForce());
  }
}

uint8_t Session::TierInForce() const {
  if (!txn_.record_read) return 0;
  return txn_.record ? txn_.record->tier : AccountRecord{}.tier;
}

Decision Session::StoreError(std::string_view what) {
  ctx_->metrics()->CountStoreError();
  return DecideError(*cfg_, what);
}

StepResult Session::Act(const Decision& d, std::string_view stage, std::string_view queue_id) {
  LogDecision(d, stage, queue_id);
  return StepResult{d.verdict, d.reply, {}};
}

StepResult Session::OnInternalError(std::string_view stage, std::string_view what) {
  // Header and body steps may have no reply to give (SMFIP_NR_*): the
  // failure is answered at end of message.
  if (stage == "header" || stage == "body") {
    if (txn_.failed.empty()) txn_.failed = std::string(stage) + ": " + std::string(what);
    return {};
  }
  // The connect step has none either when the MTA was told not to wait for
  // it (SMFIP_NR_CONN): MAIL answers instead.
  if (stage == "connect" && protocol.no_connect_reply) {
    connect_failed_ = std::string(stage) + ": " + std::string(what);
    return {};
  }
  StepResult r = Act(DecideError(*cfg_, what), stage, "");
  if (stage == "eom") {
    if (r.verdict == Verdict::kContinue) r.edits = CleanupEdits();
    ResetTxn();
  }
  return r;
}

std::vector<HeaderEdit> Session::CleanupEdits() const {
  std::vector<HeaderEdit> edits;
  for (auto it = txn_.ar_claims.rbegin(); it != txn_.ar_claims.rend(); ++it)
    edits.push_back({"Authentication-Results", *it, ""});
  for (int i = txn_.token_headers; i >= 1; --i) edits.push_back({cfg_->feedback_header, i, ""});
  return edits;
}

StepResult Session::OnMail(std::string_view envelope_from, std::string_view sasl_login) {
  ResetTxn();
  if (!connect_failed_.empty()) return Act(DecideError(*cfg_, connect_failed_), "mail", "");
  txn_.active = true;
  IdentityFacts facts{sasl_login, envelope_from, client_address_};
  txn_.identity = ResolveIdentity(facts, cfg_->identity);
  if (!txn_.identity) {
    // Nothing to attribute the mail to (null sender from a local submission):
    // there is no account to enforce, so say so and let it pass.
    Decision d;
    d.reason = "no-identity";
    d.fields.emplace_back("from", std::string(envelope_from));
    LogDecision(d, "mail", "");
    return {};
  }
  auto rec = ctx_->store()->GetAccount(txn_.identity->account);
  if (!rec.ok()) return Act(StoreError(rec.status().message()), "mail", "");
  txn_.record = std::move(*rec);
  txn_.record_read = true;
  Decision d = DecideMail(*cfg_, txn_.identity->account, record(), UnixNow());
  if (d.verdict != Verdict::kContinue || d.action != "accept") {
    StepResult r = Act(d, "mail", "");
    if (r.verdict != Verdict::kContinue) return r;
  }
  if (DmarcApplies(*cfg_, txn_.identity->account) && ctx_->auth() != nullptr) {
    txn_.auth = std::make_unique<MessageAuth>(ctx_->auth(), cfg_.get(), client_address_, helo_);
    txn_.auth->StartSpf(envelope_from);
  }
  return {};
}

StepResult Session::OnRcpt(std::string_view recipient, std::string_view queue_id) {
  if (!txn_.identity) return {};
  const std::string& account = txn_.identity->account;
  Store* store = ctx_->store();
  const std::optional<std::string> addr = NormalizeAddress(recipient);
  if (addr) {
    auto sup = store->FindSuppression(account, *addr);
    if (!sup.ok()) return Act(StoreError(sup.status().message()), "rcpt", queue_id);
    if (*sup) {
      Decision d = DecideSuppressed(*cfg_, account, record(), *addr, **sup);
      StepResult r = Act(d, "rcpt", queue_id);
      if (r.verdict != Verdict::kContinue) return r;
    }
  }
  const int64_t now = UnixNow();
  const auto charges = ChargesFor(EffectiveLimits(*cfg_, record()), cfg_->windows, now, cfg_->tz,
                                  txn_.recipients.empty());
  if (!charges.empty()) {
    auto out = store->Reserve(account, charges, false);
    if (!out.ok()) return Act(StoreError(out.status().message()), "rcpt", queue_id);
    if (!out->ok) {
      Decision d = DecideQuota(*cfg_, account, record(), charges[out->refused], *out);
      d.fields.insert(d.fields.begin(), {"rcpt", addr ? *addr : std::string(recipient)});
      StepResult r = Act(d, "rcpt", queue_id);
      if (r.verdict != Verdict::kContinue) return r;
      // Dry run: count it anyway, as the mail goes through.
      auto forced = store->Reserve(account, charges, true);
      if (!forced.ok()) return Act(StoreError(forced.status().message()), "rcpt", queue_id);
    }
    Hold(charges);
  }
  txn_.recipients.push_back(addr ? *addr : std::string(recipient));
  return {};
}

void Session::OnHeader(std::string_view name, std::string_view value) {
  if (!txn_.active) return;
  if (txn_.message_id.empty() && EqualsIgnoreCase(name, "Message-ID")) {
    txn_.message_id = FlattenHeader(value);
  } else if (EqualsIgnoreCase(name, cfg_->feedback_header)) {
    ++txn_.token_headers;
  }
  if (cfg_->dmarc_mode != DmarcMode::kOff && EqualsIgnoreCase(name, "Authentication-Results")) {
    ++txn_.ar_headers;
    if (authres::ClaimsAuthservId(value, AuthservId())) txn_.ar_claims.push_back(txn_.ar_headers);
  }
  if (txn_.auth) txn_.auth->Header(name, value);
}

bool Session::OnBody(std::string_view chunk) {
  if (!txn_.auth || !txn_.auth->WantsBody()) return false;
  txn_.auth->Body(chunk);
  return txn_.auth->WantsBody();
}

std::string Session::AuthservId() const {
  if (!cfg_->dmarc_authserv_id.empty()) return cfg_->dmarc_authserv_id;
  return ctx_->auth() != nullptr ? ctx_->auth()->hostname() : std::string("localhost");
}

Decision Session::CheckAuthentication(std::vector<HeaderEdit>* edits,
                                      std::vector<std::pair<std::string, std::string>>* fields) {
  if (!txn_.auth) return Decision{};
  const std::string& account = txn_.identity->account;
  const std::string id = AuthservId();
  AuthOutcome out = txn_.auth->Finish(record(), id);
  *fields = std::move(out.fields);
  for (const auto& [k, v] : *fields)
    if (k == "dmarc") ctx_->metrics()->CountDmarc(monitor::ParseDmarcResult(v));
  // Ours goes on top (the ones claiming our name are deleted by CleanupEdits).
  if (!out.authentication_results.empty())
    edits->push_back({"Authentication-Results", 0, out.authentication_results});
  if (out.author.error != AuthorError::kNone) return DecideAuthor(*cfg_, account, record(), out.author);
  Decision d = DecideVerifiedDomain(*cfg_, account, record(), out.author.domain);
  if (d.verdict != Verdict::kContinue || d.action != "accept") return d;
  return DecideDmarc(*cfg_, account, record(), *out.verdict);
}

std::string Session::Token() const {
  if (!txn_.identity || cfg_->feedback_secret.empty()) return {};
  return FeedbackToken(cfg_->feedback_secret, txn_.identity->account);
}

StepResult Session::OnEom(std::string_view queue_id) {
  // Every accepted message loses the feedback-token copies the client
  // brought (a client must not choose the account a complaint blames) and
  // Authentication-Results forged under our name; ours are added below.
  std::vector<HeaderEdit> cleanup = CleanupEdits();
  if (!txn_.failed.empty()) {
    StepResult r = Act(DecideError(*cfg_, txn_.failed), "eom", queue_id);
    if (r.verdict == Verdict::kContinue) r.edits = std::move(cleanup);
    ResetTxn();
    return r;
  }
  if (!txn_.identity) {
    txn_ = Txn{};
    StepResult r;
    r.edits = std::move(cleanup);
    return r;
  }
  const std::string account = txn_.identity->account;
  std::vector<HeaderEdit> edits = cleanup;
  std::vector<std::pair<std::string, std::string>> auth_fields;
  Decision auth = CheckAuthentication(&edits, &auth_fields);
  if (auth.verdict != Verdict::kContinue) {
    auth.fields.insert(auth.fields.end(), auth_fields.begin(), auth_fields.end());
    StepResult r = Act(auth, "eom", queue_id);
    ResetTxn();  // releases the quota held for the refused message
    return r;
  }
  if (std::string token = Token(); !token.empty()) edits.push_back({cfg_->feedback_header, 0, token});
  QueueEntry q;
  q.queue_id = std::string(queue_id);
  q.account = account;
  q.time = UnixNow();
  q.recipients = txn_.recipients;
  q.message_id = txn_.message_id;
  auto alerts = ctx_->store()->Commit(account, txn_.held, &q, q.time);
  txn_.held.clear();  // Commit took the hold, or released it on failure
  if (!alerts.ok()) {
    StepResult r = Act(StoreError(alerts.status().message()), "eom", queue_id);
    if (r.verdict == Verdict::kContinue) r.edits = std::move(cleanup);
    txn_ = Txn{};
    return r;
  }
  Decision d = std::move(auth);  // accept, or would-reject / quarantine accepted
  d.fields.emplace_back("rcpts", std::to_string(txn_.recipients.size()));
  d.fields.insert(d.fields.end(), auth_fields.begin(), auth_fields.end());
  LogDecision(d, "eom", queue_id);
  // What Commit counted, in the day window's unit (whether or not the
  // account's day window is limited).
  const bool messages = cfg_->windows[Index(Window::kDay)].unit == CountUnit::kMessages;
  ctx_->sending()->AddAccepted(account, DayNumber(q.time),
                               messages ? 1 : static_cast<uint64_t>(txn_.recipients.size()),
                               TierInForce());
  for (const auto& a : *alerts) Alert(a, queue_id);
  txn_ = Txn{};
  StepResult r;
  r.edits = std::move(edits);
  return r;
}

void Session::Alert(const QuotaAlert& a, std::string_view queue_id) {
  ReportQuotaAlert(*cfg_, ctx_->logger(), txn_.identity->account, a, queue_id);
}

void ReportQuotaAlert(const Config& cfg, Logger* logger, std::string_view account,
                      const QuotaAlert& a, std::string_view queue_id) {
  KvLine line;
  if (!queue_id.empty()) line.Add("queue_id", queue_id);
  line.Add("account", account)
      .Add("action", "quota-alert")
      .Add("window", WindowName(a.window))
      .Add("used", a.used)
      .Add("limit", a.limit)
      .Add("pct", a.pct)
      .Add("resets", FormatUtc(a.span.reset));
  logger->Log(Logger::Level::kWarning, line.str());
  if (!cfg.notify_command.empty()) {
    SpawnNotify(cfg.notify_command,
                {{"SG_EVENT", "quota-alert"},
                 {"SG_ACCOUNT", std::string(account)},
                 {"SG_WINDOW", std::string(WindowName(a.window))},
                 {"SG_USED", std::to_string(a.used)},
                 {"SG_LIMIT", std::to_string(a.limit)},
                 {"SG_PCT", std::to_string(a.pct)},
                 {"SG_RESETS", FormatUtc(a.span.reset)},
                 {"SG_RESETS_LOCAL", FormatLocal(a.span.reset, cfg.tz)}},
                logger);
  }
}

}  // namespace senderguard::milter
