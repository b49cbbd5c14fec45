// PgRecords: accounts, suppression and the audit log in PostgreSQL, and the
// row mapping every part of the backend shares (pg_records.h).
#include "senderguard/store/postgresql/pg_records.h"

#include <algorithm>
#include <climits>
#include <iterator>
#include <map>

#include "pg_rows.h"
#include "senderguard/base/text.h"

namespace senderguard {

namespace {

constexpr size_t kUpsertChunk = 1000;  // rows per INSERT ... SELECT FROM unnest
constexpr int kAccountColumnCount = 19;

// A limit to its column: NULL (inherit), -1 (unlimited) or the value.
PgParam LimitParam(uint64_t limit) {
  if (limit == kInheritLimit) return std::nullopt;
  if (limit == kUnlimited) return PgInt(-1);
  return PgInt(static_cast<int64_t>(limit));
}

std::optional<AccountStatus> StatusFromName(std::string_view s) {
  for (AccountStatus st : {AccountStatus::kActive, AccountStatus::kSuspended,
                           AccountStatus::kReinstated}) {
    if (AccountStatusName(st) == s) return st;
  }
  return std::nullopt;
}

// The account's columns other than name, in the order of kPgAccountColumns.
std::vector<PgParam> AccountParams(const AccountRecord& a) {
  std::vector<PgParam> p;
  p.push_back(a.name);
  for (uint64_t l : a.limits) p.push_back(LimitParam(l));
  p.push_back(std::string(AccountStatusName(a.status)));
  p.push_back(PgEncodeText(a.status_reason));
  p.push_back(PgEncodeText(a.status_actor));
  p.push_back(PgInt(a.status_since));
  p.push_back(PgInt(a.reinstated_until));
  p.push_back(PgBool(a.dry_run));
  p.push_back(PgInt(a.created));
  p.push_back(PgInt(a.tier));
  p.push_back(PgInt(a.clean_days));
  p.push_back(PgInt(a.rated_through));
  p.push_back(PgInt(a.rates_since));
  p.push_back(PgBool(a.domains_only));
  p.push_back(PgInt(a.suspended_until));
  return p;
}

bool SameColumns(const AccountRecord& x, const AccountRecord& y) {
  return x.limits == y.limits && x.status == y.status && x.status_reason == y.status_reason &&
         x.status_actor == y.status_actor && x.status_since == y.status_since &&
         x.reinstated_until == y.reinstated_until && x.dry_run == y.dry_run &&
         x.created == y.created && x.tier == y.tier && x.clean_days == y.clean_days &&
         x.rated_through == y.rated_through && x.rates_since == y.rates_since &&
         x.domains_only == y.domains_only && x.suspended_until == y.suspended_until;
}

// What is kept under an account's name, its row and its quota windows
// locked (FOR UPDATE; the windows in key order, the schema's lock order)
// until the caller's transaction ends. A window with nothing counted and
// nothing leased (committed, late and outstanding 0: a node's ledger entry
// took a block and gave it back) counts as nothing.
Status LockContents(PgConn& t, const std::string& name, AccountContents* c) {
  *c = AccountContents{};
  auto rec = t.Exec(
      "SELECT (SELECT count(*) FROM account_domains d WHERE d.account = a.name) "
      "FROM accounts a WHERE a.name = $1 FOR UPDATE",
      {name});
  if (!rec.ok()) return rec.status();
  if (rec.value().rows() > 0) {
    c->record = true;
    c->domains = static_cast<uint64_t>(rec.value().GetInt(0, 0));
  }
  auto win = t.Exec(
      "SELECT count(*) FILTER (WHERE x.used) FROM (SELECT w.committed + w.late + w.outstanding > 0 "
      "AS used FROM quota_windows w WHERE w.account = $1 ORDER BY w.win, w.start FOR UPDATE) x",
      {name});
  if (!win.ok()) return win.status();
  c->windows = static_cast<uint64_t>(win.value().GetInt(0, 0));
  auto counts = t.Exec(
      "SELECT (SELECT count(*) FROM day_counts WHERE account = $1), "
      "(SELECT count(*) FROM suppression WHERE account = $1)",
      {name});
  if (!counts.ok()) return counts.status();
  c->days = static_cast<uint64_t>(counts.value().GetInt(0, 0));
  c->suppressions = static_cast<uint64_t>(counts.value().GetInt(0, 1));
  return Status::Ok();
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

// ---- keys and text

bool PgStorableKey(std::string_view key, size_t max) {
  return !key.empty() && key.size() <= max && key.find('\0') == std::string_view::npos &&
         ValidUtf8(key);
}

Status PgCheckAccountName(std::string_view name) {
  if (PgStorableKey(name, kPgMaxAccountKey)) return Status::Ok();
  return Status::Invalid("account name \"" + Printable(name) + "\" cannot be stored: 1.." +
                         std::to_string(kPgMaxAccountKey) + " bytes of UTF-8 without NUL");
}

Status PgCheckSuppressionKey(std::string_view account, std::string_view address) {
  const bool ok = (account.empty() || PgStorableKey(account, kPgMaxAccountKey)) &&
                  PgStorableKey(address, kPgMaxSuppressionKey) &&
                  account.size() + 1 + address.size() <= kPgMaxSuppressionKey;
  if (ok) return Status::Ok();
  return Status::Invalid("suppression of \"" + Printable(address) + "\" for \"" +
                         Printable(account) + "\" cannot be stored: an address of UTF-8 " +
                         "without NUL, at most " + std::to_string(kPgMaxSuppressionKey) +
                         " bytes with the account's name");
}

std::string PgEncodeText(std::string_view bytes) {
  if (bytes.find_first_of(std::string_view("\\\0", 2)) == std::string_view::npos &&
      ValidUtf8(bytes)) {
    return std::string(bytes);
  }
  std::string out;
  out.reserve(bytes.size() + 8);
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    const size_t n = c == 0 ? 0 : Utf8SequenceLength(bytes, i);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (n == 0) {
      out += "\\x";
      out.push_back(LowerHexDigit(c >> 4));
      out.push_back(LowerHexDigit(c));
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string PgDecodeText(std::string_view s) {
  if (s.find('\\') == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' &&
               HexDigitValue(s[i + 2]) >= 0 && HexDigitValue(s[i + 3]) >= 0) {
      out.push_back(static_cast<char>(HexDigitValue(s[i + 2]) << 4 | HexDigitValue(s[i + 3])));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string PgTextArray(const std::vector<std::string>& elements) {
  std::string out = "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : elements[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

bool PgParseTextArray(std::string_view s, std::vector<std::string>* out) {
  out->clear();
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return false;
  const size_t end = s.size() - 1;
  size_t i = 1;
  if (i == end) return true;
  for (;;) {
    std::string e;
    if (i < end && s[i] == '"') {
      for (++i; i < end && s[i] != '"'; ++i) {
        if (s[i] == '\\' && ++i == end) return false;
        e.push_back(s[i]);
      }
      if (i == end) return false;  // no closing quote
      ++i;
    } else {
      size_t j = i;
      while (j < end && s[j] != ',' && s[j] != '"' && s[j] != '{' && s[j] != '}') ++j;
      e.assign(s.substr(i, j - i));
      // An unquoted NULL is a NULL element; empty ones are always quoted.
      if (e.empty() || e == "NULL") return false;
      i = j;
    }
    out->push_back(std::move(e));
    if (i == end) return true;
    if (s[i] != ',') return false;
    ++i;
  }
}

// ---- accounts

const char kPgAccountColumns[] =
    "a.name, a.limit_minute, a.limit_hour, a.limit_day, a.limit_month, a.status, "
    "a.status_reason, a.status_actor, a.status_since, a.reinstated_until, a.dry_run, a.created, "
    "a.tier, a.clean_days, a.rated_through, a.rates_since, a.domains_only, a.suspended_until, "
    "array(SELECT d.domain FROM account_domains d WHERE d.account = a.name "
    "ORDER BY d.domain COLLATE \"C\")";

Status PgReadAccountRow(const PgResult& r, int row, int col, AccountRecord* out) {
  if (r.cols() < col + kAccountColumnCount) return Status::Corruption("postgresql: accounts: too few columns");
  AccountRecord a;
  a.name.assign(r.Get(row, col));
  const std::string what = "postgresql: accounts/" + Printable(a.name) + ": ";
  for (size_t w = 0; w < kWindowCount; ++w) {
    const int c = col + 1 + static_cast<int>(w);
    if (r.IsNull(row, c)) {
      a.limits[w] = kInheritLimit;
    } else {
      const int64_t v = r.GetInt(row, c);
      if (v < -1) return Status::Corruption(what + "limit " + std::to_string(v));
      a.limits[w] = v == -1 ? kUnlimited : static_cast<uint64_t>(v);
    }
  }
  auto st = StatusFromName(r.Get(row, col + 5));
  if (!st) return Status::Corruption(what + "unknown status \"" + Printable(r.Get(row, col + 5)) + "\"");
  a.status = *st;
  a.status_reason = PgDecodeText(r.Get(row, col + 6));
  a.status_actor = PgDecodeText(r.Get(row, col + 7));
  a.status_since = r.GetInt(row, col + 8);
  a.reinstated_until = r.GetInt(row, col + 9);
  a.dry_run = r.GetBool(row, col + 10);
  a.created = r.GetInt(row, col + 11);
  const int64_t tier = r.GetInt(row, col + 12);
  if (tier < 1 || tier > 5) return Status::Corruption(what + "tier " + std::to_string(tier));
  a.tier = static_cast<uint8_t>(tier);
  const int64_t clean = r.GetInt(row, col + 13);
  if (clean < 0 || clean > UINT32_MAX) return Status::Corruption(what + "clean days out of range");
  a.clean_days = static_cast<uint32_t>(clean);
  a.rated_through = r.GetInt(row, col + 14);
  a.rates_since = r.GetInt(row, col + 15);
  a.domains_only = r.GetBool(row, col + 16);
  a.suspended_until = r.GetInt(row, col + 17);
  if (a.suspended_until < 0) return Status::Corruption(what + "suspension end out of range");
  if (!PgParseTextArray(r.Get(row, col + 18), &a.domains))
    return Status::Corruption(what + "unreadable domain list");
  *out = std::move(a);
  return Status::Ok();
}

Result<std::vector<AccountRecord>> PgReadAccounts(PgConn& conn,
                                                  const std::vector<std::string>& names, bool lock,
                                                  std::map<std::string, Status>* unreadable) {
  std::vector<AccountRecord> out;
  std::vector<std::string> keys;
  for (const auto& n : names)
    if (PgStorableKey(n, kPgMaxAccountKey)) keys.push_back(n);
  if (keys.empty()) return out;
  auto r = conn.Exec(std::string("SELECT ") + kPgAccountColumns +
                         " FROM accounts a WHERE a.name = ANY($1::text[])" +
                         (lock ? " ORDER BY a.name COLLATE \"C\" FOR NO KEY UPDATE" : ""),
                     {PgTextArray(keys)});
  if (!r.ok()) return r.status();
  for (int i = 0; i < r.value().rows(); ++i) {
    AccountRecord a;
    Status st = PgReadAccountRow(r.value(), i, 0, &a);
    if (!st.ok()) {
      if (unreadable == nullptr) return st;
      (*unreadable)[std::string(r.value().Get(i, 0))] = st;
      continue;
    }
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::optional<AccountRecord>> PgReadAccount(PgConn& conn, std::string_view name, bool lock) {
  auto found = PgReadAccounts(conn, {std::string(name)}, lock);
  if (!found.ok()) return found.status();
  std::optional<AccountRecord> out;
  if (!found.value().empty()) out = std::move(found.value().front());
  return out;
}

Status PgCheckAccount(const AccountRecord& a) {
  Status st = PgCheckAccountName(a.name);
  if (!st.ok()) return st;
  for (uint64_t l : a.limits) {
    if (l != kInheritLimit && l != kUnlimited && l > static_cast<uint64_t>(INT64_MAX))
      return Status::Invalid("limit " + std::to_string(l) + " is too large to store");
  }
  if (a.tier < 1 || a.tier > 5)
    return Status::Invalid("tier " + std::to_string(a.tier) + " out of range 1..5");
  if (a.clean_days > static_cast<uint32_t>(INT32_MAX))
    return Status::Invalid("clean-day count " + std::to_string(a.clean_days) + " out of range");
  if (a.suspended_until < 0)
    return Status::Invalid("suspension end " + std::to_string(a.suspended_until) + " out of range");
  if (a.domains.size() > kPgMaxDomains)
    return Status::Invalid(std::to_string(a.domains.size()) + " verified domains (at most " +
                           std::to_string(kPgMaxDomains) + ")");
  for (const auto& d : a.domains) {
    if (!PgStorableKey(d, kPgMaxDomain))
      return Status::Invalid("domain \"" + Printable(d) + "\" cannot be stored: 1.." +
                             std::to_string(kPgMaxDomain) + " bytes of UTF-8 without NUL");
  }
  return Status::Ok();
}

Status PgWriteAccount(PgConn& conn, const std::optional<AccountRecord>& before,
                      const AccountRecord& after, bool* created) {
  if (created != nullptr) *created = true;
  const std::vector<std::string> want = SortedUnique(after.domains);
  std::vector<std::string> have;
  if (!before) {
    auto r = conn.Exec(
        "INSERT INTO accounts (name, limit_minute, limit_hour, limit_day, limit_month, status, "
        "status_reason, status_actor, status_since, reinstated_until, dry_run, created, tier, "
        "clean_days, rated_through, rates_since, domains_only, suspended_until) VALUES ($1, $2, $3, "
        "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (name) DO NOTHING RETURNING 1",
        AccountParams(after));
    if (!r.ok()) return r.status();
    if (r.value().rows() == 0) {
      if (created != nullptr) *created = false;
      return Status::Ok();
    }
  } else {
    if (!SameColumns(*before, after)) {
      auto r = conn.Exec(
          "UPDATE accounts SET limit_minute = $2, limit_hour = $3, limit_day = $4, "
          "limit_month = $5, status = $6, status_reason = $7, status_actor = $8, "
          "status_since = $9, reinstated_until = $10, dry_run = $11, created = $12, tier = $13, "
          "clean_days = $14, rated_through = $15, rates_since = $16, domains_only = $17, "
          "suspended_until = $18 WHERE name = $1",
          AccountParams(after));
      if (!r.ok()) return r.status();
    }
    have = SortedUnique(before->domains);
  }
  std::vector<std::string> gone, added;
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(gone));
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(added));
  if (!gone.empty()) {
    auto r = conn.Exec("DELETE FROM account_domains WHERE account = $1 AND domain = ANY($2::text[])",
                       {after.name, PgTextArray(gone)});
    if (!r.ok()) return r.status();
  }
  if (!added.empty()) {
    auto r = conn.Exec(
        "INSERT INTO account_domains (account, domain) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING",
        {after.name, PgTextArray(added)});
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

// ---- suppression

const char kPgSuppressionColumns[] = "s.account, s.address, s.reason, s.actor, s.since";

SuppressionRecord PgReadSuppressionRow(const PgResult& r, int row, int col) {
  SuppressionRecord s;
  s.account.assign(r.Get(row, col));
  s.address.assign(r.Get(row, col + 1));
  s.reason = PgDecodeText(r.Get(row, col + 2));
  s.actor = PgDecodeText(r.Get(row, col + 3));
  s.since = r.GetInt(row, col + 4);
  return s;
}

Result<std::vector<SuppressionRecord>> PgReadSuppressions(
    PgConn& conn, const std::vector<std::pair<std::string, std::string>>& keys) {
  std::vector<SuppressionRecord> out;
  std::vector<std::string> accounts, addresses;
  for (const auto& [account, address] : keys) {
    if (!PgCheckSuppressionKey(account, address).ok()) continue;
    accounts.push_back(account);
    addresses.push_back(address);
  }
  if (accounts.empty()) return out;
  auto r = conn.Exec(std::string("SELECT ") + kPgSuppressionColumns +
                         " FROM suppression s JOIN unnest($1::text[], $2::text[]) AS k(account, "
                         "address) ON s.account = k.account AND s.address = k.address",
                     {PgTextArray(accounts), PgTextArray(addresses)});
  if (!r.ok()) return r.status();
  for (int i = 0; i < r.value().rows(); ++i) out.push_back(PgReadSuppressionRow(r.value(), i, 0));
  return out;
}

Status PgUpsertSuppressions(PgConn& conn, const std::vector<SuppressionRecord>& records) {
  // The last entry of a key wins; rows go in key order, so two writers
  // lock the rows they share in the same order.
  std::map<std::pair<std::string, std::string>, const SuppressionRecord*> last;
  for (const auto& r : records) {
    Status st = PgCheckSuppressionKey(r.account, r.address);
    if (!st.ok()) return st;
    last[{r.account, r.address}] = &r;
  }
  auto it = last.begin();
  while (it != last.end()) {
    std::vector<std::vector<PgParam>> rows;
    for (size_t n = 0; n < kUpsertChunk && it != last.end(); ++n, ++it)
      rows.push_back(pg_rows::SuppressionParams(*it->second));
    auto res = conn.Exec(
        "INSERT INTO suppression AS s (account, address, reason, actor, since) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) "
        "ON CONFLICT (account, address) DO UPDATE SET reason = EXCLUDED.reason, "
        "actor = EXCLUDED.actor, since = EXCLUDED.since "
        "WHERE (s.reason, s.actor, s.since) IS DISTINCT FROM "
        "(EXCLUDED.reason, EXCLUDED.actor, EXCLUDED.since)",
        pg_rows::ColumnArrays(rows, 5));
    if (!res.ok()) return res.status();
  }
  return Status::Ok();
}

// ---- audit

Status PgInsertAudit(PgConn& conn, const AuditEntry& e) {
  auto r = conn.Exec(std::string("INSERT INTO audit (") + pg_rows::kAuditColumns +
                         ") VALUES ($1, $2, $3, $4, $5)",
                     pg_rows::AuditParams(e));
  return r.ok() ? Status::Ok() : r.status();
}

Result<PgNodeClaim> PgClaimNode(PgConn& conn, const PgStoreOptions& o) {
  auto r = conn.Exec("SELECT ok, holder_host, seen_s_ago FROM sg_node_seen($1, $2, $3, $4, $5)",
                     {o.node, o.instance, o.boot, o.host, PgInt(static_cast<int64_t>(o.node_stale_s))});
  if (!r.ok()) return r.status();
  PgNodeClaim c;
  if (r.value().rows() != 1) return c;  // the row went away meanwhile: not ours either
  c.ok = r.value().GetBool(0, 0);
  c.holder_host = r.value().Get(0, 1);
  c.seen_s_ago = r.value().GetInt(0, 2);
  return c;
}

Status PgNodeClaimRefused(const PgStoreOptions& o, const PgNodeClaim& c) {
  // Short enough for a log value (256 bytes) with the remedy at its end.
  return Status::Unavailable(
      "postgresql: node name \"" + Printable(o.node, 64) + "\" is held by another machine (host \"" +
      Printable(c.holder_host, 64) + "\", seen " + std::to_string(c.seen_s_ago) +
      " s ago; a clone has the same host name): give each machine its own [store.postgresql] node;"
      " a name is free " + std::to_string(o.node_stale_s) + " s after its holder was last seen");
}

// ---- PgRecords

Result<std::optional<AccountRecord>> PgRecords::GetAccount(std::string_view name) {
  if (options_->cached_reads) return local_->GetAccount(name);
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return PgReadAccount(*conn.value(), name, /*lock=*/false);
}

Result<std::vector<AccountRecord>> PgRecords::ListAccounts() {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec(std::string("SELECT ") + kPgAccountColumns +
                              " FROM accounts a ORDER BY a.name COLLATE \"C\"");
  if (!r.ok()) return r.status();
  std::vector<AccountRecord> out(static_cast<size_t>(r.value().rows()));
  for (int i = 0; i < r.value().rows(); ++i) {
    Status st = PgReadAccountRow(r.value(), i, 0, &out[static_cast<size_t>(i)]);
    if (!st.ok()) return st;
  }
  return out;
}

Result<std::vector<AccountRecord>> PgRecords::ListAccountsAfter(std::string_view after, size_t limit) {
  std::vector<AccountRecord> out;
  if (limit == 0) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec(std::string("SELECT ") + kPgAccountColumns +
                                  " FROM accounts a WHERE a.name COLLATE \"C\" > $1 "
                                  "ORDER BY a.name COLLATE \"C\" LIMIT $2",
                              {std::string(after), PgInt(pg_rows::CountToPg(limit))});
  if (!r.ok()) return r.status();
  out.resize(static_cast<size_t>(r.value().rows()));
  for (int i = 0; i < r.value().rows(); ++i) {
    Status st = PgReadAccountRow(r.value(), i, 0, &out[static_cast<size_t>(i)]);
    if (!st.ok()) return st;
  }
  return out;
}

Status PgRecords::UpdateAccount(std::string_view name, const Store::AccountChange& change,
                                const AuditEntry& audit) {
  Status key = PgCheckAccountName(name);
  if (!key.ok()) return key;
  const std::string n(name);
  // A first write of a new account races with others': the loser of the
  // insert starts again from the read (and sees the winner's row).
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool created = true;
    Status st = pool_->Transaction([&](PgConn& c) -> Status {
      created = true;
      auto cur = PgReadAccount(c, n, /*lock=*/true);
      if (!cur.ok()) return cur.status();
      const bool exists = cur.value().has_value();
      AccountRecord a;
      if (exists) {
        a = *cur.value();
      } else {
        a.name = n;
        a.created = audit.time_us / 1000000;
      }
      Status ch = change(&a, exists);
      if (!ch.ok()) return ch;
      a.name = n;
      Status valid = PgCheckAccount(a);
      if (!valid.ok()) return valid;
      Status w = PgWriteAccount(c, cur.value(), a, &created);
      if (!w.ok()) return w;
      if (!created) return Status::Unavailable("postgresql: account created meanwhile");
      return PgInsertAudit(c, audit);
    });
    if (created) return st;
  }
  return Status::Io("postgresql: account " + Printable(name) +
                    " was created by others five times over; gave up");
}

Result<AccountContents> PgRecords::DeleteAccount(std::string_view name,
                                                 const Store::ContentsAudit& audit) {
  if (name.empty()) return Status::Invalid("the empty account name is no account");
  AccountContents c;
  if (!PgCheckAccountName(name).ok()) return c;  // PostgreSQL holds nothing under it
  const std::string n(name);
  Status st = pool_->Transaction([&](PgConn& t) -> Status {
    Status s = LockContents(t, n, &c);
    if (!s.ok() || c.empty()) return s;
    // A window instance a node still holds an open lease on stays, its
    // counts at 0 (as quota reset leaves it): what that node sends next is
    // reported against it and still bounded by the limit.
    for (const char* sql : {"DELETE FROM quota_windows w WHERE w.account = $1 AND NOT EXISTS "
                            "(SELECT 1 FROM leases l WHERE l.account = w.account AND l.win = w.win "
                            "AND l.start = w.start AND l.state = 'open')",
                            "UPDATE quota_windows SET committed = 0, late = 0, alerted = 0 "
                            "WHERE account = $1",
                            "DELETE FROM day_counts WHERE account = $1",
                            "DELETE FROM suppression WHERE account = $1",
                            "DELETE FROM accounts WHERE name = $1"}) {
      auto r = t.Exec(sql, {n});
      if (!r.ok()) return r.status();
    }
    return PgInsertAudit(t, audit(c));
  });
  if (!st.ok()) return st;
  return c;
}

Result<AccountContents> PgRecords::RenameAccount(std::string_view from, std::string_view to,
                                                 const Store::MoveAudit& audit) {
  if (from.empty() || to.empty()) return Status::Invalid("the empty account name is no account");
  if (from == to) return Status::Invalid("account " + std::string(from) + ": renamed to itself");
  const std::string old_name(from), new_name(to);
  if (!PgCheckAccountName(from).ok()) return Status::NotFound("no such account: " + old_name);
  Status key = PgCheckAccountName(to);
  if (!key.ok()) return key;
  AccountContents c;
  Status st = pool_->Transaction([&](PgConn& t) -> Status {
    Status s = LockContents(t, old_name, &c);
    if (!s.ok()) return s;
    if (c.empty()) return Status::NotFound("no such account: " + old_name);
    AccountContents there;
    s = LockContents(t, new_name, &there);
    if (!s.ok()) return s;
    if (!there.empty()) return Status::Invalid("account " + new_name + " exists already");
    const std::vector<std::string> sql = {
        // The new row first: the domains' foreign key needs it.
        "INSERT INTO accounts (name, limit_minute, limit_hour, limit_day, limit_month, status, "
        "status_reason, status_actor, status_since, reinstated_until, dry_run, created, tier, "
        "clean_days, rated_through, rates_since, domains_only, suspended_until) "
        "SELECT $2, limit_minute, limit_hour, limit_day, limit_month, status, status_reason, "
        "status_actor, status_since, reinstated_until, dry_run, created, tier, clean_days, "
        "rated_through, rates_since, domains_only, suspended_until FROM accounts WHERE name = $1",
        "UPDATE account_domains SET account = $2 WHERE account = $1",
        "UPDATE suppression SET account = $2 WHERE account = $1",
        "UPDATE day_counts SET account = $2 WHERE account = $1",
        // Windows of the new name that hold nothing (LockContents) give way.
        "DELETE FROM quota_windows WHERE account = $2 AND account <> $1",
        // The windows with their counts, outstanding units and alerts, and
        // their leases with them: a node's report on a lease counts under
        // the new name (its lease id is the same).
        "INSERT INTO quota_windows (account, win, start, reset, lim, committed, outstanding, "
        "late, alerted) SELECT $2, win, start, reset, lim, committed, outstanding, late, alerted "
        "FROM quota_windows WHERE account = $1 ORDER BY win, start",
        "UPDATE leases SET account = $2 WHERE account = $1",
        "DELETE FROM quota_windows WHERE account = $1",
        "DELETE FROM accounts WHERE name = $1"};
    for (const auto& q : sql) {
      auto r = q.find("$2") == std::string::npos ? t.Exec(q, {old_name})
                                                 : t.Exec(q, {old_name, new_name});
      if (!r.ok()) return r.status();
    }
    for (const auto& e : audit(c)) {
      s = PgInsertAudit(t, e);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return c;
}

Status PgRecords::UpdateAccounts(const std::vector<std::string>& names, const Store::AccountBatchChange& change) {
  if (Status d = CheckDistinct(names); !d.ok()) return d;
  for (const auto& n : names) {
    if (Status key = PgCheckAccountName(n); !key.ok()) return key;
  }
  // As UpdateAccount, one transaction for all: a new account that another
  // writer created meanwhile starts the whole batch again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool created = true;
    Status st = pool_->Transaction([&](PgConn& c) -> Status {
      created = true;
      for (size_t i = 0; i < names.size(); ++i) {
        auto cur = PgReadAccount(c, names[i], /*lock=*/true);
        if (!cur.ok()) return cur.status();
        const bool exists = cur.value().has_value();
        AccountRecord a;
        if (exists) a = *cur.value();
        a.name = names[i];
        std::optional<AuditEntry> audit;
        Status ch = change(i, &a, exists, &audit);
        if (!ch.ok()) return ch;
        if (!audit) continue;
        a.name = names[i];
        if (!exists && a.created == 0) a.created = audit->time_us / 1000000;
        Status valid = PgCheckAccount(a);
        if (!valid.ok()) return valid;
        Status w = PgWriteAccount(c, cur.value(), a, &created);
        if (!w.ok()) return w;
        if (!created) return Status::Unavailable("postgresql: account created meanwhile");
        Status au = PgInsertAudit(c, *audit);
        if (!au.ok()) return au;
      }
      return Status::Ok();
    });
    if (created) return st;
  }
  return Status::Io("postgresql: accounts were created by others five times over; gave up");
}

Result<std::optional<SuppressionRecord>> PgRecords::FindSuppression(std::string_view account,
                                                                    std::string_view address) {
  if (options_->cached_reads) return local_->FindSuppression(account, address);
  std::optional<SuppressionRecord> out;
  // The global list first; an account whose key cannot be stored has no list.
  std::vector<std::pair<std::string, std::string>> keys = {{"", std::string(address)}};
  if (!account.empty()) keys.emplace_back(std::string(account), std::string(address));
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto found = PgReadSuppressions(*conn.value(), keys);
  if (!found.ok()) return found.status();
  for (auto& s : found.value()) {
    if (s.account.empty() || !out) out = std::move(s);
  }
  return out;
}

Result<size_t> PgRecords::AddSuppressions(const std::vector<SuppressionRecord>& records,
                                          const SuppressionAddAudit& audit) {
  // The first entry of a key counts; rows go in key order, so two writers
  // lock the rows they share in the same order.
  std::map<std::pair<std::string, std::string>, const SuppressionRecord*> first;
  for (const auto& r : records) {
    Status st = PgCheckSuppressionKey(r.account, r.address);
    if (!st.ok()) return st;
    first.emplace(std::make_pair(r.account, r.address), &r);
  }
  size_t added = 0;
  Status st = pool_->Transaction([&](PgConn& c) -> Status {
    added = 0;
    auto it = first.begin();
    while (it != first.end()) {
      std::vector<std::vector<PgParam>> rows;
      for (size_t n = 0; n < kUpsertChunk && it != first.end(); ++n, ++it)
        rows.push_back(pg_rows::SuppressionParams(*it->second));
      // An entry already there is left as it was: ON CONFLICT waits for a
      // concurrent insert of the same key to end, then skips the row.
      auto res = c.Exec(
          "INSERT INTO suppression (account, address, reason, actor, since) "
          "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) "
          "ON CONFLICT (account, address) DO NOTHING RETURNING 1",
          pg_rows::ColumnArrays(rows, 5));
      if (!res.ok()) return res.status();
      added += static_cast<size_t>(res.value().rows());
    }
    return added > 0 ? PgInsertAudit(c, audit.For(added)) : Status::Ok();
  });
  if (!st.ok()) return st;
  return added;
}

Result<bool> PgRecords::RemoveSuppression(std::string_view account, std::string_view address,
                                          const AuditEntry& audit) {
  bool removed = false;
  if (!PgCheckSuppressionKey(account, address).ok()) return removed;  // cannot have been added
  Status st = pool_->Transaction([&](PgConn& c) -> Status {
    removed = false;
    auto r = c.Exec("DELETE FROM suppression WHERE account = $1 AND address = $2 RETURNING 1",
                    {std::string(account), std::string(address)});
    if (!r.ok()) return r.status();
    if (r.value().rows() == 0) return Status::Ok();
    removed = true;
    return PgInsertAudit(c, audit);
  });
  if (!st.ok()) return st;
  return removed;
}

Result<std::vector<SuppressionRecord>> PgRecords::ListSuppressions(
    const std::optional<std::string>& account, size_t limit) {
  std::vector<SuppressionRecord> out;
  if (limit == 0) return out;
  if (account && !account->empty() && !PgStorableKey(*account, kPgMaxAccountKey)) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  const PgParam rows = PgInt(pg_rows::CountToPg(limit));
  auto r = account ? conn.value()->Exec(std::string("SELECT ") + kPgSuppressionColumns +
                                            " FROM suppression s WHERE s.account = $1 "
                                            "ORDER BY s.address COLLATE \"C\" LIMIT $2",
                                        {*account, rows})
                   : conn.value()->Exec(std::string("SELECT ") + kPgSuppressionColumns +
                                            " FROM suppression s ORDER BY s.account COLLATE "
                                            "\"C\", s.address COLLATE \"C\" LIMIT $1",
                                        {rows});
  if (!r.ok()) return r.status();
  for (int i = 0; i < r.value().rows(); ++i) out.push_back(PgReadSuppressionRow(r.value(), i, 0));
  return out;
}

Result<uint64_t> PgRecords::CountSuppressions(std::string_view account) {
  if (!account.empty() && !PgStorableKey(account, kPgMaxAccountKey)) return uint64_t{0};
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec("SELECT count(*) FROM suppression WHERE account = $1",
                              {std::string(account)});
  if (!r.ok()) return r.status();
  return static_cast<uint64_t>(r.value().GetInt(0, 0));
}

Status PgRecords::AppendAudit(const AuditEntry& entry) {
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return PgInsertAudit(*conn.value(), entry);
}

Result<std::vector<AuditEntry>> PgRecords::ListAudit(std::string_view account, size_t limit) {
  std::vector<AuditEntry> out;
  if (limit == 0) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  const std::string cols = std::string("SELECT ") + pg_rows::kAuditColumns + " FROM audit ";
  const PgParam rows = PgInt(pg_rows::CountToPg(limit));
  auto r = account.empty()
               ? conn.value()->Exec(cols + "ORDER BY id DESC LIMIT $1", {rows})
               : conn.value()->Exec(cols + "WHERE account = $1 ORDER BY id DESC LIMIT $2",
                                    {PgEncodeText(account), rows});
  if (!r.ok()) return r.status();
  for (int i = 0; i < r.value().rows(); ++i) out.push_back(pg_rows::AuditFromRow(r.value(), i, 0));
  return out;
}

}  // namespace senderguard
