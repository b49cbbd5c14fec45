#include "senderguard/policy/explain.h"

#include "senderguard/base/text.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/decide/quota.h"

namespace senderguard {
namespace {

// A refusal's step: "refuse" or, under dry run, "would-refuse" (the milter
// logs it and lets the mail pass).
ExplainStep Judged(std::string stage, std::string check, std::string subject, const Decision& d,
                   std::string detail) {
  ExplainStep s{std::move(stage), std::move(check), std::move(subject), "pass", std::move(detail), std::nullopt};
  if (d.verdict != Verdict::kContinue) {
    s.verdict = "refuse";
    s.decision = d;
  } else if (d.action.rfind("would-", 0) == 0) {
    s.verdict = "would-refuse";
    s.decision = d;
  }
  return s;
}

std::optional<Reply> Answer(const Decision& d) {
  if (d.verdict == Verdict::kContinue) return std::nullopt;
  return d.reply;
}

std::string FieldsText(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

ExplainStep SuspensionStep(const Config& cfg, const std::string& account, const AccountRecord* rec,
                           int64_t now, Decision* d) {
  *d = DecideMail(cfg, account, rec, now);
  std::string detail;
  if (rec == nullptr) {
    detail = "no record: active, configured defaults apply";
  } else {
    const EffectiveState st = EffectiveAt(*rec, now);
    switch (st.status) {
      case AccountStatus::kActive:
        detail = "active";
        break;
      case AccountStatus::kReinstated:
        detail = "reinstated until " + FormatLocal(rec->reinstated_until, cfg.tz);
        break;
      case AccountStatus::kSuspended:
        detail = "suspended since " + FormatLocal(rec->status_since, cfg.tz) + " (" + rec->status_reason + ")";
        if (st.reinstatement_expired) detail += "; its reinstatement ended " + FormatLocal(rec->reinstated_until, cfg.tz);
        break;
    }
  }
  return Judged("mail", "suspension", "", *d, detail);
}

std::string SourceText(IdentitySource s) {
  switch (s) {
    case IdentitySource::kSasl:
      return "the SASL login";
    case IdentitySource::kSenderDomain:
      return "the envelope sender's domain";
    case IdentitySource::kClientAddress:
      return "the client's address";
  }
  return std::string(IdentitySourceName(s));
}

}  // namespace

std::vector<QuotaCharge> ExplainWindows(const Config& cfg, const AccountRecord* rec, int64_t now) {
  return ChargesFor(EffectiveLimits(cfg, rec), cfg.windows, now, cfg.tz, /*first_recipient=*/true);
}

std::string ReplyLine(const Reply& r) {
  return std::to_string(r.code) + " " + r.enhanced + " " + Printable(r.text, kMaxMilterReplyText);
}

Explanation Explain(const Config& cfg, const ExplainFacts& f) {
  Explanation out;
  // ---- MAIL FROM: who sends, and may it send at all
  IdentityFacts id_facts{f.sasl_login, f.envelope_from, f.client_address};
  out.identity = ResolveIdentity(id_facts, cfg.identity);
  if (!out.identity) {
    out.steps.push_back({"mail", "identity", "", "skip",
                         "no SASL login, sender domain or client address to name an account: "
                         "nothing is enforced (logged as reason=no-identity)",
                         std::nullopt});
    out.rcpt.assign(f.recipients.size(), std::nullopt);
    out.reached_eom = !f.recipients.empty();
    out.eom_judged = true;
    out.outcome = "accepted";
    return out;
  }
  const std::string& account = out.identity->account;
  const AccountRecord* rec = f.record ? &*f.record : nullptr;
  out.steps.push_back({"mail", "identity", account, "pass",
                       "account " + account + " (" + SourceText(out.identity->source) + ")" +
                           (IsDryRun(cfg, rec) ? "; dry run: refusals are logged, mail passes" : ""),
                       std::nullopt});
  Decision mail;
  out.steps.push_back(SuspensionStep(cfg, account, rec, f.now, &mail));
  out.mail = Answer(mail);
  if (out.mail) {
    out.outcome = "refused at MAIL FROM";
    return out;
  }

  // ---- RCPT TO: suppression, then every window, per recipient
  std::array<uint64_t, kWindowCount> held{};  // what earlier recipients of this message hold
  size_t accepted = 0;
  for (size_t i = 0; i < f.recipients.size(); ++i) {
    const std::string& raw = f.recipients[i];
    const std::optional<std::string> addr = NormalizeAddress(raw);
    const std::string shown = addr ? *addr : raw;
    const std::optional<SuppressionRecord>* sup = i < f.suppressions.size() ? &f.suppressions[i] : nullptr;
    std::optional<Reply> reply;
    if (!addr) {
      out.steps.push_back({"rcpt", "suppression", shown, "skip",
                           "not an address senderguard can read: not looked up (the MTA judges it)",
                           std::nullopt});
    } else if (sup != nullptr && sup->has_value()) {
      const SuppressionRecord& e = **sup;
      const Decision d = DecideSuppressed(cfg, account, rec, *addr, e);
      out.steps.push_back(Judged("rcpt", "suppression", shown, d,
                                 std::string(e.account.empty() ? "on the global list" : "on the account's list") +
                                     " since " + FormatLocal(e.since, cfg.tz) + " (" + e.reason + ", by " + e.actor + ")"));
      reply = Answer(d);
    } else {
      out.steps.push_back({"rcpt", "suppression", shown, "pass", "not suppressed", std::nullopt});
    }
    if (!reply) {
      const auto charges = ChargesFor(EffectiveLimits(cfg, rec), cfg.windows, f.now, cfg.tz, accepted == 0);
      for (const QuotaCharge& c : charges) {
        const size_t w = Index(c.window);
        ReserveOutcome o;
        o.used = f.used[w];
        o.reserved = held[w];
        o.ok = Fits(o.used, o.reserved, c.amount, c.limit);
        const std::string count = std::to_string(o.used) + " used" +
                                  (o.reserved > 0 ? " + " + std::to_string(o.reserved) + " by this message" : "") +
                                  " + " + std::to_string(c.amount) + " of " + std::to_string(c.limit) + " " +
                                  std::string(CountUnitName(cfg.windows[w].unit)) + "; resets " +
                                  FormatLocal(c.span.reset, cfg.tz);
        if (o.ok) {
          out.steps.push_back({"rcpt", "quota", std::string(WindowName(c.window)), "pass",
                               shown + ": " + count, std::nullopt});
          continue;
        }
        const Decision d = DecideQuota(cfg, account, rec, c, o);
        out.steps.push_back(Judged("rcpt", "quota", std::string(WindowName(c.window)), d,
                                   shown + ": " + count + ": over"));
        reply = Answer(d);
        if (reply) break;  // the milter stops at the first window that refuses
      }
      if (!reply) {
        for (const QuotaCharge& c : charges) held[Index(c.window)] += c.amount;
      }
    }
    if (!reply) ++accepted;
    out.rcpt.push_back(std::move(reply));
  }
  if (accepted == 0) {
    out.outcome = f.recipients.empty() ? "no recipient given" : "every recipient refused";
    return out;
  }
  out.reached_eom = true;

  // ---- end of message: the From: domain and DMARC
  if (!DmarcApplies(cfg, account)) {
    out.steps.push_back({"eom", "dmarc", "", "skip",
                         cfg.dmarc_mode == DmarcMode::kOff ? "[dmarc] mode = \"off\""
                                                           : "the account is in [dmarc] exempt_accounts",
                         std::nullopt});
    out.eom_judged = true;
  } else if (!f.auth) {
    out.steps.push_back({"eom", "dmarc", "", "not-checked",
                         "no From: given (--from-header or --message): the milter refuses a message "
                         "without one",
                         std::nullopt});
  } else {
    out.eom_judged = true;
    const ExplainAuth& a = *f.auth;
    Decision d;
    if (a.author.error != AuthorError::kNone) {
      d = DecideAuthor(cfg, account, rec, a.author);
      out.steps.push_back(Judged("eom", "from", "", d,
                                 "From: is unusable: " + std::string(AuthorErrorName(a.author.error)) +
                                     (a.author.detail.empty() ? "" : " (" + a.author.detail + ")")));
    } else {
      d = DecideVerifiedDomain(cfg, account, rec, a.author.domain);
      const bool limited = rec != nullptr && rec->domains_only;
      out.steps.push_back(Judged("eom", "domain", a.author.domain, d,
                                 !limited                               ? "the account may send from any domain"
                                 : DomainVerified(rec, a.author.domain) ? "one of the account's verified domains"
                                                                        : "not one of the account's verified domains"));
      if (d.verdict == Verdict::kContinue && d.action == "accept" && a.verdict) {
        d = DecideDmarc(cfg, account, rec, *a.verdict);
        std::string detail = FieldsText(a.fields);
        if (!d.reason.empty() && d.verdict == Verdict::kContinue && d.action == "accept")
          detail += " (" + d.reason + ")";
        out.steps.push_back(Judged("eom", "dmarc", a.verdict->author_domain, d, detail));
      } else if (d.verdict == Verdict::kContinue && d.action == "accept") {
        out.steps.push_back({"eom", "dmarc", a.author.domain, "skip", FieldsText(a.fields), std::nullopt});
      }
    }
    out.eom = Answer(d);
  }
  if (out.eom) {
    out.outcome = "refused at end of message";
  } else if (accepted == f.recipients.size()) {
    out.outcome = "accepted";
  } else {
    out.outcome = "accepted for " + std::to_string(accepted) + " of " + std::to_string(f.recipients.size()) +
                  " recipients";
  }
  return out;
}

}  // namespace senderguard
