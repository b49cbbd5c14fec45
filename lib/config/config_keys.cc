// The table of every configuration key and how its value is written back
// (ConfigEntries, for `senderguardctl config`). The parser (config.cc) reads
// the same keys; tests/unit/config_test.cc holds the two together: every
// line printed here reads back to the same configuration, and every key
// the parser accepts is printed here. The values are JSON as well (`config
// --json`): Str escapes only what TOML and JSON escape alike.
#include <charconv>
#include <cstdio>
#include <functional>

#include "senderguard/config/config.h"

namespace senderguard {
namespace {

constexpr std::string_view kHidden = "(set, hidden)";

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string Str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string List(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& i : items) out += (out.size() == 1 ? "" : ", ") + Str(i);
  return out + "]";
}

std::string Bool(bool b) { return b ? "true" : "false"; }
std::string Int(uint64_t n) { return std::to_string(n); }

// The shortest text that reads back as the same double, as a TOML float.
std::string Float(double d) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

// A libpq connection string with its password hidden: the value of a
// password keyword in "key=value" form; a URI holding a password anywhere
// (user:PASSWORD@ or ?password=) is hidden whole, as is a text that does
// not read as either and mentions a password.
std::string HideConninfo(const std::string& s) {
  if (s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0) {
    const size_t start = s.find("://") + 3;
    const size_t at = s.find('@', start);
    const size_t slash = s.find('/', start);
    const bool userinfo_pw = at != std::string::npos && (slash == std::string::npos || at < slash) &&
                             s.find(':', start) < at;
    if (userinfo_pw || s.find("password=") != std::string::npos) return std::string(kHidden);
    return s;
  }
  std::string out;
  size_t i = 0;
  auto space = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) out += s[i++];
  };
  while (true) {
    space();
    if (i >= s.size()) return out;
    const size_t k = i;
    while (i < s.size() && s[i] != '=' && s[i] != ' ' && s[i] != '\t') ++i;
    const std::string keyword = s.substr(k, i - k);
    out += keyword;
    space();
    if (i >= s.size() || s[i] != '=') break;  // not key=value: judged below
    out += s[i++];
    space();
    const size_t v = i;
    if (i < s.size() && s[i] == '\'') {
      for (++i; i < s.size() && s[i] != '\''; ++i)
        if (s[i] == '\\') ++i;
      if (i >= s.size()) break;
      ++i;
    } else {
      while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') ++i;
    }
    out += keyword == "password" ? std::string(kHidden) : s.substr(v, i - v);
  }
  return s.find("password") == std::string::npos ? s : std::string(kHidden);
}

struct Key {
  std::string name;
  bool secret;
  std::function<std::string(const Config&)> value;
};

std::string WindowKey(Window w, const char* leaf) { return "quota." + std::string(WindowName(w)) + "." + leaf; }

std::vector<Key> Keys() {
  std::vector<Key> k = {
      {"store.backend", false,
       [](const Config& c) { return Str(c.store_backend == StoreBackend::kLmdb ? "lmdb" : "postgresql"); }},
      {"store.path", false, [](const Config& c) { return Str(c.store_path); }},
      {"store.map_size_mb", false, [](const Config& c) { return Int(c.map_size_mb); }},
      {"store.sync_interval_ms", false, [](const Config& c) { return Int(c.sync_interval_ms); }},
      {"store.postgresql.conninfo", true, [](const Config& c) { return Str(HideConninfo(c.postgresql.conninfo)); }},
      {"store.postgresql.node", false, [](const Config& c) { return Str(c.postgresql.node); }},
      {"store.postgresql.on_unavailable", false,
       [](const Config& c) {
         return Str(c.postgresql.on_unavailable == OnUnavailable::kLocal ? "local" : "tempfail");
       }},
      {"store.postgresql.local_allowance", false, [](const Config& c) { return Int(c.postgresql.local_allowance); }},
      {"store.postgresql.lease_ttl_s", false, [](const Config& c) { return Int(c.postgresql.lease_ttl_s); }},
      {"milter.socket", false, [](const Config& c) { return Str(c.socket); }},
      {"milter.socket_mode", false,
       [](const Config& c) {
         char buf[16];
         std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(c.socket_mode));
         return Str(buf);
       }},
      {"milter.socket_group", false, [](const Config& c) { return Str(c.socket_group); }},
      {"milter.identity", false,
       [](const Config& c) {
         std::vector<std::string> names;
         for (IdentitySource s : c.identity) names.emplace_back(IdentitySourceName(s));
         return List(names);
       }},
      {"milter.on_error", false,
       [](const Config& c) {
         return Str(c.on_error == OnError::kAccept ? "accept" : c.on_error == OnError::kReject ? "reject" : "tempfail");
       }},
      {"milter.dry_run", false, [](const Config& c) { return Bool(c.dry_run); }},
      {"milter.notify_command", false, [](const Config& c) { return List(c.notify_command); }},
      {"milter.log_stderr", false, [](const Config& c) { return Bool(c.log_stderr); }},
      {"quota.timezone", false, [](const Config& c) { return Str(c.timezone); }},
  };
  // The windows' names come from decide/quota (ParseWindow), as the parser reads them.
  for (Window w : kAllWindows) {
    const size_t i = Index(w);
    k.push_back({WindowKey(w, "limit"), false, [i](const Config& c) {
                   const uint64_t l = c.windows[i].default_limit;
                   return l == kUnlimited ? Str("unlimited") : Int(l);
                 }});
    k.push_back({WindowKey(w, "count"), false,
                 [i](const Config& c) { return Str(CountUnitName(c.windows[i].unit)); }});
    k.push_back({WindowKey(w, "on_exceed"), false, [i](const Config& c) {
                   return Str(c.windows[i].on_exceed == ExceedAction::kReject ? "reject" : "tempfail");
                 }});
  }
  const std::vector<Key> rest = {
      {"replies.suspended", false, [](const Config& c) { return Str(c.reply_suspended); }},
      {"replies.suppressed", false, [](const Config& c) { return Str(c.reply_suppressed); }},
      {"replies.quota", false, [](const Config& c) { return Str(c.reply_quota); }},
      {"replies.error", false, [](const Config& c) { return Str(c.reply_error); }},
      {"replies.dmarc_reject", false, [](const Config& c) { return Str(c.reply_dmarc_reject); }},
      {"replies.dmarc_reject_inbound", false, [](const Config& c) { return Str(c.reply_dmarc_reject_inbound); }},
      {"replies.dmarc_tempfail", false, [](const Config& c) { return Str(c.reply_dmarc_tempfail); }},
      {"replies.dmarc_author", false, [](const Config& c) { return Str(c.reply_dmarc_author); }},
      {"replies.dmarc_unverified", false, [](const Config& c) { return Str(c.reply_dmarc_unverified); }},
      {"tail.source", false, [](const Config& c) { return Str(c.tail_source); }},
      {"tail.rules", false, [](const Config& c) { return Str(c.tail_rules); }},
      {"tail.timezone", false, [](const Config& c) { return Str(c.tail_timezone); }},
      {"tail.poll_interval_ms", false, [](const Config& c) { return Int(c.tail_poll_ms); }},
      {"tail.filter_transports", false, [](const Config& c) { return List(c.tail_filter_transports); }},
      {"tail.postfix_user", false, [](const Config& c) { return Str(c.tail_postfix_user); }},
      {"tail.suppress_after_hard_bounces", false, [](const Config& c) { return Int(c.suppress_after_hard_bounces); }},
      {"reputation.window_days", false, [](const Config& c) { return Int(c.reputation.window_days); }},
      {"reputation.min_volume", false, [](const Config& c) { return Int(c.reputation.min_volume); }},
      {"reputation.suspend_complaint_rate", false,
       [](const Config& c) { return Float(c.reputation.suspend_complaint_rate); }},
      {"reputation.suspend_hard_rate", false, [](const Config& c) { return Float(c.reputation.suspend_hard_rate); }},
      {"reputation.score_zero_complaint_rate", false,
       [](const Config& c) { return Float(c.reputation.score_zero_complaint_rate); }},
      {"reputation.score_zero_hard_rate", false,
       [](const Config& c) { return Float(c.reputation.score_zero_hard_rate); }},
      {"reputation.clean_days_per_step", false, [](const Config& c) { return Int(c.reputation.clean_days_per_step); }},
      {"reputation.day_clean_volume", false, [](const Config& c) { return Int(c.reputation.day_clean_volume); }},
      {"reputation.day_min_attempted", false, [](const Config& c) { return Int(c.reputation.day_min_attempted); }},
      {"reputation.day_complaint_max", false, [](const Config& c) { return Float(c.reputation.day_complaint_max); }},
      {"reputation.day_hard_max", false, [](const Config& c) { return Float(c.reputation.day_hard_max); }},
      {"reputation.tier_multipliers", false,
       [](const Config& c) {
         std::string out = "[";
         for (double m : c.reputation.tier_multipliers) out += (out.size() == 1 ? "" : ", ") + Float(m);
         return out + "]";
       }},
      {"feedback.header", false, [](const Config& c) { return Str(c.feedback_header); }},
      {"feedback.secret", true,
       [](const Config& c) { return c.feedback_secret.empty() ? Str("") : std::string(kHidden); }},
      {"dmarc.mode", false,
       [](const Config& c) {
         return Str(c.dmarc_mode == DmarcMode::kOutbound  ? "outbound"
                    : c.dmarc_mode == DmarcMode::kInbound ? "inbound"
                                                          : "off");
       }},
      {"dmarc.org_domain", false, [](const Config& c) { return Str(c.dmarc_org_domain); }},
      {"dmarc.on_quarantine", false,
       [](const Config& c) { return Str(c.dmarc_reject_quarantine ? "reject" : "accept"); }},
      {"dmarc.on_temperror", false,
       [](const Config& c) { return Str(c.dmarc_tempfail_on_dns_error ? "tempfail" : "accept"); }},
      {"dmarc.helo_name", false, [](const Config& c) { return Str(c.dmarc_helo_name); }},
      {"dmarc.authserv_id", false, [](const Config& c) { return Str(c.dmarc_authserv_id); }},
      {"dmarc.egress", false, [](const Config& c) { return List(c.dmarc_egress); }},
      {"dmarc.signing_domains", false, [](const Config& c) { return List(c.dmarc_signing_domains); }},
      {"dmarc.exempt_accounts", false, [](const Config& c) { return List(c.dmarc_exempt_accounts); }},
      {"dmarc.upstream", false, [](const Config& c) { return List(c.dns_upstream); }},
      {"dmarc.dns_timeout_ms", false, [](const Config& c) { return Int(c.dns_timeout_ms); }},
      {"dmarc.test_tld", false, [](const Config& c) { return Bool(c.dns_test_tld); }},
      {"monitoring.interval", false,
       [](const Config& c) { return Str(std::to_string(c.monitoring_interval_s) + "s"); }},
      {"monitoring.textfile", false, [](const Config& c) { return Str(c.monitoring_textfile); }},
  };
  k.insert(k.end(), rest.begin(), rest.end());
  return k;
}

}  // namespace

std::vector<ConfigEntry> ConfigEntries(const Config& cfg) {
  std::vector<ConfigEntry> out;
  for (const Key& k : Keys()) out.push_back({k.name, k.value(cfg), k.secret});
  return out;
}

}  // namespace senderguard
