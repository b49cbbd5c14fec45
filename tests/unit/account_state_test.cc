// Tests for account_state.h: effective state at a time, suspend/reinstate
// transitions and duration parsing.
#include "senderguard/decide/account_state.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

constexpr int64_t kT0 = 1'790'000'000;  // 2026-09-21

AccountRecord Account(AccountStatus st, int64_t until = 0) {
  AccountRecord a;
  a.name = "alice";
  a.status = st;
  a.reinstated_until = until;
  return a;
}

// ---------------------------------------------------------- EffectiveAt

struct EffectiveCase {
  const char* name;
  AccountStatus stored;
  int64_t until;
  int64_t now;
  AccountStatus want_status;
  bool want_may_send;
  bool want_expired;
};

std::ostream& operator<<(std::ostream& o, const EffectiveCase& c) { return o << c.name; }

const std::vector<EffectiveCase> kEffectiveCases = {
    {"active", AccountStatus::kActive, 0, kT0, AccountStatus::kActive, true, false},
    {"active_ignores_until", AccountStatus::kActive, kT0 - 10, kT0, AccountStatus::kActive, true,
     false},
    {"suspended", AccountStatus::kSuspended, 0, kT0, AccountStatus::kSuspended, false, false},
    {"suspended_ignores_until", AccountStatus::kSuspended, kT0 + 100, kT0,
     AccountStatus::kSuspended, false, false},
    {"reinstated_before_until", AccountStatus::kReinstated, kT0 + 3600, kT0,
     AccountStatus::kReinstated, true, false},
    {"reinstated_one_second_before", AccountStatus::kReinstated, kT0 + 1, kT0,
     AccountStatus::kReinstated, true, false},
    {"reinstated_at_until", AccountStatus::kReinstated, kT0, kT0, AccountStatus::kSuspended,
     false, true},
    {"reinstated_after_until", AccountStatus::kReinstated, kT0 - 1, kT0,
     AccountStatus::kSuspended, false, true},
    {"reinstated_long_after", AccountStatus::kReinstated, 0, kT0, AccountStatus::kSuspended,
     false, true},
    {"reinstated_far_future", AccountStatus::kReinstated, std::numeric_limits<int64_t>::max(),
     kT0, AccountStatus::kReinstated, true, false},
};

class EffectiveAtTest : public ::testing::TestWithParam<EffectiveCase> {};

TEST_P(EffectiveAtTest, Table) {
  const EffectiveCase& c = GetParam();
  const EffectiveState e = EffectiveAt(Account(c.stored, c.until), c.now);
  EXPECT_EQ(e.status, c.want_status);
  EXPECT_EQ(e.may_send, c.want_may_send);
  EXPECT_EQ(e.reinstatement_expired, c.want_expired);
}

INSTANTIATE_TEST_SUITE_P(Cases, EffectiveAtTest, ::testing::ValuesIn(kEffectiveCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------- transitions

TEST(Suspend, FromActive) {
  AccountRecord a = Account(AccountStatus::kActive);
  Suspend(&a, "spam complaints", "ops (uid 1000)", kT0);
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.status_reason, "spam complaints");
  EXPECT_EQ(a.status_actor, "ops (uid 1000)");
  EXPECT_EQ(a.status_since, kT0);
  EXPECT_EQ(a.reinstated_until, 0);
  EXPECT_FALSE(EffectiveAt(a, kT0).may_send);
}

TEST(Suspend, AgainReplacesReason) {
  AccountRecord a = Account(AccountStatus::kActive);
  Suspend(&a, "first", "ops", kT0);
  Suspend(&a, "second", "bob", kT0 + 5);
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.status_reason, "second");
  EXPECT_EQ(a.status_actor, "bob");
  EXPECT_EQ(a.status_since, kT0 + 5);
}

TEST(Suspend, ReinstatedClearsUntil) {
  AccountRecord a = Account(AccountStatus::kReinstated, kT0 + 3600);
  Suspend(&a, "again", "ops", kT0);
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.reinstated_until, 0);
  EXPECT_FALSE(EffectiveAt(a, kT0 + 1).may_send);
}

TEST(Suspend, HostileReasonKeptVerbatim) {
  AccountRecord a = Account(AccountStatus::kActive);
  const std::string reason = "a\nqueue_id=X \0 \xff"s;
  Suspend(&a, reason, "", kT0);
  EXPECT_EQ(a.status_reason, reason);
}

TEST(Reinstate, ActiveIsInvalid) {
  AccountRecord a = Account(AccountStatus::kActive);
  const AccountRecord before = a;
  Status s = Reinstate(&a, "ops", kT0, std::nullopt);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("alice"), std::string::npos) << s.message();
  EXPECT_EQ(a.status, before.status);
  EXPECT_EQ(a.status_actor, before.status_actor);
  Status s2 = Reinstate(&a, "ops", kT0, 3600);
  EXPECT_EQ(s2.code(), Status::Code::kInvalid);
}

TEST(Reinstate, NonPositiveDurationIsInvalidAndChangesNothing) {
  for (int64_t d : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    AccountRecord a = Account(AccountStatus::kActive);
    Suspend(&a, "why", "ops", kT0);
    Status s = Reinstate(&a, "bob", kT0 + 10, d);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << d;
    EXPECT_EQ(a.status, AccountStatus::kSuspended) << d;
    EXPECT_EQ(a.status_actor, "ops") << d;
    EXPECT_EQ(a.status_since, kT0) << d;
  }
}

// Reinstate takes any positive duration (not only ParseDuration's ten
// years; account_state.h: Invalid only for an active account or a duration
// <= 0): a huge one must not overflow now + duration into the past. It is
// accepted, and the end saturates at the largest time.
TEST(Reinstate, HugeDurationSaturatesInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const struct {
    int64_t duration;
    int64_t until;
  } cases[] = {
      {kMax - kT0 - 1, kMax - 1},  // fits, one second short of the end
      {kMax - kT0, kMax},          // fits exactly
      {kMax - kT0 + 1, kMax},      // one past: saturates
      {kMax, kMax},
  };
  for (const auto& c : cases) {
    AccountRecord a = Account(AccountStatus::kActive);
    Suspend(&a, "why", "ops", kT0);
    Status s = Reinstate(&a, "bob", kT0, c.duration);
    ASSERT_TRUE(s.ok()) << c.duration << ": " << s.message();
    EXPECT_EQ(a.status, AccountStatus::kReinstated) << c.duration;
    EXPECT_EQ(a.reinstated_until, c.until) << c.duration;
    EXPECT_EQ(a.status_since, kT0) << c.duration;
    EXPECT_EQ(a.status_actor, "bob") << c.duration;
    EXPECT_TRUE(EffectiveAt(a, kT0 + 1).may_send) << c.duration;
    EXPECT_TRUE(EffectiveAt(a, c.until - 1).may_send) << c.duration;
    EXPECT_FALSE(EffectiveAt(a, c.until).may_send) << c.duration;
  }
}

TEST(Reinstate, ForADurationThenExpiryReadsSuspended) {
  AccountRecord a = Account(AccountStatus::kActive);
  Suspend(&a, "complaints", "ops", kT0);
  ASSERT_TRUE(Reinstate(&a, "bob", kT0 + 100, 3600).ok());
  EXPECT_EQ(a.status, AccountStatus::kReinstated);
  EXPECT_EQ(a.reinstated_until, kT0 + 100 + 3600);
  EXPECT_EQ(a.status_actor, "bob");
  EXPECT_EQ(a.status_since, kT0 + 100);
  EXPECT_EQ(a.status_reason, "complaints");  // kept while reinstated

  EffectiveState during = EffectiveAt(a, kT0 + 100 + 3599);
  EXPECT_EQ(during.status, AccountStatus::kReinstated);
  EXPECT_TRUE(during.may_send);

  EffectiveState after = EffectiveAt(a, kT0 + 100 + 3600);
  EXPECT_EQ(after.status, AccountStatus::kSuspended);
  EXPECT_FALSE(after.may_send);
  EXPECT_TRUE(after.reinstatement_expired);
}

TEST(Reinstate, ReinstatedCanBeExtended) {
  AccountRecord a = Account(AccountStatus::kReinstated, kT0 + 60);
  ASSERT_TRUE(Reinstate(&a, "bob", kT0, 86400).ok());
  EXPECT_EQ(a.status, AccountStatus::kReinstated);
  EXPECT_EQ(a.reinstated_until, kT0 + 86400);
}

TEST(Reinstate, ForGoodClearsReason) {
  AccountRecord a = Account(AccountStatus::kActive);
  Suspend(&a, "complaints", "ops", kT0);
  ASSERT_TRUE(Reinstate(&a, "bob", kT0 + 5, std::nullopt).ok());
  EXPECT_EQ(a.status, AccountStatus::kActive);
  EXPECT_TRUE(a.status_reason.empty());
  EXPECT_EQ(a.reinstated_until, 0);
  EXPECT_EQ(a.status_actor, "bob");
  EXPECT_EQ(a.status_since, kT0 + 5);
  EXPECT_TRUE(EffectiveAt(a, kT0 + 1'000'000'000).may_send);
}

TEST(Reinstate, ExpiredReinstatementForGood) {
  AccountRecord a = Account(AccountStatus::kReinstated, kT0 - 1);
  a.status_reason = "old";
  ASSERT_TRUE(Reinstate(&a, "bob", kT0, std::nullopt).ok());
  EXPECT_EQ(a.status, AccountStatus::kActive);
  EXPECT_TRUE(a.status_reason.empty());
  EXPECT_TRUE(EffectiveAt(a, kT0).may_send);
}

// -------------------------------------------------------- ParseDuration

struct DurationCase {
  const char* name;
  std::string input;
  std::optional<int64_t> want;
};

std::ostream& operator<<(std::ostream& o, const DurationCase& c) { return o << c.name; }

const std::vector<DurationCase> kDurationCases = {
    {"hours", "24h", 86400},
    {"day", "1d", 86400},
    {"minutes", "90m", 5400},
    {"seconds_suffix", "3600s", 3600},
    {"bare_seconds", "3600", 3600},
    {"one_second", "1", 1},
    {"ten_years_days", "3660d", 3660LL * 86400},
    {"ten_years_seconds", std::to_string(10LL * 366 * 86400), 10LL * 366 * 86400},
    // hostile
    {"zero", "0", std::nullopt},
    {"zero_hours", "0h", std::nullopt},
    {"negative", "-1h", std::nullopt},
    {"negative_bare", "-5", std::nullopt},
    {"plus_sign", "+5", std::nullopt},
    {"unit_only", "h", std::nullopt},
    {"empty", "", std::nullopt},
    {"unknown_unit", "1x", std::nullopt},
    {"upper_unit", "1H", std::nullopt},
    {"two_units", "1h30m", std::nullopt},
    {"double_unit", "1hh", std::nullopt},
    {"space", "1 h", std::nullopt},
    {"leading_space", " 1h", std::nullopt},
    {"trailing_space", "1h ", std::nullopt},
    {"fraction", "1.5h", std::nullopt},
    {"hex", "0x10", std::nullopt},
    {"embedded_nul", "1\0h"s, std::nullopt},
    {"trailing_nul", "1h\0"s, std::nullopt},
    {"non_ascii_digit", "\xd9\xa1h", std::nullopt},  // ARABIC-INDIC DIGIT ONE
    {"over_ten_years_days", "3661d", std::nullopt},
    {"over_ten_years_seconds", std::to_string(10LL * 366 * 86400 + 1), std::nullopt},
    {"huge_hours", "9999999999999h", std::nullopt},
    {"int64_max", "9223372036854775807", std::nullopt},
    {"int64_max_days", "9223372036854775807d", std::nullopt},
    {"over_int64", "99999999999999999999999999", std::nullopt},
    {"huge_string", std::string(100000, '9'), std::nullopt},
};

class ParseDurationTest : public ::testing::TestWithParam<DurationCase> {};

TEST_P(ParseDurationTest, Table) {
  const DurationCase& c = GetParam();
  EXPECT_EQ(ParseDuration(c.input), c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseDurationTest, ::testing::ValuesIn(kDurationCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace senderguard
