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

// ------------------------------------------------------ timed suspension

// A timed suspension refuses until its end, then reads active by itself.
struct TimedCase {
  const char* name;
  int64_t until;  // suspended_until (0: for good)
  int64_t now;
  AccountStatus want_status;
  bool want_may_send;
  bool want_expired;
};

std::ostream& operator<<(std::ostream& o, const TimedCase& c) { return o << c.name; }

const std::vector<TimedCase> kTimedCases = {
    {"for_good", 0, kT0, AccountStatus::kSuspended, false, false},
    {"for_good_long_after", 0, std::numeric_limits<int64_t>::max(), AccountStatus::kSuspended,
     false, false},
    {"before_end", kT0 + 3600, kT0, AccountStatus::kSuspended, false, false},
    {"one_second_before_end", kT0 + 1, kT0, AccountStatus::kSuspended, false, false},
    {"at_end", kT0, kT0, AccountStatus::kActive, true, true},
    {"after_end", kT0 - 1, kT0, AccountStatus::kActive, true, true},
    {"far_future_end", std::numeric_limits<int64_t>::max(), kT0, AccountStatus::kSuspended, false,
     false},
    // A negative end never comes from the codec (refused there): read as
    // for good, never as ended.
    {"negative_end", -5, kT0, AccountStatus::kSuspended, false, false},
};

class TimedSuspensionTest : public ::testing::TestWithParam<TimedCase> {};

TEST_P(TimedSuspensionTest, Table) {
  const TimedCase& c = GetParam();
  AccountRecord a = Account(AccountStatus::kSuspended);
  a.suspended_until = c.until;
  const EffectiveState e = EffectiveAt(a, c.now);
  EXPECT_EQ(e.status, c.want_status);
  EXPECT_EQ(e.may_send, c.want_may_send);
  EXPECT_EQ(e.suspension_expired, c.want_expired);
  EXPECT_FALSE(e.reinstatement_expired);
}

INSTANTIATE_TEST_SUITE_P(Cases, TimedSuspensionTest, ::testing::ValuesIn(kTimedCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SuspendFor, RefusesUntilTheEndThenActive) {
  AccountRecord a = Account(AccountStatus::kActive);
  ASSERT_TRUE(SuspendFor(&a, "incident 42", "ops", kT0, 7200).ok());
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.status_reason, "incident 42");
  EXPECT_EQ(a.status_actor, "ops");
  EXPECT_EQ(a.status_since, kT0);
  EXPECT_EQ(a.suspended_until, kT0 + 7200);
  EXPECT_FALSE(EffectiveAt(a, kT0 + 7199).may_send);
  EXPECT_TRUE(EffectiveAt(a, kT0 + 7200).may_send);
}

TEST(SuspendFor, NonPositiveDurationChangesNothing) {
  for (int64_t d : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    AccountRecord a = Account(AccountStatus::kActive);
    Status s = SuspendFor(&a, "why", "ops", kT0, d);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << d;
    EXPECT_EQ(a.status, AccountStatus::kActive) << d;
    EXPECT_EQ(a.suspended_until, 0) << d;
    EXPECT_TRUE(a.status_reason.empty()) << d;
  }
}

TEST(SuspendFor, HugeDurationSaturates) {
  AccountRecord a = Account(AccountStatus::kActive);
  ASSERT_TRUE(SuspendFor(&a, "why", "ops", kT0, std::numeric_limits<int64_t>::max()).ok());
  EXPECT_EQ(a.suspended_until, std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(EffectiveAt(a, kT0 + 1'000'000'000).may_send);
}

TEST(SuspendFor, ReplacesAReinstatement) {
  AccountRecord a = Account(AccountStatus::kReinstated, kT0 + 86400);
  ASSERT_TRUE(SuspendFor(&a, "again", "ops", kT0, 60).ok());
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.reinstated_until, 0);
  EXPECT_EQ(a.suspended_until, kT0 + 60);
  EXPECT_TRUE(EffectiveAt(a, kT0 + 60).may_send);  // not suspended again by the old reinstatement
}

TEST(SuspendFor, SuspendForGoodClearsTheEnd) {
  AccountRecord a = Account(AccountStatus::kActive);
  ASSERT_TRUE(SuspendFor(&a, "first", "ops", kT0, 60).ok());
  Suspend(&a, "for good now", "bob", kT0 + 1);
  EXPECT_EQ(a.suspended_until, 0);
  EXPECT_FALSE(EffectiveAt(a, kT0 + 1'000'000).may_send);
}

TEST(SuspendFor, ReinstateDuringClearsTheEnd) {
  AccountRecord a = Account(AccountStatus::kActive);
  ASSERT_TRUE(SuspendFor(&a, "incident", "ops", kT0, 3600).ok());
  ASSERT_TRUE(Reinstate(&a, "bob", kT0 + 10, std::nullopt).ok());
  EXPECT_EQ(a.status, AccountStatus::kActive);
  EXPECT_EQ(a.suspended_until, 0);
  // Reinstated for a time instead: suspended again when it ends, for good.
  ASSERT_TRUE(SuspendFor(&a, "incident", "ops", kT0 + 20, 3600).ok());
  ASSERT_TRUE(Reinstate(&a, "bob", kT0 + 30, 60).ok());
  EXPECT_EQ(a.suspended_until, 0);
  EXPECT_TRUE(EffectiveAt(a, kT0 + 89).may_send);
  EXPECT_FALSE(EffectiveAt(a, kT0 + 90 + 1'000'000).may_send);
}

TEST(SuspendFor, ReinstateAfterTheEndIsInvalid) {
  AccountRecord a = Account(AccountStatus::kActive);
  ASSERT_TRUE(SuspendFor(&a, "incident", "ops", kT0, 60).ok());
  const AccountRecord before = a;
  Status s = Reinstate(&a, "bob", kT0 + 60, std::nullopt);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_EQ(a.status_actor, before.status_actor);
  EXPECT_EQ(a.suspended_until, before.suspended_until);
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
