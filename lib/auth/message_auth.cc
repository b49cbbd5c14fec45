#include "senderguard/auth/message_auth.h"

#include <unistd.h>

#include <cctype>
#include <climits>

#include "senderguard/base/text.h"
#include "senderguard/auth/authres.h"

namespace senderguard {
namespace {

// Headers kept for a DKIM verification that starts at end of headers; more
// than this and the signatures are not verified (counted as not passing).
constexpr size_t kMaxHeaderBytes = 512 * 1024;
// From: fields kept: two are enough to know there are several.
constexpr size_t kMaxFromFields = 2;

// "<a@b.example>" -> "a@b.example"; "<>" -> "".
std::string BareAddress(std::string_view from) {
  while (!from.empty() && (from.front() == ' ' || from.front() == '\t')) from.remove_prefix(1);
  if (!from.empty() && from.front() == '<') {
    from.remove_prefix(1);
    const size_t close = from.find('>');
    if (close != std::string_view::npos) from = from.substr(0, close);
  }
  return std::string(from.substr(0, 512));
}

std::string DomainOf(std::string_view address) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  auto d = dmarc::NormalizeDomain(address.substr(at + 1));
  return d ? *d : std::string(address.substr(at + 1));
}

dmarc::TxtAnswer TxtFromDns(dns::Resolver& r, std::string_view qname) {
  dns::DnsAnswer a = r.Txt(qname);
  dmarc::TxtAnswer out;
  switch (a.rcode) {
    case dns::DnsAnswer::Rcode::kOk:
      out.status = dmarc::TxtStatus::kRecords;
      out.txt = std::move(a.txt);
      break;
    case dns::DnsAnswer::Rcode::kNxDomain:
      out.status = dmarc::TxtStatus::kNxDomain;
      break;
    case dns::DnsAnswer::Rcode::kNoData:
    case dns::DnsAnswer::Rcode::kPermFail:  // a name that cannot be asked has no record
      out.status = dmarc::TxtStatus::kNoData;
      break;
    case dns::DnsAnswer::Rcode::kTempFail:
      out.status = dmarc::TxtStatus::kTempFail;
      break;
  }
  return out;
}

dmarc::Existence ExistsFromDns(dns::Resolver& r, std::string_view domain) {
  const dns::DnsAnswer a = r.Lookup(domain, dns::kTypeA);
  if (a.rcode == dns::DnsAnswer::Rcode::kNxDomain) return dmarc::Existence::kNonExistent;
  if (a.rcode == dns::DnsAnswer::Rcode::kTempFail) return dmarc::Existence::kTempFail;
  return dmarc::Existence::kExists;
}

// The SPF verdict for the message as receivers will see it.
SpfSummary RunSpf(AuthServices* services, DmarcMode mode, std::vector<std::string> egress,
                  std::string client, std::string helo, std::string mail_from, std::string domain) {
  SpfSummary s;
  s.domain = domain;
  if (mode == DmarcMode::kInbound) egress = {client};
  if (egress.empty() || egress.front().empty()) {
    s.detail = mode == DmarcMode::kInbound ? "no client address" : "no egress configured";
    return s;
  }
  // Pass only when every address passes (a receiver may see any); else the
  // first address's result that is not a pass. A temperror decides at once:
  // the verdict cannot be known, and asking on would only add timeouts.
  s.result = spf::SpfResult::kPass;
  s.detail = egress.size() == 1 ? egress.front() : std::to_string(egress.size()) + " addresses";
  bool failed = false;
  for (const auto& ip : egress) {
    spf::SpfCheck c = services->spf().CheckMailFrom(ip, helo, mail_from);
    if (c.result == spf::SpfResult::kPass) continue;
    if (!failed || c.result == spf::SpfResult::kTempError) {
      s.result = c.result;
      s.reason = c.reason;
      s.detail = ip;
      failed = true;
    }
    if (c.result == spf::SpfResult::kTempError) break;
  }
  if (mode == DmarcMode::kOutbound) s.detail = "egress " + s.detail;
  return s;
}

std::string Join(const std::vector<std::string>& v, size_t max_bytes = 300) {
  std::string out;
  for (const auto& e : v) {
    if (out.size() + e.size() + 1 > max_bytes) {
      out += ",...";
      break;
    }
    out += (out.empty() ? "" : ",") + e;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void TaskPool::Enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(std::move(fn));
  // More tasks waiting than idle threads to take them: one more thread (a
  // woken thread counts as idle until it holds the lock again).
  if (queue_.size() > idle_ && threads_.size() < max_threads_) {
    threads_.emplace_back([this] { Work(); });
  } else {
    lock.unlock();
    cv_.notify_one();
  }
}

void TaskPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stop_
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
  }
}

Result<std::unique_ptr<AuthServices>> AuthServices::Create(const Config& cfg) {
  std::unique_ptr<AuthServices> s(new AuthServices());
  dns::ResolverOptions o;
  o.upstreams = cfg.dns_upstream;
  o.timeout = std::chrono::milliseconds(cfg.dns_timeout_ms);
  o.forward_test_tld = cfg.dns_test_tld;
  auto r = dns::Resolver::Create(o);
  if (!r.ok()) return r.status();
  s->resolver_ = std::move(*r);
  auto spf = spf::Checker::Create(s->resolver_.get());
  if (!spf.ok()) return spf.status();
  s->spf_ = std::move(*spf);
  auto dkim = dkim::Verifier::Create(s->resolver_.get());
  if (!dkim.ok()) return dkim.status();
  s->dkim_ = std::move(*dkim);
  char host[HOST_NAME_MAX + 1] = {0};
  if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') s->hostname_ = host;
  else s->hostname_ = "localhost";
  return s;
}

MessageAuth::MessageAuth(AuthServices* services, const Config* cfg, std::string client_address,
                         std::string helo)
    : services_(services), cfg_(cfg), client_address_(std::move(client_address)), helo_(std::move(helo)) {}

// An SPF task still running owns copies of what it needs and the process-wide
// services outlive it: nothing to wait for (a deferred check never runs).
MessageAuth::~MessageAuth() = default;

void MessageAuth::StartSpf(std::string_view envelope_from) {
  const std::string mail_from = BareAddress(envelope_from);
  // Outbound, the HELO the receiver sees is the platform's own name.
  const std::string helo = cfg_->dmarc_mode != DmarcMode::kOutbound ? helo_
                           : cfg_->dmarc_helo_name.empty()          ? services_->hostname()
                                                                    : cfg_->dmarc_helo_name;
  spf_helo_identity_ = mail_from.empty();
  spf_domain_ = mail_from.empty() ? helo : DomainOf(mail_from);
  auto run = [services = services_, mode = cfg_->dmarc_mode, egress = cfg_->dmarc_egress,
              client = client_address_, helo, mail_from, domain = spf_domain_] {
    return RunSpf(services, mode, egress, client, helo, mail_from, domain);
  };
  // With the domain's SPF record in the answer cache the check is a few
  // microseconds of CPU, less than handing it to another thread: it runs at
  // end of message. Otherwise it starts now, beside the DATA phase and the
  // DMARC lookups.
  if (!spf_domain_.empty() && services_->resolver().IsCached(spf_domain_, dns::kTypeTxt)) {
    spf_ = std::async(std::launch::deferred, std::move(run));
  } else {
    spf_ = services_->pool().Submit(std::move(run));
  }
}

SpfSummary MessageAuth::WaitSpf() {
  if (!spf_.valid()) return SpfSummary{};
  return spf_.get();
}

void MessageAuth::Header(std::string_view name, std::string_view value) {
  if (EqualsIgnoreCase(name, "From")) {
    if (from_values_.size() < kMaxFromFields) from_values_.emplace_back(value.substr(0, kMaxFromField + 1));
    ++from_fields_;
  }
  if (headers_done_) return;
  if (EqualsIgnoreCase(name, "DKIM-Signature")) has_signature_ = true;
  if (header_bytes_ + name.size() + value.size() > kMaxHeaderBytes) {
    headers_overflow_ = true;
    return;
  }
  header_bytes_ += name.size() + value.size();
  headers_.emplace_back(std::string(name), std::string(value));
}

void MessageAuth::EndHeaders() {
  if (headers_done_) return;
  headers_done_ = true;
  if (has_signature_ && !headers_overflow_) {
    dkim_ = services_->dkim().Begin();
    if (dkim_) {
      for (const auto& [n, v] : headers_) dkim_->Header(n, v);
      dkim_->EndOfHeaders();
    }
  }
  headers_.clear();
  headers_.shrink_to_fit();
}

bool MessageAuth::WantsBody() const {
  return headers_done_ ? dkim_ != nullptr && dkim_->WantsBody() : has_signature_;
}

void MessageAuth::Body(std::string_view chunk) {
  EndHeaders();
  if (dkim_) dkim_->Body(chunk);
}

AuthOutcome MessageAuth::Finish(const AccountRecord* rec, std::string_view authserv_id) {
  EndHeaders();
  AuthOutcome out;
  std::vector<std::string_view> views(from_values_.begin(), from_values_.end());
  out.author = ParseAuthor(views);
  if (out.author.error == AuthorError::kMultipleFrom) {
    out.author.detail = std::to_string(from_fields_) + " From: header fields";
  }
  if (dkim_) out.dkim = dkim_->Finish();
  out.spf = WaitSpf();
  const bool outbound = cfg_->dmarc_mode == DmarcMode::kOutbound;
  const std::string& author = out.author.domain;

  // Domains that could align with the author domain (relaxed: the same
  // organizational domain under the public suffix list, or one under the
  // other); only those are worth evaluating, and they go first, so an
  // account's 17th verified domain or a message's pile of foreign
  // signatures cannot push them past dmarc::kMaxIdentifierDomains.
  auto could_align = [&author](const std::string& d) {
    if (author.empty() || d.empty()) return false;
    if (d == author) return true;
    auto under = [](const std::string& a, const std::string& b) {
      return a.size() > b.size() && a.compare(a.size() - b.size(), b.size(), b) == 0 &&
             a[a.size() - b.size() - 1] == '.';
    };
    if (under(author, d) || under(d, author)) return true;
    const std::string org = dmarc::OrgDomainByPsl(author).domain;
    return !org.empty() && org == dmarc::OrgDomainByPsl(d).domain;
  };
  std::vector<std::string> platform;  // outbound: domains the platform signs with
  if (outbound) {
    for (const auto& d : cfg_->dmarc_signing_domains)
      if (could_align(d)) platform.push_back(d);
    if (rec != nullptr)
      for (const auto& d : rec->domains)
        if (could_align(d)) platform.push_back(d);
  }
  out.dkim_domains = platform;
  bool dkim_temperror = false;  // a signature that could align could not be checked
  for (const auto& sig : out.dkim.signatures) {
    const auto d = dmarc::NormalizeDomain(sig.domain);
    if (!d || !could_align(*d)) continue;
    // RFC 6376 §3.6.1: a key in testing mode (t=y) counts as unsigned.
    if (sig.result == dkim::SigResult::kPass && !sig.testing) out.dkim_domains.push_back(*d);
    if (sig.result == dkim::SigResult::kTempError) dkim_temperror = true;
  }

  // Authentication-Results: what was evaluated (RFC 8601).
  std::vector<authres::ResInfo> ar;
  {
    authres::ResInfo r{"spf", std::string(spf::SpfResultName(out.spf.result)), "", out.spf.detail, {}};
    if (!out.spf.domain.empty())
      r.properties.emplace_back(spf_helo_identity_ ? "smtp.helo" : "smtp.mailfrom", out.spf.domain);
    ar.push_back(std::move(r));
  }
  if (!out.dkim.error.empty() && out.dkim.signatures.empty()) {
    ar.push_back({"dkim", out.dkim.temporary ? "temperror" : "permerror", out.dkim.error, "", {}});
  } else if (headers_overflow_ && has_signature_) {
    ar.push_back({"dkim", "permerror", "header too large to verify", "", {}});
  } else if (out.dkim.signatures.empty()) {
    ar.push_back({"dkim", "none", "", "", {}});
  }
  for (const auto& sig : out.dkim.signatures) {
    ar.push_back({"dkim", std::string(dkim::SigResultName(sig.result)), sig.reason,
                  sig.testing ? "testing key" : "",
                  {{"header.d", sig.domain}, {"header.s", sig.selector}}});
  }

  // "d=" is the sender's text: ',' and ':' would forge entries in the list.
  std::vector<std::string> dkim_log;
  for (const auto& sig : out.dkim.signatures) {
    std::string d = sig.domain;
    for (char& c : d)
      if (c == ',' || c == ':') c = '?';
    dkim_log.push_back(d + ":" + std::string(dkim::SigResultName(sig.result)) + (sig.testing ? "(t=y)" : ""));
  }
  out.fields.emplace_back("mode", outbound ? "outbound" : "inbound");
  out.fields.emplace_back("spf", std::string(spf::SpfResultName(out.spf.result)));
  out.fields.emplace_back("spf_domain", out.spf.domain.empty() ? "-" : out.spf.domain);
  out.fields.emplace_back("dkim", Join(dkim_log));
  if (outbound) out.fields.emplace_back("signs", Join(platform));

  if (out.author.error != AuthorError::kNone) {
    ar.push_back({"dmarc", "permerror", out.author.detail, "", {}});
    out.authentication_results = authres::Build(authserv_id, ar);
    out.fields.emplace_back("dmarc", "permerror");
    return out;
  }

  dns::Resolver& resolver = services_->resolver();
  const dmarc::TxtLookup txt = [&resolver](std::string_view q) { return TxtFromDns(resolver, q); };
  const dmarc::ExistenceLookup exists = [&resolver](std::string_view d) { return ExistsFromDns(resolver, d); };
  const dmarc::Discovery discovery = dmarc::Discover(author, txt, exists);
  dmarc::Identifiers ids;
  ids.spf_pass = out.spf.result == spf::SpfResult::kPass;
  ids.spf_domain = out.spf.domain;
  ids.dkim_pass_domains = out.dkim_domains;
  const auto method = dmarc::ParseOrgDomainMethod(cfg_->dmarc_org_domain).value_or(dmarc::OrgDomainMethod::kBoth);
  out.verdict = dmarc::Evaluate(discovery, ids, method, txt);
  // A DNS temporary failure in SPF, or in a signature that could align,
  // leaves a failing verdict open: a retry may pass. Refuse for now only.
  {
    dmarc::Verdict& v = *out.verdict;
    const bool spf_open = out.spf.result == spf::SpfResult::kTempError && could_align(out.spf.domain);
    if (v.result == dmarc::Result::kFail && (spf_open || dkim_temperror) &&
        (v.disposition == dmarc::Disposition::kReject || v.disposition == dmarc::Disposition::kQuarantine)) {
      v.result = dmarc::Result::kTempError;
      v.disposition = dmarc::Disposition::kTempFail;
      v.reason += spf_open ? "; SPF temporary error" : "; DKIM key temporary error";
    }
  }
  const dmarc::Verdict& v = *out.verdict;

  {
    std::string comment = "p=" + std::string(dmarc::PolicyName(v.policy)) +
                          " dis=" + std::string(dmarc::DispositionName(v.disposition));
    if (v.testing) comment += " t=y";
    if (outbound) comment += " predicted for egress";
    ar.push_back({"dmarc", std::string(dmarc::ResultName(v.result)), "", comment,
                  {{"header.from", v.author_domain}}});
  }
  out.authentication_results = authres::Build(authserv_id, ar);

  out.fields.emplace_back("from_domain", v.author_domain);
  out.fields.emplace_back("dmarc", std::string(dmarc::ResultName(v.result)));
  out.fields.emplace_back("policy", std::string(dmarc::PolicyName(v.policy)));
  if (!v.policy_domain.empty()) {
    out.fields.emplace_back("policy_domain", v.policy_domain);
    out.fields.emplace_back("policy_tag", std::string(dmarc::PolicyTagName(v.tag)));
  }
  if (v.testing) out.fields.emplace_back("testing", v.testing_from_pct ? "pct=0" : "t=y");
  out.fields.emplace_back("spf_aligned", v.spf_aligned ? "yes" : "no");
  out.fields.emplace_back("dkim_aligned", v.dkim_aligned ? v.dkim_aligned_domain : "no");
  out.fields.emplace_back("disposition", std::string(dmarc::DispositionName(v.disposition)));
  if (!v.org_domain_tree_walk.empty()) out.fields.emplace_back("org_tree_walk", v.org_domain_tree_walk);
  if (!v.org_domain_psl.empty()) out.fields.emplace_back("org_psl", v.org_domain_psl);
  if (v.methods_disagree) out.fields.emplace_back("org_methods_disagree", "yes");
  if (!v.reason.empty()) out.fields.emplace_back("dmarc_reason", v.reason);
  return out;
}

}  // namespace senderguard
