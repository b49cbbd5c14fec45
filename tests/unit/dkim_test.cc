// DKIM verification tests: messages signed here with libopendkim
// (tests/tools/dkim_signer.h) under keys generated here with OpenSSL, keys
// published by a real DNS server on loopback (ldns-testns), looked up
// through the real Resolver, verified through Verifier/Message fed the way
// libmilter hands a message over.
#include "senderguard/auth/dkim.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../tools/dkim_signer.h"
#include "test_dns_server.h"

namespace senderguard::dkim {
namespace {

using namespace std::chrono_literals;
using senderguard::test_support::Entry;
using senderguard::test_support::SignMessage;
using senderguard::test_support::SignOptions;
using senderguard::test_support::SilentServer;
using senderguard::test_support::Split;
using senderguard::test_support::TestDnsServer;
using senderguard::test_support::ToCrlf;

// ---------------------------------------------------------------------------
// Keys.

struct TestKey {
  std::string private_pem;
  std::string public_b64;  // p= (SubjectPublicKeyInfo for RSA, raw key for Ed25519)
};

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string PrivatePem(EVP_PKEY* key) {
  BIO* mem = BIO_new(BIO_s_mem());
  std::string pem;
  if (mem != nullptr &&
      PEM_write_bio_PrivateKey(mem, key, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* p = nullptr;
    const long n = BIO_get_mem_data(mem, &p);
    pem.assign(p, static_cast<size_t>(n));
  }
  BIO_free(mem);
  return pem;
}

TestKey MakeRsaKey(unsigned bits) {
  TestKey k;
  EVP_PKEY* key = EVP_RSA_gen(bits);
  if (key == nullptr) return k;
  k.private_pem = PrivatePem(key);
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n > 0) k.public_b64 = Base64(der, static_cast<size_t>(n));
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return k;
}

TestKey MakeEd25519Key() {
  TestKey k;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return k;
  k.private_pem = PrivatePem(key);
  unsigned char raw[32];
  size_t n = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &n) == 1) k.public_b64 = Base64(raw, n);
  EVP_PKEY_free(key);
  return k;
}

// SignMessage in a child process. libopendkim 2.11 leaks the private key
// it loads for an Ed25519 signature (dkim_privkey_load: the EVP_PKEY is never
// freed; its signing path only, which the verifier never takes); signing in
// a child that ends with _exit keeps that leak out of the sanitizer builds.
// Call before any thread starts.
bool SignInChild(const SignOptions& o, const std::string& message, std::string* field) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    close(fds[0]);
    std::string out, error;
    const bool ok = SignMessage(o, message, &out, &error);
    const std::string reply = ok ? out : "";
    const char* p = reply.data();
    size_t left = reply.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    _exit(ok && left == 0 ? 0 : 1);
  }
  close(fds[1]);
  field->clear();
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) field->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && !field->empty();
}

// A TXT RR holding `text`, written as 255-byte character-strings.
std::string TxtRr(const std::string& owner, const std::string& text) {
  std::string rr = owner + " 300 IN TXT";
  for (size_t i = 0; i < text.size() || i == 0; i += 255) {
    rr += " \"" + text.substr(i, 255) + "\"";
  }
  return rr + "\n";
}

const std::string kSoa =
    "example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300\n";

// ---------------------------------------------------------------------------
// Messages.

const std::string kMessage =
    "From: Alice <alice@example.test>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: Quarterly report\r\n"
    "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <m1@example.test>\r\n"
    "X-Mailer: test\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "the report is attached.   \r\n"
    "\r\n"
    "\r\n";

// Folded fields, tabs, runs of spaces: "simple" must see them byte for byte.
const std::string kFolded =
    "From: Alice <alice@example.test>\r\n"
    "To: Bob <bob@example.org>,\r\n"
    "\tCarol <carol@example.org>,\r\n"
    "  Dave <dave@example.org>\r\n"
    "Subject:  A subject\r\n"
    " folded  over\r\n"
    "\tthree lines\r\n"
    "Date:\tWed, 25 Nov 2026 10:00:00 +0000\r\n"
    "\r\n"
    "Body\twith tabs  and spaces \r\n";

// How a test hands the message to Message.
struct Feed {
  std::string fold = "\n";               // between folded lines (libmilter: "\n")
  bool leading_space = true;             // SMFIP_HDR_LEADSPC: the value as received
  size_t chunk = 0;                      // body chunk size; 0: one chunk
  bool bare_lf_body = false;             // body with LF line ends
  std::vector<std::string> skip_fields;  // names of fields not handed over
};

Verification FeedMessage(const Verifier& verifier, const std::string& message,
                         const Feed& feed = {}) {
  const test_support::SplitMessage m = Split(ToCrlf(message));
  std::unique_ptr<Message> msg = verifier.Begin();
  for (const std::string& field : m.fields) {
    const size_t colon = field.find(':');
    const std::string name = field.substr(0, colon);
    bool skip = false;
    for (const std::string& s : feed.skip_fields) skip = skip || s == name;
    if (skip) continue;
    std::string value = colon == std::string::npos ? "" : field.substr(colon + 1);
    if (!feed.leading_space) {
      while (!value.empty() && (value[0] == ' ' || value[0] == '\t')) value.erase(0, 1);
    }
    std::string folded;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value.compare(i, 2, "\r\n") == 0) {
        folded += feed.fold;
        ++i;
      } else {
        folded += value[i];
      }
    }
    msg->Header(name, folded);
  }
  msg->EndOfHeaders();
  std::string body = m.body;
  if (feed.bare_lf_body) body = test_support::ToLf(body);
  if (feed.chunk == 0) {
    msg->Body(body);
  } else {
    for (size_t i = 0; i < body.size(); i += feed.chunk) msg->Body(body.substr(i, feed.chunk));
  }
  return msg->Finish();
}

std::vector<SigResult> Results(const Verification& v) {
  std::vector<SigResult> r;
  for (const Signature& s : v.signatures) r.push_back(s.result);
  return r;
}

std::string Describe(const Verification& v) {
  std::string s = "signed=" + std::to_string(v.signed_message) + " error=\"" + v.error + "\"";
  for (const Signature& sig : v.signatures) {
    s += "\n  d=" + sig.domain + " s=" + sig.selector + " a=" + sig.algorithm + " " +
         std::string(SigResultName(sig.result)) + " (" + sig.reason +
         ") bits=" + std::to_string(sig.key_bits);
  }
  return s;
}

// ---------------------------------------------------------------------------
// The fixture: keys, zone, DNS server, resolver and verifier, shared by the
// suite (key generation and server start are the slow parts).

class DkimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new std::map<std::string, TestKey>();
    (*keys_)["rsa1024"] = MakeRsaKey(1024);
    (*keys_)["rsa2048"] = MakeRsaKey(2048);
    (*keys_)["rsa512"] = MakeRsaKey(512);
    (*keys_)["ed25519"] = MakeEd25519Key();
    const TestKey& k1024 = (*keys_)["rsa1024"];
    const std::string rsa1024 = "v=DKIM1; k=rsa; p=" + k1024.public_b64;
    const std::string d = "._domainkey.example.test.";
    std::string z;
    auto txt = [&](const std::string& sel, const std::string& text) {
      z += Entry(sel + d, "TXT", "NOERROR", TxtRr(sel + d, text));
    };
    txt("rsa1024", rsa1024);
    txt("rsa2048", "v=DKIM1; k=rsa; p=" + (*keys_)["rsa2048"].public_b64);  // > 255 bytes
    txt("small", "v=DKIM1; k=rsa; p=" + (*keys_)["rsa512"].public_b64);
    txt("ed", "v=DKIM1; k=ed25519; p=" + (*keys_)["ed25519"].public_b64);
    txt("testing", "v=DKIM1; k=rsa; t=y; p=" + k1024.public_b64);
    txt("garbage", "v=DKIM1; k=rsa; p=@@@not*base64@@@");
    txt("notakey", "this is not a key record");
    txt("revoked", "v=DKIM1; k=rsa; p=");
    txt("wrongtype", "v=DKIM1; k=dsa; p=" + k1024.public_b64);
    txt("sha1only", "v=DKIM1; k=rsa; h=sha1; p=" + k1024.public_b64);
    z += Entry("multi" + d, "TXT", "NOERROR",
               TxtRr("multi" + d, rsa1024) + TxtRr("multi" + d, rsa1024));
    z += Entry("alias" + d, "TXT", "NOERROR",
               "alias" + d + " 300 IN CNAME rsa1024" + d + "\n" + TxtRr("rsa1024" + d, rsa1024));
    z += Entry("nx" + d, "TXT", "NXDOMAIN", "", kSoa);
    z += Entry("nodata" + d, "TXT", "NOERROR", "", kSoa);
    z += Entry("servfail" + d, "TXT", "SERVFAIL", "");
    // A second signing domain, same key.
    z += Entry("rsa1024._domainkey.other.test.", "TXT", "NOERROR",
               TxtRr("rsa1024._domainkey.other.test.", rsa1024));
    server_ = new TestDnsServer(z);
    if (!server_->ok()) return;
    // Before the resolver starts its threads (SignInChild forks).
    ed_signed_ = new std::string();
    {
      SignOptions so;
      so.domain = "example.test";
      so.selector = "ed";
      so.algorithm = DKIM_SIGN_ED25519SHA256;
      so.private_key_pem = (*keys_)["ed25519"].private_pem;
      std::string field;
      if (SignInChild(so, kMessage, &field)) {
        *ed_signed_ = field + "\r\n" + kMessage;
      } else {
        ADD_FAILURE() << "Ed25519 signing failed";
      }
    }
    dns::ResolverOptions o;
    o.upstreams = {server_->upstream()};
    o.forward_test_tld = true;
    o.timeout = 3000ms;
    auto r = dns::Resolver::Create(o);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return;
    }
    resolver_ = r.value().release();
    auto v = Verifier::Create(resolver_);
    if (!v.ok()) {
      ADD_FAILURE() << v.status().ToString();
      return;
    }
    verifier_ = v.value().release();
  }
  static void TearDownTestSuite() {
    delete verifier_;
    delete resolver_;
    delete server_;
    delete keys_;
    delete ed_signed_;
    ed_signed_ = nullptr;
    verifier_ = nullptr;
    resolver_ = nullptr;
    server_ = nullptr;
    keys_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(verifier_, nullptr);
    ASSERT_FALSE(ed_signed_->empty());
    for (const auto& [name, key] : *keys_) {
      ASSERT_FALSE(key.private_pem.empty()) << name;
      ASSERT_FALSE(key.public_b64.empty()) << name;
    }
  }

  // `message` with a DKIM-Signature field prepended, signed by the key that
  // `selector` publishes (selectors without a key of their own sign with
  // the 1024-bit key).
  static std::string Sign(const std::string& message, const std::string& selector,
                          bool relaxed = true, const std::string& domain = "example.test",
                          dkim_alg_t alg = DKIM_SIGN_RSASHA256) {
    SignOptions o;
    o.domain = domain;
    o.selector = selector;
    o.relaxed = relaxed;
    o.algorithm = alg;
    std::string key = "rsa1024";
    if (selector == "rsa2048") key = "rsa2048";
    if (selector == "small") key = "rsa512";
    if (selector == "ed") key = "ed25519";
    o.private_key_pem = (*keys_)[key].private_pem;
    o.min_key_bits = 512;
    std::string field, error;
    if (!SignMessage(o, message, &field, &error)) {
      ADD_FAILURE() << "signing failed: " << error;
      return message;
    }
    return field + "\r\n" + ToCrlf(message);
  }

  static Verification Verify(const std::string& message, const Feed& feed = {}) {
    return FeedMessage(*verifier_, message, feed);
  }

  static std::map<std::string, TestKey>* keys_;
  static std::string* ed_signed_;  // kMessage signed with ed25519-sha256
  static TestDnsServer* server_;
  static dns::Resolver* resolver_;
  static Verifier* verifier_;
};

std::map<std::string, TestKey>* DkimTest::keys_ = nullptr;
std::string* DkimTest::ed_signed_ = nullptr;
TestDnsServer* DkimTest::server_ = nullptr;
dns::Resolver* DkimTest::resolver_ = nullptr;
Verifier* DkimTest::verifier_ = nullptr;

// Replaces the first `from` in `s` by `to`.
std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// ---------------------------------------------------------------------------
// The table.

struct Case {
  std::string name;
  std::string message;
  Feed feed;
  std::vector<SigResult> want;
  std::string reason;  // expected in the first signature's reason ("" = any)
};

TEST_F(DkimTest, Table) {
  using R = SigResult;
  const std::string good = Sign(kMessage, "rsa1024");
  Feed crlf_fold;
  crlf_fold.fold = "\r\n";
  Feed one_byte;
  one_byte.chunk = 1;
  Feed seven;
  seven.chunk = 7;
  Feed bare_lf;
  bare_lf.bare_lf_body = true;
  Feed bare_lf_chunks;
  bare_lf_chunks.bare_lf_body = true;
  bare_lf_chunks.chunk = 3;
  Feed no_leadspc;
  no_leadspc.leading_space = false;
  Feed no_from;
  no_from.skip_fields = {"From"};

  // Two well-formed signatures whose key names are too long or invalid.
  const std::string long_selector(240, 'x');
  const std::string too_long =
      Replace(Sign(kMessage, "rsa1024"), "s=rsa1024", "s=" + long_selector);
  const std::string bad_name = Replace(Sign(kMessage, "rsa1024"), "s=rsa1024", "s=a..b");

  const std::vector<Case> cases = {
      {"relaxed/relaxed 2048-bit key (TXT in 255-byte strings)",
       Sign(kMessage, "rsa2048"),
       {},
       {R::kPass},
       ""},
      {"simple/simple", Sign(kMessage, "rsa1024", false), {}, {R::kPass}, ""},
      {"folded fields, relaxed", Sign(kFolded, "rsa1024"), {}, {R::kPass}, ""},
      {"folded fields, simple", Sign(kFolded, "rsa1024", false), {}, {R::kPass}, ""},
      {"folded fields joined with CRLF, simple",
       Sign(kFolded, "rsa1024", false),
       crlf_fold,
       {R::kPass},
       ""},
      {"body in 1-byte chunks", Sign(kFolded, "rsa1024", false), one_byte, {R::kPass}, ""},
      {"body in 7-byte chunks", Sign(kMessage, "rsa1024", false), seven, {R::kPass}, ""},
      {"bare LF body", Sign(kMessage, "rsa1024", false), bare_lf, {R::kPass}, ""},
      {"bare LF body in 3-byte chunks",
       Sign(kFolded, "rsa1024", false),
       bare_lf_chunks,
       {R::kPass},
       ""},
      {"key through a CNAME", Sign(kMessage, "alias"), {}, {R::kPass}, ""},
      {"ed25519-sha256 (RFC 8463)", *ed_signed_, {}, {R::kPass}, ""},
      {"ed25519-sha256, body tampered",
       *ed_signed_ + "x\r\n",
       {},
       {R::kFail},
       "body hash mismatch"},
      {"unsigned field added after signing",
       Replace(good, "X-Mailer: test", "X-Mailer: test\r\nX-Added: 1"),
       {},
       {R::kPass},
       ""},
      {"non-ASCII subject",
       Sign(Replace(kMessage, "Quarterly report", "Rapport trimestriel \xc3\xa9t\xc3\xa9"),
            "rsa1024"),
       {},
       {R::kPass},
       ""},

      {"100 KB Subject, simple",
       Sign(Replace(kMessage, "Quarterly report", std::string(100000, 's')), "rsa1024", false),
       {},
       {R::kPass},
       ""},

      {"body tampered", good + "P.S. added later\r\n", {}, {R::kFail}, "body hash mismatch"},
      {"body tampered, simple",
       Sign(kMessage, "rsa1024", false) + "more\r\n",
       {},
       {R::kFail},
       "body hash mismatch"},
      {"signed header tampered",
       Replace(good, "Quarterly report", "Quarterly rep0rt"),
       {},
       {R::kFail},
       "signature verification failed"},
      {"signed From replaced",
       Replace(good, "alice@example.test", "mallory@example.test"),
       {},
       {R::kFail},
       "signature verification failed"},
      {"leading space dropped, simple (needs SMFIP_HDR_LEADSPC)",
       Sign(kFolded, "rsa1024", false),
       no_leadspc,
       {R::kFail},
       "signature verification failed"},
      {"leading space dropped, relaxed",
       Sign(kFolded, "rsa1024", true),
       no_leadspc,
       {R::kPass},
       ""},

      {"key NXDOMAIN", Sign(kMessage, "nx"), {}, {R::kPermError}, "key not found (nxdomain)"},
      {"key NODATA",
       Sign(kMessage, "nodata"),
       {},
       {R::kPermError},
       "key not found (no TXT record)"},
      {"key SERVFAIL", Sign(kMessage, "servfail"), {}, {R::kTempError}, "key lookup failed"},
      {"key not base64", Sign(kMessage, "garbage"), {}, {R::kPermError}, ""},
      {"key record not a tag list",
       Sign(kMessage, "notakey"),
       {},
       {R::kPermError},
       "key record malformed"},
      {"key revoked (p= empty)", Sign(kMessage, "revoked"), {}, {R::kPermError}, "key revoked"},
      {"key type unknown", Sign(kMessage, "wrongtype"), {}, {R::kPermError}, "unknown key type"},
      {"key for sha1 only, signature sha256",
       Sign(kMessage, "sha1only"),
       {},
       {R::kPermError},
       "signature-key hash mismatch"},
      {"two key records", Sign(kMessage, "multi"), {}, {R::kPermError}, "several key records"},
      {"512-bit key (RFC 8301)", Sign(kMessage, "small"), {}, {R::kPolicy}, "key too small"},
      {"rsa-sha1 (RFC 8301)",
       Sign(kMessage, "rsa1024", true, "example.test", DKIM_SIGN_RSASHA1),
       {},
       {R::kPolicy},
       "rsa-sha1"},
      {"selector too long for DNS", too_long, {}, {R::kPermError}, "key name too long"},
      {"selector not a DNS name", bad_name, {}, {R::kPermError}, "invalid key name"},

      {"two signatures: key missing (top) and good",
       Sign(good, "nx"),
       {},
       {R::kPermError, R::kPass},
       "key not found"},
      {"two signatures, two domains, both good",
       Sign(good, "rsa1024", false, "other.test"),
       {},
       {R::kPass, R::kPass},
       ""},
      {"two signatures, body tampered: both fail",
       Sign(good, "rsa2048") + "x\r\n",
       {},
       {R::kFail, R::kFail},
       "body hash mismatch"},
      {"too-long selector does not spoil a good signature",
       Sign(too_long, "rsa2048"),
       {},
       {R::kPass, R::kPermError},
       ""},

      {"malformed DKIM-Signature",
       "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rsa1024; this is garbage\r\n" +
           kMessage,
       {},
       {R::kPermError},
       "malformed signature"},
      {"malformed DKIM-Signature above a good one",
       "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rsa1024; this is garbage\r\n" + good,
       {},
       {R::kPermError, R::kPass},
       "malformed signature"},
      {"DKIM-Signature without b=",
       "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; bh=abc=\r\n" +
           kMessage,
       {},
       {R::kPermError},
       "malformed signature"},
      {"empty DKIM-Signature",
       "DKIM-Signature:\r\n" + kMessage,
       {},
       {R::kPermError},
       "malformed signature"},
      {"DKIM-Signature with 8-bit bytes",
       "DKIM-Signature: v=1; a=rsa-sha256; d=ex\xc3\xa4mple.test; s=\xff\xfe; h=from; b=x; "
       "bh=y\r\n" +
           good,
       {},
       {R::kPermError, R::kPass},
       "malformed signature"},
      {"unknown algorithm",
       Replace(good, "a=rsa-sha256", "a=rsa-md5"),
       {},
       {R::kPermError},
       "signature algorithm invalid"},
      {"unknown version",
       Replace(good, "v=1;", "v=2;"),
       {},
       {R::kPermError},
       "unsupported signature version"},
      {"no From field", good, no_from, {R::kPermError}, "no from header field"},
  };

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Verification v = Verify(c.message, c.feed);
    EXPECT_TRUE(v.signed_message);
    EXPECT_EQ(Results(v), c.want) << Describe(v);
    if (!c.reason.empty() && !v.signatures.empty()) {
      EXPECT_NE(v.signatures[0].reason.find(c.reason), std::string::npos) << Describe(v);
    }
    for (const Signature& s : v.signatures) {
      EXPECT_EQ(s.result == SigResult::kPass, s.reason.empty()) << Describe(v);
      for (const char ch : s.domain + s.selector + s.reason + s.algorithm + s.header_b) {
        EXPECT_TRUE(ch >= 0x20 && ch <= 0x7e) << Describe(v);
      }
      EXPECT_LE(s.reason.size(), kMaxResultText);
      EXPECT_LE(s.selector.size(), kMaxResultText);
    }
    EXPECT_EQ(v.AnyPass(), std::find(c.want.begin(), c.want.end(), R::kPass) != c.want.end());
  }
}

TEST_F(DkimTest, PassReportsTheSignature) {
  const Verification v = Verify(Sign(kMessage, "rsa2048"));
  ASSERT_EQ(v.signatures.size(), 1u) << Describe(v);
  const Signature& s = v.signatures[0];
  EXPECT_EQ(s.result, SigResult::kPass);
  EXPECT_EQ(s.domain, "example.test");
  EXPECT_EQ(s.selector, "rsa2048");
  EXPECT_EQ(s.algorithm, "rsa-sha256");
  EXPECT_EQ(s.key_bits, 2048u);
  EXPECT_EQ(s.header_b.size(), 12u);
  EXPECT_FALSE(s.testing);
  EXPECT_TRUE(v.error.empty());
  EXPECT_EQ(v.signatures_ignored, 0u);
}

// Every key lookup is a question to our Resolver (libopendkim's own
// resolver is never used), and signatures sharing a key share one.
TEST_F(DkimTest, KeyLookupsGoThroughTheResolver) {
  const std::string once = Sign(kMessage, "rsa1024");
  const std::string twice = Sign(once, "rsa1024", false);
  // Questions count whether libunbound or the resolver's answer cache
  // answered them (the second message's key comes from the cache).
  auto asked = [this] { return resolver_->stats().lookups + resolver_->stats().cache_hits; };
  const uint64_t before = asked();
  EXPECT_TRUE(Verify(once).AnyPass());
  EXPECT_EQ(asked(), before + 1);
  const Verification v = Verify(twice);
  EXPECT_EQ(Results(v), (std::vector<SigResult>{SigResult::kPass, SigResult::kPass}));
  EXPECT_EQ(asked(), before + 2);
  // An unsigned message asks nothing.
  Verify(kMessage);
  EXPECT_EQ(asked(), before + 2);
}

TEST_F(DkimTest, TestingKeyIsFlagged) {
  const Verification v = Verify(Sign(kMessage, "testing"));
  ASSERT_EQ(v.signatures.size(), 1u) << Describe(v);
  EXPECT_EQ(v.signatures[0].result, SigResult::kPass);
  EXPECT_TRUE(v.signatures[0].testing);
}

// The PASSED flag alone would call this a pass: the header hash verifies,
// only the body hash is wrong.
TEST_F(DkimTest, BrokenBodyIsNeverAPass) {
  const std::string signed_message = Sign(kMessage, "rsa1024");
  for (const std::string& extra : {std::string("x"), std::string("\r\n"), std::string(" \r\n")}) {
    const Verification v = Verify(signed_message + extra);
    ASSERT_EQ(v.signatures.size(), 1u);
    // Relaxed body canonicalization ignores trailing empty lines and
    // trailing white space: those two still pass (RFC 6376 §3.4.4).
    if (extra == "x") {
      EXPECT_EQ(v.signatures[0].result, SigResult::kFail) << Describe(v);
      EXPECT_FALSE(v.AnyPass());
    }
  }
  // Simple: one more empty line at the end does not matter (§3.4.3), a
  // space does.
  const std::string simple = Sign(kMessage, "rsa1024", false);
  EXPECT_EQ(Results(Verify(simple + "\r\n")), std::vector<SigResult>{SigResult::kPass});
  EXPECT_EQ(Results(Verify(simple + " \r\n")), std::vector<SigResult>{SigResult::kFail});
}

TEST_F(DkimTest, UnsignedMessage) {
  std::unique_ptr<Message> m = verifier_->Begin();
  const test_support::SplitMessage split = Split(kMessage);
  for (const std::string& f : split.fields) {
    const size_t colon = f.find(':');
    m->Header(f.substr(0, colon), f.substr(colon + 1));
  }
  EXPECT_TRUE(m->WantsBody());
  m->EndOfHeaders();
  EXPECT_FALSE(m->WantsBody());  // the milter may skip the body
  m->Body(split.body);
  const Verification v = m->Finish();
  EXPECT_FALSE(v.signed_message);
  EXPECT_TRUE(v.signatures.empty());
  EXPECT_TRUE(v.error.empty());
  EXPECT_FALSE(v.AnyPass());

  // Unsigned and without From: still just unsigned.
  Feed no_from;
  no_from.skip_fields = {"From"};
  const Verification w = Verify(kMessage, no_from);
  EXPECT_FALSE(w.signed_message);
  EXPECT_TRUE(w.error.empty());
}

TEST_F(DkimTest, WantsBody) {
  {
    std::unique_ptr<Message> m = verifier_->Begin();
    m->Header("DKIM-Signature", " v=1; garbage");
    m->Header("From", " a@example.test");
    m->EndOfHeaders();
    EXPECT_FALSE(m->WantsBody());  // nothing left to verify
    const Verification v = m->Finish();
    EXPECT_TRUE(v.signed_message);
    EXPECT_EQ(Results(v), std::vector<SigResult>{SigResult::kPermError});
  }
  {
    const test_support::SplitMessage split = Split(Sign(kMessage, "rsa1024"));
    std::unique_ptr<Message> m = verifier_->Begin();
    for (const std::string& f : split.fields) {
      const size_t colon = f.find(':');
      m->Header(f.substr(0, colon), f.substr(colon + 1));
    }
    m->EndOfHeaders();
    EXPECT_TRUE(m->WantsBody());
    m->Body(split.body);
    EXPECT_EQ(Results(m->Finish()), std::vector<SigResult>{SigResult::kPass});
    EXPECT_FALSE(m->WantsBody());
  }
}

TEST_F(DkimTest, SignatureCapIgnoresTheRest) {
  std::string m = Sign(kMessage, "rsa1024");
  for (int i = 0; i < 11; ++i) m = Sign(m, "rsa1024");  // 12 signatures
  const Verification v = Verify(m);
  ASSERT_EQ(v.signatures.size(), 8u) << Describe(v);
  EXPECT_EQ(v.signatures_ignored, 4u);
  // The 8 topmost were each made over a message that already held the ones
  // below: each still passes.
  for (const Signature& s : v.signatures) EXPECT_EQ(s.result, SigResult::kPass);

  VerifierOptions o;
  o.max_signatures = 1;
  auto one = Verifier::Create(resolver_, o);
  ASSERT_TRUE(one.ok());
  const Verification w = FeedMessage(**one, Sign(Sign(kMessage, "nx"), "rsa1024"));
  EXPECT_EQ(Results(w), std::vector<SigResult>{SigResult::kPass});
  EXPECT_EQ(w.signatures_ignored, 1u);
}

// Input libopendkim cannot take, or over the limits: never a crash, never
// a pass; the reason says what.
TEST_F(DkimTest, HostileHeaders) {
  const test_support::SplitMessage good = Split(Sign(kMessage, "rsa1024"));
  struct Hostile {
    std::string name;
    std::vector<std::pair<std::string, std::string>> extra;  // fed before the real fields
    std::string error;
  };
  std::vector<std::pair<std::string, std::string>> many;
  for (size_t i = 0; i < kMaxHeaderFields; ++i) many.emplace_back("X-Many", " x");
  std::vector<std::pair<std::string, std::string>> heavy;
  for (int i = 0; i < 12; ++i) heavy.emplace_back("X-Heavy", std::string(100000, 'h'));
  const std::vector<Hostile> cases = {
      {"empty name", {{"", " x"}}, "name not acceptable"},
      {"name with a space", {{"X Bad", " x"}}, "name not acceptable"},
      {"name with a colon", {{"X:Bad", " x"}}, "name not acceptable"},
      {"name with a semicolon", {{"X;Bad", " x"}}, "name not acceptable"},
      {"name with 8-bit bytes", {{"X-\xc3\xa9", " x"}}, "name not acceptable"},
      {"name with NUL", {{std::string("X\0Y", 3), " x"}}, "name not acceptable"},
      {"value with NUL", {{"X-Nul", std::string(" a\0b", 4)}}, "NUL byte"},
      {"field over the size limit", {{"X-Big", std::string(kMaxFieldBytes, 'b')}}, "over 102400"},
      {"too many fields", many, "more than 1000"},
      {"header over the total limit", heavy, "header over"},
  };
  for (const Hostile& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<Message> m = verifier_->Begin();
    for (const auto& [n, v] : c.extra) m->Header(n, v);
    for (const std::string& f : good.fields) {
      const size_t colon = f.find(':');
      m->Header(f.substr(0, colon), f.substr(colon + 1));
    }
    m->EndOfHeaders();
    EXPECT_FALSE(m->WantsBody());
    m->Body(good.body);
    const Verification v = m->Finish();
    EXPECT_TRUE(v.signed_message);
    EXPECT_NE(v.error.find(c.error), std::string::npos) << v.error;
    EXPECT_FALSE(v.temporary);
    EXPECT_EQ(Results(v), std::vector<SigResult>{SigResult::kPermError}) << Describe(v);
    EXPECT_FALSE(v.AnyPass());
  }

  // Hostile DKIM-Signature values: permerror each, no crash.
  const std::vector<std::string> values = {
      "",
      " ",
      ";;;;",
      "=",
      " v=1; d=; s=; b=; bh=; h=; a=",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; bh=AAAA; b=!!!!",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; bh=AAAA; b=AAAA; l=-1",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; bh=AAAA; b=AAAA; x=1; t=2",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; bh=AAAA; b=AAAA; q=file",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=subject; bh=AAAA; b=AAAA",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; bh=AAAA; b=AAAA; i=@evil.test",
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=from; c=bogus; bh=AAAA; b=AAAA",
      std::string(" v=1; a=rsa-sha256; d=") + std::string(5000, 'd') + "; s=x; h=from; bh=A; b=A",
      " " + std::string(20000, 'a') + "=" + std::string(20000, 'b'),
      " v=1; a=rsa-sha256; d=example.test; s=rsa1024; h=" + std::string(30000, ':') + "; bh=A; b=A",
  };
  for (const std::string& value : values) {
    SCOPED_TRACE(value.substr(0, 80));
    std::unique_ptr<Message> m = verifier_->Begin();
    m->Header("DKIM-Signature", value);
    for (const std::string& f : good.fields) {
      const size_t colon = f.find(':');
      m->Header(f.substr(0, colon), f.substr(colon + 1));
    }
    m->EndOfHeaders();
    m->Body(good.body);
    const Verification v = m->Finish();
    ASSERT_EQ(v.signatures.size(), 2u) << Describe(v);
    EXPECT_NE(v.signatures[0].result, SigResult::kPass) << Describe(v);
    EXPECT_EQ(v.signatures[1].result, SigResult::kPass) << Describe(v);
  }
}

TEST_F(DkimTest, CallsOutOfOrder) {
  const test_support::SplitMessage split = Split(Sign(kMessage, "rsa1024"));
  auto headers = [&](Message* m) {
    for (const std::string& f : split.fields) {
      const size_t colon = f.find(':');
      m->Header(f.substr(0, colon), f.substr(colon + 1));
    }
  };
  {  // Body without EndOfHeaders: implied.
    std::unique_ptr<Message> m = verifier_->Begin();
    headers(m.get());
    m->Body(split.body);
    EXPECT_EQ(Results(m->Finish()), std::vector<SigResult>{SigResult::kPass});
  }
  {  // Finish without body: body hash of the empty body, so a fail.
    std::unique_ptr<Message> m = verifier_->Begin();
    headers(m.get());
    const Verification v = m->Finish();
    EXPECT_EQ(Results(v), std::vector<SigResult>{SigResult::kFail}) << Describe(v);
  }
  {  // Header after EndOfHeaders: a caller bug, reported.
    std::unique_ptr<Message> m = verifier_->Begin();
    headers(m.get());
    m->EndOfHeaders();
    m->Header("X-Late", " 1");
    m->Body(split.body);
    const Verification v = m->Finish();
    EXPECT_NE(v.error.find("after the end of the header"), std::string::npos) << v.error;
    EXPECT_FALSE(v.AnyPass());
  }
  {  // Finish twice; calls after Finish are ignored.
    std::unique_ptr<Message> m = verifier_->Begin();
    headers(m.get());
    m->Body(split.body);
    EXPECT_TRUE(m->Finish().AnyPass());
    m->Body("more");
    m->Header("X", " y");
    m->EndOfHeaders();
    const Verification again = m->Finish();
    EXPECT_FALSE(again.AnyPass());
    EXPECT_FALSE(again.error.empty());
  }
  {  // A message dropped half way: nothing leaks (checked under ASan).
    std::unique_ptr<Message> m = verifier_->Begin();
    headers(m.get());
    m->EndOfHeaders();
    m->Body(split.body.substr(0, 5));
  }
  {  // Empty message.
    std::unique_ptr<Message> m = verifier_->Begin();
    const Verification v = m->Finish();
    EXPECT_FALSE(v.signed_message);
  }
}

TEST_F(DkimTest, ConcurrentVerification) {
  struct Job {
    std::string message;
    SigResult want;
  };
  const std::vector<Job> jobs = {
      {Sign(kMessage, "rsa1024"), SigResult::kPass},
      {Sign(kFolded, "rsa2048", false), SigResult::kPass},
      {Sign(kMessage, "rsa1024") + "tampered\r\n", SigResult::kFail},
      {Sign(kMessage, "nx"), SigResult::kPermError},
      {Sign(kMessage, "servfail"), SigResult::kTempError},
      {*ed_signed_, SigResult::kPass},
  };
  constexpr int kThreads = 8;
  constexpr int kRounds = 12;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const Job& job = jobs[static_cast<size_t>(t + i) % jobs.size()];
        Feed feed;
        feed.chunk = static_cast<size_t>(1 + (t * 7 + i) % 50);
        const Verification v = FeedMessage(*verifier_, job.message, feed);
        if (Results(v) != std::vector<SigResult>{job.want}) ++wrong;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(DkimTimeoutTest, UnansweredKeyLookupIsTemporary) {
  SilentServer silent;
  ASSERT_GT(silent.port(), 0);
  dns::ResolverOptions o;
  o.upstreams = {silent.upstream()};
  o.forward_test_tld = true;
  o.timeout = 5000ms;
  auto r = dns::Resolver::Create(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  VerifierOptions vo;
  vo.key_lookup_timeout = 300ms;  // overrides the resolver's 5 s
  auto v = Verifier::Create(r->get(), vo);
  ASSERT_TRUE(v.ok()) << v.status().ToString();

  const TestKey key = MakeRsaKey(1024);
  SignOptions so;
  so.domain = "example.test";
  so.selector = "slow";
  so.private_key_pem = key.private_pem;
  std::string field, error;
  ASSERT_TRUE(SignMessage(so, kMessage, &field, &error)) << error;

  const auto t0 = std::chrono::steady_clock::now();
  const Verification result = FeedMessage(**v, field + "\r\n" + kMessage);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(result.signatures.size(), 1u) << Describe(result);
  EXPECT_EQ(result.signatures[0].result, SigResult::kTempError) << Describe(result);
  EXPECT_NE(result.signatures[0].reason.find("timeout"), std::string::npos)
      << result.signatures[0].reason;
  EXPECT_LT(elapsed, 3s);
}

// RFC 8301 §3.2: verifiers must take keys of 1024 to 4096 bits. The
// 4096-bit key record (about 760 bytes) must fit libopendkim's 1024-byte key
// buffer. Its own server: generating the key is slow, so not in the suite.
TEST(DkimBigKeyTest, Rsa4096) {
  const TestKey key = MakeRsaKey(4096);
  ASSERT_FALSE(key.public_b64.empty());
  const std::string owner = "big._domainkey.example.test.";
  TestDnsServer server(
      Entry(owner, "TXT", "NOERROR", TxtRr(owner, "v=DKIM1; k=rsa; p=" + key.public_b64)));
  ASSERT_TRUE(server.ok());
  dns::ResolverOptions o;
  o.upstreams = {server.upstream()};
  o.forward_test_tld = true;
  auto r = dns::Resolver::Create(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto v = Verifier::Create(r->get());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  for (const bool relaxed : {true, false}) {
    SignOptions so;
    so.domain = "example.test";
    so.selector = "big";
    so.relaxed = relaxed;
    so.private_key_pem = key.private_pem;
    std::string field, error;
    ASSERT_TRUE(SignMessage(so, kMessage, &field, &error)) << error;
    const Verification result = FeedMessage(**v, field + "\r\n" + kMessage);
    ASSERT_EQ(result.signatures.size(), 1u) << Describe(result);
    EXPECT_EQ(result.signatures[0].result, SigResult::kPass) << Describe(result);
    EXPECT_EQ(result.signatures[0].key_bits, 4096u);
  }
}

TEST(DkimCreateTest, BadOptionsRefused) {
  EXPECT_EQ(Verifier::Create(nullptr).status().code(), Status::Code::kInvalid);
  dns::ResolverOptions ro;
  ro.upstreams = {"127.0.0.1@9"};
  auto r = dns::Resolver::Create(ro);
  ASSERT_TRUE(r.ok());
  VerifierOptions o;
  o.max_signatures = 0;
  EXPECT_EQ(Verifier::Create(r->get(), o).status().code(), Status::Code::kInvalid);
  o = {};
  o.max_signatures = 33;
  EXPECT_EQ(Verifier::Create(r->get(), o).status().code(), Status::Code::kInvalid);
  o = {};
  o.min_key_bits = 512;
  EXPECT_EQ(Verifier::Create(r->get(), o).status().code(), Status::Code::kInvalid);
  o = {};
  o.key_lookup_timeout = -1ms;
  EXPECT_EQ(Verifier::Create(r->get(), o).status().code(), Status::Code::kInvalid);
  o = {};
  o.key_lookup_timeout = 61s;
  EXPECT_EQ(Verifier::Create(r->get(), o).status().code(), Status::Code::kInvalid);
  // Several verifiers may live side by side (each its own library handle).
  auto a = Verifier::Create(r->get());
  auto b = Verifier::Create(r->get());
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(b.ok());
}

TEST(DkimNamesTest, SigResultNames) {
  EXPECT_EQ(SigResultName(SigResult::kPass), "pass");
  EXPECT_EQ(SigResultName(SigResult::kFail), "fail");
  EXPECT_EQ(SigResultName(SigResult::kNeutral), "neutral");
  EXPECT_EQ(SigResultName(SigResult::kTempError), "temperror");
  EXPECT_EQ(SigResultName(SigResult::kPermError), "permerror");
  EXPECT_EQ(SigResultName(SigResult::kPolicy), "policy");
}

}  // namespace
}  // namespace senderguard::dkim
