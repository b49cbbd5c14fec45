// Tests for config.h: the shipped file gives the documented defaults, every
// kind of bad input stops with "name:LINE: key: what", and templates render.
#include "senderguard/config/config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR must name the source tree (tests/unit/CMakeLists.txt)"
#endif

namespace senderguard {
namespace {

using namespace std::string_literals;

const std::string kShipped = std::string(SG_SOURCE_DIR) + "/conf/senderguard.conf";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every documented default, compared field by field.
void ExpectDefaults(const Config& c) {
  EXPECT_EQ(c.store_path, "/var/lib/senderguard");
  EXPECT_EQ(c.map_size_mb, 256u);
  EXPECT_EQ(c.sync_interval_ms, 1000u);
  EXPECT_EQ(c.socket, "unix:/run/senderguard/milter.sock");
  EXPECT_EQ(c.socket_mode, 0660u);
  EXPECT_EQ(c.socket_group, "");
  EXPECT_EQ(c.identity, (std::vector<IdentitySource>{IdentitySource::kSasl,
                                                     IdentitySource::kSenderDomain,
                                                     IdentitySource::kClientAddress}));
  EXPECT_EQ(c.on_error, OnError::kTempfail);
  EXPECT_FALSE(c.dry_run);
  EXPECT_TRUE(c.notify_command.empty());
  EXPECT_FALSE(c.log_stderr);
  EXPECT_EQ(c.timezone, "UTC");
  EXPECT_EQ(c.tz.name(), "UTC");
  for (Window w : kAllWindows) {
    const WindowPolicy& p = c.windows[Index(w)];
    EXPECT_EQ(p.default_limit, kUnlimited) << WindowName(w);
    EXPECT_EQ(p.unit, CountUnit::kRecipients) << WindowName(w);
    EXPECT_EQ(p.on_exceed, ExceedAction::kTempfail) << WindowName(w);
  }
  EXPECT_EQ(c.reply_suspended,
            "account {account} is disabled due to poor sending reputation; contact support to "
            "restore sending");
  EXPECT_EQ(c.reply_suppressed,
            "recipient {recipient} is suppressed ({reason}); remove it from your list");
  EXPECT_EQ(c.reply_quota, "{window_adj} quota of {limit} {unit} reached; resets {reset}");
  EXPECT_EQ(c.reply_error, "temporary local problem; please try again later");
  EXPECT_EQ(c.dmarc_mode, DmarcMode::kOutbound);
  EXPECT_EQ(c.dmarc_org_domain, "both");
  EXPECT_TRUE(c.dmarc_reject_quarantine);
  EXPECT_TRUE(c.dmarc_tempfail_on_dns_error);
  EXPECT_EQ(c.dmarc_authserv_id, "");
  EXPECT_TRUE(c.dmarc_egress.empty());
  EXPECT_TRUE(c.dmarc_signing_domains.empty());
  EXPECT_TRUE(c.dmarc_exempt_accounts.empty());
  EXPECT_TRUE(c.dns_upstream.empty());
  EXPECT_EQ(c.dns_timeout_ms, 5000u);
  EXPECT_FALSE(c.dns_test_tld);
  EXPECT_NE(c.reply_dmarc_reject.find("p={policy}"), std::string::npos);
  EXPECT_EQ(c.monitoring_interval_s, 60);
  EXPECT_EQ(c.monitoring_textfile, "");
  EXPECT_EQ(MonitoringTextfile(c, "senderguard-milter"), "");
}

TEST(ParseConfig, ShippedFileGivesDocumentedDefaults) {
  const std::string text = ReadFile(kShipped);
  ASSERT_FALSE(text.empty()) << "cannot read " << kShipped;
  auto r = ParseConfig(text, "senderguard.conf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectDefaults(**r);
  EXPECT_EQ((*r)->source, "senderguard.conf");
}

TEST(ParseConfig, PostgresqlStore) {
  auto r = ParseConfig(
      "[store]\nbackend = \"postgresql\"\npath = \"/var/lib/sg\"\n[store.postgresql]\n"
      "conninfo = \"host=db1,db2 dbname=sg target_session_attrs=read-write\"\n"
      "node = \"mx1.example\"\non_unavailable = \"local\"\nlocal_allowance = 50\n"
      "lease_ttl_s = 30\n",
      "t.conf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r.value();
  EXPECT_EQ(c.store_backend, StoreBackend::kPostgresql);
  EXPECT_EQ(c.store_path, "/var/lib/sg");
  EXPECT_EQ(c.postgresql.conninfo, "host=db1,db2 dbname=sg target_session_attrs=read-write");
  EXPECT_EQ(c.postgresql.node, "mx1.example");
  EXPECT_EQ(c.postgresql.on_unavailable, OnUnavailable::kLocal);
  EXPECT_EQ(c.postgresql.local_allowance, 50u);
  EXPECT_EQ(c.postgresql.lease_ttl_s, 30u);
  auto d = ParseConfig("", "empty.conf");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value()->store_backend, StoreBackend::kLmdb);
  EXPECT_EQ(d.value()->postgresql.on_unavailable, OnUnavailable::kTempfail);
}

TEST(LoadConfig, ShippedFile) {
  auto r = LoadConfig(kShipped);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectDefaults(**r);
  EXPECT_EQ((*r)->source, kShipped);
}

// A directory opens and reads as an empty file: it must not pass for a
// configuration of defaults.
TEST(LoadConfig, DirectoryIsNotAConfiguration) {
  auto r = LoadConfig(SG_SOURCE_DIR "/conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), SG_SOURCE_DIR "/conf: is a directory, not a file");
}

// A missing file is no line of it: "PATH: no such file", not "PATH:0: ...".
TEST(LoadConfig, MissingFileHasNoLineNumber) {
  auto r = LoadConfig("/nonexistent/senderguard.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "/nonexistent/senderguard.conf: no such file");
}

TEST(LoadConfig, FileOverTheCap) {
  const std::string path = testing::TempDir() + "/big.conf";
  {
    std::ofstream out(path);
    out << "# " << std::string(70 << 10, 'x') << "\n";
  }
  auto r = LoadConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ":1: file larger than 64 KiB");
  std::remove(path.c_str());
}

TEST(LoadConfig, MissingFile) {
  auto r = LoadConfig("/nonexistent/senderguard.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(r.status().message().rfind("/nonexistent/senderguard.conf:", 0), 0u)
      << r.status().message();
}

TEST(ParseConfig, EmptyTextGivesDefaults) {
  for (const std::string& text : std::vector<std::string>{"", "\n\n", "# only a comment\n", "  \t\n"}) {
    auto r = ParseConfig(text, "empty.conf");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectDefaults(**r);
  }
}

TEST(ParseConfig, EveryKeySet) {
  const std::string text = R"([store]
path = "/srv/sg"
map_size_mb = 1
sync_interval_ms = 0
[milter]
socket = "inet:10025@127.0.0.1"
socket_mode = "0600"
socket_group = "postfix"
identity = ["client-address", "sasl"]
on_error = "reject"
dry_run = true
notify_command = ["/usr/local/bin/notify", "--quiet"]
log_stderr = true
[quota]
timezone = "Europe/Berlin"
[quota.minute]
limit = 0
[quota.hour]
limit = 1000000000000
count = "messages"
on_exceed = "reject"
[quota.day]
limit = 1000
[replies]
suspended = "no {account}"
suppressed = "no {recipient}"
quota = "slow down"
error = "oops"
)";
  auto r = ParseConfig(text, "full.conf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = **r;
  EXPECT_EQ(c.store_path, "/srv/sg");
  EXPECT_EQ(c.map_size_mb, 1u);
  EXPECT_EQ(c.sync_interval_ms, 0u);
  EXPECT_EQ(c.socket, "inet:10025@127.0.0.1");
  EXPECT_EQ(c.socket_mode, 0600u);
  EXPECT_EQ(c.socket_group, "postfix");
  EXPECT_EQ(c.identity,
            (std::vector<IdentitySource>{IdentitySource::kClientAddress, IdentitySource::kSasl}));
  EXPECT_EQ(c.on_error, OnError::kReject);
  EXPECT_TRUE(c.dry_run);
  EXPECT_EQ(c.notify_command, (std::vector<std::string>{"/usr/local/bin/notify", "--quiet"}));
  EXPECT_TRUE(c.log_stderr);
  EXPECT_EQ(c.timezone, "Europe/Berlin");
  EXPECT_EQ(c.tz.name(), "Europe/Berlin");
  EXPECT_EQ(c.windows[Index(Window::kMinute)].default_limit, 0u);
  EXPECT_EQ(c.windows[Index(Window::kHour)].default_limit, 1'000'000'000'000u);
  EXPECT_EQ(c.windows[Index(Window::kHour)].unit, CountUnit::kMessages);
  EXPECT_EQ(c.windows[Index(Window::kHour)].on_exceed, ExceedAction::kReject);
  EXPECT_EQ(c.windows[Index(Window::kDay)].default_limit, 1000u);
  EXPECT_EQ(c.windows[Index(Window::kDay)].unit, CountUnit::kRecipients);
  EXPECT_EQ(c.windows[Index(Window::kMonth)].default_limit, kUnlimited);
  EXPECT_EQ(c.reply_suspended, "no {account}");
  EXPECT_EQ(c.reply_suppressed, "no {recipient}");
  EXPECT_EQ(c.reply_quota, "slow down");
  EXPECT_EQ(c.reply_error, "oops");
}

struct GoodCase {
  const char* name;
  std::string text;
};

TEST(ParseConfig, GoodVariants) {
  const std::vector<GoodCase> cases = {
      {"unix_socket", "[milter]\nsocket = \"unix:/tmp/s\"\n"},
      {"local_socket", "[milter]\nsocket = \"local:/tmp/s\"\n"},
      {"inet6_socket", "[milter]\nsocket = \"inet6:10025@::1\"\n"},
      {"inet_port_only", "[milter]\nsocket = \"inet:65535\"\n"},
      {"fd_socket", "[milter]\nsocket = \"fd:3\"\n"},
      {"crlf_lines", "[store]\r\npath = \"/x\"\r\n"},
      {"utf8_bom", "\xef\xbb\xbf[store]\npath = \"/x\"\n"},
      {"tab_in_reply", "[replies]\nerror = \"a\tb\"\n"},
      {"utf8_reply", "[replies]\nerror = \"d\xc3\xa9j\xc3\xa0 vu\"\n"},
      {"longest_reply", "[replies]\nerror = \"" + std::string(400, 'r') + "\"\n"},
      {"kolkata", "[quota]\ntimezone = \"Asia/Kolkata\"\n"},
      {"limit_unlimited", "[quota.month]\nlimit = \"unlimited\"\n"},
      {"mode_zero", "[milter]\nsocket_mode = \"0\"\n"},
      {"mode_max", "[milter]\nsocket_mode = \"0777\"\n"},
      {"tail_journal", "[tail]\nsource = \"journal\"\n"},
      {"tail_journal_dir", "[tail]\nsource = \"journal:/var/log/journal\"\n"},
      {"tail_utc", "[tail]\ntimezone = \"UTC\"\n"},
      {"tail_postfix_user", "[tail]\npostfix_user = \"_postfix\"\n"},
      {"tail_postfix_uid", "[tail]\npostfix_user = \"107\"\n"},
      {"rep_integers", "[reputation]\nsuspend_hard_rate = 1\ntier_multipliers = [1, 1, 2, 2, 3]\n"},
      {"feedback_secret", "[feedback]\nsecret = \"0123456789abcdef\"\nheader = \"Feedback-ID\"\n"},
      {"dmarc_all", "[dmarc]\nmode = \"inbound\"\norg_domain = \"psl\"\non_quarantine = \"accept\"\n"
                    "on_temperror = \"accept\"\nauthserv_id = \"mx.example.net\"\n"
                    "egress = [\"192.0.2.1\", \"2001:db8::1\"]\nsigning_domains = [\"ESP.Example.\"]\n"
                    "exempt_accounts = [\"Alice\"]\nupstream = [\"127.0.0.1@5353\", \"::1\"]\n"
                    "dns_timeout_ms = 10\ntest_tld = true\n"},
      {"dmarc_off", "[dmarc]\nmode = \"off\"\n"},
      {"monitoring_min", "[monitoring]\ninterval = \"1s\"\n"},
      {"monitoring_max", "[monitoring]\ninterval = \"1h\"\n"},
      {"monitoring_minutes", "[monitoring]\ninterval = \"5m\"\n"},
      {"monitoring_textfile_off", "[monitoring]\ntextfile = \"\"\n"},
      {"dmarc_helo", "[dmarc]\nhelo_name = \"mx1.esp.example\"\n[replies]\ndmarc_reject_inbound = \"no\"\n"},
  };
  for (const auto& c : cases) {
    auto r = ParseConfig(c.text, "t.conf");
    EXPECT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
  }
}

// ---------------------------------------------------------- bad inputs

struct BadCase {
  const char* name;
  std::string text;
  std::string want_prefix;  // "t.conf:LINE: key: ..."
};

std::ostream& operator<<(std::ostream& o, const BadCase& c) { return o << c.name; }

const std::vector<BadCase> kBadCases = {
    {"store_backend_bad", "[store]\nbackend = \"redis\"\n",
     "t.conf:2: store.backend: must be \"lmdb\" or \"postgresql\""},
    {"store_pg_no_conninfo", "[store]\nbackend = \"postgresql\"\n",
     "t.conf:1: store: backend = \"postgresql\" needs [store.postgresql] conninfo"},
    {"store_pg_node_bad", "[store.postgresql]\nconninfo = \"host=db\"\nnode = \"mx 1\"\n",
     "t.conf:3: store.postgresql.node: must be 1 to 255 letters"},
    {"store_pg_policy_bad", "[store.postgresql]\nconninfo = \"host=db\"\non_unavailable = \"accept\"\n",
     "t.conf:3: store.postgresql.on_unavailable: must be \"tempfail\" or \"local\""},
    {"store_pg_ttl_low", "[store.postgresql]\nconninfo = \"host=db\"\nlease_ttl_s = 1\n",
     "t.conf:3: store.postgresql.lease_ttl_s: value 1 out of range"},
    {"store_pg_unknown", "[store.postgresql]\nhost = \"db\"\n",
     "t.conf:2: store.postgresql.host: unknown key"},
    {"tail_source_relative", "[tail]\nsource = \"mail.log\"\n", "t.conf:2: tail.source: expected an absolute"},
    {"tail_rules_relative", "[tail]\nrules = \"r.conf\"\n", "t.conf:2: tail.rules: must be an absolute path"},
    {"tail_poll_low", "[tail]\npoll_interval_ms = 1\n", "t.conf:2: tail.poll_interval_ms: value 1 out of range"},
    {"tail_filter_bad", "[tail]\nfilter_transports = [\"dfilt x\"]\n", "t.conf:2: tail.filter_transports: \"dfilt x\" is not a master.cf service name"},
    {"tail_filter_type", "[tail]\nfilter_transports = \"dfilt\"\n", "t.conf:2: tail.filter_transports:"},
    {"tail_tz_bad", "[tail]\ntimezone = \"Mars/Olympus\"\n", "t.conf:2: tail.timezone: unknown time zone"},
    {"tail_unknown", "[tail]\nfollow = true\n", "t.conf:2: tail.follow: unknown key"},
    {"tail_postfix_user_bad", "[tail]\npostfix_user = \"post fix\"\n",
     "t.conf:2: tail.postfix_user: \"post fix\" is not a user name or a uid"},
    {"tail_postfix_user_empty", "[tail]\npostfix_user = \"\"\n", "t.conf:2: tail.postfix_user:"},
    {"suppress_after_over", "[tail]\nsuppress_after_hard_bounces = 1001\n",
     "t.conf:2: tail.suppress_after_hard_bounces: value 1001 out of range"},
    {"rep_window_over", "[reputation]\nwindow_days = 91\n", "t.conf:2: reputation.window_days: value 91"},
    {"rep_rate_zero", "[reputation]\nsuspend_complaint_rate = 0\n",
     "t.conf:2: reputation.suspend_complaint_rate: value out of range"},
    {"rep_rate_string", "[reputation]\nsuspend_hard_rate = \"10%\"\n",
     "t.conf:2: reputation.suspend_hard_rate: expected a number"},
    {"rep_multipliers_4", "[reputation]\ntier_multipliers = [1, 2, 3, 4]\n",
     "t.conf:2: reputation.tier_multipliers: expected an array of 5"},
    {"rep_multipliers_shrink", "[reputation]\ntier_multipliers = [1, 2, 3, 4, 0.5]\n",
     "t.conf:1: reputation:"},
    {"rep_unknown", "[reputation]\nwindow = 3\n", "t.conf:2: reputation.window: unknown key"},
    {"feedback_short_secret", "[feedback]\nsecret = \"abc\"\n", "t.conf:2: feedback.secret: use at least 16"},
    {"feedback_bad_header", "[feedback]\nheader = \"X Bad:\"\n", "t.conf:2: feedback.header: not a header field name"},
    {"dmarc_mode_bad", "[dmarc]\nmode = \"both\"\n", "t.conf:2: dmarc.mode: expected one of \"outbound\""},
    {"dmarc_org_bad", "[dmarc]\norg_domain = \"psl-only\"\n", "t.conf:2: dmarc.org_domain: expected one of"},
    {"dmarc_egress_name", "[dmarc]\negress = [\"mx.example.com\"]\n", "t.conf:2: dmarc.egress: not an IPv4 or IPv6"},
    {"dmarc_egress_string", "[dmarc]\negress = \"192.0.2.1\"\n", "t.conf:2: dmarc.egress: expected a list"},
    {"dmarc_signing_bad", "[dmarc]\nsigning_domains = [\"a..b\"]\n", "t.conf:2: dmarc.signing_domains: not a domain"},
    {"dmarc_upstream_port", "[dmarc]\nupstream = [\"127.0.0.1@99999\"]\n", "t.conf:2: dmarc.upstream: expected ADDRESS"},
    {"dmarc_upstream_name", "[dmarc]\nupstream = [\"dns.google\"]\n", "t.conf:2: dmarc.upstream: expected ADDRESS"},
    {"dmarc_helo_bad", "[dmarc]\nhelo_name = \"mx 1\"\n", "t.conf:2: dmarc.helo_name: expected a host name"},
    {"dmarc_timeout_low", "[dmarc]\ndns_timeout_ms = 5\n", "t.conf:2: dmarc.dns_timeout_ms: value 5 out of range"},
    {"dmarc_authserv_space", "[dmarc]\nauthserv_id = \"mx example\"\n", "t.conf:2: dmarc.authserv_id: expected a host name"},
    {"dmarc_reply_multiline", "[replies]\ndmarc_reject = \"a\\nb\"\n", "t.conf:2: replies.dmarc_reject: a reply text must be one line"},
    {"unknown_key_line_3", "[store]\npath = \"/x\"\nbogus = 1\n", "t.conf:3: store.bogus: unknown key"},
    {"unknown_table", "\n\n[foo]\na = 1\n", "t.conf:3: foo: unknown section [foo]"},
    {"unknown_subtable", "[store]\n[store.foo]\na = 1\n", "t.conf:2: store.foo: unknown section [store.foo]"},
    {"unknown_top_level_key", "# c\nfoo = 1\n", "t.conf:2: foo: unknown key"},
    {"table_as_value", "store = 1\n", "t.conf:1: store: expected a table, got integer"},
    {"array_of_tables", "[[store]]\npath = \"/x\"\n", "t.conf:1: store: expected a table, got array"},
    {"wrong_type_map_size", "[store]\nmap_size_mb = \"big\"\n",
     "t.conf:2: store.map_size_mb: expected an integer, got string"},
    {"map_size_zero", "[store]\nmap_size_mb = 0\n",
     "t.conf:2: store.map_size_mb: value 0 out of range 1..1048576"},
    {"map_size_over", "[store]\nmap_size_mb = 1048577\n",
     "t.conf:2: store.map_size_mb: value 1048577 out of range 1..1048576"},
    {"map_size_negative", "[store]\nmap_size_mb = -1\n",
     "t.conf:2: store.map_size_mb: value -1 out of range 1..1048576"},
    {"map_size_float", "[store]\nmap_size_mb = 1.5\n",
     "t.conf:2: store.map_size_mb: expected an integer, got floating"},
    {"sync_over", "[store]\nsync_interval_ms = 60001\n",
     "t.conf:2: store.sync_interval_ms: value 60001 out of range 0..60000"},
    {"relative_store_path", "[store]\npath = \"var/lib\"\n", "t.conf:2: store.path: must be an absolute path"},
    {"empty_store_path", "[store]\npath = \"\"\n", "t.conf:2: store.path: must be an absolute path"},
    {"socket_tcp", "[milter]\nsocket = \"tcp:1\"\n", "t.conf:2: milter.socket: expected unix:/path"},
    {"socket_empty", "[milter]\nsocket = \"\"\n", "t.conf:2: milter.socket: expected unix:/path"},
    {"socket_unix_relative", "[milter]\nsocket = \"unix:run/s\"\n", "t.conf:2: milter.socket: expected"},
    {"socket_port_too_big", "[milter]\nsocket = \"inet:65536@localhost\"\n", "t.conf:2: milter.socket: expected"},
    {"socket_port_letters", "[milter]\nsocket = \"inet:smtp@localhost\"\n", "t.conf:2: milter.socket: expected"},
    {"socket_port_missing", "[milter]\nsocket = \"inet:@localhost\"\n", "t.conf:2: milter.socket: expected"},
    {"socket_fd_empty", "[milter]\nsocket = \"fd:\"\n", "t.conf:2: milter.socket: expected"},
    {"socket_fd_not_number", "[milter]\nsocket = \"fd:abc\"\n", "t.conf:2: milter.socket: expected"},
    {"socket_too_long", "[milter]\nsocket = \"unix:/" + std::string(300, 's') + "\"\n",
     "t.conf:2: milter.socket: longer than 200 bytes"},
    {"socket_mode_not_octal", "[milter]\nsocket_mode = \"0999\"\n",
     "t.conf:2: milter.socket_mode: expected an octal mode"},
    {"socket_mode_too_big", "[milter]\nsocket_mode = \"01000\"\n", "t.conf:2: milter.socket_mode: expected an octal mode"},
    {"socket_mode_empty", "[milter]\nsocket_mode = \"\"\n", "t.conf:2: milter.socket_mode: expected an octal mode"},
    {"socket_mode_negative", "[milter]\nsocket_mode = \"-1\"\n", "t.conf:2: milter.socket_mode: expected an octal mode"},
    {"socket_mode_signed", "[milter]\nsocket_mode = \"+660\"\n", "t.conf:2: milter.socket_mode: expected an octal mode"},
    {"socket_mode_leading_space", "[milter]\nsocket_mode = \" 660\"\n", "t.conf:2: milter.socket_mode: expected an octal mode"},
    {"socket_mode_integer", "[milter]\nsocket_mode = 660\n",
     "t.conf:2: milter.socket_mode: expected a string, got integer"},
    {"unknown_identity_source", "[milter]\nidentity = [\"sasl\", \"ldap\"]\n",
     "t.conf:2: milter.identity: unknown source \"ldap\""},
    {"duplicated_identity_source", "[milter]\nidentity = [\"sasl\",\n  \"sasl\"]\n",
     "t.conf:3: milter.identity: source \"sasl\" listed twice"},
    {"empty_identity", "[milter]\nidentity = []\n", "t.conf:2: milter.identity: needs at least one source"},
    {"identity_not_array", "[milter]\nidentity = \"sasl\"\n", "t.conf:2: milter.identity: expected an array"},
    {"identity_integer", "[milter]\nidentity = [1]\n", "t.conf:2: milter.identity: expected a string, got integer"},
    {"on_error_maybe", "[milter]\non_error = \"maybe\"\n",
     "t.conf:2: milter.on_error: expected \"tempfail\", \"accept\" or \"reject\""},
    {"dry_run_string", "[milter]\ndry_run = \"yes\"\n", "t.conf:2: milter.dry_run: expected true or false, got string"},
    {"notify_relative", "[milter]\nnotify_command = [\"notify.sh\", \"-x\"]\n",
     "t.conf:2: milter.notify_command: the program must be an absolute path"},
    {"notify_string", "[milter]\nnotify_command = \"/bin/true\"\n",
     "t.conf:2: milter.notify_command: expected an array"},
    {"unknown_time_zone", "[quota]\ntimezone = \"Mars/Olympus_Mons\"\n",
     "t.conf:2: quota.timezone: unknown time zone \"Mars/Olympus_Mons\""},
    {"empty_time_zone", "[quota]\ntimezone = \"\"\n", "t.conf:2: quota.timezone: unknown time zone"},
    {"time_zone_traversal", "[quota]\ntimezone = \"../../../../etc/passwd\"\n",
     "t.conf:2: quota.timezone: unknown time zone"},
    {"unknown_window", "[quota.week]\nlimit = 1\n", "t.conf:1: quota.week: unknown section [quota.week] (minute, hour, day, month)"},
    {"unknown_quota_key", "[quota]\nweek = 1\n", "t.conf:2: quota.week: unknown key (timezone, minute, hour, day, month)"},
    {"window_not_table", "[quota]\nday = 5\n", "t.conf:2: quota.day: expected a table, got integer"},
    {"limit_minus_one", "[quota.day]\nlimit = -1\n",
     "t.conf:2: quota.day.limit: value -1 out of range 0..1000000000000"},
    {"limit_over", "[quota.day]\nlimit = 1000000000001\n",
     "t.conf:2: quota.day.limit: value 1000000000001 out of range"},
    {"limit_numeric_string", "[quota.day]\nlimit = \"1000\"\n",
     "t.conf:2: quota.day.limit: expected an integer, got string"},
    {"count_bytes", "[quota.day]\ncount = \"bytes\"\n",
     "t.conf:2: quota.day.count: expected \"recipients\" or \"messages\""},
    {"on_exceed_bounce", "[quota.hour]\non_exceed = \"bounce\"\n", "t.conf:2: quota.hour.on_exceed: expected \"tempfail\""},
    {"window_unknown_key", "[quota.day]\nlimit = 5\n\nlimits = 6\n", "t.conf:4: quota.day.limits: unknown key"},
    {"reply_newline_escape", "[replies]\nsuspended = \"first\\nsecond\"\n",
     "t.conf:2: replies.suspended: a reply text must be one line"},
    {"reply_cr_escape", "[replies]\nquota = \"a\\rb\"\n", "t.conf:2: replies.quota: a reply text must be one line"},
    {"reply_multiline_string", "[replies]\nerror = \"\"\"\nx\ny\"\"\"\n",
     "t.conf:2: replies.error: a reply text must be one line"},
    {"reply_control_escape", "[replies]\nerror = \"a\\u0007b\"\n", "t.conf:2: replies.error: contains a control character"},
    {"reply_nul_escape", "[replies]\nerror = \"a\\u0000b\"\n", "t.conf:2: replies.error: contains a NUL byte"},
    {"reply_empty", "[replies]\nsuppressed = \"\"\n", "t.conf:2: replies.suppressed: must not be empty"},
    {"reply_too_long", "[replies]\nerror = \"" + std::string(401, 'r') + "\"\n",
     "t.conf:2: replies.error: longer than 400 bytes"},
    {"reply_unknown", "[replies]\nbye = \"x\"\n", "t.conf:2: replies.bye: unknown key"},
    {"syntax_unclosed_table", "[store\npath = \"/x\"\n", "t.conf:1: syntax: "},
    {"syntax_missing_value", "\n\nfoo =\n", "t.conf:3: syntax: "},
    {"syntax_unclosed_string", "[store]\npath = \"/x\n", "t.conf:2: syntax: "},
    {"syntax_duplicate_key", "[store]\npath = \"/a\"\npath = \"/b\"\n", "t.conf:3: syntax: "},
    {"syntax_duplicate_table", "[store]\n[store]\n", "t.conf:2: syntax: "},
    {"syntax_raw_nul", "[store]\npath = \"/a\0b\"\n"s, "t.conf:2: syntax: "},
    {"syntax_bad_utf8", "[milter]\nsocket_group = \"\xff\xfe\"\n", "t.conf:2: syntax: "},
    {"syntax_raw_control", "[milter]\nsocket_group = \"a\x01" "b\"\n", "t.conf:2: syntax: "},
    // toml11 3.7.1 reads outside its buffer on a literal string that is not
    // UTF-8 (found by fuzz_config); ASan builds catch it.
    {"literal_string_bad_utf8", "a = '\x80'\n", "t.conf:1: syntax: "},
    {"literal_string_bad_utf8_line_3", "[milter]\n\nsocket_group = 'n\x9c'\n", "t.conf:3: syntax: "},
    {"too_large", std::string((64 << 10) + 1, '#'), "t.conf:1: file larger than 64 KiB"},
    {"monitoring_interval_zero", "[monitoring]\ninterval = \"0s\"\n",
     "t.conf:2: monitoring.interval: expected a duration from \"1s\" to \"1h\""},
    {"monitoring_interval_over", "[monitoring]\ninterval = \"61m\"\n",
     "t.conf:2: monitoring.interval: expected a duration"},
    {"monitoring_interval_word", "[monitoring]\ninterval = \"often\"\n",
     "t.conf:2: monitoring.interval: expected a duration"},
    {"monitoring_interval_integer", "[monitoring]\ninterval = 60\n",
     "t.conf:2: monitoring.interval: expected a string"},
    {"monitoring_textfile_relative", "[monitoring]\ntextfile = \"{program}.prom\"\n",
     "t.conf:2: monitoring.textfile: must be an absolute path"},
    {"monitoring_textfile_shared", "[monitoring]\ntextfile = \"/var/lib/x/sg.prom\"\n",
     "t.conf:2: monitoring.textfile: must contain {program}"},
    {"monitoring_textfile_suffix", "[monitoring]\ntextfile = \"/var/lib/x/{program}.txt\"\n",
     "t.conf:2: monitoring.textfile: must end in .prom"},
    {"monitoring_unknown", "[monitoring]\nport = 9100\n", "t.conf:2: monitoring.port: unknown key"},
};

class ParseConfigBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseConfigBadTest, Table) {
  const BadCase& c = GetParam();
  auto r = ParseConfig(c.text, "t.conf");
  ASSERT_FALSE(r.ok()) << "accepted";
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
  const std::string m = r.status().message();
  EXPECT_EQ(m.substr(0, c.want_prefix.size()), c.want_prefix) << "full message: " << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "message spans lines: " << m;
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseConfigBadTest, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A deeply nested value (well under the size cap) must be refused, not
// overflow the stack of whoever (re)loads the configuration. Run in a child
// so a crash fails this test only.
TEST(ParseConfigDeathTest, DeeplyNestedValueIsRefusedNotACrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The child is a fresh exec of this binary: in sanitizer builds, spare it
  // symbolizing a stack-overflow report hundreds of frames deep (seconds).
  const char* old_asan = std::getenv("ASAN_OPTIONS");
  const std::string saved = old_asan != nullptr ? old_asan : "";
  ::setenv("ASAN_OPTIONS", (saved + (saved.empty() ? "" : ":") + "symbolize=0").c_str(), 1);
  const std::string deep_array(100000, '[');
  std::string deep_table;
  for (int i = 0; i < 100000; ++i) deep_table += "{a=";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"array", "a = " + deep_array},
      {"inline_table", "a = " + deep_table},
      {"array_in_table", "[store]\npath = " + deep_array},
      // A multi-line string may end with one or two extra quotes (TOML 1.0):
      // a scanner that closes it at the first ''' loses sync with toml11.
      {"after_ml_literal_with_extra_quote", "a = ['''x'''', " + deep_array},
      {"after_ml_basic_with_extra_quote", "a = [\"\"\"x\"\"\"\", " + deep_array},
  };
  for (const auto& [name, text] : cases) {
    EXPECT_EXIT(
        {
          auto r = ParseConfig(text, "t.conf");
          std::_Exit(r.ok() ? 1 : 0);
        },
        ::testing::ExitedWithCode(0), "")
        << name;
  }
  if (old_asan != nullptr) {
    ::setenv("ASAN_OPTIONS", saved.c_str(), 1);
  } else {
    ::unsetenv("ASAN_OPTIONS");
  }
}

// A dotted key of 40,000 segments (80 KB, under the size cap) costs toml11
// time that grows faster than n^2 (about 20 s on the build machine), and 120
// keys of 4,000 segments about 16 s. Such input must be refused quickly;
// SIGALRM ends the child after 3 s.
TEST(ParseConfigDeathTest, LongDottedKeyIsRefusedQuickly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::string key = "a";
  for (int i = 0; i < 40000; ++i) key += ".a";
  // The same cost spread over lines of under 8 KiB each (960 KB in all).
  std::string many;
  for (int k = 0; k < 120; ++k) many += key.substr(0, 7999) + ".k" + std::to_string(k) + " = 1\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"dotted_key", key + " = 1\n"},
      {"dotted_table_header", "[" + key + "]\n"},
      {"many_shorter_dotted_keys", many},
  };
  for (const auto& [name, text] : cases) {
    EXPECT_EXIT(
        {
          ::alarm(3);
          auto r = ParseConfig(text, "t.conf");
          std::_Exit(r.ok() ? 1 : 0);
        },
        ::testing::ExitedWithCode(0), "")
        << name;
  }
}

// -------------------------------------------------------- ConfigPath

TEST(MonitoringTextfile, EachDaemonItsOwnFile) {
  auto r = ParseConfig("[monitoring]\ninterval = \"2m\"\ntextfile = \"/var/lib/prometheus/node-exporter/{program}.prom\"\n",
                       "t.conf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->monitoring_interval_s, 120);
  EXPECT_EQ(MonitoringTextfile(**r, "senderguard-milter"),
            "/var/lib/prometheus/node-exporter/senderguard-milter.prom");
  EXPECT_EQ(MonitoringTextfile(**r, "senderguard-tail"),
            "/var/lib/prometheus/node-exporter/senderguard-tail.prom");
}

TEST(ConfigPath, FlagThenEnvThenDefault) {
  ::unsetenv("SENDERGUARD_CONF");
  EXPECT_EQ(ConfigPath(""), kDefaultConfigPath);
  EXPECT_EQ(ConfigPath("/a.conf"), "/a.conf");
  ::setenv("SENDERGUARD_CONF", "/env.conf", 1);
  EXPECT_EQ(ConfigPath(""), "/env.conf");
  EXPECT_EQ(ConfigPath("/a.conf"), "/a.conf");
  ::setenv("SENDERGUARD_CONF", "", 1);
  EXPECT_EQ(ConfigPath(""), kDefaultConfigPath);
  ::unsetenv("SENDERGUARD_CONF");
}

// ---------------------------------------------------- RenderTemplate

struct TemplateCase {
  const char* name;
  std::string tpl;
  std::string want;
};

TEST(RenderTemplate, Table) {
  const std::vector<std::pair<std::string_view, std::string>> vars = {
      {"account", "alice"}, {"reason", "spam {account}"}, {"empty", ""}, {"", "EMPTYNAME"}};
  const std::vector<TemplateCase> cases = {
      {"plain", "no placeholders", "no placeholders"},
      {"one", "account {account} is off", "account alice is off"},
      {"twice", "{account}{account}", "alicealice"},
      {"at_ends", "{account} x {account}", "alice x alice"},
      {"value_not_expanded_again", "why: {reason}", "why: spam {account}"},
      {"unknown_left", "hello {nobody}", "hello {nobody}"},
      {"empty_value", "[{empty}]", "[]"},
      {"empty_name", "a{}b", "aEMPTYNAMEb"},
      {"unclosed", "hello {account", "hello {account"},
      {"lone_close", "a}b", "a}b"},
      {"nested_braces", "{{account}}", "{alice}"},
      {"empty_template", "", ""},
      {"only_open", "{", "{"},
      {"case_sensitive", "{Account}", "{Account}"},
      {"space_in_name", "{ account }", "{ account }"},
      {"non_ascii", "\xc3\xa9{account}\xff", "\xc3\xa9" "alice\xff"},
      {"embedded_nul", "a\0{account}"s, "a\0alice"s},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RenderTemplate(c.tpl, vars), c.want) << c.name;
  }
  EXPECT_EQ(RenderTemplate("{account}", {}), "{account}");
  const std::string huge(4096, '{');
  EXPECT_EQ(RenderTemplate(huge, vars), huge);
}

// ---- ConfigEntries: `senderguardctl config`.

// The entries as a configuration file: each "leaf = value" under its section.
std::string AsToml(const std::vector<ConfigEntry>& entries) {
  std::string out, section;
  for (const auto& e : entries) {
    const size_t dot = e.key.rfind('.');
    const std::string sec = e.key.substr(0, dot);
    if (sec != section) out += "[" + sec + "]\n";
    section = sec;
    out += e.key.substr(dot + 1) + " = " + e.value + "\n";
  }
  return out;
}

std::vector<ConfigEntry> Entries(const std::string& text) {
  auto r = ParseConfig(text, "t.conf");
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  return r.ok() ? ConfigEntries(**r) : std::vector<ConfigEntry>{};
}

// Every key set to another value than its default.
const char* const kEveryKeyChanged = R"([store]
backend = "postgresql"
path = "/srv/sg"
map_size_mb = 1
sync_interval_ms = 0
[store.postgresql]
conninfo = "host=db1,db2 password='s3 cr\\'et' dbname=sg"
node = "mx1"
on_unavailable = "local"
local_allowance = 5
lease_ttl_s = 30
[milter]
socket = "inet:10025@127.0.0.1"
socket_mode = "0600"
socket_group = "postfix"
identity = ["client-address", "sasl"]
on_error = "reject"
dry_run = true
notify_command = ["/usr/local/bin/notify", "say \"hi\"\\ there"]
log_stderr = true
[quota]
timezone = "Europe/Berlin"
[quota.minute]
limit = 0
count = "messages"
on_exceed = "reject"
[quota.hour]
limit = 7
count = "messages"
on_exceed = "reject"
[quota.day]
limit = 1000
count = "messages"
on_exceed = "reject"
[quota.month]
limit = 1000000000000
count = "messages"
on_exceed = "reject"
[replies]
suspended = "no {account}"
suppressed = "no {recipient}"
quota = "slow down"
error = "oops"
dmarc_reject = "dmarc {domain}"
dmarc_reject_inbound = "inbound {domain}"
dmarc_tempfail = "later {domain}"
dmarc_author = "{detail}"
dmarc_unverified = "unverified {domain}"
[tail]
source = "journal"
rules = "/etc/sg/rules.conf"
timezone = "Europe/Paris"
poll_interval_ms = 100
filter_transports = ["spamfilter"]
postfix_user = "pf"
suppress_after_hard_bounces = 0
[reputation]
window_days = 14
min_volume = 50
suspend_complaint_rate = 0.002
suspend_hard_rate = 0.2
score_zero_complaint_rate = 0.005
score_zero_hard_rate = 0.5
clean_days_per_step = 3
day_clean_volume = 10
day_min_attempted = 5
day_complaint_max = 0.002
day_hard_max = 0.06
tier_multipliers = [1.0, 2.0, 3.0, 4.0, 5.5]
[feedback]
header = "X-Id"
secret = "0123456789abcdef0123"
[dmarc]
mode = "inbound"
org_domain = "psl"
on_quarantine = "accept"
on_temperror = "accept"
helo_name = "mx.example.com"
authserv_id = "mx.example.com"
egress = ["192.0.2.1"]
signing_domains = ["esp.example"]
exempt_accounts = ["bob"]
upstream = ["127.0.0.1@5353"]
dns_timeout_ms = 100
test_tld = true
[monitoring]
interval = "5m"
textfile = "/var/lib/p/{program}.prom"
)";

TEST(ConfigEntries, DefaultsAsWritten) {
  const auto d = Entries("");
  std::map<std::string, std::string> v;
  for (const auto& e : d) v[e.key] = e.value;
  EXPECT_EQ(v.size(), d.size()) << "a key listed twice";
  EXPECT_EQ(v["store.path"], "\"/var/lib/senderguard\"");
  EXPECT_EQ(v["milter.socket_mode"], "\"0660\"");
  EXPECT_EQ(v["milter.identity"], "[\"sasl\", \"sender-domain\", \"client-address\"]");
  EXPECT_EQ(v["quota.day.limit"], "\"unlimited\"");
  EXPECT_EQ(v["reputation.suspend_hard_rate"], "0.1");
  EXPECT_EQ(v["reputation.tier_multipliers"], "[1.0, 1.5, 2.0, 3.0, 4.0]");
  EXPECT_EQ(v["monitoring.interval"], "\"60s\"");
  EXPECT_EQ(v["feedback.secret"], "\"\"");
  EXPECT_EQ(d.front().key, "store.backend");
  EXPECT_EQ(d.back().key, "monitoring.textfile");
}

// Each key's printer reads its own field: with every key changed, every line
// differs from the default's; and the lines read back (under their
// sections) give the same configuration, secrets aside.
TEST(ConfigEntries, EveryKeyChangedReadsBack) {
  const auto d = Entries("");
  const auto full = Entries(kEveryKeyChanged);
  ASSERT_EQ(full.size(), d.size());
  // Secrets are shown hidden: written back with their real values.
  const std::map<std::string, std::string> secret = {
      {"store.postgresql.conninfo", R"("host=db1,db2 password='s3 cr\\'et' dbname=sg")"},
      {"feedback.secret", R"("0123456789abcdef0123")"}};
  std::vector<ConfigEntry> written;
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(full[i].key, d[i].key);
    EXPECT_NE(full[i].value, d[i].value) << full[i].key << " prints the same with every key changed";
    EXPECT_EQ(full[i].secret, secret.count(full[i].key) == 1) << full[i].key;
    written.push_back(full[i]);
    if (full[i].secret) written.back().value = secret.at(full[i].key);
  }
  const auto back = Entries(AsToml(written));
  ASSERT_EQ(back.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(back[i].value, full[i].value) << full[i].key;
  // The lines alone, dotted keys at the top, as --changed prints them: TOML with the same effect.
  std::string dotted;
  for (const auto& e : written) dotted += e.key + " = " + e.value + "\n";
  const auto again = Entries(dotted);
  ASSERT_EQ(again.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(again[i].value, full[i].value) << full[i].key;
}

// `senderguardctl config --json` takes each value as JSON: what the table
// writes is the subset of TOML that JSON shares (a secret shown hidden aside).
TEST(ConfigEntries, ValuesAreJsonToo) {
  for (const auto& entries : {Entries(""), Entries(kEveryKeyChanged)}) {
    ASSERT_FALSE(entries.empty());
    for (const auto& e : entries) {
      if (e.value == "(set, hidden)") continue;
      const auto j = nlohmann::json::parse(e.value, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << e.key << " = " << e.value;
    }
  }
  for (const auto& e : Entries(kEveryKeyChanged)) {
    // Quotes and a backslash, escaped.
    if (e.key == "milter.notify_command") {
      EXPECT_EQ(nlohmann::json::parse(e.value), nlohmann::json({"/usr/local/bin/notify", "say \"hi\"\\ there"}));
    }
    if (e.key == "reputation.tier_multipliers") {
      EXPECT_EQ(nlohmann::json::parse(e.value).dump(), "[1.0,2.0,3.0,4.0,5.5]");
    }
    if (e.key == "reputation.suspend_complaint_rate") {
      EXPECT_EQ(nlohmann::json::parse(e.value), 0.002);
    }
  }
}

TEST(ConfigEntries, SecretsAreHidden) {
  const auto full = Entries(kEveryKeyChanged);
  std::string all;
  for (const auto& e : full) all += e.key + " = " + e.value + "\n";
  EXPECT_EQ(all.find("s3"), std::string::npos) << all;
  EXPECT_EQ(all.find("0123456789abcdef"), std::string::npos) << all;
  EXPECT_NE(all.find("store.postgresql.conninfo = \"host=db1,db2 password=(set, hidden) dbname=sg\"\n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("feedback.secret = (set, hidden)\n"), std::string::npos) << all;
  const std::vector<std::pair<std::string, std::string>> conninfo = {
      {"host=db dbname=sg", "\"host=db dbname=sg\""},
      {"password=pw", "\"password=(set, hidden)\""},
      {"host=db password = 'a b\\' c' user=u", "\"host=db password = (set, hidden) user=u\""},
      {"host=db password = 'a b\\\\' c' user=u", "\"(set, hidden)\""},  // 'a b\\' then c': not key=value
      {"postgresql://u:pw@db/sg", "\"(set, hidden)\""},
      {"postgres://u@db/sg?password=pw", "\"(set, hidden)\""},
      {"postgresql://u@db/sg", "\"postgresql://u@db/sg\""},
      {"host=db password='unterminated", "\"(set, hidden)\""},
  };
  for (const auto& [text, want] : conninfo) {
    std::string esc;
    for (char c : text) esc += c == '\\' ? "\\\\" : std::string(1, c);
    const auto e = Entries("[store.postgresql]\nconninfo = \"" + esc + "\"\n");
    bool found = false;
    for (const auto& x : e) {
      if (x.key != "store.postgresql.conninfo") continue;
      found = true;
      EXPECT_TRUE(x.secret);
      EXPECT_EQ(x.value, want) << text;
    }
    EXPECT_TRUE(found);
  }
}

// The parser knows no key (and no section) that ConfigEntries lacks, and
// ConfigEntries lists none the parser refuses. The candidates: every
// lower-case word quoted in config.cc (where the parser names its keys)
// and every part of the keys printed (the windows' names come from
// decide/quota). Each is tried in every section with a value no key takes
// (a date): a key the parser does not know says "unknown key", one it
// knows says what it expected instead.
TEST(ConfigEntries, EveryKeyTheParserKnowsIsPrinted) {
  const std::string source = ReadFile(std::string(SG_SOURCE_DIR) + "/lib/config/config.cc");
  ASSERT_FALSE(source.empty());
  std::set<std::string> candidates;
  for (size_t i = source.find('"'); i != std::string::npos; i = source.find('"', i + 1)) {
    const size_t end = source.find('"', i + 1);
    if (end == std::string::npos) break;
    const std::string word = source.substr(i + 1, end - i - 1);
    if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos)
      candidates.insert(word);
  }
  std::set<std::string> printed, sections = {""};
  // A named Config, not a temporary: g++ 12 -O3 warns (maybe-uninitialized)
  // about a temporary's strings destroyed at the end of the range-for.
  const Config defaults;
  for (const auto& e : ConfigEntries(defaults)) {
    printed.insert(e.key);
    size_t start = 0;
    for (size_t dot = e.key.find('.'); dot != std::string::npos; dot = e.key.find('.', dot + 1)) {
      sections.insert(e.key.substr(0, dot));
      candidates.insert(e.key.substr(start, dot - start));
      start = dot + 1;
    }
    candidates.insert(e.key.substr(start));
  }
  ASSERT_GT(candidates.size(), 80u);
  std::set<std::string> known;
  for (const auto& sec : sections) {
    for (const auto& word : candidates) {
      const std::string text = (sec.empty() ? "" : "[" + sec + "]\n") + word + " = 1979-05-27T07:32:00Z\n";
      auto r = ParseConfig(text, "t.conf");
      ASSERT_FALSE(r.ok()) << text;  // no key takes a date
      const std::string m = r.status().message();
      if (m.find("unknown key") == std::string::npos && m.find("unknown section") == std::string::npos)
        known.insert(sec.empty() ? word : sec + "." + word);
    }
  }
  std::set<std::string> want = printed;
  for (const auto& sec : sections)
    if (!sec.empty()) want.insert(sec);
  for (const auto& k : known) EXPECT_TRUE(want.count(k)) << k << ": the parser knows it, config does not print it";
  for (const auto& k : want) EXPECT_TRUE(known.count(k)) << k << ": config prints it, the parser does not know it";
}

}  // namespace
}  // namespace senderguard
