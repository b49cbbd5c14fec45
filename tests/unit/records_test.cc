// Tests for records.h: every record type round-trips, and every damaged
// encoding (each truncation, unknown version, trailing bytes, lengths and
// counts over their limits) is refused with kCorruption, never a crash.
#include "senderguard/model/records.h"
#include "senderguard/store/codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

constexpr uint32_t kMaxField = 64 * 1024;  // records.cc
constexpr uint64_t kMaxRecipients = 100000;

// Raw encodings built by hand, independently of the Writer.
void U8(std::string* s, uint8_t v) { s->push_back(static_cast<char>(v)); }
void U32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void U64(std::string* s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Str(std::string* s, std::string_view v) {
  U32(s, static_cast<uint32_t>(v.size()));
  s->append(v);
}

const std::string kHostile = "a\0b\r\nqueue_id=X \"\\ \xc3\xa9 \xff\x01"s;

AccountRecord SampleAccount() {
  AccountRecord a;
  a.name = "alice@example.com";
  a.limits = {1, kInheritLimit, kUnlimited, 0};
  a.status = AccountStatus::kReinstated;
  a.status_reason = kHostile;
  a.status_actor = "ops (uid 1000)";
  a.status_since = -5;
  a.reinstated_until = INT64_MAX;
  a.dry_run = true;
  a.created = INT64_MIN;
  a.tier = 4;
  a.clean_days = 6;
  a.rated_through = 20'000;
  a.rates_since = 1'790'000'000;
  a.domains_only = true;
  a.domains = {"example.com", kHostile};
  return a;
}

SuppressionRecord SampleSuppression() {
  SuppressionRecord s;
  s.account = "";
  s.address = "bob@example.com";
  s.reason = kHostile;
  s.actor = std::string(kMaxField, 'x');
  s.since = 1'790'000'000;
  return s;
}

AuditEntry SampleAudit() {
  AuditEntry e;
  e.time_us = 1'790'000'000'123'456;
  e.actor = "alice (uid 1000)";
  e.action = "suspend";
  e.account = "alice";
  e.detail = kHostile;
  return e;
}

QueueEntry SampleQueue() {
  QueueEntry q;
  q.queue_id = "4XyZ1a2B3c";
  q.account = "alice";
  q.time = 1'790'000'000;
  q.recipients = {"a@example.com", "", kHostile, std::string(1000, 'r')};
  q.message_id = "<id@example.com>";
  q.last_event = 1'790'000'100;
  q.forwarded = true;
  return q;
}

DayCountsRecord SampleDay() {
  return DayCountsRecord{1, 2, 3, 4, 5, 6, UINT64_MAX, 7, UINT64_MAX - 1, 255};
}

BounceRecord SampleBounce() {
  BounceRecord b;
  b.address = "gone@example.com";
  b.count = 3;
  b.last_account = "alice";
  b.last_category = kHostile;
  b.last_time = 1'790'000'000;
  return b;
}

bool Same(const AccountRecord& a, const AccountRecord& b) {
  return a.name == b.name && a.limits == b.limits && a.status == b.status &&
         a.status_reason == b.status_reason && a.status_actor == b.status_actor &&
         a.status_since == b.status_since && a.reinstated_until == b.reinstated_until &&
         a.dry_run == b.dry_run && a.created == b.created && a.tier == b.tier &&
         a.clean_days == b.clean_days && a.rated_through == b.rated_through &&
         a.rates_since == b.rates_since && a.domains_only == b.domains_only &&
         a.domains == b.domains && a.suspended_until == b.suspended_until;
}
bool Same(const DayCountsRecord& a, const DayCountsRecord& b) {
  return a.delivered == b.delivered && a.deferred == b.deferred && a.hard == b.hard &&
         a.soft == b.soft && a.technical == b.technical && a.expired == b.expired &&
         a.complaints == b.complaints && a.quota_used == b.quota_used && a.refused == b.refused &&
         a.tier == b.tier;
}
bool Same(const BounceRecord& a, const BounceRecord& b) {
  return a.address == b.address && a.count == b.count && a.last_account == b.last_account &&
         a.last_category == b.last_category && a.last_time == b.last_time;
}
bool Same(const SuppressionRecord& a, const SuppressionRecord& b) {
  return a.account == b.account && a.address == b.address && a.reason == b.reason &&
         a.actor == b.actor && a.since == b.since;
}
bool Same(const AuditEntry& a, const AuditEntry& b) {
  return a.time_us == b.time_us && a.actor == b.actor && a.action == b.action &&
         a.account == b.account && a.detail == b.detail;
}
bool Same(const QueueEntry& a, const QueueEntry& b) {
  return a.queue_id == b.queue_id && a.account == b.account && a.time == b.time &&
         a.recipients == b.recipients && a.message_id == b.message_id &&
         a.last_event == b.last_event && a.forwarded == b.forwarded;
}

// ------------------------------------------------------- typed suite

template <typename T>
struct Samples;
template <>
struct Samples<AccountRecord> {
  static std::vector<AccountRecord> All() {
    AccountRecord empty;  // defaults
    AccountRecord suspended = SampleAccount();
    suspended.status = AccountStatus::kSuspended;
    suspended.dry_run = false;
    suspended.suspended_until = 1'790'003'600;
    return {empty, SampleAccount(), suspended};
  }
};
template <>
struct Samples<SuppressionRecord> {
  static std::vector<SuppressionRecord> All() {
    SuppressionRecord account_entry = SampleSuppression();
    account_entry.account = "alice";
    account_entry.actor = "";
    return {SuppressionRecord{}, SampleSuppression(), account_entry};
  }
};
template <>
struct Samples<AuditEntry> {
  static std::vector<AuditEntry> All() { return {AuditEntry{}, SampleAudit()}; }
};
template <>
struct Samples<QueueEntry> {
  static std::vector<QueueEntry> All() {
    QueueEntry many = SampleQueue();
    many.recipients.assign(5000, "x@example.com");
    return {QueueEntry{}, SampleQueue(), many};
  }
};

template <>
struct Samples<DayCountsRecord> {
  static std::vector<DayCountsRecord> All() { return {DayCountsRecord{}, SampleDay()}; }
};
template <>
struct Samples<BounceRecord> {
  static std::vector<BounceRecord> All() { return {BounceRecord{}, SampleBounce()}; }
};

template <typename T>
class RecordTest : public ::testing::Test {};
using RecordTypes = ::testing::Types<AccountRecord, SuppressionRecord, AuditEntry, QueueEntry,
                                     DayCountsRecord, BounceRecord>;
TYPED_TEST_SUITE(RecordTest, RecordTypes);

TYPED_TEST(RecordTest, RoundTrip) {
  for (const TypeParam& r : Samples<TypeParam>::All()) {
    const std::string bytes = Encode(r);
    TypeParam back;
    Status s = Decode(bytes, "test/rec", &back);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(Same(r, back));
    EXPECT_EQ(Encode(back), bytes);  // canonical
  }
}

TYPED_TEST(RecordTest, EveryTruncationIsCorruption) {
  const std::vector<TypeParam> samples = Samples<TypeParam>::All();
  const TypeParam before = samples.front();
  for (const TypeParam& r : samples) {
    const std::string bytes = Encode(r);
    ASSERT_GT(bytes.size(), 1u);
    if (bytes.size() > 8192) continue;  // quadratic; the small samples cover every field
    for (size_t n = 0; n < bytes.size(); ++n) {
      TypeParam out = before;
      // A copy of exactly n bytes, so ASan sees any read past it.
      std::vector<char> buf(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
      Status s = Decode(std::string_view(buf.data(), n), "test/rec", &out);
      ASSERT_EQ(s.code(), Status::Code::kCorruption) << "prefix of " << n << " bytes";
      ASSERT_EQ(s.message().rfind("test/rec: ", 0), 0u) << s.message();
      ASSERT_TRUE(Same(out, before)) << "output changed on failure, prefix " << n;
    }
  }
}

TYPED_TEST(RecordTest, TrailingBytesAreCorruption) {
  for (const std::string& tail : std::vector<std::string>{"\0"s, "x"s, std::string(1000, 'z')}) {
    const std::string bytes = Encode(Samples<TypeParam>::All().back()) + tail;
    TypeParam out;
    Status s = Decode(bytes, "test/rec", &out);
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
    EXPECT_NE(s.message().find("trailing"), std::string::npos) << s.message();
  }
}

TYPED_TEST(RecordTest, UnknownVersionIsCorruption) {
  for (int v : {0, 7, 255}) {
    std::string bytes = Encode(Samples<TypeParam>::All().back());
    bytes[0] = static_cast<char>(v);
    TypeParam out;
    Status s = Decode(bytes, "test/rec", &out);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << v;
    EXPECT_NE(s.message().find("version " + std::to_string(v)), std::string::npos)
        << s.message();
  }
}

TYPED_TEST(RecordTest, EmptyAndGarbageAreCorruption) {
  const std::vector<std::string> inputs = {
      ""s, "\x01"s, "\x01\xff\xff\xff\xff"s, std::string(64, '\xff'), std::string(64, '\0'),
      "\x01" + std::string(100, '\x7f')};
  for (const auto& in : inputs) {
    TypeParam out;
    EXPECT_EQ(Decode(in, "x", &out).code(), Status::Code::kCorruption) << in.size();
  }
}

// --------------------------------------------- lengths over the buffer

TEST(Records, StringLengthLargerThanBuffer) {
  for (uint32_t len : {5u, 100u, kMaxField, 0xffffffffu}) {
    // Second string of the suppression record claims more bytes than remain.
    std::string s;
    U8(&s, 1);
    Str(&s, "");
    U32(&s, len);
    s += "bob";
    SuppressionRecord out;
    Status st = Decode(s, "suppression/x", &out);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << len;
  }
}

TEST(Records, StringLengthOverLimit) {
  std::string s;
  U8(&s, 1);
  U32(&s, kMaxField + 1);
  s.append(kMaxField + 1, 'a');  // present, but over the bound
  Str(&s, "bob@example.com");
  Str(&s, "");
  Str(&s, "");
  U64(&s, 0);
  SuppressionRecord out;
  Status st = Decode(s, "suppression/x", &out);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("over limit"), std::string::npos) << st.message();
}

TEST(Records, LongestStringAccepted) {
  SuppressionRecord r;
  r.reason = std::string(kMaxField, 'q');
  SuppressionRecord out;
  ASSERT_TRUE(Decode(Encode(r), "s", &out).ok());
  EXPECT_EQ(out.reason.size(), kMaxField);
}

// An oversize field is cut by Encode to the bound (documented as "bounded");
// the record stays decodable.
TEST(Records, OversizeFieldEncodesDecodably) {
  AuditEntry e;
  e.detail = std::string(kMaxField + 10, 'd');
  e.action = "after";
  AuditEntry out;
  Status s = Decode(Encode(e), "audit", &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out.detail.size(), kMaxField);
  EXPECT_EQ(out.action, "after");
}

std::string QueueHeader(uint64_t count) {
  std::string s;
  U8(&s, 1);
  Str(&s, "QID");
  Str(&s, "alice");
  U64(&s, 1'790'000'000);
  U64(&s, count);
  return s;
}

TEST(Records, RecipientCountOverLimit) {
  for (uint64_t n : {kMaxRecipients + 1, uint64_t{1} << 32, UINT64_MAX}) {
    QueueEntry out;
    Status st = Decode(QueueHeader(n), "queue/QID", &out);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << n;
    EXPECT_NE(st.message().find("recipient count"), std::string::npos) << st.message();
  }
}

TEST(Records, RecipientCountLargerThanData) {
  std::string s = QueueHeader(3);
  Str(&s, "a@example.com");
  QueueEntry out;
  EXPECT_EQ(Decode(s, "queue/QID", &out).code(), Status::Code::kCorruption);
  // The largest allowed count with no data behind it.
  EXPECT_EQ(Decode(QueueHeader(kMaxRecipients), "queue/QID", &out).code(),
            Status::Code::kCorruption);
}

TEST(Records, RecipientCountAtLimit) {
  std::string s = QueueHeader(kMaxRecipients);
  for (uint64_t i = 0; i < kMaxRecipients; ++i) Str(&s, "");
  QueueEntry out;
  ASSERT_TRUE(Decode(s, "queue/QID", &out).ok());
  EXPECT_EQ(out.recipients.size(), kMaxRecipients);
}

// ---------------------------------------------------- account fields

std::string AccountBytes(uint8_t status, uint8_t dry) {
  std::string s;
  U8(&s, 1);
  Str(&s, "alice");
  for (int i = 0; i < 4; ++i) U64(&s, kInheritLimit);
  U8(&s, status);
  Str(&s, "reason");
  Str(&s, "actor");
  U64(&s, 10);
  U64(&s, 20);
  U8(&s, dry);
  U64(&s, 30);
  return s;
}

TEST(Records, HandBuiltAccountDecodes) {
  AccountRecord a;
  ASSERT_TRUE(Decode(AccountBytes(1, 0), "accounts/alice", &a).ok());
  EXPECT_EQ(a.name, "alice");
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.status_reason, "reason");
  EXPECT_EQ(a.status_since, 10);
  EXPECT_EQ(a.reinstated_until, 20);
  EXPECT_FALSE(a.dry_run);
  EXPECT_EQ(a.created, 30);
  // Re-encoded as version 3: the v1 bytes after the version byte, then the v2 and v3 defaults.
  const std::string v3 = Encode(a);
  EXPECT_EQ(v3[0], 3);
  EXPECT_EQ(v3.substr(1, AccountBytes(1, 0).size() - 1), AccountBytes(1, 0).substr(1));
}

TEST(Records, UnknownAccountStatus) {
  for (uint8_t st : {3, 4, 255}) {
    AccountRecord a;
    Status s = Decode(AccountBytes(st, 0), "accounts/alice", &a);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << int(st);
    EXPECT_NE(s.message().find("status"), std::string::npos) << s.message();
  }
}

TEST(Records, BadDryRunFlag) {
  for (uint8_t d : {2, 255}) {
    AccountRecord a;
    EXPECT_EQ(Decode(AccountBytes(0, d), "accounts/alice", &a).code(), Status::Code::kCorruption)
        << int(d);
  }
}

TEST(Records, StatusNames) {
  EXPECT_EQ(AccountStatusName(AccountStatus::kActive), "active");
  EXPECT_EQ(AccountStatusName(AccountStatus::kSuspended), "suspended");
  EXPECT_EQ(AccountStatusName(AccountStatus::kReinstated), "reinstated");
}

// ----------------------------------------------------- big-endian keys

TEST(Records, Be64RoundTripAndOrder) {
  const std::vector<uint64_t> values = {0, 1, 255, 256, 0x0102030405060708ull,
                                        uint64_t{1} << 63, UINT64_MAX};
  std::string prev;
  for (uint64_t v : values) {
    std::string k;
    PutBe64(&k, v);
    ASSERT_EQ(k.size(), 8u);
    EXPECT_EQ(GetBe64(k), v);
    if (!prev.empty()) {
      EXPECT_LT(std::memcmp(prev.data(), k.data(), 8), 0) << v;  // memcmp order = numeric
    }
    prev = k;
  }
  std::string k;
  PutBe64(&k, 0x0102030405060708ull);
  EXPECT_EQ(k, "\x01\x02\x03\x04\x05\x06\x07\x08"s);
}


// ------------------------------------------- records of an older schema

// Version 1 of an account or queue entry (written before reputation and
// Message-IDs) is the version 2 encoding's prefix; it decodes with defaults.
TEST(RecordVersions, AccountV1DecodesWithDefaults) {
  AccountRecord v1 = SampleAccount();
  v1.tier = 1;
  v1.clean_days = 0;
  v1.rated_through = 0;
  v1.rates_since = 0;
  v1.domains_only = false;
  v1.domains.clear();
  std::string bytes = Encode(v1);
  // v2 appends tier(1) clean(8) rated(8) since(8) only(1) count(8); v3 suspended_until(8).
  bytes.resize(bytes.size() - 42);
  bytes[0] = 1;
  AccountRecord out;
  ASSERT_TRUE(Decode(bytes, "a", &out).ok());
  EXPECT_TRUE(Same(out, v1));
  EXPECT_EQ(out.tier, 1);
}

// Version 2 (before timed suspensions) is the version 3 encoding without
// its last field: it decodes as suspended until reinstated.
TEST(RecordVersions, AccountV2DecodesWithDefaults) {
  AccountRecord v2 = SampleAccount();
  v2.status = AccountStatus::kSuspended;
  std::string bytes = Encode(v2);
  bytes.resize(bytes.size() - 8);
  bytes[0] = 2;
  AccountRecord out;
  ASSERT_TRUE(Decode(bytes, "a", &out).ok());
  EXPECT_TRUE(Same(out, v2));
  EXPECT_EQ(out.suspended_until, 0);
  EXPECT_EQ(out.domains, v2.domains);
}

TEST(RecordVersions, NegativeSuspensionEndIsCorruption) {
  AccountRecord a = SampleAccount();
  a.suspended_until = -1;
  AccountRecord out;
  Status s = Decode(Encode(a), "a", &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("suspension end"), std::string::npos) << s.message();
}

TEST(RecordVersions, QueueV1DecodesWithDefaults) {
  QueueEntry v1 = SampleQueue();
  v1.message_id.clear();
  v1.last_event = 0;
  v1.forwarded = false;
  std::string bytes = Encode(v1);
  bytes.resize(bytes.size() - 13);  // message_id(4+0) last_event(8) forwarded(1)
  bytes[0] = 1;
  QueueEntry out;
  ASSERT_TRUE(Decode(bytes, "q", &out).ok());
  EXPECT_TRUE(Same(out, v1));
}

// Version 1 of a day's counts (before the milter's figures): the seven
// counts as they were, quota_used, refused and tier 0; rewritten as v2.
TEST(RecordVersions, DayCountsV1DecodesWithZeros) {
  std::string bytes;
  U8(&bytes, 1);
  for (uint64_t v : {1ull, 2ull, 3ull, 4ull, 5ull, 6ull, 0xffffffffffffffffull}) U64(&bytes, v);
  DayCountsRecord out;
  out.quota_used = 9;  // overwritten
  out.tier = 9;
  ASSERT_TRUE(Decode(bytes, "d", &out).ok());
  DayCountsRecord want{1, 2, 3, 4, 5, 6, UINT64_MAX};
  EXPECT_TRUE(Same(out, want));
  const std::string v2 = Encode(out);
  EXPECT_EQ(v2[0], 2);
  EXPECT_EQ(v2.size(), bytes.size() + 17);  // quota_used, refused (8 each), tier (1)
  EXPECT_EQ(v2.substr(1, bytes.size() - 1), bytes.substr(1)) << "the counts keep their places";
  // A v1 record with the v2 fields after it is corruption (trailing bytes).
  std::string long_v1 = v2;
  long_v1[0] = 1;
  EXPECT_EQ(Decode(long_v1, "d", &out).code(), Status::Code::kCorruption);
}

TEST(RecordVersions, BadV2FieldsAreCorruption) {
  AccountRecord a = SampleAccount();
  a.tier = 9;
  AccountRecord out;
  EXPECT_EQ(Decode(Encode(a), "a", &out).code(), Status::Code::kCorruption);
  QueueEntry q = SampleQueue();
  std::string bytes = Encode(q);
  bytes.back() = 2;  // forwarded flag
  QueueEntry qo;
  EXPECT_EQ(Decode(bytes, "q", &qo).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace senderguard
