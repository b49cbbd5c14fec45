#include "senderguard/policy/policy.h"

#include "senderguard/decide/account_state.h"

namespace senderguard {
namespace {

// Applies dry run: the decision is logged as "would-..." and mail passes.
Decision MaybeDry(Decision d, bool dry) {
  if (!dry || d.verdict == Verdict::kContinue) return d;
  d.action = "would-" + d.action;
  d.verdict = Verdict::kContinue;
  return d;
}

Decision Refusal(Verdict v, int code, std::string enhanced, std::string reason, std::string text) {
  Decision d;
  d.verdict = v;
  d.action = v == Verdict::kReject ? "reject" : "tempfail";
  d.reason = std::move(reason);
  d.reply = Reply{code, std::move(enhanced), std::move(text)};
  return d;
}

}  // namespace

std::array<uint64_t, kWindowCount> EffectiveLimits(const Config& cfg, const AccountRecord* rec) {
  std::array<uint64_t, kWindowCount> out{};
  for (Window w : kAllWindows) {
    const size_t i = Index(w);
    // The configured default grows with the account's tier; a limit set for
    // the account by an operator is taken as it is.
    out[i] = ApplyTier(cfg.windows[i].default_limit, rec != nullptr ? rec->tier : kMinTier,
                       cfg.reputation);
    if (rec != nullptr && rec->limits[i] != kInheritLimit) out[i] = rec->limits[i];
  }
  return out;
}

bool IsDryRun(const Config& cfg, const AccountRecord* rec) {
  return cfg.dry_run || (rec != nullptr && rec->dry_run);
}

Decision DecideMail(const Config& cfg, std::string_view account, const AccountRecord* rec,
                    int64_t now) {
  if (rec == nullptr) return Decision{};
  const EffectiveState st = EffectiveAt(*rec, now);
  if (st.may_send) {
    Decision d;
    if (st.status == AccountStatus::kReinstated) {
      d.fields.emplace_back("state", "reinstated");
      d.fields.emplace_back("until", FormatUtc(rec->reinstated_until));
    }
    return d;
  }
  std::string text = RenderTemplate(cfg.reply_suspended, {{"account", std::string(account)},
                                                           {"reason", rec->status_reason}});
  // A timed suspension tells the customer when sending resumes by itself
  // (in the zone of the quota resets the other replies name).
  const bool timed = rec->status == AccountStatus::kSuspended && rec->suspended_until > 0;
  if (timed) text += "; suspended until " + FormatLocal(rec->suspended_until, cfg.tz);
  Decision d = Refusal(Verdict::kReject, 550, "5.7.1", "suspended", std::move(text));
  if (st.reinstatement_expired) d.fields.emplace_back("reinstatement_expired", FormatUtc(rec->reinstated_until));
  d.fields.emplace_back("since", FormatUtc(rec->status_since));
  if (timed) d.fields.emplace_back("until", FormatUtc(rec->suspended_until));
  return MaybeDry(std::move(d), IsDryRun(cfg, rec));
}

Decision DecideSuppressed(const Config& cfg, std::string_view account, const AccountRecord* rec,
                          std::string_view recipient, const SuppressionRecord& entry) {
  (void)account;
  const std::string reason = entry.reason.empty() ? "suppressed" : entry.reason;
  Decision d = Refusal(Verdict::kReject, 550, "5.7.1", "suppressed",
                       RenderTemplate(cfg.reply_suppressed,
                                      {{"recipient", std::string(recipient)}, {"reason", reason}}));
  d.fields.emplace_back("rcpt", std::string(recipient));
  d.fields.emplace_back("list", entry.account.empty() ? "global" : "account");
  d.fields.emplace_back("why", reason);
  return MaybeDry(std::move(d), IsDryRun(cfg, rec));
}

Decision DecideQuota(const Config& cfg, std::string_view account, const AccountRecord* rec,
                     const QuotaCharge& charge, const ReserveOutcome& outcome) {
  (void)account;
  const WindowPolicy& p = cfg.windows[Index(charge.window)];
  const std::string text =
      RenderTemplate(cfg.reply_quota, {{"window", std::string(WindowName(charge.window))},
                                       {"window_adj", std::string(WindowAdjective(charge.window))},
                                       {"limit", std::to_string(charge.limit)},
                                       {"unit", std::string(CountUnitName(p.unit))},
                                       {"used", std::to_string(outcome.used)},
                                       {"reset", FormatLocal(charge.span.reset, cfg.tz)}});
  Decision d = p.on_exceed == ExceedAction::kReject
                   ? Refusal(Verdict::kReject, 550, "5.7.1", "quota", text)
                   : Refusal(Verdict::kTempfail, 452, "4.7.1", "quota", text);
  d.fields.emplace_back("window", std::string(WindowName(charge.window)));
  d.fields.emplace_back("used", std::to_string(outcome.used));
  d.fields.emplace_back("reserved", std::to_string(outcome.reserved));
  d.fields.emplace_back("limit", std::to_string(charge.limit));
  d.fields.emplace_back("resets", FormatUtc(charge.span.reset));
  return MaybeDry(std::move(d), IsDryRun(cfg, rec));
}

bool DmarcApplies(const Config& cfg, std::string_view account) {
  if (cfg.dmarc_mode == DmarcMode::kOff) return false;
  for (const auto& a : cfg.dmarc_exempt_accounts)
    if (a == account) return false;
  return true;
}

Decision DecideAuthor(const Config& cfg, std::string_view account, const AccountRecord* rec,
                      const Author& author) {
  Decision d = Refusal(Verdict::kReject, 550, "5.7.1", "dmarc-author",
                       RenderTemplate(cfg.reply_dmarc_author,
                                      {{"detail", author.detail.empty()
                                                      ? std::string(AuthorErrorName(author.error))
                                                      : author.detail},
                                       {"account", std::string(account)}}));
  d.fields.emplace_back("from_error", std::string(AuthorErrorName(author.error)));
  return MaybeDry(std::move(d), IsDryRun(cfg, rec));
}

bool DomainVerified(const AccountRecord* rec, std::string_view domain) {
  if (rec == nullptr) return false;
  for (const auto& v : rec->domains) {
    if (domain == v) return true;
    // A subdomain of a verified domain: "news.example.com" under "example.com".
    if (domain.size() > v.size() + 1 && domain.substr(domain.size() - v.size()) == v &&
        domain[domain.size() - v.size() - 1] == '.')
      return true;
  }
  return false;
}

Decision DecideVerifiedDomain(const Config& cfg, std::string_view account,
                              const AccountRecord* rec, std::string_view domain) {
  if (rec == nullptr || !rec->domains_only || DomainVerified(rec, domain)) return Decision{};
  Decision d = Refusal(Verdict::kReject, 550, "5.7.1", "dmarc-unverified-domain",
                       RenderTemplate(cfg.reply_dmarc_unverified,
                                      {{"domain", std::string(domain)},
                                       {"account", std::string(account)}}));
  d.fields.emplace_back("from_domain", std::string(domain));
  return MaybeDry(std::move(d), IsDryRun(cfg, rec));
}

Decision DecideDmarc(const Config& cfg, std::string_view account, const AccountRecord* rec,
                     const dmarc::Verdict& v) {
  using dmarc::Disposition;
  const std::vector<std::pair<std::string_view, std::string>> vars = {
      {"domain", v.author_domain},
      {"policy", std::string(dmarc::PolicyName(v.policy))},
      {"policy_domain", v.policy_domain},
      {"tag", std::string(dmarc::PolicyTagName(v.tag))},
      {"account", std::string(account)}};
  const std::string& reject_text =
      cfg.dmarc_mode == DmarcMode::kInbound ? cfg.reply_dmarc_reject_inbound : cfg.reply_dmarc_reject;
  Decision d;
  // t=y (or a leftover pct=0): the domain owner is testing its policy.
  // RFC 9989 §4.7 asks receivers to apply one level less (reject becomes
  // quarantine); this product refuses only what would be refused for sure,
  // so a testing policy is never enforced here. The log says so.
  if (v.testing && v.result != dmarc::Result::kPass) {
    d.reason = "dmarc-testing";
    return d;
  }
  switch (v.disposition) {
    case Disposition::kReject:
      d = Refusal(Verdict::kReject, 550, "5.7.1", "dmarc",
                  RenderTemplate(reject_text, vars));
      break;
    case Disposition::kQuarantine:
      if (cfg.dmarc_reject_quarantine) {
        d = Refusal(Verdict::kReject, 550, "5.7.1", "dmarc",
                    RenderTemplate(reject_text, vars));
      } else {
        d.reason = "dmarc-quarantine-accepted";
      }
      break;
    case Disposition::kTempFail:
      if (cfg.dmarc_tempfail_on_dns_error) {
        d = Refusal(Verdict::kTempfail, 451, "4.7.0", "dmarc-temperror",
                    RenderTemplate(cfg.reply_dmarc_tempfail, vars));
      } else {
        d.reason = "dmarc-temperror-accepted";
      }
      break;
    case Disposition::kAccept:
      break;
  }
  return MaybeDry(std::move(d), IsDryRun(cfg, rec));
}

Decision DecideError(const Config& cfg, std::string_view what) {
  Decision d;
  switch (cfg.on_error) {
    case OnError::kAccept:
      d.action = "accept";
      break;
    case OnError::kReject:
      d = Refusal(Verdict::kReject, 550, "5.3.0", "error", cfg.reply_error);
      break;
    case OnError::kTempfail:
      d = Refusal(Verdict::kTempfail, 451, "4.3.0", "error", cfg.reply_error);
      break;
  }
  d.reason = "error";
  d.fields.emplace_back("error", std::string(what));
  return d;
}

}  // namespace senderguard
