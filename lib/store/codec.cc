#include "senderguard/store/codec.h"

#include <algorithm>
#include <cstring>

namespace senderguard {
namespace {

constexpr uint8_t kAccountV3 = 3;  // 2: reputation, domains; 3: suspended_until
constexpr uint8_t kSuppressionV1 = 1;
constexpr uint8_t kAuditV1 = 1;
constexpr uint8_t kQueueV2 = 2;
constexpr uint8_t kDayCountsV2 = 2;  // 2: quota_used, refused, tier
constexpr uint8_t kBounceV1 = 1;
constexpr uint8_t kDeferredV1 = 1;
constexpr uint32_t kMaxDomains = 1000;
// Strings in records are bounded; a larger length is corruption.
constexpr uint32_t kMaxField = 64 * 1024;
constexpr uint32_t kMaxRecipients = 100000;

class Writer {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U64(uint64_t v) { PutBe64(&s_, v); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Str(std::string_view v) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(v.size(), kMaxField));
    for (int i = 3; i >= 0; --i) s_.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    s_.append(v.data(), n);
  }
  // A count, then at most `max` strings (the rest are dropped).
  void StrList(const std::vector<std::string>& v, size_t max) {
    const size_t n = std::min(v.size(), max);
    U64(n);
    for (size_t i = 0; i < n; ++i) Str(v[i]);
  }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

class Reader {
 public:
  Reader(std::string_view in, std::string_view what) : in_(in), what_(what) {}
  bool U8(uint8_t* v) {
    if (!Need(1, "byte")) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U64(uint64_t* v) {
    if (!Need(8, "integer")) return false;
    *v = GetBe64(in_);
    in_.remove_prefix(8);
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool U32(uint32_t* v) {
    if (!Need(4, "length")) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    *v = n;
    return true;
  }
  bool Str(std::string* v) {
    uint32_t n;
    if (!U32(&n)) return false;
    if (n > kMaxField) return Fail("string length " + std::to_string(n) + " over limit");
    if (!Need(n, "string")) return false;
    v->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Version(uint8_t known) {
    uint8_t v;
    if (!U8(&v)) return false;
    if (v == 0 || v > known) return Fail("unknown record version " + std::to_string(v));
    version_ = v;
    return true;
  }
  uint8_t version() const { return version_; }
  Status Finish() {
    if (!error_.empty()) return Status::Corruption(std::string(what_) + ": " + error_);
    if (!in_.empty()) {
      return Status::Corruption(std::string(what_) + ": " + std::to_string(in_.size()) +
                                " trailing bytes");
    }
    return Status::Ok();
  }
  size_t remaining() const { return in_.size(); }
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

 private:
  bool Need(size_t n, const char* what) {
    if (in_.size() < n) return Fail(std::string("truncated ") + what);
    return true;
  }
  std::string_view in_;
  std::string_view what_;
  std::string error_;
  uint8_t version_ = 0;
};

}  // namespace

void PutBe64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBe64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string_view AccountStatusName(AccountStatus s) {
  switch (s) {
    case AccountStatus::kActive: return "active";
    case AccountStatus::kSuspended: return "suspended";
    case AccountStatus::kReinstated: return "reinstated";
  }
  return "?";
}

std::string Encode(const AccountRecord& r) {
  Writer w;
  w.U8(kAccountV3);
  w.Str(r.name);
  for (uint64_t l : r.limits) w.U64(l);
  w.U8(static_cast<uint8_t>(r.status));
  w.Str(r.status_reason);
  w.Str(r.status_actor);
  w.I64(r.status_since);
  w.I64(r.reinstated_until);
  w.U8(r.dry_run ? 1 : 0);
  w.I64(r.created);
  w.U8(r.tier);
  w.U64(r.clean_days);
  w.I64(r.rated_through);
  w.I64(r.rates_since);
  w.U8(r.domains_only ? 1 : 0);
  w.StrList(r.domains, kMaxDomains);
  w.I64(r.suspended_until);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, AccountRecord* out) {
  Reader r(bytes, what);
  AccountRecord a;
  uint8_t status = 0, dry = 0, only = 0;
  if (r.Version(kAccountV3) && r.Str(&a.name) && r.U64(&a.limits[0]) && r.U64(&a.limits[1]) &&
      r.U64(&a.limits[2]) && r.U64(&a.limits[3]) && r.U8(&status) && r.Str(&a.status_reason) &&
      r.Str(&a.status_actor) && r.I64(&a.status_since) && r.I64(&a.reinstated_until) &&
      r.U8(&dry) && r.I64(&a.created)) {
    if (status > static_cast<uint8_t>(AccountStatus::kReinstated)) {
      r.Fail("unknown account status " + std::to_string(status));
    } else if (dry > 1) {
      r.Fail("bad dry-run flag");
    }
    uint64_t clean = 0, nd = 0;
    if (r.version() >= 2 && r.U8(&a.tier) && r.U64(&clean) && r.I64(&a.rated_through) &&
        r.I64(&a.rates_since) && r.U8(&only) && r.U64(&nd)) {
      if (a.tier < 1 || a.tier > 5) {
        r.Fail("tier " + std::to_string(a.tier) + " out of range");
      } else if (clean > UINT32_MAX) {
        r.Fail("clean-day count out of range");
      } else if (only > 1) {
        r.Fail("bad domains-only flag");
      } else if (nd > kMaxDomains || nd > r.remaining() / 4) {
        r.Fail("domain count " + std::to_string(nd) + " out of range");
      } else {
        a.clean_days = static_cast<uint32_t>(clean);
        a.domains.resize(nd);
        bool ok = true;
        for (auto& d : a.domains) {
          if (!(ok = r.Str(&d))) break;
        }
        if (ok && r.version() >= 3 && r.I64(&a.suspended_until) && a.suspended_until < 0) {
          r.Fail("suspension end " + std::to_string(a.suspended_until) + " out of range");
        }
      }
    }
  }
  Status s = r.Finish();
  if (!s.ok()) return s;
  a.status = static_cast<AccountStatus>(status);
  a.dry_run = dry == 1;
  a.domains_only = only == 1;
  *out = std::move(a);
  return Status::Ok();
}

std::string Encode(const SuppressionRecord& r) {
  Writer w;
  w.U8(kSuppressionV1);
  w.Str(r.account);
  w.Str(r.address);
  w.Str(r.reason);
  w.Str(r.actor);
  w.I64(r.since);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, SuppressionRecord* out) {
  Reader r(bytes, what);
  SuppressionRecord s;
  (void)(r.Version(kSuppressionV1) && r.Str(&s.account) && r.Str(&s.address) &&
         r.Str(&s.reason) && r.Str(&s.actor) && r.I64(&s.since));
  Status st = r.Finish();
  if (st.ok()) *out = std::move(s);
  return st;
}

std::string Encode(const AuditEntry& r) {
  Writer w;
  w.U8(kAuditV1);
  w.I64(r.time_us);
  w.Str(r.actor);
  w.Str(r.action);
  w.Str(r.account);
  w.Str(r.detail);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, AuditEntry* out) {
  Reader r(bytes, what);
  AuditEntry a;
  (void)(r.Version(kAuditV1) && r.I64(&a.time_us) && r.Str(&a.actor) && r.Str(&a.action) &&
         r.Str(&a.account) && r.Str(&a.detail));
  Status st = r.Finish();
  if (st.ok()) *out = std::move(a);
  return st;
}

std::string Encode(const QueueEntry& r) {
  Writer w;
  w.U8(kQueueV2);
  w.Str(r.queue_id);
  w.Str(r.account);
  w.I64(r.time);
  w.StrList(r.recipients, kMaxRecipients);
  w.Str(r.message_id);
  w.I64(r.last_event);
  w.U8(r.forwarded ? 1 : 0);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, QueueEntry* out) {
  Reader r(bytes, what);
  QueueEntry q;
  uint64_t n = 0;
  uint8_t fwd = 0;
  if (r.Version(kQueueV2) && r.Str(&q.queue_id) && r.Str(&q.account) && r.I64(&q.time) &&
      r.U64(&n)) {
    if (n > kMaxRecipients) {
      r.Fail("recipient count " + std::to_string(n) + " over limit");
    } else if (n > r.remaining() / 4) {  // each recipient takes at least its 4-byte length
      r.Fail("recipient count " + std::to_string(n) + " larger than the record");
    } else {
      q.recipients.resize(n);
      bool ok = true;
      for (auto& rc : q.recipients) {
        if (!(ok = r.Str(&rc))) break;
      }
      if (ok && r.version() >= 2 && r.Str(&q.message_id) && r.I64(&q.last_event) &&
          r.U8(&fwd) && fwd > 1) {
        r.Fail("bad forwarded flag");
      }
    }
  }
  Status st = r.Finish();
  q.forwarded = fwd == 1;
  if (st.ok()) *out = std::move(q);
  return st;
}

std::string Encode(const DayCountsRecord& r) {
  Writer w;
  w.U8(kDayCountsV2);
  for (uint64_t v : {r.delivered, r.deferred, r.hard, r.soft, r.technical, r.expired, r.complaints,
                     r.quota_used, r.refused})
    w.U64(v);
  w.U8(r.tier);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, DayCountsRecord* out) {
  Reader r(bytes, what);
  DayCountsRecord d;
  // v1 (before the milter's figures): those read as 0.
  (void)(r.Version(kDayCountsV2) && r.U64(&d.delivered) && r.U64(&d.deferred) && r.U64(&d.hard) &&
         r.U64(&d.soft) && r.U64(&d.technical) && r.U64(&d.expired) && r.U64(&d.complaints) &&
         (r.version() < 2 || (r.U64(&d.quota_used) && r.U64(&d.refused) && r.U8(&d.tier))));
  Status st = r.Finish();
  if (st.ok()) *out = d;
  return st;
}

std::string Encode(const BounceRecord& r) {
  Writer w;
  w.U8(kBounceV1);
  w.Str(r.address);
  w.U64(r.count);
  w.Str(r.last_account);
  w.Str(r.last_category);
  w.I64(r.last_time);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, BounceRecord* out) {
  Reader r(bytes, what);
  BounceRecord b;
  uint64_t count = 0;
  if (r.Version(kBounceV1) && r.Str(&b.address) && r.U64(&count) && r.Str(&b.last_account) &&
      r.Str(&b.last_category) && r.I64(&b.last_time) && count > UINT32_MAX) {
    r.Fail("bounce count out of range");
  }
  Status st = r.Finish();
  b.count = static_cast<uint32_t>(count);
  if (st.ok()) *out = std::move(b);
  return st;
}

std::string Encode(const DeferredRecord& r) {
  Writer w;
  w.U8(kDeferredV1);
  w.Str(r.queue_id);
  w.I64(r.time);
  w.StrList(r.recipients, kMaxRecipients);
  return w.Take();
}

Status Decode(std::string_view bytes, std::string_view what, DeferredRecord* out) {
  Reader r(bytes, what);
  DeferredRecord d;
  uint64_t n = 0;
  if (r.Version(kDeferredV1) && r.Str(&d.queue_id) && r.I64(&d.time) && r.U64(&n)) {
    if (n > kMaxRecipients || n > r.remaining() / 4) {
      r.Fail("recipient count " + std::to_string(n) + " larger than the record");
    } else {
      d.recipients.resize(n);
      for (auto& rc : d.recipients) {
        if (!r.Str(&rc)) break;
      }
    }
  }
  Status st = r.Finish();
  if (st.ok()) *out = std::move(d);
  return st;
}

}  // namespace senderguard
