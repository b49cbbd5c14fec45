// Fuzz target: the bounce classifier (BounceRules::Classify and Explain with
// the shipped conf/bounce-rules.conf), ServerText, BasicReplyCode and
// UnfoldReply on arbitrary reply texts and enhanced codes. The reply text is
// written by whatever server the mail went to, so it is the classifier's
// untrusted input. Besides crashes and sanitizer reports, it checks what
// bounce.h promises:
//   - Explain's result is exactly what Classify returns, and a second call
//     gives the same (no state between calls);
//   - the status word decides what it says it decides: "sent" is delivered
//     with no category, a deferral is deferred, an expiry expired, a bounce
//     hard, soft or technical;
//   - a hard verdict needs a permanent reply: a bounce whose server reply
//     starts with a 4yz code is never hard;
//   - `rule` is set exactly when a text rule decided;
//   - ServerText and BasicReplyCode return views into the reply;
//   - UnfoldReply only removes bytes and keeps the first line's reply code.
// The rules file's path is compiled in (SG_BOUNCE_RULES).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/feedback/bounce.h"

namespace {

using senderguard::BounceCategory;
using senderguard::BounceRules;
using senderguard::Classification;
using senderguard::ClassifiedBy;
using senderguard::OutcomeClass;

void Check(bool ok, const char* what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_bounce: invariant broken: %s [%.*s]\n", what,
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

bool Inside(std::string_view v, std::string_view in) {
  return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size());
}

bool Same(const Classification& a, const Classification& b) {
  return a.cls == b.cls && a.category == b.category && a.rule == b.rule && a.by == b.by;
}

const BounceRules& Rules() {
  static const BounceRules* rules = [] {
    auto r = BounceRules::Load(SG_BOUNCE_RULES);
    if (!r.ok()) {
      std::fprintf(stderr, "fuzz_bounce: %s\n", r.status().message().c_str());
      std::abort();
    }
    return new BounceRules(std::move(r.value()));
  }();
  return *rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const BounceRules& rules = Rules();
  FuzzedDataProvider fdp(data, size);
  static const char* const kStatus[] = {"bounced", "deferred", "expired", "sent",
                                        "SOFTBOUNCE", "undeliverable"};
  const std::string status = kStatus[fdp.ConsumeIntegralInRange<size_t>(0, 5)];
  // A well-formed code most of the time, any bytes otherwise.
  std::string dsn;
  if (fdp.ConsumeBool()) {
    dsn = fdp.ConsumeRandomLengthString(12);
  } else {
    dsn = std::to_string(fdp.ConsumeIntegralInRange<int>(2, 5)) + "." +
          std::to_string(fdp.ConsumeIntegralInRange<int>(0, 7)) + "." +
          std::to_string(fdp.ConsumeIntegralInRange<int>(0, 30));
  }
  const std::string reply = fdp.ConsumeRemainingBytesAsString();

  const Classification c = rules.Classify(status, dsn, reply);
  Check(Same(c, rules.Classify(status, dsn, reply)), "Classify is not deterministic", reply);
  const BounceRules::Explanation e = rules.Explain(status, dsn, reply);
  Check(Same(c, e.result), "Explain differs from Classify", reply);
  Check(e.server_text.size() <= senderguard::kMaxClassifiedReply, "server text over the cap",
        e.server_text);

  Check((c.rule >= 0) == (c.by == ClassifiedBy::kTextRule), "rule index without a text rule",
        reply);
  Check(c.rule < static_cast<int>(rules.size()), "rule index out of range", reply);
  if (status == "sent") {
    Check(c.cls == OutcomeClass::kDelivered && c.category == BounceCategory::kNone,
          "sent is delivered", reply);
  } else if (status == "deferred" || status == "SOFTBOUNCE" || status == "undeliverable") {
    Check(c.cls == OutcomeClass::kDeferred, "a deferral is deferred", reply);
  } else if (status == "expired") {
    Check(c.cls == OutcomeClass::kExpired, "an expiry is expired", reply);
  } else {
    Check(c.cls == OutcomeClass::kHard || c.cls == OutcomeClass::kSoft ||
              c.cls == OutcomeClass::kTechnical,
          "a bounce is hard, soft or technical", reply);
    Check(c.category != BounceCategory::kNone, "a bounce has a category", reply);
  }

  const std::string_view server = senderguard::ServerText(reply);
  Check(Inside(server, reply), "ServerText outside the reply", reply);
  const std::string_view code = senderguard::BasicReplyCode(reply);
  Check(Inside(code, reply), "BasicReplyCode outside the reply", reply);
  Check(code.empty() || code.size() == 3, "reply code of three digits", code);
  if (status == "bounced" && !code.empty() && code[0] == '4') {
    Check(c.cls != OutcomeClass::kHard, "hard on a 4yz reply", reply);
  }

  std::string unfolded;
  if (senderguard::UnfoldReply(server, &unfolded)) {
    Check(unfolded.size() <= server.size(), "UnfoldReply added bytes", server);
    Check(senderguard::BasicReplyCode(unfolded) == senderguard::BasicReplyCode(server),
          "UnfoldReply changed the reply code", server);
  }
  return 0;
}
