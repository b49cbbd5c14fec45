#include "senderguard/feedback/bounce.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace senderguard {
namespace {

using C = OutcomeClass;
using B = BounceCategory;

const BounceRules& Shipped() {
  static const BounceRules* rules = [] {
    auto r = BounceRules::Load(SG_SOURCE_DIR "/conf/bounce-rules.conf");
    if (!r.ok()) {
      ADD_FAILURE() << r.status().message();
      return new BounceRules();
    }
    return new BounceRules(std::move(r.value()));
  }();
  return *rules;
}

// "host NAME[ADDR] said: TEXT (in reply to CMD command)", as Postfix's smtp
// client logs a remote server's reply.
std::string Said(std::string_view host, std::string_view text,
                 std::string_view cmd = "RCPT TO") {
  return "host " + std::string(host) + "[192.0.2.25] said: " + std::string(text) +
         " (in reply to " + std::string(cmd) + " command)";
}

struct Case {
  const char* name;
  const char* status;
  const char* dsn;
  std::string reply;
  C cls;
  B category;
};

void Check(const std::vector<Case>& cases) {
  const BounceRules& rules = Shipped();
  for (const auto& c : cases) {
    Classification got = rules.Classify(c.status, c.dsn, c.reply);
    EXPECT_EQ(OutcomeClassName(got.cls), OutcomeClassName(c.cls))
        << c.name << ": " << c.reply << " (rule " << got.rule << ", line "
        << rules.RuleLine(got.rule) << ", by " << ClassifiedByName(got.by) << ")";
    EXPECT_EQ(BounceCategoryName(got.category), BounceCategoryName(c.category))
        << c.name << ": " << c.reply << " (rule " << got.rule << ", line "
        << rules.RuleLine(got.rule) << ", by " << ClassifiedByName(got.by) << ")";
  }
}

TEST(BounceRules, ShippedFileLoads) {
  auto r = BounceRules::Load(SG_SOURCE_DIR "/conf/bounce-rules.conf");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GE(r->size(), 60u);
  EXPECT_LE(r->size(), 120u);
  EXPECT_GT(r->code_count(), 30u);
  EXPECT_GT(r->RuleLine(0), 0);
  EXPECT_EQ(r->RuleLine(-1), 0);
  EXPECT_EQ(r->RuleLine(static_cast<int>(r->size())), 0);
}

TEST(BounceClassify, RecipientUnknown) {
  Check({
      {"gmail_nosuchuser", "bounced", "5.1.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try "
            "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
            "unnecessary spaces. For more information, go to 550 5.1.1  "
            "https://support.google.com/mail/?p=NoSuchUser x1-20020a05 - gsmtp"),
       C::kHard, B::kRecipientUnknown},
      {"yahoo_dd", "bounced", "5.0.0",
       Said("mta7.am0.yahoodns.net",
            "554 delivery error: dd This user doesn't have a yahoo.com account "
            "(bob@yahoo.com) [0] - mta1481.mail.ne1.yahoo.com",
            "end of DATA"),
       C::kHard, B::kRecipientUnknown},
      {"yahoo_552_mailbox_not_found", "bounced", "5.0.0",
       Said("mta6.am0.yahoodns.net", "552 1 Requested mail action aborted, mailbox not found"),
       C::kHard, B::kRecipientUnknown},
      {"aol_dd", "bounced", "5.0.0",
       Said("mx-aol.mail.gm0.yahoodns.net",
            "554 delivery error: dd This user doesn't have a aol.com account (bob@aol.com) [0]"),
       C::kHard, B::kRecipientUnknown},
      {"o365_recipient_not_found", "bounced", "5.1.10",
       Said("example-com.mail.protection.outlook.com",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient bob@example.com not found "
            "by SMTP address lookup"),
       C::kHard, B::kRecipientUnknown},
      {"exchange_exrecipnotfound", "bounced", "5.1.1",
       Said("mail.example.com", "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found"), C::kHard,
       B::kRecipientUnknown},
      {"o365_dbeb_access_denied", "bounced", "5.4.1",
       Said("example-com.mail.protection.outlook.com",
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
            "[AM4PEPF00027A6C.eurprd04.prod.outlook.com 2026-01-05T10:11:12.000Z]"),
       C::kHard, B::kRecipientUnknown},
      {"outlook_com_mailbox_unavailable", "bounced", "5.5.0",
       Said("hotmail-com.olc.protection.outlook.com",
            "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
            "[DB5EUR03FT049.eop-EUR03.prod.protection.outlook.com]"),
       C::kHard, B::kRecipientUnknown},
      {"gmx_mailbox_unavailable", "bounced", "5.0.0",
       Said("mx00.emig.gmx.net",
            "550 Requested action not taken: mailbox unavailable "
            "[nemesis-id=xyz]"),
       C::kHard, B::kRecipientUnknown},
      {"icloud_user_does_not_exist", "bounced", "5.1.1",
       Said("mx01.mail.icloud.com", "550 5.1.1 <bob@icloud.com>: user does not exist"), C::kHard,
       B::kRecipientUnknown},
      {"postfix_virtual_mailbox_table", "bounced", "5.1.1",
       Said("mail.example.net",
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual "
            "mailbox table"),
       C::kHard, B::kRecipientUnknown},
      {"postfix_local_recipient_table", "bounced", "5.1.1",
       Said("mail.example.net",
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local "
            "recipient table"),
       C::kHard, B::kRecipientUnknown},
      {"barracuda_nsu", "bounced", "5.1.1",
       Said("d1234.ess.barracudanetworks.com",
            "550 cuda_nsu 5.1.1 <bob@example.org> Recipient address rejected: User unknown"),
       C::kHard, B::kRecipientUnknown},
      {"mimecast_invalid_recipient", "bounced", "5.0.0",
       Said("eu-smtp-inbound-1.mimecast.com",
            "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 "
            "[AbCdEf.uk12]"),
       C::kHard, B::kRecipientUnknown},
      {"proofpoint_user_unknown", "bounced", "5.1.1",
       Said("mx0a-00123.pphosted.com", "550 5.1.1 User Unknown"), C::kHard,
       B::kRecipientUnknown},
      {"comcast_not_our_customer", "bounced", "5.1.1",
       Said("mx1.comcast.net", "550 5.1.1 <bob@comcast.net> Not our Customer"), C::kHard,
       B::kRecipientUnknown},
      {"orange_invalid_recipient", "bounced", "5.1.1",
       Said("smtp-in.orange.fr",
            "550 5.1.1 <bob@orange.fr>: Adresse d au moins un destinataire invalide. Invalid "
            "recipient. OFR_416 [416]"),
       C::kHard, B::kRecipientUnknown},
      {"mailru_user_not_found", "bounced", "5.0.0",
       Said("mxs.mail.ru",
            "550 Message was not accepted -- invalid mailbox.  Local mailbox bob@mail.ru is "
            "unavailable: user not found"),
       C::kHard, B::kRecipientUnknown},
      {"zoho_user_unknown", "bounced", "5.1.1",
       Said("mx.zoho.com", "550 5.1.1 <bob@zoho.com> User unknown"), C::kHard,
       B::kRecipientUnknown},
      {"fastmail_virtual_alias", "bounced", "5.1.1",
       Said("in1-smtp.messagingengine.com",
            "550 5.1.1 <bob@fastmail.com>: Recipient address rejected: User unknown in virtual "
            "alias table"),
       C::kHard, B::kRecipientUnknown},
      {"dovecot_lmtp", "bounced", "5.1.1",
       "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bob@example.net> User doesn't exist: "
       "bob@example.net (in reply to RCPT TO command)",
       C::kHard, B::kRecipientUnknown},
      {"exim_no_such_user", "bounced", "5.0.0",
       Said("mail.example.biz", "550 No Such User Here"), C::kHard, B::kRecipientUnknown},
      {"qmail_no_mailbox", "bounced", "5.1.1",
       Said("mail.example.biz", "554 Sorry, no mailbox here by that name. (#5.1.1)"), C::kHard,
       B::kRecipientUnknown},
      {"att_addressee_unknown", "bounced", "5.2.1",
       Said("ff-ip4-mx-vip1.prodigy.net",
            "550 5.2.1 <BOB@PRODIGY.NET>... Addressee unknown, relay=[192.0.2.9]"),
       C::kHard, B::kRecipientUnknown},
      {"local_unknown_user", "bounced", "5.1.1", "unknown user: \"bob\"", C::kHard,
       B::kRecipientUnknown},
      {"error_agent_user_unknown", "bounced", "5.1.1", "user unknown", C::kHard,
       B::kRecipientUnknown},
      {"error_agent_with_code", "bounced", "5.1.1", "5.1.1 user unknown", C::kHard,
       B::kRecipientUnknown},
      {"gmail_invalid_rfc5321", "bounced", "5.1.3",
       Said("gmail-smtp-in.l.google.com",
            "553-5.1.3 The recipient address <bob@@gmail.com> is not a valid RFC 5321 address. "
            "For more 553-5.1.3 information, go to 553 5.1.3  "
            "https://support.google.com/a/answer/3221692 - gsmtp"),
       C::kHard, B::kRecipientUnknown},
      {"webde_unknown", "bounced", "5.0.0",
       Said("mx-ha03.web.de", "550 Benutzer nicht bekannt/User unknown"), C::kHard,
       B::kRecipientUnknown},
  });
}

TEST(BounceClassify, DomainUnknown) {
  Check({
      {"postfix_nxdomain", "bounced", "5.4.4",
       "Host or domain name not found. Name service error for name=nx.example type=MX: Host "
       "not found",
       C::kHard, B::kDomainUnknown},
      {"postfix_nullmx", "bounced", "5.1.10", "Domain example.com does not accept mail (nullMX)",
       C::kHard, B::kDomainUnknown},
      {"receiver_domain_not_found", "bounced", "5.1.2",
       Said("mx.example.net",
            "550 5.1.2 <bob@old.example>: Recipient address rejected: Domain not found"),
       C::kHard, B::kDomainUnknown},
      {"by_code_5_1_2", "bounced", "5.1.2", Said("mx.example.net", "550 5.1.2 Go away"),
       C::kHard, B::kDomainUnknown},
  });
}

TEST(BounceClassify, MailboxDisabledAndInactive) {
  Check({
      {"gmail_disabled", "bounced", "5.2.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.2.1 The email account that you tried to reach is disabled. Learn more at "
            "550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si123 - gsmtp"),
       C::kHard, B::kMailboxDisabled},
      {"gmail_inactive", "bounced", "5.2.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.2.1 The email account that you tried to reach is inactive. For more "
            "information, go to 550 5.2.1  https://support.google.com/mail/?p=DisabledUser "
            "a1si123 - gsmtp"),
       C::kHard, B::kInactiveAccount},
      {"yahoo_disabled", "bounced", "5.0.0",
       Said("mta5.am0.yahoodns.net",
            "554 delivery error: dd Sorry your message to bob@yahoo.com cannot be delivered. "
            "This account has been disabled or discontinued [#102]. - mta1234.mail.bf1.yahoo.com",
            "end of DATA"),
       C::kHard, B::kMailboxDisabled},
      {"mailru_disabled", "bounced", "5.0.0",
       Said("mxs.mail.ru",
            "550 Message was not accepted -- invalid mailbox.  Local mailbox bob@mail.ru is "
            "unavailable: account is disabled"),
       C::kHard, B::kMailboxDisabled},
      {"gmx_inactive", "bounced", "5.2.1",
       Said("mx00.emig.gmx.net", "550 5.2.1 <bob@gmx.de>... User is inactive"), C::kHard,
       B::kInactiveAccount},
      {"orange_archived", "bounced", "5.2.1",
       Said("smtp-in.orange.fr",
            "550 5.2.1 <bob@orange.fr>: Boite du destinataire archivee. Archived recipient "
            "mailbox. OFR_418 [418]"),
       C::kHard, B::kInactiveAccount},
      {"rfc3463_text", "bounced", "5.2.1",
       Said("mx.example.org", "550 5.2.1 Mailbox disabled, not accepting messages"), C::kHard,
       B::kMailboxDisabled},
      {"by_code_5_2_1", "bounced", "5.2.1", Said("mx.example.org", "550 5.2.1 Nope"), C::kHard,
       B::kMailboxDisabled},
  });
}

TEST(BounceClassify, MailboxFull) {
  Check({
      {"gmail_452_over_quota", "deferred", "4.2.2",
       Said("gmail-smtp-in.l.google.com",
            "452-4.2.2 The recipient's inbox is out of storage space. Please direct the 452-4.2.2 "
            "recipient to 452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp a1 - gsmtp"),
       C::kDeferred, B::kMailboxFull},
      {"gmail_552_over_quota_perm", "bounced", "5.2.2",
       Said("gmail-smtp-in.l.google.com",
            "552-5.2.2 The recipient's inbox is out of storage space and inbound mail cannot be "
            "552-5.2.2 delivered. Please direct the recipient to 552 5.2.2  "
            "https://support.google.com/mail/?p=OverQuotaPerm a1 - gsmtp",
            "end of DATA"),
       C::kSoft, B::kMailboxFull},
      {"icloud_over_quota", "bounced", "5.2.2",
       Said("mx02.mail.icloud.com", "552 5.2.2 <bob@icloud.com>: user is over quota"), C::kSoft,
       B::kMailboxFull},
      {"dovecot_quota", "bounced", "5.2.2",
       Said("mail.example.net",
            "552 5.2.2 <bob@example.net> Quota exceeded (mailbox for user is full)"),
       C::kSoft, B::kMailboxFull},
      {"exchange_quota_exception", "bounced", "5.2.2",
       Said("mail.example.com",
            "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
            "MapiExceptionShutoffQuotaExceeded"),
       C::kSoft, B::kMailboxFull},
      {"tonline_storage_quota", "bounced", "5.2.2",
       Said("mx00.t-online.de", "552 5.2.2 Over STORAGE quota"), C::kSoft, B::kMailboxFull},
      {"orange_full", "bounced", "5.1.1",
       Said("smtp-in.orange.fr",
            "552 5.1.1 <bob@orange.fr>: Boite du destinataire pleine. Recipient mailbox full. "
            "OFR_417 [417]"),
       C::kSoft, B::kMailboxFull},
      {"webde_storage", "bounced", "5.0.0",
       Said("mx-ha02.web.de",
            "550 Benutzer hat das Speichervolumen ueberschritten. / User has exhausted allowed "
            "storage space."),
       C::kSoft, B::kMailboxFull},
      {"yandex_size_limit", "bounced", "5.2.2",
       Said("mx.yandex.ru", "552 5.2.2 Mailbox size limit exceeded"), C::kSoft, B::kMailboxFull},
      {"local_file_too_large", "bounced", "5.2.2",
       "cannot update mailbox /var/mail/bob for user bob. error writing message: File too large",
       C::kSoft, B::kMailboxFull},
      {"maildir_disk_quota", "deferred", "4.2.2",
       "maildir delivery failed: create maildir file /home/bob/Maildir/tmp/x: Disk quota "
       "exceeded",
       C::kDeferred, B::kMailboxFull},
      {"by_reply_552", "bounced", "5.0.0", Said("mx.example.org", "552 Requested action aborted"),
       C::kSoft, B::kMailboxFull},
  });
}

TEST(BounceClassify, RateLimitedAndDeferrals) {
  Check({
      {"yahoo_tss04", "deferred", "4.7.0",
       Said("mta7.am0.yahoodns.net",
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
            "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
            "MAIL FROM"),
       C::kDeferred, B::kRateLimited},
      {"yahoo_ts01", "deferred", "4.7.0",
       Said("mta5.am0.yahoodns.net",
            "421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user "
            "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
            "MAIL FROM"),
       C::kDeferred, B::kRateLimited},
      {"gmail_receiving_too_quickly", "deferred", "4.2.1",
       Said("gmail-smtp-in.l.google.com",
            "450-4.2.1 The user you are trying to contact is receiving mail at a rate that "
            "450-4.2.1 prevents additional messages from being delivered. Please resend your "
            "450-4.2.1 message at a later time. If the user is able to receive mail at that "
            "450-4.2.1 time, your message will be delivered. For more information, go to 450 "
            "4.2.1  https://support.google.com/mail/?p=ReceivingRate a1 - gsmtp"),
       C::kDeferred, B::kRateLimited},
      {"gmail_4728", "deferred", "4.7.28",
       Said("gmail-smtp-in.l.google.com",
            "421-4.7.28 [192.0.2.1      15] Our system has detected an unusual rate of "
            "421-4.7.28 unsolicited mail originating from your IP address. To protect our users "
            "421-4.7.28 from spam, mail sent from your IP address has been temporarily rate "
            "421-4.7.28 limited. Please visit 421-4.7.28  "
            "https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk "
            "421 4.7.28 Email Senders Guidelines. a1 - gsmtp",
            "end of DATA"),
       C::kDeferred, B::kRateLimited},
      {"microsoft_server_busy", "deferred", "4.7.500",
       Said("example-com.mail.protection.outlook.com",
            "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS77712344) "
            "[DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]"),
       C::kDeferred, B::kRateLimited},
      {"yahoo_resources", "deferred", "4.0.0",
       Said("mta6.am0.yahoodns.net",
            "451 mta1234.mail.bf1.yahoo.com Resources temporarily unavailable. Please try again "
            "later [#4.16.1].",
            "MAIL FROM"),
       C::kDeferred, B::kRateLimited},
      {"microsoft_s775", "deferred", "4.7.650",
       Said("hotmail-com.olc.protection.outlook.com",
            "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP "
            "reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)",
            "MAIL FROM"),
       C::kDeferred, B::kRateLimited},
      {"icloud_excessive_volume", "deferred", "4.7.1",
       Said("mx01.mail.icloud.com",
            "421 4.7.1 Messages to bob@icloud.com deferred due to excessive volume. Try again "
            "later - https://support.apple.com/en-us/HT204137"),
       C::kDeferred, B::kRateLimited},
      {"orange_too_many_connections", "deferred", "4.0.0",
       "host smtp-in.orange.fr[192.0.2.25] refused to talk to me: 421 mwinf5c11 ME Trop de "
       "connexions, veuillez verifier votre configuration. Too many connections, slow down. "
       "OFR004_104 [104]",
       C::kDeferred, B::kRateLimited},
      {"postgrey", "deferred", "4.2.0",
       Said("mx.example.net",
            "450 4.2.0 <bob@example.net>: Recipient address rejected: Greylisted, see "
            "http://postgrey.schweikert.ch/help/example.net.html"),
       C::kDeferred, B::kRateLimited},
      {"postfix_too_many_recipients", "deferred", "4.5.3",
       Said("mx.example.net", "452 4.5.3 Error: too many recipients"), C::kDeferred,
       B::kRateLimited},
      {"softbounce_user_unknown", "SOFTBOUNCE", "5.1.1",
       Said("mx.example.net",
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual "
            "mailbox table"),
       C::kDeferred, B::kRecipientUnknown},
      {"deferred_user_unknown_450", "deferred", "4.1.1",
       Said("mx.example.net",
            "450 4.1.1 <bob@example.net>: Recipient address rejected: User unknown in local "
            "recipient table"),
       C::kDeferred, B::kRecipientUnknown},
      {"bounced_rate_limit_5xx", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Rate limit exceeded for this sender"), C::kSoft,
       B::kRateLimited},
      {"microsoft_submission_quota", "bounced", "5.2.2",
       Said("smtp.office365.com",
            "554 5.2.2 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to "
            "process message due to a permanent exception",
            "end of DATA"),
       C::kSoft, B::kRateLimited},
  });
}

TEST(BounceClassify, PolicyAndBlocklists) {
  Check({
      {"spamhaus_postfix", "bounced", "5.7.1",
       Said("mx.example.net",
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
            "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1"),
       C::kTechnical, B::kPolicy},
      {"o365_spamhaus", "bounced", "5.7.1",
       Said("example-com.mail.protection.outlook.com",
            "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To "
            "request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 "
            "(AS3130). [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]"),
       C::kTechnical, B::kPolicy},
      {"barracuda_reputation", "bounced", "5.0.0",
       Said("d1234.ess.barracudanetworks.com",
            "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda "
            "Reputation; http://www.barracudanetworks.com/reputation/?r=1&ip=192.0.2.1",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"outlook_s3150", "bounced", "5.7.1",
       Said("hotmail-com.olc.protection.outlook.com",
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact "
            "your Internet service provider since part of their network is on our block list "
            "(S3150). You can also refer your provider to "
            "http://mail.live.com/mail/troubleshooting.aspx#errors. "
            "[AM4PEPF00025F9A.EURP195.PROD.OUTLOOK.COM]",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"o365_5_7_708", "bounced", "5.7.708",
       Said("example-com.mail.protection.outlook.com",
            "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. "
            "For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 "
            "AS(7171)"),
       C::kTechnical, B::kPolicy},
      {"proofpoint_blocked", "bounced", "5.7.1",
       Said("mx0b-00123.pphosted.com",
            "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"cloudmark_comcast", "bounced", "5.0.0",
       Said("mx1.comcast.net",
            "554 resimta-po-12v.sys.comcast.net resimta-po-12v.sys.comcast.net 192.0.2.1 found "
            "on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php"
            "#BL000001",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"cloudmark_csi", "bounced", "5.7.1",
       Said("mx.example.net",
            "550 5.7.1 Your IP 192.0.2.1 has been blocked by Cloudmark (CSI); see "
            "https://csi.cloudmark.com/reset-request/?ip=192.0.2.1"),
       C::kTechnical, B::kPolicy},
      {"yahoo_bl21", "bounced", "5.7.1",
       Said("mta6.am0.yahoodns.net",
            "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip "
            "is in Spamhaus's list; see http://postmaster.yahoo.com/errors/postmaster-21.html",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"yahoo_ts03_deferred", "deferred", "4.7.0",
       Said("mta6.am0.yahoodns.net",
            "421 4.7.0 [TS03] All messages from 192.0.2.1 will be permanently deferred; "
            "Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
            "MAIL FROM"),
       C::kDeferred, B::kPolicy},
      {"gmail_unsolicited", "bounced", "5.7.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.1 [192.0.2.1      12] Our system has detected that this message is "
            "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, "
            "550-5.7.1 this message has been blocked. For more information, go to 550 5.7.1  "
            "https://support.google.com/mail/?p=UnsolicitedMessageError a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"gmail_gcdp", "bounced", "5.7.1",
       Said("aspmx.l.google.com",
            "550 5.7.1 This message violates example.com email policy. - gcdp a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kPolicy},
      {"gmail_security_issue", "bounced", "5.7.0",
       Said("gmail-smtp-in.l.google.com",
            "552-5.7.0 This message was blocked because its content presents a potential "
            "552-5.7.0 security issue. To review our message and attachment content "
            "guidelines, 552 5.7.0  https://support.google.com/mail/?p=BlockedMessage a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"icloud_cs01", "bounced", "5.7.1",
       Said("mx01.mail.icloud.com",
            "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
            "https://support.apple.com/en-us/HT204137",
            "end of DATA"),
       C::kTechnical, B::kPolicy},
      {"mimecast_admin_prohibition", "bounced", "5.0.0",
       Said("eu-smtp-inbound-1.mimecast.com",
            "550 Administrative prohibition - envelope blocked - "
            "https://community.mimecast.com/docs/DOC-1369#550 [AbCd.uk3]"),
       C::kTechnical, B::kPolicy},
      {"gmx_policy_restrictions", "bounced", "5.0.0",
       Said("mx00.emig.gmx.net",
            "554-Transaction failed 554-Reject due to policy restrictions. 554 For explanation "
            "visit https://postmaster.gmx.net/en/case?c=r0701&i=ip&v=192.0.2.1&r=1N2abc",
            "end of DATA"),
       C::kTechnical, B::kPolicy},
      {"zoho_policy_error_under_5_1_1", "bounced", "5.1.1",
       Said("mx.zoho.com", "552 5.1.1 <bob@zoho.com> Mailbox delivery failure policy error"),
       C::kTechnical, B::kPolicy},
      {"mailru_spam", "bounced", "5.0.0",
       Said("mxs.mail.ru",
            "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=x",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"relay_access_denied", "bounced", "5.7.1",
       Said("mx.example.net", "554 5.7.1 <bob@example.net>: Relay access denied"), C::kTechnical,
       B::kPolicy},
      {"postfix_access_map_reject", "bounced", "5.7.1",
       Said("mx.example.net", "554 5.7.1 <bob@example.net>: Recipient address rejected: Access "
                              "denied"),
       C::kTechnical, B::kPolicy},
      {"smarthost_account_suspended", "bounced", "5.7.1",
       Said("smtp.provider.example",
            "550 5.7.1 Your account has been suspended for sending spam", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"aol_521", "bounced", "5.2.1",
       Said("mx-aol.mail.gm0.yahoodns.net",
            "521 5.2.1 :  AOL will not accept delivery of this message.", "end of DATA"),
       C::kTechnical, B::kPolicy},
      // A malformed message is its format, neither who sends it nor spam: other.
      {"gmail_multiple_from", "bounced", "5.7.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.1 [192.0.2.1] Messages with multiple addresses in From: header are not "
            "550 5.7.1 accepted. a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kOther},
      {"zoho_virus", "bounced", "5.7.1",
       Said("mx.zoho.com", "552 5.7.1 virus Eicar-Test-Signature detected by Zoho Mail",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      // A hard verdict at MAIL FROM or the greeting is about the sender.
      {"smarthost_account_disabled_at_mail_from", "bounced", "5.2.1",
       Said("smtp.relay.example", "550 5.2.1 Account disabled", "MAIL FROM"), C::kTechnical,
       B::kPolicy},
      {"user_unknown_at_greeting", "bounced", "5.1.1",
       "host mx.example.net[192.0.2.25] refused to talk to me: 550 5.1.1 user unknown",
       C::kTechnical, B::kPolicy},
      {"account_disabled_at_rcpt_is_hard", "bounced", "5.2.1",
       Said("mx.example.net", "550 5.2.1 Account disabled"), C::kHard, B::kMailboxDisabled},
      {"by_code_5_7_1", "bounced", "5.7.1", Said("mx.example.net", "550 5.7.1 Go away"),
       C::kTechnical, B::kPolicy},
      {"by_reply_554", "bounced", "5.0.0", Said("mx.example.net", "554 Go away"), C::kTechnical,
       B::kPolicy},
  });
}

TEST(BounceClassify, Authentication) {
  Check({
      {"gmail_5726_unauthenticated", "bounced", "5.7.26",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated. "
            "550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. "
            "550-5.7.26  550-5.7.26  Authentication results: 550-5.7.26  DKIM = did not pass "
            "550-5.7.26  SPF [example.com] with ip: [192.0.2.1] = did not pass 550-5.7.26  "
            "550 5.7.26  https://support.google.com/mail/answer/81126#authentication a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"gmail_5726_dmarc", "bounced", "5.7.26",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's "
            "550-5.7.26 DMARC policy. Please contact the administrator of example.com domain "
            "550 5.7.26 a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"gmail_ptr", "bounced", "5.7.25",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a "
            "550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not "
            "550-5.7.25 point to the sending IP. a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kPolicy},
      {"yahoo_579", "bounced", "5.7.9",
       Said("mta7.am0.yahoodns.net",
            "554 5.7.9 Message not accepted for policy reasons.  See "
            "https://postmaster.yahooinc.com/error-codes",
            "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"microsoft_5_7_509", "bounced", "5.7.509",
       Said("example-com.mail.protection.outlook.com",
            "550 5.7.509 Access denied, sending domain example.com does not pass DMARC "
            "verification and has a DMARC policy of reject."),
       C::kTechnical, B::kAuthentication},
      {"microsoft_5_7_515", "bounced", "5.7.515",
       Said("outlook-com.olc.protection.outlook.com",
            "550 5.7.515 Access denied, sending domain [EXAMPLE.COM] does not meet the required "
            "authentication level. The sender's domain in the 5322.From address doesn't meet "
            "the authentication requirements defined for the sender."),
       C::kTechnical, B::kAuthentication},
      {"dkim_fail", "bounced", "5.7.20",
       Said("mx.example.net", "550 5.7.20 No passing DKIM signature found", "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"gmx_spf", "bounced", "5.0.0",
       Said("mx00.emig.gmx.net",
            "550 <bob@example.com>: Reject due to SPF policy. The originating IP of the message "
            "is not permitted by the domain owner"),
       C::kTechnical, B::kAuthentication},
      {"postfix_sender_domain_not_found", "bounced", "5.1.8",
       Said("mx.example.net",
            "553 5.1.8 <news@bad.example>: Sender address rejected: Domain not found",
            "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"exim_sender_verify", "bounced", "5.0.0",
       Said("mx.example.net",
            "550-Verification failed for <news@example.com> 550-Unrouteable address 550 Sender "
            "verify failed",
            "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"postfix_reverse_hostname", "deferred", "4.7.1",
       Said("mx.example.net",
            "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]"),
       C::kDeferred, B::kPolicy},
  });
}

TEST(BounceClassify, NetworkTooLargeAndPostfixOwnTexts) {
  Check({
      {"connection_refused", "deferred", "4.4.1",
       "connect to mx.example[192.0.2.1]:25: Connection refused", C::kDeferred, B::kNetwork},
      {"connection_timed_out", "deferred", "4.4.1",
       "connect to mx.example[192.0.2.1]:25: Connection timed out", C::kDeferred, B::kNetwork},
      {"connect_ipv6_no_route", "deferred", "4.4.1",
       "connect to mx.example[2001:db8::25]:25: No route to host", C::kDeferred, B::kNetwork},
      {"lost_connection", "deferred", "4.4.2",
       "lost connection with mx.example[192.0.2.1] while sending RCPT TO", C::kDeferred,
       B::kNetwork},
      {"greeting_timeout", "deferred", "4.4.2",
       "conversation with mx.example[192.0.2.1] timed out while receiving the initial server "
       "greeting",
       C::kDeferred, B::kNetwork},
      {"suspended_connect", "deferred", "4.4.1",
       "delivery temporarily suspended: connect to mx.example[192.0.2.1]:25: Connection refused",
       C::kDeferred, B::kNetwork},
      {"suspended_other", "deferred", "4.4.2",
       "delivery temporarily suspended: something else happened", C::kDeferred, B::kNetwork},
      {"dns_try_again", "deferred", "4.4.3",
       "Host or domain name not found. Name service error for name=nx.example type=MX: Host "
       "not found, try again",
       C::kDeferred, B::kNetwork},
      {"tls_handshake", "deferred", "4.7.5", "Cannot start TLS: handshake failure", C::kDeferred,
       B::kNetwork},
      {"postfix_transport_unavailable", "deferred", "4.3.0", "mail transport unavailable",
       C::kDeferred, B::kOther},
      {"loop", "bounced", "5.4.6", "mail for example.com loops back to myself", C::kTechnical,
       B::kNetwork},
      {"size_postfix_client", "bounced", "5.3.4",
       "message size 31457280 exceeds size limit 10240000 of server mx.example[192.0.2.1]",
       C::kTechnical, B::kTooLarge},
      {"size_postfix_smtpd", "bounced", "5.3.4",
       Said("mx.example.net", "552 5.3.4 Message size exceeds fixed limit", "MAIL FROM"),
       C::kTechnical, B::kTooLarge},
      {"size_gmail", "bounced", "5.2.3",
       Said("gmail-smtp-in.l.google.com",
            "552-5.2.3 Your message exceeded Google's message size limits. For more information, "
            "552-5.2.3 visit 552 5.2.3  https://support.google.com/mail/?p=MaxSizeError a1 - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kTooLarge},
      {"deferred_unknown_text", "deferred", "4.3.0",
       Said("mx.example.net", "451 4.3.0 Temporary System Problem. Try again later"),
       C::kDeferred, B::kOther},
  });
}

// The text wins where large receivers send misleading codes.
TEST(BounceClassify, TextBeatsMisleadingCode) {
  Check({
      {"full_under_5_1_1", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 <bob@example.net>: mailbox full"), C::kSoft,
       B::kMailboxFull},
      {"quota_under_452_4_2_2", "deferred", "4.2.2",
       Said("mx.example.net", "452 4.2.2 over quota"), C::kDeferred, B::kMailboxFull},
      {"user_unknown_under_5_7_1", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 <bob@example.net>... user unknown"), C::kHard,
       B::kRecipientUnknown},
      {"full_under_550_no_enhanced", "bounced", "5.0.0",
       Said("mx.example.net", "550 Mailbox is full"), C::kSoft, B::kMailboxFull},
      {"spamhaus_under_5_1_1", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 Client host [192.0.2.1] blocked using zen.spamhaus.org"),
       C::kTechnical, B::kPolicy},
      {"mailbox_unavailable_under_5_7_1_is_policy", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Requested action not taken: mailbox unavailable"),
       C::kTechnical, B::kPolicy},
      {"sender_address_locked", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Sender address is locked"), C::kTechnical,
       B::kAuthentication},
      {"mailbox_unavailable_4xx_is_not_unknown", "deferred", "4.2.0",
       Said("mx.example.net", "450 4.2.0 Requested mail action not taken: mailbox unavailable"),
       C::kDeferred, B::kOther},
  });
}

TEST(BounceClassify, FallbacksByCode) {
  Check({
      {"dsn_5_1_1_unknown_text", "bounced", "5.1.1", Said("mx.example.net", "550 5.1.1 Nein"),
       C::kHard, B::kRecipientUnknown},
      {"dsn_5_1_10_not_5_1_1", "bounced", "5.1.10", Said("mx.example.net", "556 5.1.10 Nein"),
       C::kHard, B::kDomainUnknown},
      {"dsn_5_1_0", "bounced", "5.1.0", Said("mx.example.net", "550 5.1.0 Nein"), C::kTechnical,
       B::kOther},
      {"dsn_5_2_2", "bounced", "5.2.2", Said("mx.example.net", "552 5.2.2 Nein"), C::kSoft,
       B::kMailboxFull},
      {"dsn_5_3_4", "bounced", "5.3.4", Said("mx.example.net", "552 5.3.4 Nein"), C::kTechnical,
       B::kTooLarge},
      {"dsn_5_4_4", "bounced", "5.4.4", "Nein", C::kHard, B::kDomainUnknown},
      {"dsn_5_7_26", "bounced", "5.7.26", Said("mx.example.net", "550 5.7.26 Nein"),
       C::kTechnical, B::kAuthentication},
      // A bare 551 or 553 is never hard: both are used for relaying, senders and
      // full mailboxes as often as for unknown users (conf/bounce-rules.conf).
      {"reply_551_no_enhanced", "bounced", "5.0.0", Said("mx.example.net", "551 Nein"),
       C::kTechnical, B::kOther},
      {"reply_553_no_enhanced", "bounced", "5.0.0", Said("mx.example.net", "553 Nein"),
       C::kTechnical, B::kOther},
      {"reply_550_is_not_hard", "bounced", "5.0.0", Said("mx.example.net", "550 Nein"),
       C::kTechnical, B::kOther},
      {"refused_to_talk_554", "bounced", "5.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 554 Nein", C::kTechnical,
       B::kPolicy},
      {"nothing_at_all", "bounced", "", "", C::kTechnical, B::kOther},
      {"unknown_dsn_subject", "bounced", "5.9.9", "Nein", C::kTechnical, B::kOther},
  });
}

TEST(BounceClassify, StatusWords) {
  const BounceRules& rules = Shipped();
  const std::string unknown_user =
      Said("mx.example.net", "550 5.1.1 <bob@example.net>: Recipient address rejected: User "
                             "unknown in virtual mailbox table");
  // "sent" never reads the rules, even with a text that would match one.
  Classification c = rules.Classify("sent", "2.0.0", unknown_user);
  EXPECT_EQ(c.cls, C::kDelivered);
  EXPECT_EQ(c.category, B::kNone);
  EXPECT_EQ(c.by, ClassifiedBy::kStatus);
  EXPECT_EQ(c.rule, -1);

  c = rules.Classify("bounced", "5.1.1", unknown_user);
  EXPECT_EQ(c.cls, C::kHard);
  EXPECT_EQ(c.by, ClassifiedBy::kTextRule);
  EXPECT_GE(c.rule, 0);
  EXPECT_GT(rules.RuleLine(c.rule), 0);

  c = rules.Classify("expired", "5.1.1", unknown_user);
  EXPECT_EQ(c.cls, C::kExpired);
  EXPECT_EQ(c.category, B::kRecipientUnknown);

  for (const char* word : {"deferred", "SOFTBOUNCE", "undeliverable", "whatever", ""}) {
    c = rules.Classify(word, "5.1.1", unknown_user);
    EXPECT_EQ(c.cls, C::kDeferred) << word;
    EXPECT_EQ(c.category, B::kRecipientUnknown) << word;
  }

  // The DeliveryStatus overload agrees with the words.
  EXPECT_EQ(rules.Classify(DeliveryStatus::kSent, "", "").cls, C::kDelivered);
  EXPECT_EQ(rules.Classify(DeliveryStatus::kBounced, "5.1.1", unknown_user).cls, C::kHard);
  EXPECT_EQ(rules.Classify(DeliveryStatus::kExpired, "4.4.1", "x").cls, C::kExpired);
  EXPECT_EQ(rules.Classify(DeliveryStatus::kSoftBounce, "5.1.1", unknown_user).cls, C::kDeferred);
  EXPECT_EQ(rules.Classify(DeliveryStatus::kDeferred, "4.4.1", "x").category, B::kNetwork);

  c = rules.Classify("bounced", "5.1.1", Said("mx.example.net", "550 5.1.1 Nein"));
  EXPECT_EQ(c.by, ClassifiedBy::kEnhancedCode);
  EXPECT_EQ(c.rule, -1);
  c = rules.Classify("bounced", "5.0.0", Said("mx.example.net", "551 Nein"));
  EXPECT_EQ(c.by, ClassifiedBy::kReplyCode);
  c = rules.Classify("bounced", "", "Nein");
  EXPECT_EQ(c.by, ClassifiedBy::kDefault);
}

TEST(BounceClassify, EmptyRulesUseDefaults) {
  BounceRules none;
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.code_count(), 0u);
  Classification c = none.Classify("bounced", "5.1.1", "user unknown");
  EXPECT_EQ(c.cls, C::kTechnical);
  EXPECT_EQ(c.category, B::kOther);
  EXPECT_EQ(c.by, ClassifiedBy::kDefault);
  EXPECT_EQ(none.Classify("deferred", "4.4.1", "x").cls, C::kDeferred);
  EXPECT_EQ(none.Classify("sent", "2.0.0", "").cls, C::kDelivered);

  // A moved-from BounceRules behaves as an empty one.
  auto r = BounceRules::Parse("[[rule]]\nmatch = 'x'\nclass = \"hard\"\ncategory = \"other\"\n",
                              "t.conf");
  ASSERT_TRUE(r.ok()) << r.status().message();
  BounceRules moved = std::move(r.value());
  EXPECT_EQ(moved.size(), 1u);
  EXPECT_EQ(r->size(), 0u);  // NOLINT(bugprone-use-after-move): defined as empty
  EXPECT_EQ(r->Classify("bounced", "", "x").by, ClassifiedBy::kDefault);
}

// Hostile and odd texts: never crash, never read past the view, stay linear.
TEST(BounceClassify, HostileTexts) {
  const BounceRules& rules = Shipped();
  std::vector<std::string> texts = {
      "",
      "host ",
      "host x",
      "host x said: ",
      "host x said: 5",
      "host x said: 55",
      "host x said: 550",
      "host x refused to talk to me:",
      std::string(1, '\0'),
      std::string("user\0unknown", 12),
      "\xff\xfe\xc3\x28 user unknown \xe2\x82",
      std::string(64 * 1024, 'a'),
      std::string(64 * 1024, '('),
  };
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "user unknown mailbox full spam ";
  texts.push_back(many);
  std::string noise;
  for (int i = 0; i < 65536; ++i) noise.push_back(static_cast<char>((i * 7919) & 0xff));
  texts.push_back(noise);
  // Multi-line shapes: nothing but prefixes, a continuation prefix cut at the
  // end, a last line cut short, a last line's prefix past kMaxClassifiedReply.
  std::string prefixes = "host x said: 550-";
  for (int i = 0; i < 20000; ++i) prefixes += " 550-5.1.1";
  texts.push_back(prefixes);
  texts.push_back("host x said: 550-5.1.1 a 550-5.1.");
  texts.push_back("host x said: 550-5.1.1 a 550 5");
  texts.push_back("host x said: 550-" + std::string(kMaxClassifiedReply, 'a') + " 550 user unknown");
  for (const auto& t : texts) {
    for (const char* st : {"bounced", "deferred", "expired"}) {
      Classification c = rules.Classify(st, "5.1.1", t);
      EXPECT_NE(c.category, B::kNone);
    }
  }
  // Text beyond kMaxClassifiedReply is not read.
  std::string late(kMaxClassifiedReply, 'x');
  late += " user unknown";
  EXPECT_EQ(rules.Classify("bounced", "", late).by, ClassifiedBy::kDefault);
  std::string early = "user unknown " + std::string(100000, 'x');
  EXPECT_EQ(rules.Classify("bounced", "", early).category, B::kRecipientUnknown);
  // Also when the text is a multi-line reply: unfolding reads no further.
  EXPECT_EQ(rules.Classify("bounced", "5.0.0", texts.back()).by, ClassifiedBy::kReplyCode);
}

TEST(BounceClassify, ManyThreadsAtOnce) {
  const BounceRules& rules = Shipped();
  const std::vector<std::pair<std::string, B>> inputs = {
      {Said("mx.example.net", "550 5.1.1 User unknown"), B::kRecipientUnknown},
      {Said("mx.example.net", "552 5.2.2 Mailbox full"), B::kMailboxFull},
      {"connect to mx.example[192.0.2.1]:25: Connection refused", B::kNetwork},
      {Said("mx.example.net", "554 5.7.1 blocked using zen.spamhaus.org"), B::kPolicy},
  };
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto& [text, want] = inputs[static_cast<size_t>(i + t) % inputs.size()];
        if (rules.Classify("bounced", "5.0.0", text).category != want) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(BounceNames, RoundTrip) {
  for (int i = 0; i <= static_cast<int>(B::kOther); ++i) {
    auto b = static_cast<B>(i);
    auto back = ParseBounceCategory(BounceCategoryName(b));
    ASSERT_TRUE(back.has_value()) << i;
    EXPECT_EQ(*back, b);
  }
  EXPECT_FALSE(ParseBounceCategory("Recipient-Unknown").has_value());
  EXPECT_EQ(BounceCategoryName(B::kInactiveAccount), "inactive-account");
  EXPECT_EQ(BounceCategoryName(B::kTooLarge), "too-large");
  EXPECT_EQ(OutcomeClassName(C::kDelivered), "delivered");
  EXPECT_EQ(OutcomeClassName(C::kExpired), "expired");
  EXPECT_EQ(OutcomeClassName(C::kTechnical), "technical");
  EXPECT_EQ(ClassifiedByName(ClassifiedBy::kEnhancedCode), "dsn");
  EXPECT_TRUE(SuppressesRecipient(B::kRecipientUnknown));
  EXPECT_TRUE(SuppressesRecipient(B::kDomainUnknown));
  EXPECT_TRUE(SuppressesRecipient(B::kMailboxDisabled));
  EXPECT_FALSE(SuppressesRecipient(B::kInactiveAccount));
  EXPECT_FALSE(SuppressesRecipient(B::kMailboxFull));
  EXPECT_FALSE(SuppressesRecipient(B::kPolicy));
  EXPECT_FALSE(SuppressesRecipient(B::kNone));
  // The categories of issue 16, appended before kOther: names are what the
  // store keeps (BounceRecord::last_category), so the old names keep their
  // meaning and old records read the same.
  EXPECT_EQ(BounceCategoryName(B::kSpam), "spam");
  EXPECT_EQ(BounceCategoryName(B::kExpired), "expired");
  EXPECT_EQ(ParseBounceCategory("spam"), B::kSpam);
  EXPECT_EQ(ParseBounceCategory("expired"), B::kExpired);
  EXPECT_EQ(ParseBounceCategory("policy"), B::kPolicy);
  EXPECT_EQ(ParseBounceCategory("recipient-unknown"), B::kRecipientUnknown);
  EXPECT_FALSE(SuppressesRecipient(B::kSpam));
  EXPECT_FALSE(SuppressesRecipient(B::kExpired));
}

TEST(BasicReplyCode, Shapes) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"host mx[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO command)", "550"},
      {"host mx[192.0.2.1] said: 550-5.1.1 no", "550"},
      {"host mx[192.0.2.1] refused to talk to me: 421 busy", "421"},
      {"host mx[192.0.2.1] said: 250 ok", ""},
      {"host mx[192.0.2.1] said: 5500 x", ""},
      {"host mx[192.0.2.1] said: abc", ""},
      {"host mx[192.0.2.1] answered: 550 x", ""},
      {"554 5.7.1 direct", "554"},
      {"452", "452"},
      {"connect to mx[192.0.2.1]:25: Connection refused", ""},
      {"5.1.1 user unknown", ""},
      {"", ""},
      {"host ", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(BasicReplyCode(c.in), c.want) << c.in;
}

TEST(ServerText, Shapes) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"host mx[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO command)", "550 5.1.1 no"},
      {"host mx[192.0.2.1] said: 550 x (in reply to end of DATA command)", "550 x"},
      {"host mx[192.0.2.1] refused to talk to me: 421 busy", "421 busy"},
      // The server's text may itself hold the look-alike: only the last one goes.
      {"host mx[192.0.2.1] said: 550 a (in reply to b command) c (in reply to RCPT TO command)",
       "550 a (in reply to b command) c"},
      {"host mx[192.0.2.1] said: 550 (in reply to x", "550 (in reply to x"},
      {"host mx[192.0.2.1] said: ", ""},
      {"host mx[192.0.2.1] answered: 550 x", "host mx[192.0.2.1] answered: 550 x"},
      {"host mx.example.com", "host mx.example.com"},
      {"connect to mx[192.0.2.1]:25: Connection refused",
       "connect to mx[192.0.2.1]:25: Connection refused"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(ServerText(c.in), c.want) << c.in;

  // A host name or the SMTP command cannot match a rule.
  const BounceRules& rules = Shipped();
  Classification got = rules.Classify(
      "bounced", "5.0.0",
      "host mx.spamhaus-user-unknown.example[192.0.2.1] said: 550 Nein (in reply to RCPT TO "
      "command)");
  EXPECT_EQ(got.by, ClassifiedBy::kReplyCode);
  EXPECT_EQ(got.category, B::kOther);
}

// A multi-line reply as Postfix logs it: the lines joined with a space, each
// with its prefix (smtp_proto.c). UnfoldReply takes out the later prefixes.
TEST(UnfoldReply, Shapes) {
  struct {
    const char* in;
    bool unfolded;
    const char* want;  // when unfolded
  } cases[] = {
      // Gmail's shape: every line repeats the enhanced code; the last is "550 ".
      {"550-5.1.1 The email account does 550-5.1.1 not exist. Try 550 5.1.1  https://x - gsmtp",
       true, "550-5.1.1 The email account does not exist. Try  https://x - gsmtp"},
      // No enhanced code on the first line: only the reply codes go.
      {"550-Mailbox unknown. No mailbox for this 550-name. 550 5.1.1 User unknown", true,
       "550-Mailbox unknown. No mailbox for this name. 5.1.1 User unknown"},
      // A later line's different enhanced code stays readable.
      {"550-5.7.1 first 550 5.7.26 second", true, "550-5.7.1 first 5.7.26 second"},
      // Only continuation lines, the last line missing (a cut reply).
      {"421-4.7.0 rate of 421-4.7.0 unsolicited mail", true, "421-4.7.0 rate of unsolicited mail"},
      // The last line alone, and the last line holding nothing but its code.
      {"554-Bad DNS PTR resource record. 554 For explanation visit x", true,
       "554-Bad DNS PTR resource record. For explanation visit x"},
      {"550-5.1.1 gone 550 5.1.1", true, "550-5.1.1 gone "},
      {"550-5.1.1 gone 550", true, "550-5.1.1 gone "},
      // "550 " before the last continuation line is text, not a prefix; only
      // the first one after it is the last line's.
      {"552-size 550 bytes 552-more 552 end 552 again", true,
       "552-size 550 bytes more end 552 again"},
      // Another code, or the code inside a word, is text; a last empty line goes.
      {"550-5.7.1 see 554 x and a550-b 5501 550-", true, "550-5.7.1 see 554 x and a550-b 5501 "},
      // Not multi-line, or not a reply: unchanged.
      {"550 5.1.1 one line 550-5.1.1 look-alike", false, ""},
      {"connect to mx[192.0.2.1]:25: Connection refused", false, ""},
      {"550-", false, ""},
      {"550-x", false, ""},
      {"55-5.1.1 x 55-5.1.1 y", false, ""},
      {"", false, ""},
      // Hostile: prefixes only, non-ASCII between them.
      {"550-550-550-550-", false, ""},
      {"550- 550- 550- ", true, "550-   "},
      {"550-5.1.1 \u30e6\u30fc\u30b6 550-5.1.1 \u5b58\u5728\u3057\u307e\u305b\u3093", true,
       "550-5.1.1 \u30e6\u30fc\u30b6 \u5b58\u5728\u3057\u307e\u305b\u3093"},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(UnfoldReply(c.in, &out), c.unfolded) << c.in;
    if (c.unfolded) {
      EXPECT_EQ(out, c.want) << c.in;
      EXPECT_EQ(BasicReplyCode(out), BasicReplyCode(c.in)) << c.in;
    }
  }
  // A long reply of many lines: every prefix goes.
  std::string many = "550-5.1.1 start";
  for (int i = 0; i < 2000; ++i) many += " 550-5.1.1 w";
  many += " 550 5.1.1 end";
  std::string out;
  ASSERT_TRUE(UnfoldReply(many, &out));
  EXPECT_EQ(out.find(" 550"), std::string::npos);
  EXPECT_EQ(out.substr(0, 15), "550-5.1.1 start");
  EXPECT_EQ(out.substr(out.size() - 6), " w end");
}

// Rules-file errors: "file:line: key: message".
TEST(BounceRulesParse, Errors) {
  struct {
    const char* name;
    const char* text;
    const char* want;  // prefix of the message
  } cases[] = {
      {"bad_regex", "[[rule]]\nmatch = 'ok'\nclass = \"hard\"\ncategory = \"other\"\n\n"
                    "[[rule]]\nmatch = 'user (unknown'\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:7: rule[1].match: bad regex: missing ): user (unknown"},
      {"unknown_class", "[[rule]]\nmatch = 'x'\nclass = \"firm\"\ncategory = \"other\"\n",
       "t.conf:3: rule[0].class: expected \"hard\", \"soft\" or \"technical\", got \"firm\""},
      {"unknown_category", "[[rule]]\nmatch = 'x'\nclass = \"hard\"\ncategory = \"gone\"\n",
       "t.conf:4: rule[0].category: unknown category \"gone\""},
      {"none_category", "[[rule]]\nmatch = 'x'\nclass = \"hard\"\ncategory = \"none\"\n",
       "t.conf:4: rule[0].category: unknown category \"none\""},
      {"unknown_key_in_rule",
       "[[rule]]\nmatch = 'x'\nclass = \"hard\"\ncategory = \"other\"\nweight = 3\n",
       "t.conf:5: rule[0].weight: unknown key"},
      {"unknown_top_key", "threshold = 3\n", "t.conf:1: threshold: unknown key"},
      {"unknown_key_in_code", "[[code]]\ndsn = \"5.1.1\"\nclass = \"hard\"\n"
                              "category = \"other\"\ncolour = \"red\"\n",
       "t.conf:5: code[0].colour: unknown key"},
      {"missing_match", "[[rule]]\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:1: rule[0]: missing key \"match\""},
      {"missing_class", "[[rule]]\nmatch = 'x'\ncategory = \"other\"\n",
       "t.conf:1: rule[0]: missing key \"class\""},
      {"empty_match", "[[rule]]\nmatch = ''\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:2: rule[0].match: must not be empty"},
      {"matches_empty", "[[rule]]\nmatch = 'user unknown|'\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:2: rule[0].match: matches the empty string"},
      {"match_not_string", "[[rule]]\nmatch = 5\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:2: rule[0].match: expected a string, got integer"},
      {"bad_dsn_restriction",
       "[[rule]]\nmatch = 'x'\ndsn = \"5.1\"\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:3: rule[0].dsn: expected an enhanced status code"},
      {"bad_dsn_trailing_dot",
       "[[rule]]\nmatch = 'x'\ndsn = \"5.1.1.\"\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:3: rule[0].dsn: expected an enhanced status code"},
      {"bad_dsn_long_part",
       "[[rule]]\nmatch = 'x'\ndsn = \"5.1234.\"\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:3: rule[0].dsn: expected an enhanced status code"},
      {"bad_dsn_class", "[[code]]\ndsn = \"2.0.0\"\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:2: code[0].dsn: expected an enhanced status code"},
      {"dsn_and_reply", "[[code]]\ndsn = \"5.\"\nreply = \"550\"\nclass = \"hard\"\n"
                        "category = \"other\"\n",
       "t.conf:1: code[0]: needs exactly one of"},
      {"neither_dsn_nor_reply", "[[code]]\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:1: code[0]: needs exactly one of"},
      {"bad_reply", "[[code]]\nreply = \"250\"\nclass = \"hard\"\ncategory = \"other\"\n",
       "t.conf:2: code[0].reply: expected a 4xx or 5xx reply code"},
      {"duplicate_dsn",
       "[[code]]\ndsn = \"5.1.\"\nclass = \"hard\"\ncategory = \"other\"\n"
       "[[code]]\ndsn = \"5.1.\"\nclass = \"soft\"\ncategory = \"other\"\n",
       "t.conf:6: code[1]: \"5.1.\" listed twice"},
      {"rule_not_array", "rule = 3\n", "t.conf:1: rule: expected an array of tables"},
      {"syntax", "[[rule]\n", "t.conf:1: syntax:"},
      {"control_char", "# a\x01\n", "t.conf:1: syntax: control character"},
      {"bad_utf8", "# \xc3\x28\n", "t.conf:1: syntax: invalid UTF-8"},
      {"deep", "x = [[[[[[[[[[1]]]]]]]]]]\n", "t.conf:1: syntax: arrays or tables nested"},
  };
  for (const auto& c : cases) {
    auto r = BounceRules::Parse(c.text, "t.conf");
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalid) << c.name;
    EXPECT_EQ(r.status().message().rfind(c.want, 0), 0u)
        << c.name << ": got \"" << r.status().message() << "\"";
  }
}

TEST(BounceRulesParse, Limits) {
  std::string big(kMaxBounceRulesBytes + 1, '#');
  auto r = BounceRules::Parse(big, "t.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "t.conf:1: file larger than 256 KiB");

  std::string long_line = "# " + std::string(9000, 'x') + "\n";
  r = BounceRules::Parse(long_line, "t.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "t.conf:1: syntax: line longer than 8192 bytes");

  std::string long_pattern = "[[rule]]\nmatch = '" + std::string(kMaxBouncePattern + 1, 'a') +
                             "'\nclass = \"hard\"\ncategory = \"other\"\n";
  r = BounceRules::Parse(long_pattern, "t.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "t.conf:2: rule[0].match: longer than 1000 bytes");

  auto missing = BounceRules::Load("/nonexistent/bounce-rules.conf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message().rfind("/nonexistent/bounce-rules.conf: no such file", 0),
            0u);
}

TEST(BounceRulesParse, OrderRestrictionsAndPrefixes) {
  const char* text = R"(
[[rule]]
match = 'mailbox unavailable'
dsn = "5."
class = "hard"
category = "recipient-unknown"

[[rule]]
match = 'unavailable'
class = "soft"
category = "other"

[[rule]]
match = 'mailbox'
class = "technical"
category = "policy"

[[code]]
dsn = "5.1."
class = "hard"
category = "recipient-unknown"

[[code]]
dsn = "5.1.1"
class = "soft"
category = "mailbox-full"

[[code]]
dsn = "5."
class = "technical"
category = "other"

[[code]]
reply = "552"
class = "soft"
category = "mailbox-full"
)";
  auto r = BounceRules::Parse(text, "t.conf");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 3u);
  EXPECT_EQ(r->code_count(), 4u);
  EXPECT_EQ(r->RuleLine(0), 3);
  EXPECT_EQ(r->RuleLine(2), 14);

  // First matching rule wins; the dsn restriction can skip a rule.
  Classification c = r->Classify("bounced", "5.2.0", "MAILBOX UNAVAILABLE");
  EXPECT_EQ(c.rule, 0);
  EXPECT_EQ(c.category, B::kRecipientUnknown);
  c = r->Classify("bounced", "4.2.0", "mailbox unavailable");
  EXPECT_EQ(c.rule, 1);
  EXPECT_EQ(c.cls, C::kSoft);
  c = r->Classify("bounced", "", "mailbox unavailable");
  EXPECT_EQ(c.rule, 1);
  c = r->Classify("bounced", "5.2.0", "the mailbox");
  EXPECT_EQ(c.rule, 2);

  // Longest dsn entry wins; "5.1.1" is a whole code, not a prefix of "5.1.10".
  c = r->Classify("bounced", "5.1.1", "x");
  EXPECT_EQ(c.category, B::kMailboxFull);
  c = r->Classify("bounced", "5.1.10", "x");
  EXPECT_EQ(c.category, B::kRecipientUnknown);
  c = r->Classify("bounced", "5.3.0", "host mx[192.0.2.1] said: 552 x");
  EXPECT_EQ(c.category, B::kOther);  // the dsn table ("5.") comes before the reply code
  EXPECT_EQ(c.by, ClassifiedBy::kEnhancedCode);
  c = r->Classify("bounced", "", "host mx[192.0.2.1] said: 552 x");
  EXPECT_EQ(c.category, B::kMailboxFull);
  EXPECT_EQ(c.by, ClassifiedBy::kReplyCode);
}

// ---------------------------------------------------------------------------
// The corpora: tests/data/bounce-replies.tsv (the replies the rules were first
// written from), tests/data/bounce-replies-2.tsv (199 others, labelled by an
// independent postmaster as a held-out set, on which the first rules scored
// 87.9% hard/soft and 59.8% category), tests/data/bounce-replies-3.tsv (122
// more from MTA sources, issue trackers and help pages, held out in turn: the
// rules scored 95.1% and 67.2% on it before rules were written for the
// families of its misses) and tests/data/bounce-replies-4.tsv (180 from
// sources none of the others used, held out in turn: 94.4% and 70.0% before
// the vocabulary rules, which were written for how receivers word each
// family, not for its texts), replies from public sources with the class and
// category a postmaster gives them. None of them is out of sample any more.
// The shipped rules must agree on hard versus not hard for >= 97% of each and
// on the category for >= 90% of each (issue 16). bounce_bench --agreement
// FILE prints the same figures and every miss.

constexpr const char* kCorpora[] = {"bounce-replies.tsv", "bounce-replies-2.tsv",
                                    "bounce-replies-3.tsv", "bounce-replies-4.tsv"};

struct CorpusLine {
  int line = 0;
  std::string reply, dsn, command, cls, category, source;
};

std::vector<CorpusLine> LoadCorpus(const std::string& name) {
  std::vector<CorpusLine> out;
  std::ifstream in(std::string(SG_SOURCE_DIR "/tests/data/") + name);
  EXPECT_TRUE(in.good()) << "cannot open tests/data/" << name;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.empty() || text[0] == '#') continue;
    std::vector<std::string> f;
    for (size_t start = 0;;) {
      const size_t tab = text.find('\t', start);
      f.push_back(text.substr(start, tab == std::string::npos ? tab : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    EXPECT_EQ(f.size(), 6u) << name << ":" << n;
    if (f.size() != 6) continue;
    out.push_back({n, f[0], f[1], f[2], f[3], f[4], f[5]});
  }
  return out;
}

// The reply as Postfix's smtp client logs it ("-": a text Postfix wrote).
std::string AsLogged(const CorpusLine& c) {
  return c.command == "-" ? c.reply : Said("mx.example.net", c.reply, c.command);
}

TEST(BounceCorpus, EveryLineIsLabelledWithAKnownClassCategoryAndSource) {
  for (const char* name : kCorpora) {
    const std::vector<CorpusLine> corpus = LoadCorpus(name);
    EXPECT_GE(corpus.size(), 100u) << name;
    for (const auto& c : corpus) {
      EXPECT_TRUE(c.cls == "hard" || c.cls == "soft" || c.cls == "technical")
          << name << ":" << c.line;
      auto cat = ParseBounceCategory(c.category);
      EXPECT_TRUE(cat.has_value() && *cat != B::kNone)
          << name << ":" << c.line << ": " << c.category;
      EXPECT_FALSE(c.source.empty()) << name << ":" << c.line;
      EXPECT_FALSE(c.reply.empty()) << name << ":" << c.line;
    }
  }
}

TEST(BounceCorpus, TheCorporaShareNoReply) {
  std::set<std::string> earlier;
  for (const char* name : kCorpora) {
    const std::vector<CorpusLine> corpus = LoadCorpus(name);
    for (const auto& c : corpus)
      EXPECT_EQ(earlier.count(c.reply), 0u) << name << ":" << c.line << ": " << c.reply;
    for (const auto& c : corpus) earlier.insert(c.reply);
  }
}

// At most the first `max` bytes of UTF-8 `s`, cut at a character boundary.
std::string Head(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

// Each corpus on its own: a file the rules do well on must not hide one they
// do badly on.
void ExpectCorpusMeetsTheTargets(const std::string& name) {
  const BounceRules& rules = Shipped();
  const std::vector<CorpusLine> corpus = LoadCorpus(name);
  ASSERT_FALSE(corpus.empty()) << name;
  size_t hard_ok = 0, cat_ok = 0;
  std::string misses;
  for (const auto& c : corpus) {
    const Classification got = rules.Classify("bounced", c.dsn, AsLogged(c));
    const bool hard = (got.cls == C::kHard) == (c.cls == "hard");
    const bool cat = BounceCategoryName(got.category) == c.category;
    hard_ok += hard;
    cat_ok += cat;
    if (!hard || !cat) {
      misses += "  " + name + ":" + std::to_string(c.line) + ": want " + c.cls + "/" +
                c.category + ", got " + std::string(OutcomeClassName(got.cls)) + "/" +
                std::string(BounceCategoryName(got.category)) + " (rules line " +
                std::to_string(rules.RuleLine(got.rule)) + "): " + Head(c.reply, 90) + "\n";
    }
  }
  const double n = static_cast<double>(corpus.size());
  const double hard_pct = 100.0 * static_cast<double>(hard_ok) / n;
  const double cat_pct = 100.0 * static_cast<double>(cat_ok) / n;
  std::printf("%s: %zu replies; hard/soft agreement %zu/%zu = %.1f%%; category "
              "agreement %zu/%zu = %.1f%%\n%s",
              name.c_str(), corpus.size(), hard_ok, corpus.size(), hard_pct, cat_ok,
              corpus.size(), cat_pct, misses.c_str());
  ::testing::Test::RecordProperty("hard_soft_pct", std::to_string(hard_pct));
  ::testing::Test::RecordProperty("category_pct", std::to_string(cat_pct));
  EXPECT_GE(hard_pct, 97.0) << name << "\n" << misses;
  EXPECT_GE(cat_pct, 90.0) << name << "\n" << misses;
}

TEST(BounceCorpus, ShippedRulesMeetTheTargets) { ExpectCorpusMeetsTheTargets(kCorpora[0]); }

TEST(BounceCorpus, ShippedRulesMeetTheTargetsOnTheSecondCorpus) {
  ExpectCorpusMeetsTheTargets(kCorpora[1]);
}

TEST(BounceCorpus, ShippedRulesMeetTheTargetsOnTheThirdCorpus) {
  ExpectCorpusMeetsTheTargets(kCorpora[2]);
}

TEST(BounceCorpus, ShippedRulesMeetTheTargetsOnTheFourthCorpus) {
  ExpectCorpusMeetsTheTargets(kCorpora[3]);
}

// ---------------------------------------------------------------------------
// The families of issue 16, one test each (texts from the corpus's sources).

TEST(BounceFamilies, PostfixNullMxAndHostNotFoundAreDomainUnknown) {
  Check({
      // RFC 7505 null MX as Postfix's dns_lookup.c words it (smtp_addr.c: dsn 5.1.0).
      {"nullmx", "bounced", "5.1.0", "Domain example.com does not accept mail (nullMX)", C::kHard,
       B::kDomainUnknown},
      {"nullmx_subdomain", "bounced", "5.1.0",
       "Domain mail.example.org does not accept mail (nullMX)", C::kHard, B::kDomainUnknown},
      {"rfc7505_556", "bounced", "5.1.10",
       Said("mx.example.net", "556 5.1.10 Recipient address has null MX"), C::kHard,
       B::kDomainUnknown},
      {"host_not_found_mx", "bounced", "5.4.4",
       "Host or domain name not found. Name service error for name=example.invalid type=MX: "
       "Host not found",
       C::kHard, B::kDomainUnknown},
      {"no_data_record", "bounced", "5.4.4",
       "Host or domain name not found. Name service error for name=mx.example.net type=AAAA: "
       "Host found but no data record of requested type",
       C::kHard, B::kDomainUnknown},
      {"native_lookup", "bounced", "5.4.4",
       "unable to look up host mx.example.com: Name or service not known", C::kHard,
       B::kDomainUnknown},
      {"host_not_found_short", "bounced", "5.4.4", "mx1.example.com: host not found", C::kHard,
       B::kDomainUnknown},
      {"exim_mx_to_nowhere", "bounced", "5.0.0",
       "all relevant MX records point to non-existent hosts", C::kHard, B::kDomainUnknown},
      // Not the domain's fault: temporary, or a broken name server.
      {"try_again", "bounced", "4.4.3",
       "Host or domain name not found. Name service error for name=example.net type=MX: Host "
       "not found, try again",
       C::kTechnical, B::kNetwork},
      {"non_recoverable", "bounced", "5.4.3",
       "Host or domain name not found. Name service error for name=example.org type=MX: "
       "Non-recoverable error",
       C::kTechnical, B::kNetwork},
      {"temp_resolution", "bounced", "4.4.4",
       "unable to look up host mx.example.com: Temporary failure in name resolution",
       C::kTechnical, B::kNetwork},
      // Our own sender domain's null MX is ours, not the recipient's.
      {"sender_null_mx", "bounced", "5.7.27",
       Said("mx.example.net", "550 5.7.27 Sender address has null MX", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      // A 4.x "Domain not found" is a lookup that may pass.
      {"domain_not_found_4xx", "bounced", "4.1.2",
       Said("mx.example.net", "450 4.1.2 <bob@nx.example>: Recipient address rejected: Domain "
                              "not found"),
       C::kSoft, B::kDomainUnknown},
  });
}

TEST(BounceFamilies, UnknownUserInOtherLanguagesAndServers) {
  Check({
      {"webde_german", "bounced", "5.0.0",
       Said("mx-ha02.web.de", "550 Benutzer nicht bekannt/User unknown"), C::kHard,
       B::kRecipientUnknown},
      {"orange_french", "bounced", "5.1.1",
       Said("smtp-in.orange.fr",
            "550 5.1.1 <bob@orange.fr>: Adresse d au moins un destinataire invalide. Invalid "
            "recipient. OFR_416 [416]"),
       C::kHard, B::kRecipientUnknown},
      {"aruba_italian", "bounced", "5.0.0",
       Said("mx.pec.aruba.it",
            "554 bob@example.it: Messaggio rifiutato dal sistema. Indirizzo destinatario "
            "sconosciuto o non abilitato alla ricezione di posta non certificata"),
       C::kHard, B::kRecipientUnknown},
      {"interia_polish_english", "bounced", "5.1.1",
       Said("mx.poczta.interia.pl", "550 5.1.1 Account not found"), C::kHard,
       B::kRecipientUnknown},
      {"docomo", "bounced", "5.0.0", Said("mfsmax.docomo.ne.jp", "550 Unknown user bob@docomo.ne.jp"),
       C::kHard, B::kRecipientUnknown},
      {"au_kddi", "bounced", "5.0.0", Said("lsean.ezweb.ne.jp", "550 <bob@ezweb.ne.jp>: User unknown"),
       C::kHard, B::kRecipientUnknown},
      {"softbank", "bounced", "5.0.0",
       Said("mx.softbank.jp", "550 Invalid recipient: <bob@i.softbank.jp>"), C::kHard,
       B::kRecipientUnknown},
      {"coremail_does_no_exists", "bounced", "5.0.0",
       Said("mx.example.cn", "550 RC:LD The email account that you tried to reach does no exists."),
       C::kHard, B::kRecipientUnknown},
      {"not_exist", "bounced", "5.1.1",
       Said("mx.example.cn", "551 5.1.1 recipient is not exist"), C::kHard, B::kRecipientUnknown},
      {"domino_directory", "bounced", "5.0.0",
       Said("domino.example.com", "550 5.0.0 User bob@example.com not listed in Domino Directory"),
       C::kHard, B::kRecipientUnknown},
      {"exchange_recipnotfound", "bounced", "5.1.1",
       Said("exchange.example.com", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"), C::kHard,
       B::kRecipientUnknown},
      {"ironport_address_rejected", "bounced", "5.1.0",
       Said("esa1.example.nl", "550 #5.1.0 Address rejected bob@example.nl"), C::kHard,
       B::kRecipientUnknown},
      // The same words for the sender are not the recipient's.
      {"postfix_sender_rejected_5_1_0", "bounced", "5.1.0",
       Said("mx.example.net", "550 5.1.0 <alice@example.com>: Sender address rejected: User "
                              "unknown in local recipient table",
            "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
  });
}

TEST(BounceFamilies, UnknownUserAtEndOfData) {
  Check({
      {"yahoo_dd", "bounced", "5.0.0",
       Said("mta7.am0.yahoodns.net",
            "554 delivery error: dd This user doesn't have a yahoo.com account (bob@yahoo.com) "
            "[0] - mta1481.mail.ne1.yahoo.com",
            "end of DATA"),
       C::kHard, B::kRecipientUnknown},
      {"filter_after_data", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
            "end of DATA"),
       C::kHard, B::kRecipientUnknown},
      {"domino_last_line", "bounced", "5.0.0",
       Said("domino.example.com", "554 Transaction failed: 550 5.1.1 bob@example.com: user unknown",
            "end of DATA"),
       C::kHard, B::kRecipientUnknown},
      {"163_invalid", "bounced", "5.0.0",
       Said("mx.163.com",
            "554 One or more of the sender or recipients in your email are invalid and not "
            "accepted.",
            "end of DATA"),
       C::kHard, B::kRecipientUnknown},
  });
}

TEST(BounceFamilies, ReceiversExpiryTextsAreExpiredNotNetwork) {
  Check({
      {"exchange_queue_expired", "bounced", "4.4.7",
       "550 4.4.7 QUEUE.Expired; message expired", C::kSoft, B::kExpired},
      {"message_expired_attempts", "bounced", "4.4.7",
       Said("relay.example.net", "450 4.4.7 Message expired after 5 delivery attempts",
            "end of DATA"),
       C::kSoft, B::kExpired},
      {"qmail_queue_too_long", "bounced", "4.4.7",
       "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going to try "
       "again; this message has been in the queue too long.",
       C::kSoft, B::kExpired},
      {"qmail_given_up", "bounced", "5.0.0",
       "Hi. This is the qmail-send program. I'm afraid I wasn't able to deliver your message. "
       "This is a permanent error; I've given up. Sorry it didn't work out.",
       C::kSoft, B::kExpired},
      {"exim_retry_timeout", "bounced", "5.0.0",
       Said("relay.example.net", "550 retry timeout exceeded", "end of DATA"), C::kSoft,
       B::kExpired},
      {"sendmail_5_days", "bounced", "4.4.7",
       "Deferred: Connection timed out with mx.example.com. Message could not be delivered for 5 "
       "days",
       C::kSoft, B::kExpired},
      {"rfc3463_by_code", "bounced", "5.4.7", Said("relay.example.net", "554 5.4.7 Gave up"),
       C::kSoft, B::kExpired},
      // qmgr's "status=expired" keeps its own class; the category still says why.
      {"status_expired", "expired", "4.4.1",
       "connect to mx.example.com[192.0.2.1]:25: Connection timed out", C::kExpired, B::kNetwork},
      // A plain network error is not an expiry.
      {"connection_timed_out", "bounced", "4.4.1",
       "connect to mx.example.com[192.0.2.1]:25: Connection timed out", C::kTechnical,
       B::kNetwork},
  });
}

TEST(BounceFamilies, ContentIsSpamWhoIsSendingIsPolicy) {
  Check({
      // What is sent: spam.
      {"gmail_unsolicited", "bounced", "5.7.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.1 Our system has detected that this message is likely unsolicited mail. To "
            "reduce the amount of spam sent to Gmail, this message has been blocked.",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"free_spam_detected", "bounced", "5.0.0", Said("mx1.free.fr", "550 spam detected", "end of DATA"),
       C::kTechnical, B::kSpam},
      {"sfr_content", "bounced", "5.7.1",
       Said("smtp-in.sfr.fr", "550 5.7.1 Message content rejected", "end of DATA"), C::kTechnical,
       B::kSpam},
      {"orange_ofr_506", "bounced", "5.2.0",
       Said("smtp-in.orange.fr", "550 5.2.0 Mail rejete. Mail rejected. ofr_506 [506]",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"gmail_attachment", "bounced", "5.7.0",
       Said("gmail-smtp-in.l.google.com",
            "552-5.7.0 Our system detected an illegal attachment on your message. - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"blacklisted_url", "bounced", "5.7.1",
       Said("mx.example.nl", "554 5.7.1 rejected content, blacklisted url", "end of DATA"),
       C::kTechnical, B::kSpam},
      // Who is sending: policy (IP, PTR, RBL, relay, HELO).
      {"gmail_ip_rate_of_unsolicited", "bounced", "4.7.0",
       Said("gmail-smtp-in.l.google.com",
            "421-4.7.0 Our system has detected an unusual rate of unsolicited mail originating "
            "from your IP address. To protect our users from spam, mail sent from your IP "
            "address has been temporarily blocked.",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"gmail_low_reputation", "bounced", "5.7.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.1 This message is suspicious due to the very low reputation of the sending "
            "IP address. To best protect our users from spam, the message has been blocked.",
            "end of DATA"),
       C::kTechnical, B::kPolicy},
      {"comcast_blocked_for_spam", "bounced", "5.0.0",
       Said("mx1.comcast.net",
            "554 resimta-po-01v.sys.comcast.net comcast 192.0.2.1 Comcast BL009 Blocked for "
            "spam.",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"gmail_ptr", "bounced", "5.7.25",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.25 The IP address sending this message does not have a PTR record setup"),
       C::kTechnical, B::kPolicy},
      {"helo_fqdn", "bounced", "5.0.0",
       Said("mx.example.com.br", "550 R1: HELO should be a FQDN or address literal (See RFC "
                                 "2821 4.1.1.1)"),
       C::kTechnical, B::kPolicy},
      {"relay_pt", "bounced", "5.0.0",
       Said("mx.example.pt", "550 alguém@exemplo.com... Retransmissão Negada"), C::kTechnical,
       B::kPolicy},
  });
}

TEST(BounceFamilies, AccessDeniedWordings) {
  Check({
      {"postfix_access_map", "bounced", "5.7.1",
       Said("mx.example.net", "554 5.7.1 <bob@example.net>: Recipient address rejected: Access "
                              "denied"),
       C::kTechnical, B::kPolicy},
      {"broadcom_521", "bounced", "5.0.0", Said("mx.example.net", "521 access denied"),
       C::kTechnical, B::kPolicy},
      {"denied_by_policy", "bounced", "5.0.0",
       Said("vip-smtp.example.com", "550 Denied by policy", "end of DATA"), C::kTechnical,
       B::kPolicy},
      {"barracuda_blocked", "bounced", "5.0.0",
       Said("d1234.ess.barracudanetworks.com",
            "550 permanent failure for one or more recipients (bob@example.com:blocked)",
            "end of DATA"),
       C::kTechnical, B::kPolicy},
      {"mimecast_sender_blocked", "bounced", "4.0.0",
       Said("eu-smtp-inbound-1.mimecast.com", "421 Sender address blocked", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"interia_doesnt_want", "bounced", "5.7.1",
       Said("mx.poczta.interia.pl", "550 5.7.1 Recipient doesn't want your mail", "end of DATA"),
       C::kTechnical, B::kPolicy},
      // Exchange Online's directory-based edge blocking is the address, not policy.
      {"o365_dbeb", "bounced", "5.4.1",
       Said("example-com.mail.protection.outlook.com",
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)"),
       C::kHard, B::kRecipientUnknown},
  });
}

// ---------------------------------------------------------------------------
// The families of the misses on the second corpus (issue 16): each table
// holds texts of the family from public sources, most of them not in either
// corpus, so that a rule written for one string fails here.

// The words outrank a code that says otherwise, when they clearly say quota,
// rate or a missing mailbox.
TEST(BounceFamilies, WordsOutrankAMisleadingCode) {
  Check({
      {"comcast_quota_under_5_1_1", "bounced", "5.1.1",
       Said("mx1.comcast.net",
            "552 5.1.1 <bob@example.net> recipient rejected - extended quota violation"),
       C::kSoft, B::kMailboxFull},
      {"comcast_rate_under_4_1_1", "bounced", "4.1.1",
       Said("mx1.comcast.net", "452 4.1.1 <bob@example.net> too many recent messages; Try "
                               "again later"),
       C::kSoft, B::kRateLimited},
      {"no_mailbox_under_5_7_1", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 No mailbox found for <bob@example.net>"), C::kHard,
       B::kRecipientUnknown},
      {"o365_per_hour_receive", "bounced", "5.2.122",
       Said("example-com.mail.protection.outlook.com",
            "554 5.2.122 The recipient has exceeded their limit for the number of messages they "
            "can receive per hour."),
       C::kSoft, B::kRateLimited},
      {"facebook_preferences_under_5_1_1", "bounced", "5.1.1",
       Said("mx.facebook.com", "550 5.1.1 RCP-P2 Refused due to recipient preferences"),
       C::kTechnical, B::kPolicy},
      {"disk_space_limit_under_5_7_0", "bounced", "5.7.0",
       "The recipient mailbox has exceeded its disk space limit.", C::kSoft, B::kMailboxFull},
      {"biglobe_local_limit", "bounced", "5.0.0",
       "The number of messages in the recipient's mailbox exceeded the local limit.", C::kSoft,
       B::kMailboxFull},
  });
}

// A bare 55x code with words no rule knows is never hard; it is hard only when
// the words say the recipient, user, mailbox or address is unknown.
TEST(BounceFamilies, BareReplyCodeIsNeverHardWithoutWords) {
  Check({
      {"hermes_551_full", "bounced", "5.0.0",
       Said("mx.163.example", "551 bounce as<the destination mailbox <bob@example.net> is "
                              "full> queue as 100.1.ZmxEL.720k.1140313037.bob@example.net"),
       C::kSoft, B::kMailboxFull},
      {"qmail_553_rcpthosts", "bounced", "5.0.0",
       Said("mx.example.net", "553 sorry, that domain isn't in my list of allowed rcpthosts "
                              "(#5.5.3 - chkuser)"),
       C::kTechnical, B::kPolicy},
      {"improvmx_551_loop", "bounced", "5.7.1",
       Said("mx1.improvmx.com", "551 5.7.1 Loop detected: Email is sent and forwarded from/to "
                                "improvmx.com. (#id-5.9.0)"),
       C::kTechnical, B::kNetwork},
      {"rfc5321_551_user_not_local", "bounced", "5.0.0",
       Said("mx.example.net", "551 User not local; please try <bob@example.org>"), C::kHard,
       B::kRecipientUnknown},
      {"rfc5321_553_name_not_allowed", "bounced", "5.0.0",
       Said("mx.example.net", "553 Requested action not taken: mailbox name not allowed"),
       C::kHard, B::kRecipientUnknown},
      {"bmh_551_user_paren_unknown", "bounced", "5.0.0",
       Said("mx.example.net", "550 User (bob@example.net) unknown."), C::kHard,
       B::kRecipientUnknown},
  });
}

// Rules that matched too much: a size limit is not an authorization, an
// organisation's queue quota is not a full mailbox.
TEST(BounceFamilies, NarrowRulesDoNotSwallowOthers) {
  Check({
      {"exchange_sendsizelimit_sender", "bounced", "5.2.3",
       Said("mx.example.net", "550 5.2.3 RESOLVER.RST.SendSizeLimit.Sender; message too large "
                              "for this sender"),
       C::kTechnical, B::kTooLarge},
      {"exchange_notauthorized_still_policy", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized"),
       C::kTechnical, B::kPolicy},
      {"size_limit_class", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message rejected: size limit exceeded (20971520)", "end of DATA"),
       C::kTechnical, B::kTooLarge},
      {"organization_queue_quota", "bounced", "4.7.3",
       Said("example-com.mail.protection.outlook.com",
            "450 4.7.3 Organization queue quota exceeded."),
       C::kSoft, B::kRateLimited},
      {"domain_sending_quota", "bounced", "5.4.5",
       Said("mx.example.net", "550 5.4.5 <bob@example.net>: Recipient address rejected: Domain "
                              "Sending Quota Exceeded"),
       C::kSoft, B::kRateLimited},
      // Exim's default ACL: the sender sent to too many unknown recipients.
      // Not the recipient's fault: never hard (found by a held-out set); the
      // sender's list, so policy, like Yahoo's "Excessive unknown recipients".
      {"exim_too_many_bad_recipients", "bounced", "5.0.0",
       Said("mx.example.net", "550 Rejected for too many bad recipients"), C::kTechnical,
       B::kPolicy},
      {"mailbox_quota_still_full", "bounced", "5.2.2",
       Said("mx.example.net", "552 5.2.2 <bob@example.net>: Recipient address rejected: Quota "
                              "exceeded (mailbox for user is full)"),
       C::kSoft, B::kMailboxFull},
  });
}

// Providers' throttling and blocking words.
TEST(BounceFamilies, ProviderThrottlingAndBlocking) {
  Check({
      {"qq_domain_frequency", "bounced", "5.0.0",
       Said("mx3.qq.com", "550 Domain frequency limited", "MAIL FROM"), C::kSoft,
       B::kRateLimited},
      {"qq_connection_frequency", "bounced", "5.0.0",
       Said("mx3.qq.com", "550 Connection frequency limited", "end of DATA"), C::kSoft,
       B::kRateLimited},
      {"qq_recipient_protection_not_unknown", "bounced", "5.0.0",
       Said("mx3.qq.com", "550 Mailbox unavailable or access denied"), C::kSoft,
       B::kRateLimited},
      {"ses_daily_quota", "bounced", "5.0.0",
       Said("email-smtp.us-east-1.amazonaws.com", "454 Throttling failure: Daily message quota "
                                                  "exceeded.", "MAIL FROM"),
       C::kSoft, B::kRateLimited},
      {"cpanel_max_per_hour", "bounced", "5.0.0",
       "Domain example.com has exceeded the max emails per hour (500/500 (100%)) allowed.  "
       "Message discarded.",
       C::kSoft, B::kRateLimited},
      {"yandex_come_back_later", "bounced", "4.7.1",
       Said("mx.yandex.ru", "451 4.7.1 Sorry, the service is currently unavailable. Please come "
                            "back later."),
       C::kSoft, B::kRateLimited},
      {"mailru_ip_blocked", "bounced", "5.0.0",
       Said("mxs.mail.ru", "550 Access from ip address 203.0.113.9 blocked. Visit "
                           "http://win.mail.ru/cgi-bin/support_bl?ip=203.0.113.9", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"earthlink_ip_blocked", "bounced", "5.0.0",
       Said("mx.earthlink.net", "550 IP 203.0.113.9 is blocked by EarthLink. Go to "
                                "earthlink.net/block for details.", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"microsoft_temporary_server_error", "bounced", "4.7.0",
       Said("outlook.com", "451 4.7.0 Temporary server error. Please try again later. PRX4"),
       C::kSoft, B::kOther},
  });
}

// A content filter's words beyond "spam": score, bulk, mass mailer, URI
// lists, spam traps, content refused. A sender judged a spammer is policy.
TEST(BounceFamilies, SpamFilterWordsAndSpammerSenders) {
  Check({
      {"scored_too_high", "bounced", "5.7.1",
       Said("mx.example.net", "554 5.7.1 Message scored too high on spam scale. For help, "
                              "please quote incident ID 22492290.", "end of DATA"),
       C::kTechnical, B::kSpam},
      {"spamassassin_score", "bounced", "5.0.0",
       Said("mx.example.net", "550 Rejected: SpamAssassin score 12.3 over 5.0", "end of DATA"),
       C::kTechnical, B::kSpam},
      {"surbl_listed_link", "bounced", "5.7.1",
       Said("mx.example.net", "554 5.7.1 Message contains a domain listed on SURBL",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"cyberoam_bulk", "bounced", "5.0.0",
       Said("mx.example.net", "550 Cyberoam Anti Spam Engine has identified this email as a bulk "
                              "email.", "end of DATA"),
       C::kTechnical, B::kSpam},
      {"content_reject", "bounced", "5.0.0",
       Said("mx.example.net", "550 Content reject. FAAAANsG60M9BmDT.1", "end of DATA"),
       C::kTechnical, B::kSpam},
      {"google_groups_spam_classification", "bounced", "5.0.0",
       "Your email to group staff@example.com was rejected due to spam classification. To "
       "address this issue, make sure SPF and DKIM pass.",
       C::kTechnical, B::kSpam},
      {"spam_trap_hit", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Message rejected: spam trap hit", "end of DATA"),
       C::kTechnical, B::kSpam},
      {"free_spams_from_ip", "bounced", "5.0.0",
       Said("mx1.free.fr", "550 Too many spams from your IP (203.0.113.9), please visit "
                           "http://postmaster.free.fr/", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"sender_rejected_by_antispam", "bounced", "5.0.0",
       Said("mx.example.net", "554 Sender domain example.com rejected due to anti-spam policy",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
  });
}

// Relaying refused in other words is policy.
TEST(BounceFamilies, RelayDeniedVariants) {
  Check({
      {"messagelabs_as_a_relay", "bounced", "5.0.0",
       Said("cluster1.eu.messagelabs.com",
            "553-you are trying to use me [server-10.tower-57.messagelabs 553-.com] as a relay, "
            "but I have not been configured to let 553-you [192.0.2.1, mail.example.org] do "
            "this. (#5.7.1)"),
       C::kTechnical, B::kPolicy},
      {"not_a_gateway", "bounced", "5.0.0",
       Said("mx.example.net", "550 not local host example.com, not a gateway"), C::kTechnical,
       B::kPolicy},
      {"unauthorized_relay", "bounced", "5.0.0",
       Said("mx.example.net", "500 Unauthorized relay msg rejected"), C::kTechnical, B::kPolicy},
      {"not_permitted_to_relay", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 203.0.113.9 is not permitted to relay mail"),
       C::kTechnical, B::kPolicy},
      // Still the iCloud Hide My Email address turned off, not our relaying.
      {"icloud_relay_for_user", "bounced", "5.7.1",
       Said("mx01.mail.icloud.com", "550 5.7.1 Relay not permitted for user."), C::kHard,
       B::kMailboxDisabled},
  });
}

// Our sender identity refused: authentication, per the categories.
TEST(BounceFamilies, SenderIdentityIsAuthentication) {
  Check({
      {"sendmail_sender_domain_resolves_not", "bounced", "5.1.8",
       Said("mx.example.net", "553 5.1.8 <alice@nx.example.com>... Domain of sender address "
                              "alice@nx.example.com does not exist", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"x_1_7_unknown_domain", "bounced", "5.1.7",
       Said("mx.example.net", "550 5.1.7 <alice@nx.example.com>: unknown domain", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"ses_not_verified", "bounced", "5.0.0",
       Said("email-smtp.us-east-1.amazonaws.com",
            "554 Message rejected: Email address is not verified. The following identities "
            "failed the check in region US-EAST-1: alice@example.com", "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"exim_unrouteable_sender", "bounced", "5.0.0",
       Said("mx.example.net", "550 Unrouteable sender address", "MAIL FROM"), C::kTechnical,
       B::kAuthentication},
      {"invalid_sender", "bounced", "5.0.0",
       Said("mx.example.net", "550 Invalid sender <alice@example.com>", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"sender_id_pra", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Sender ID (PRA) not permitted", "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"mail_from_mismatch", "bounced", "5.0.0",
       Said("mx.163.example", "550 MAIL FROM <alice@example.com> mismatches the message header "
                              "From", "end of DATA"),
       C::kTechnical, B::kAuthentication},
  });
}

// Unknown users in other languages and other MTAs' own words; give-ups and
// domains that do not exist in the words of MTAs other than Postfix.
TEST(BounceFamilies, OtherLanguagesAndOtherMtas) {
  Check({
      {"domino_fr", "bounced", "5.0.0",
       "Utilisateur bob (bob@example.fr) non r\u00e9pertori\u00e9 dans l'annuaire Domino",
       C::kHard, B::kRecipientUnknown},
      {"domino_es", "bounced", "5.0.0",
       "El usuario bob (bob@example.es) no se encuentra en el Directorio de Domino", C::kHard,
       B::kRecipientUnknown},
      {"japanese_user_does_not_exist", "bounced", "5.0.0",
       "\u5b9b\u5148\u306e\u30e6\u30fc\u30b6\u306f\u5b58\u5728\u3057\u307e\u305b\u3093",
       C::kHard, B::kRecipientUnknown},
      {"portuguese_usuario_inexistente", "bounced", "5.0.0",
       Said("mx.example.com.br", "550 Usu\u00e1rio inexistente"), C::kHard, B::kRecipientUnknown},
      {"spanish_destinatario_desconocido", "bounced", "5.0.0",
       Said("mx.example.es", "550 5.1.1 Destinatario desconocido"), C::kHard,
       B::kRecipientUnknown},
      {"notes_public_nab", "bounced", "5.0.0",
       "User bob (bob@example.com) not listed in public Name & Address Book", C::kHard,
       B::kRecipientUnknown},
      {"exchange2003_not_recognized", "bounced", "5.0.0", "The recipient name is not recognized",
       C::kHard, B::kRecipientUnknown},
      {"dma_giving_up", "bounced", "5.0.0",
       "Could not deliver for the last 86400 seconds. Giving up.", C::kSoft, B::kExpired},
      {"opensmtpd_envelope_expired", "bounced", "5.0.0", "Envelope expired", C::kSoft,
       B::kExpired},
      {"dma_dns_lookup_failure", "bounced", "5.0.0",
       "DNS lookup failure: host mx.nx.example not found", C::kHard, B::kDomainUnknown},
      {"qmail_no_host", "bounced", "5.0.0",
       "Sorry, I couldn't find any host named nx.example. (#5.1.2)", C::kHard,
       B::kDomainUnknown},
      {"exim_no_smtp_service", "bounced", "5.0.0",
       "an MX or SRV record indicated no SMTP service", C::kHard, B::kDomainUnknown},
      {"postfix_malformed_ns_reply_is_network", "bounced", "5.4.4",
       "Host or domain name not found. Name service error for name=example.org type=MX: "
       "Malformed or unexpected name server reply",
       C::kTechnical, B::kNetwork},
      {"sendmail_name_server_timeout", "bounced", "4.0.0",
       Said("mx.example.net", "451 example.com.tw: Name server timeout"), C::kTechnical,
       B::kNetwork},
      {"qmail_no_smtp_connection", "bounced", "5.0.0",
       "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)", C::kTechnical,
       B::kNetwork},
  });
}

// The state of the recipient's account: blocked, not activated, inactive,
// locked for a while.
TEST(BounceFamilies, AccountStateWordings) {
  Check({
      {"account_blocked", "bounced", "5.0.0",
       Said("mx.example.net", "550 The recipient account is blocked"), C::kHard,
       B::kMailboxDisabled},
      {"not_activated", "bounced", "5.0.0",
       Said("mx.example.net", "550 <bob@example.net>... User account not activated"), C::kHard,
       B::kMailboxDisabled},
      {"account_expired", "bounced", "5.0.0", Said("mx.example.net", "550 account expired"),
       C::kHard, B::kMailboxDisabled},
      {"rejected_blocked", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 <bob@example.net>: Recipient address rejected: "
                              "Disabled"),
       C::kHard, B::kMailboxDisabled},
      {"disabled_due_to_inactivity", "bounced", "5.2.1",
       Said("mx.example.net", "550 5.2.1 This account has been disabled due to inactivity"),
       C::kHard, B::kInactiveAccount},
      {"closed_due_to_inactivity_is_final", "bounced", "5.0.0",
       Said("mx.example.net", "550 <bob@example.net>: Account closed due to inactivity"),
       C::kHard, B::kMailboxDisabled},
      {"temporarily_suspended", "bounced", "4.2.1",
       Said("mx.example.net", "450 4.2.1 <bob@example.net>: This account has been temporarily "
                              "suspended"),
       C::kSoft, B::kMailboxDisabled},
      // Our own account at a smarthost is not the recipient's.
      {"our_account_temporarily_suspended", "bounced", "5.7.1",
       Said("smtp.provider.example", "550 5.7.1 Your account has been temporarily suspended",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"our_address_blocked", "bounced", "5.7.1",
       Said("smtp.provider.example", "554 5.7.1 Your e-mail address has been blocked",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"client_host_rejected_blocked_is_not_a_mailbox", "bounced", "5.7.1",
       Said("mx.example.net", "554 5.7.1 <mail.example.org[192.0.2.1]>: Client host rejected: "
                              "Blocked"),
       C::kTechnical, B::kPolicy},
  });
}

// A malformed message is its format (other), even when the header named is
// DKIM's.
TEST(BounceFamilies, MalformedMessagesAreOther) {
  Check({
      {"ses_duplicate_header", "bounced", "5.0.0",
       Said("email-smtp.us-east-1.amazonaws.com", "554 Transaction failed: Duplicate header "
                                                  "'DKIM-Signature'.", "end of DATA"),
       C::kTechnical, B::kOther},
      {"yahoo_headers_not_rfc", "bounced", "5.0.0",
       Said("mta5.am0.yahoodns.net", "554 Message not allowed - Headers are not RFC "
                                     "compliant[291]", "end of DATA"),
       C::kTechnical, B::kOther},
      {"gmail_no_from", "bounced", "5.7.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.1 [192.0.2.1 14] Messages missing a valid address in From: header, or "
            "having no From: header, are not accepted.", "end of DATA"),
       C::kTechnical, B::kOther},
  });
}

// A receiver's own DNS lookup about us that failed for now (our DMARC
// record, our PTR, a DNSBL) is network trouble, not a refusal of us.
TEST(BounceFamilies, ReceiversTemporaryDnsFailuresAreNetwork) {
  Check({
      {"rackspace_dmarc_dns", "bounced", "4.4.0",
       Said("mx1.emailsrvr.com", "450 4.4.0 <bob@example.net> Temporary DMARC DNS lookup "
                                 "failure (G1E)", "end of DATA"),
       C::kTechnical, B::kNetwork},
      {"temporary_spf_lookup", "bounced", "4.7.0",
       Said("mx.example.net", "451 4.7.0 Temporary SPF lookup error, try again", "MAIL FROM"),
       C::kTechnical, B::kNetwork},
      {"maddy_policy_check", "bounced", "4.7.0",
       Said("mx.example.net", "450 4.7.0 DNS error during policy check"), C::kTechnical,
       B::kNetwork},
      {"haraka_rdns_temporary", "bounced", "4.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 421 rDNS Temporary Failure",
       C::kTechnical, B::kNetwork},
      {"ptr_temporary_error", "bounced", "4.7.1",
       Said("mx.example.net", "450 4.7.1 PTR lookup temporary error for 192.0.2.1", "MAIL FROM"),
       C::kTechnical, B::kNetwork},
      // Not temporary lookups: a verdict on our PTR, a domain that does not exist.
      {"comcast_rdns_failure_is_policy", "bounced", "4.0.0",
       "host mx1.comcast.net[192.0.2.25] refused to talk to me: 421 Reverse DNS failure : Try "
       "again later",
       C::kTechnical, B::kPolicy},
      {"haraka_rdns_lookup_failed_is_policy", "bounced", "5.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 554 rDNS Lookup Failed",
       C::kTechnical, B::kPolicy},
      {"nxdomain_stays_domain_unknown", "bounced", "4.0.0",
       "DNS Error: DNS type 'mx' lookup of example.jp responded with code NXDOMAIN Domain name "
       "not found",
       C::kHard, B::kDomainUnknown},
  });
}

// The message's lines and the SMTP conversation: the format (other), even
// under a bare 552 that would otherwise read as a full mailbox.
TEST(BounceFamilies, LineLimitsAndProtocolErrorsAreOther) {
  Check({
      {"exim_header_ridiculously_long", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message header is ridiculously long", "end of DATA"),
       C::kTechnical, B::kOther},
      {"exim_header_line_too_long", "bounced", "5.0.0",
       Said("mx.example.net", "552 A message header line is too long", "end of DATA"),
       C::kTechnical, B::kOther},
      {"exim_not_crlf", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message header not CRLF terminated", "end of DATA"),
       C::kTechnical, B::kOther},
      {"lines_too_long_552", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message has lines too long", "end of DATA"), C::kTechnical,
       B::kOther},
      {"line_length_exceeded_552", "bounced", "5.0.0",
       Said("mx.example.net", "552 Line length exceeded (RFC 5322 2.1.1)", "end of DATA"),
       C::kTechnical, B::kOther},
      {"haraka_bare_lf", "bounced", "4.0.0",
       Said("mx.example.net", "451 Bare line-feed; see http://haraka.github.io/barelf/",
            "end of DATA"),
       C::kTechnical, B::kOther},
      {"haraka_mime_parts", "bounced", "5.0.0",
       Said("mx.example.net", "554 Transaction failed due to too many MIME parts", "end of DATA"),
       C::kTechnical, B::kOther},
      {"exim_synchronization", "bounced", "5.0.0",
       Said("mx.example.net", "554 SMTP synchronization error", "RCPT TO"), C::kTechnical,
       B::kOther},
      // Protocol errors with an X.5 code need no words.
      {"postfix_synchronization", "bounced", "5.5.0",
       Said("mx.example.net", "554 5.5.0 Error: SMTP protocol synchronization", "RCPT TO"),
       C::kTechnical, B::kOther},
      {"maddy_multiple_from", "bounced", "5.7.0",
       Said("mx.example.net", "550 5.7.0 Multiple From addresses are not allowed", "end of DATA"),
       C::kTechnical, B::kOther},
      // A size is a size, and a full mailbox stays full.
      {"header_size_is_too_large", "bounced", "5.3.4",
       Said("mx.example.net", "552 5.3.4 Message header size exceeds limit", "end of DATA"),
       C::kTechnical, B::kTooLarge},
      {"bare_552_still_full", "bounced", "5.0.0", Said("mx.example.net", "552 Nope"), C::kSoft,
       B::kMailboxFull},
  });
}

// Our sender refused in other words than "Sender address rejected":
// authentication (our address or domain).
TEST(BounceFamilies, SenderRefusedInOtherWords) {
  Check({
      {"haraka_sender_denied", "bounced", "5.0.0",
       Said("mx.example.net", "550 sender <alice@example.com> denied", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"coremail_sender_is_rejected", "bounced", "5.0.0",
       Said("mx.example.net", "550 sender is rejected", "MAIL FROM"), C::kTechnical,
       B::kAuthentication},
      {"host_denies_the_sender", "bounced", "5.0.0",
       Said("mx.example.net", "553 host denies the sender.", "MAIL FROM"), C::kTechnical,
       B::kAuthentication},
      {"illegal_sender", "bounced", "5.0.0",
       Said("mx.example.net", "550 illegal sender.", "MAIL FROM"), C::kTechnical,
       B::kAuthentication},
      {"coremail_fake_sender", "bounced", "5.0.0",
       Said("mx.example.net", "553 Requested mail action not taken: Fake sender", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"opensmtpd_sender_syntax", "bounced", "5.1.0",
       Said("mx.example.net", "553 5.1.0 Sender address syntax error", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"maddy_unauthorized_sender", "bounced", "5.7.0",
       Said("mx.example.net", "553 5.7.0 Unauthorized use of sender address", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"zeptomail_relaying_disallowed_as", "bounced", "5.0.0",
       Said("smtp.zeptomail.example", "553 Relaying disallowed as <alice@example.com>",
            "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"maddy_mail_from_null_mx", "bounced", "5.7.27",
       Said("mx.example.net", "501 5.7.27 Domain in MAIL FROM has null MX record", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"spamdyke_sender_no_mx", "bounced", "4.0.0",
       Said("mx.example.net", "451 Refused. The domain of your sender address has no mail "
                              "exchanger (MX).", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"spamdyke_sender_not_auth", "bounced", "5.0.0",
       Said("smtp.example.net", "554 Refused. Your sender address does not match your "
                                "authentication username.", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"exim_sender_callout_incomplete", "bounced", "4.0.0",
       Said("mx.example.net", "451 Could not complete sender verify callout"), C::kTechnical,
       B::kAuthentication},
      // Proofpoint's "sender rejected" stays policy (its IP or list checks).
      {"proofpoint_sender_rejected_is_policy", "bounced", "5.1.0",
       Said("mx.example.net", "550 5.1.0 sender rejected", "MAIL FROM"), C::kTechnical,
       B::kPolicy},
  });
}

// The connecting client's HELO name and reverse DNS: who is sending (policy).
TEST(BounceFamilies, HeloAndReverseDnsRefusalsArePolicy) {
  Check({
      {"haraka_helo_denied", "bounced", "5.0.0",
       Said("mx.example.net", "550 HELO denied", "MAIL FROM"), C::kTechnical, B::kPolicy},
      {"haraka_ehlo_denied_temporary", "bounced", "4.0.0",
       Said("mx.example.net", "450 EHLO denied", "MAIL FROM"), C::kTechnical, B::kPolicy},
      {"mox_ehlo_does_not_resolve", "bounced", "5.5.0",
       Said("mx.example.net", "550 5.5.0 your ehlo domain does not resolve to an IP address",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"spamdyke_rdns_does_not_resolve", "bounced", "4.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 421 Refused. Your reverse DNS "
       "entry does not resolve.",
       C::kTechnical, B::kPolicy},
      {"spamdyke_rdns_contains_ip", "bounced", "5.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 554 Refused. Your reverse DNS "
       "entry contains your IP address and a banned keyword.",
       C::kTechnical, B::kPolicy},
  });
}

// The receiver's own TLS out of order is network; a loaded or crowded
// receiver is throttling.
TEST(BounceFamilies, ReceiversTlsTroubleAndLoad) {
  Check({
      {"exim_tls_unavailable", "bounced", "4.0.0",
       "host mx.example.net[192.0.2.25] said: 454 TLS currently unavailable (in reply to "
       "STARTTLS command)",
       C::kTechnical, B::kNetwork},
      {"postfix_tls_local_problem", "bounced", "4.7.0",
       "host mx.example.net[192.0.2.25] said: 454 4.7.0 TLS not available due to local problem "
       "(in reply to STARTTLS command)",
       C::kTechnical, B::kNetwork},
      {"exim_security_failure", "bounced", "5.0.0",
       Said("mx.example.net", "554 Security failure", "MAIL FROM"), C::kTechnical, B::kNetwork},
      {"exim_too_much_load", "bounced", "4.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 421 mx.example.net: Too much "
       "load; please try again later",
       C::kSoft, B::kRateLimited},
      {"maddy_high_load", "bounced", "4.4.5",
       Said("mx.example.net", "451 4.4.5 High load, try again later", "MAIL FROM"), C::kSoft,
       B::kRateLimited},
      {"server_overloaded", "bounced", "4.3.2",
       Said("mx.example.net", "421 4.3.2 Server overloaded, try later", "MAIL FROM"), C::kSoft,
       B::kRateLimited},
      {"mox_open_connections", "bounced", "4.7.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 421 4.7.0 too many open "
       "connections from your ip or network",
       C::kSoft, B::kRateLimited},
      // "security failure" inside a longer text is not Exim's TLS answer.
      {"security_failure_in_words", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Message rejected: DKIM security failure"),
       C::kTechnical, B::kAuthentication},
  });
}

// Refusals at RCPT TO that are not an unknown mailbox (the receiver does not
// take that domain, denies the recipient by its own rule, judges us a
// spammer), and the few words that do name the address itself as dead.
TEST(BounceFamilies, RecipientSideRefusalsAndDeadAddresses) {
  Check({
      // A misleading 5.1.1: the receiver hosts no such domain. Never suppressed.
      {"mox_not_accepting_for_domain", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 not accepting email for domain"), C::kTechnical,
       B::kPolicy},
      {"not_accepting_mail_for_this_domain", "bounced", "5.0.0",
       Said("mx.example.net", "550 Not accepting mail for this domain"), C::kTechnical,
       B::kPolicy},
      {"haraka_cannot_deliver_for", "bounced", "5.0.0",
       Said("mx.example.net", "550 I cannot deliver mail for <bob@example.net>"), C::kTechnical,
       B::kPolicy},
      {"haraka_recipient_denied", "bounced", "5.0.0",
       Said("mx.example.net", "550 recipient <bob@example.net> denied"), C::kTechnical,
       B::kPolicy},
      {"too_many_invalid_recipients", "bounced", "4.0.0",
       Said("mx.example.net", "421 Too many invalid recipients, closing connection"),
       C::kTechnical, B::kPolicy},
      {"rackspace_too_much_spam", "bounced", "4.3.0",
       Said("mx1.emailsrvr.com", "451 4.3.0 <mail.example.org[192.0.2.1]>: Client host "
                                 "rejected: Throttled - Too much spam from your mail server. "
                                 "Try again later."),
       C::kTechnical, B::kPolicy},
      {"apache_domain_blocked", "bounced", "5.0.0",
       Said("mx.example.net", "550 Domain Blocked - Spam. Contact abuse@example.net",
            "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"maddy_quarantined", "bounced", "5.7.0",
       Said("mx.example.net", "550 5.7.0 Refusing to deliver a quarantined message",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      {"message_quarantined", "bounced", "5.0.0",
       Said("mx.example.net", "550 Message quarantined", "end of DATA"), C::kTechnical,
       B::kSpam},
      // The address itself: expired, malformed, or said invalid in Sendmail's form.
      {"haraka_expired_address", "bounced", "5.0.0",
       Said("mx.example.net", "550 Expired email address"), C::kHard, B::kMailboxDisabled},
      {"address_has_expired", "bounced", "5.0.0",
       Said("mx.example.net", "550 This address has expired"), C::kHard, B::kMailboxDisabled},
      {"exim_restricted_characters", "bounced", "5.0.0",
       Said("mx.example.net", "550 Restricted characters in address"), C::kHard,
       B::kRecipientUnknown},
      {"sendmail_form_address_invalid", "bounced", "5.7.0",
       Said("mx.example.net", "550 5.7.0 bob@example.net... address invalid"), C::kHard,
       B::kRecipientUnknown},
      // Never hard on a sender: the same words in reply to MAIL FROM are about
      // our sender address (authentication).
      {"restricted_characters_at_mail_from", "bounced", "5.0.0",
       Said("mx.example.net", "550 Restricted characters in address", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      // A message that expired is not an address that did.
      {"message_expired_stays_expiry", "bounced", "4.4.7",
       Said("mx.example.net", "450 4.4.7 Message expired after 5 delivery attempts"), C::kSoft,
       B::kExpired},
  });
}

// Multi-line replies as Postfix logs them (the lines joined by a space, each
// keeping its "550-5.1.1" prefix): a phrase broken over two lines is read
// whole. Where each receiver breaks its lines depends on what precedes (an
// IP in brackets, the address), so the breaks below fall inside the phrases.
TEST(BounceFamilies, MultiLineRepliesAreReadAcrossTheirLineBreaks) {
  Check({
      // Gmail's dormant account (?p=DisabledUser texts): inactive, not disabled.
      {"gmail_inactive_split", "bounced", "5.2.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.2.1 [192.0.2.1 12] The email account that you tried to reach is 550-5.2.1 "
            "inactive. For more information, go to 550 5.2.1  "
            "https://support.google.com/mail/?p=DisabledUser x12si - gsmtp"),
       C::kHard, B::kInactiveAccount},
      // Gmail ?p=OverQuotaPerm: full AND inactive is the dormant account.
      {"gmail_overquota_perm_split", "bounced", "5.2.2",
       Said("gmail-smtp-in.l.google.com",
            "552-5.2.2 The recipient's inbox is out of storage space and 552-5.2.2 inactive. "
            "Please direct the recipient to 552 5.2.2  "
            "https://support.google.com/mail/?p=OverQuotaPerm x12si - gsmtp"),
       C::kHard, B::kInactiveAccount},
      // Gmail 4.7.28: rate limited, whatever else the text says of our IP.
      {"gmail_rate_limited_split", "bounced", "4.7.28",
       Said("gmail-smtp-in.l.google.com",
            "421-4.7.28 [192.0.2.1 15] Our system has detected an unusual rate of 421-4.7.28 "
            "unsolicited mail originating from your IP address. To protect our 421-4.7.28 users "
            "from spam, mail sent from your IP address has been temporarily rate 421-4.7.28 "
            "limited. Please visit 421 4.7.28  "
            "https://support.google.com/mail/answer/188131 x12si - gsmtp"),
       C::kSoft, B::kRateLimited},
      // Gmail's malformed From: (its format: other), broken twice.
      {"gmail_no_from_split", "bounced", "5.7.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.7.1 [192.0.2.1 14] Messages missing a 550-5.7.1 valid address in From: "
            "header, or having no 550-5.7.1 From: header, are not accepted. x12si - gsmtp",
            "end of DATA"),
       C::kTechnical, B::kOther},
      // A receiver without enhanced codes: the words "no such user" are split
      // by the last line's "550 ".
      {"no_such_user_no_code_split", "bounced", "5.0.0",
       Said("mx.example.net", "550-<bob@example.net>: no such 550 user here"), C::kHard,
       B::kRecipientUnknown},
      // Cyrus lmtpd's multi-line unknown mailbox (no split words: unchanged).
      {"cyrus_mailbox_unknown", "bounced", "5.1.1",
       Said("mx.example.net", "550-Mailbox unknown.  Either there is no mailbox associated "
                              "with this 550-name or you do not have authorization to see it. "
                              "550 5.1.1 User unknown"),
       C::kHard, B::kRecipientUnknown},
      // Exim's sender verification in three lines: still our sender.
      {"exim_sender_verify_three_lines", "bounced", "5.0.0",
       Said("mx.example.net", "550-Verification failed for <alice@example.com> "
                              "550-Unrouteable address 550 Sender verify failed", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
  });
}

// A permanent refusal of the greeting or of HELO/EHLO that no rule and no
// enhanced code explains is about the connecting client: technical/policy.
// At RCPT TO or after DATA the same words stay what the reply code says.
TEST(BounceFamilies, BareRefusalsOfTheClientArePolicy) {
  Check({
      {"rejected_at_ehlo", "bounced", "5.0.0", Said("mx.example.net", "550 Rejected", "EHLO"),
       C::kTechnical, B::kPolicy},
      {"rejected_at_helo", "bounced", "5.0.0", Said("mx.example.net", "550 No thanks", "HELO"),
       C::kTechnical, B::kPolicy},
      {"full_mailbox_code_at_ehlo", "bounced", "5.0.0",
       Said("mx.example.net", "552 Nope", "EHLO"), C::kTechnical, B::kPolicy},
      {"greeting_unknown_code", "bounced", "5.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 521 Go away", C::kTechnical,
       B::kPolicy},
      // Not the client's: a later command, a temporary refusal, or words a rule knows.
      {"rejected_at_rcpt", "bounced", "5.0.0", Said("mx.example.net", "550 Rejected"),
       C::kTechnical, B::kOther},
      {"temporary_at_greeting", "bounced", "4.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 421 Not now", C::kSoft,
       B::kOther},
      {"rule_at_ehlo", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message size exceeds fixed limit", "EHLO"), C::kTechnical,
       B::kTooLarge},
  });
  const BounceRules& rules = Shipped();
  BounceRules::Explanation e =
      rules.Explain("bounced", "5.0.0", Said("mx.example.net", "550 Rejected", "EHLO"));
  EXPECT_TRUE(e.client_guard);
  EXPECT_FALSE(e.sender_guard);
  EXPECT_EQ(e.result.by, ClassifiedBy::kReplyCode);
  e = rules.Explain("bounced", "5.0.0", Said("mx.example.net", "550 Rejected"));
  EXPECT_FALSE(e.client_guard);
}

// ---------------------------------------------------------------------------
// Vocabulary rules: how receivers phrase a family across servers and
// languages, not one rule per text. The texts below are in none of the corpora.

// A noun for the recipient and a negation of its existence, in either order,
// a word or two apart.
TEST(BounceVocabulary, RecipientUnknownInAnyWords) {
  Check({
      {"recipient_address_unknown", "bounced", "5.0.0",
       Said("mx.example.net", "550 Recipient address unknown"), C::kHard, B::kRecipientUnknown},
      {"email_address_unknown", "bounced", "5.0.0",
       Said("mx.example.net", "550 E-mail address unknown"), C::kHard, B::kRecipientUnknown},
      {"email_not_found", "bounced", "5.0.0", Said("mx.example.net", "554 e-mail not found"),
       C::kHard, B::kRecipientUnknown},
      {"nonexistent_mailbox_under_5_7_1", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 Nonexistent mailbox"), C::kHard, B::kRecipientUnknown},
      {"unknown_local_user", "bounced", "5.0.0", Said("mx.example.net", "550 Unknown local user"),
       C::kHard, B::kRecipientUnknown},
      {"invalid_email_address", "bounced", "5.0.0",
       Said("mx.example.net", "550 Invalid e-mail address"), C::kHard, B::kRecipientUnknown},
      {"mailbox_for_address_not_found", "bounced", "5.0.0",
       Said("mx.example.net", "550 Mailbox for bob@example.net not found"), C::kHard,
       B::kRecipientUnknown},
      {"recipient_not_in_my_list", "bounced", "5.0.0",
       Said("mx.example.net", "550 Recipient not in my list"), C::kHard, B::kRecipientUnknown},
      {"mbox_address_misspelt", "bounced", "5.0.0",
       Said("mx.example.net", "550 mailbox adress invalid"), C::kHard, B::kRecipientUnknown},
      {"de_adresse_unbekannt", "bounced", "5.0.0",
       Said("mx.example.de", "550 Die E-Mail-Adresse ist unbekannt"), C::kHard,
       B::kRecipientUnknown},
      {"de_empfaenger_existiert_nicht", "bounced", "5.0.0",
       Said("mx.example.de", "550 Empfänger existiert nicht"), C::kHard, B::kRecipientUnknown},
      {"fr_adresse_n_existe_pas", "bounced", "5.0.0",
       Said("mx.example.fr", "550 L'adresse n'existe pas"), C::kHard, B::kRecipientUnknown},
      {"fr_destinataire_inexistant", "bounced", "5.0.0",
       Said("mx.example.fr", "550 Destinataire inexistant"), C::kHard, B::kRecipientUnknown},
      {"it_utente_inesistente", "bounced", "5.0.0",
       Said("mx.example.it", "550 Utente inesistente"), C::kHard, B::kRecipientUnknown},
      {"pt_destinatario_nao_existe", "bounced", "5.0.0",
       Said("mx.example.com.br", "550 Destinatário não existe"), C::kHard,
       B::kRecipientUnknown},
      {"es_cuenta_no_existe", "bounced", "5.0.0",
       Said("mx.example.es", "550 La cuenta no existe"), C::kHard, B::kRecipientUnknown},
      {"de_postfach_nicht_vorhanden", "bounced", "5.0.0",
       Said("mx.example.de", "550 Postfach nicht vorhanden"), C::kHard, B::kRecipientUnknown},
      // The mailbox's state, in the same way.
      {"mailbox_not_active", "bounced", "5.0.0", Said("mx.example.net", "550 Mailbox not active"),
       C::kHard, B::kMailboxDisabled},
      {"mbox_is_inactive", "bounced", "5.0.0", Said("mx.example.net", "550 Mbox is inactive"),
       C::kHard, B::kInactiveAccount},
      // The domain, named in full or by its missing mail servers.
      {"domain_name_not_found", "bounced", "5.0.0",
       Said("mx.example.net", "550 Domain name not found"), C::kHard, B::kDomainUnknown},
      {"no_mail_servers_exist", "bounced", "5.0.0",
       Said("relay.example.net", "550 No mail servers exist for nx.example"), C::kHard,
       B::kDomainUnknown},
      {"no_mx_hosts_found", "bounced", "5.0.0",
       Said("relay.example.net", "554 No MX hosts found for nx.example"), C::kHard,
       B::kDomainUnknown},
      {"recipient_domain_not_found_is_the_domain", "bounced", "5.1.2",
       Said("mx.example.net", "550 5.1.2 <bob@nx.example>: Recipient domain not found"), C::kHard,
       B::kDomainUnknown},
  });
}

// The same words about the sender are ours (authentication), never a hard
// bounce of the recipient.
TEST(BounceVocabulary, SenderSideWordsAreNeverHard) {
  Check({
      {"sender_address_unknown", "bounced", "5.0.0",
       Said("mx.example.net", "550 Sender address unknown"), C::kTechnical, B::kAuthentication},
      {"sender_address_unknown_under_5_1_1", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 Sender address unknown"), C::kTechnical,
       B::kAuthentication},
      {"envelope_sender_does_not_exist", "bounced", "5.0.0",
       Said("mx.example.net", "553 Envelope sender <alice@example.com> does not exist"),
       C::kTechnical, B::kAuthentication},
      {"from_address_invalid", "bounced", "5.0.0",
       Said("mx.example.net", "550 From address invalid", "end of DATA"), C::kTechnical,
       B::kAuthentication},
      {"return_path_domain_does_not_exist", "bounced", "5.0.0",
       Said("mx.example.net", "550 Return-Path domain does not exist"), C::kTechnical,
       B::kAuthentication},
      {"unknown_sender_domain", "bounced", "5.0.0",
       Said("mx.example.net", "550 Unknown sender domain"), C::kTechnical, B::kAuthentication},
      {"absender_unbekannt", "bounced", "5.0.0",
       Said("mx.example.de", "550 Absender unbekannt"), C::kTechnical, B::kAuthentication},
      {"requires_a_valid_sender", "bounced", "5.0.0",
       Said("mx.example.net", "550 This server requires a valid sender address"), C::kTechnical,
       B::kAuthentication},
      {"not_allowed_to_send_as", "bounced", "5.7.1",
       Said("smtp.example.net", "550 5.7.1 You are not allowed to send as alice@example.com",
            "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"not_authorized_on_behalf_of", "bounced", "5.7.1",
       Said("smtp.example.net", "550 5.7.1 Not authorized to send on behalf of alice@example.com",
            "end of DATA"),
       C::kTechnical, B::kAuthentication},
      {"exchange_send_as_denied", "bounced", "5.7.60",
       Said("smtp.office365.example", "550 5.7.60 SMTP; SendAsDenied; alice@example.com not "
                                      "allowed to send as bob@example.com", "end of DATA"),
       C::kTechnical, B::kAuthentication},
      // A recipient text that mentions the sender later stays the recipient's.
      {"user_unknown_then_sender", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 User unknown. Please tell the sender"), C::kHard,
       B::kRecipientUnknown},
      {"unknown_recipient_for_the_sender", "bounced", "5.0.0",
       Said("mx.example.net", "550 Unknown recipient for the sender"), C::kHard,
       B::kRecipientUnknown},
      {"forbidden_domain_in_envelope_from", "bounced", "5.0.0",
       Said("mx.example.net", "550 Forbidden domain 'example.org' in envelope-from",
            "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
  });
}

// A noun for our IP, host or server and a word of refusal: policy (who is
// sending), whichever comes first.
TEST(BounceVocabulary, RefusedClientIsPolicy) {
  Check({
      {"sending_host_is_listed", "bounced", "5.0.0",
       Said("mx.example.net", "550 Sending host 198.51.100.7 is listed", "MAIL FROM"),
       C::kTechnical, B::kPolicy},
      {"ip_in_parentheses_is_filtered", "bounced", "5.0.0",
       Said("mx.example.net", "550 Your IP(198.51.100.7) is filtered"), C::kTechnical,
       B::kPolicy},
      {"client_literal_denied", "bounced", "5.0.0",
       Said("mx.example.net", "550 Client 198.51.100.7 denied"), C::kTechnical, B::kPolicy},
      {"bracketed_literal_is_banned", "bounced", "5.0.0",
       Said("mx.example.net", "550 [198.51.100.7] is banned"), C::kTechnical, B::kPolicy},
      {"ip_temporarily_blocked", "bounced", "4.0.0",
       "host mx.example.net[192.0.2.25] refused to talk to me: 421 Your IP 198.51.100.7 is "
       "temporarily blocked",
       C::kTechnical, B::kPolicy},
      {"bad_ip", "bounced", "5.0.0", Said("mx.example.net", "550 Bad IP 198.51.100.7"),
       C::kTechnical, B::kPolicy},
      {"no_access_from_this_network", "bounced", "5.0.0",
       Said("mx.example.net", "550 No access from this network"), C::kTechnical, B::kPolicy},
      {"ip_not_registered", "bounced", "5.0.0",
       Said("mx.example.net", "550 Your IP 198.51.100.7 is not registered"), C::kTechnical,
       B::kPolicy},
      // An IP "not found" in an allowlist is not a recipient that is not found.
      {"ip_address_not_found_in_allowlist", "bounced", "5.0.0",
       Said("mx.example.net", "550 Your IP address 198.51.100.7 is not found in our allowlist"),
       C::kTechnical, B::kPolicy},
      // Not these words: SPF's "not allowed to send from" stays authentication,
      // a rate limit that names the client stays a rate limit, and a greylist
      // served as a DNS list is a delay.
      {"spf_ip_not_allowed_stays_authentication", "bounced", "5.7.1",
       Said("mx.example.net", "550 5.7.1 198.51.100.7 is not allowed to send mail from "
                              "example.com", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"client_host_rejected_too_many_connections", "bounced", "4.7.1",
       Said("mx.example.net", "450 4.7.1 Client host rejected: too many connections from "
                              "198.51.100.7"),
       C::kSoft, B::kRateLimited},
      {"greylist_served_as_dnsbl", "bounced", "4.7.1",
       Said("mx.example.net", "451 4.7.1 Client host [198.51.100.7] blocked using "
                              "greylist.example.org; greylisted, try again in 5 minutes"),
       C::kSoft, B::kRateLimited},
      // "Your email has been blocked" is the message, not our account: the
      // reason given decides.
      {"your_email_blocked_unauthenticated", "bounced", "5.7.26",
       Said("mx.example.net", "550 5.7.26 Your email has been blocked because the sender is "
                              "unauthenticated", "end of DATA"),
       C::kTechnical, B::kAuthentication},
      // The receiver's own access rule for an address: policy, not unknown.
      {"mail_not_permitted_to_recipient", "bounced", "5.0.0",
       Said("mx.example.net", "550 Mail is not permitted to this recipient"), C::kTechnical,
       B::kPolicy},
      {"delivery_not_allowed_for_address", "bounced", "5.0.0",
       Said("mx.example.net", "550 Delivery not allowed for this address"), C::kTechnical,
       B::kPolicy},
  });
}

// Throttling, size, loops, DNS, TLS, the message's format and failed
// authentication, each in the words of its family rather than of one server.
TEST(BounceVocabulary, RateSizeNetworkFormatAndAuthentication) {
  Check({
      // The receiver throttles or is busy: soft/rate-limited.
      {"sending_too_fast", "bounced", "4.0.0", Said("mx.example.net", "421 You are sending too fast"),
       C::kSoft, B::kRateLimited},
      {"sent_too_much_mail", "bounced", "4.0.0",
       Said("mx.example.net", "452 You have sent too much mail today"), C::kSoft,
       B::kRateLimited},
      {"system_busy", "bounced", "4.0.0", Said("mx.example.net", "451 System busy - come back later"),
       C::kSoft, B::kRateLimited},
      {"resources_currently_not_available", "bounced", "4.0.0",
       Said("mx.example.net", "421 Resources are currently not available"), C::kSoft,
       B::kRateLimited},
      // The message's size: technical/too-large, not a full mailbox (552).
      {"attachment_too_large", "bounced", "5.0.0",
       Said("mx.example.net", "552 Attachment too large", "end of DATA"), C::kTechnical,
       B::kTooLarge},
      {"mail_data_too_long", "bounced", "5.0.0",
       Said("mx.example.net", "554 Mail data too long", "end of DATA"), C::kTechnical,
       B::kTooLarge},
      {"message_exceeds_maximum_size", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message exceeds the maximum size", "end of DATA"),
       C::kTechnical, B::kTooLarge},
      {"mail_exceeds_megabytes", "bounced", "5.0.0",
       Said("mx.example.net", "552 Your mail exceeds 10 MB", "end of DATA"), C::kTechnical,
       B::kTooLarge},
      {"message_length_number_exceeds", "bounced", "5.0.0",
       Said("mx.example.net", "552 Message length 5242880 exceeds the limit", "end of DATA"),
       C::kTechnical, B::kTooLarge},
      // Not the message's size: a count of recipients, the mailbox's size.
      {"policy_size_per_transaction", "bounced", "4.5.3",
       Said("mx.example.net", "452 4.5.3 Domain policy size per transaction exceeded"), C::kSoft,
       B::kRateLimited},
      {"mailbox_size_exceeds", "bounced", "5.0.0",
       Said("mx.example.net", "552 Mailbox size exceeds the limit"), C::kSoft, B::kMailboxFull},
      // Loops, DNS failures and TLS required: technical/network.
      {"mail_looping_detected", "bounced", "5.0.0",
       Said("mx.example.net", "554 Mail looping detected", "end of DATA"), C::kTechnical,
       B::kNetwork},
      {"too_many_forwards", "bounced", "5.0.0",
       Said("mx.example.net", "554 Too many forwards", "end of DATA"), C::kTechnical,
       B::kNetwork},
      {"dns_resolution_failed", "bounced", "4.0.0",
       Said("relay.example.net", "451 DNS resolution failed for example.net"), C::kTechnical,
       B::kNetwork},
      {"resolver_error", "bounced", "5.0.0",
       Said("relay.example.net", "550 Resolver error while looking up the MX"), C::kTechnical,
       B::kNetwork},
      {"only_over_tls", "bounced", "5.0.0",
       Said("mx.example.net", "530 Mail accepted only over TLS", "MAIL FROM"), C::kTechnical,
       B::kNetwork},
      {"requires_secure_connection", "bounced", "5.0.0",
       Said("mx.example.net", "554 This server requires a secure connection", "MAIL FROM"),
       C::kTechnical, B::kNetwork},
      {"encryption_required", "bounced", "5.7.10",
       Said("mx.example.net", "530 5.7.10 Encryption required", "MAIL FROM"), C::kTechnical,
       B::kNetwork},
      // A DNS answer that the domain does not exist is the domain, not the network.
      {"dns_error_domain_name_not_found", "bounced", "5.1.2",
       Said("relay.example.net", "550 5.1.2 DNS error: Domain name not found"), C::kHard,
       B::kDomainUnknown},
      // A lookup table that failed is not DNS.
      {"postfix_temporary_lookup_failure", "bounced", "4.3.0",
       Said("mx.example.net", "451 4.3.0 Error: temporary lookup failure"), C::kSoft, B::kOther},
      // The message's format: technical/other.
      {"missing_date_field", "bounced", "5.0.0",
       Said("mx.example.net", "554 Missing Date field", "end of DATA"), C::kTechnical, B::kOther},
      {"without_a_from_field", "bounced", "5.0.0",
       Said("mx.example.net", "550 Message without a From field", "end of DATA"), C::kTechnical,
       B::kOther},
      // Spam named inside an identifier.
      {"x_spam_flag", "bounced", "5.0.0",
       Said("mx.example.net", "550 Rejected: X_SPAM_FLAG set", "end of DATA"), C::kTechnical,
       B::kSpam},
      // Authentication that failed, in either order.
      {"incorrect_authentication_data", "bounced", "5.0.0",
       Said("smtp.example.net", "535 Incorrect authentication data", "AUTH"), C::kTechnical,
       B::kAuthentication},
      {"authentication_mismatch", "bounced", "5.0.0",
       Said("mx.example.net", "550 Authentication mismatch for the sending domain", "end of DATA"),
       C::kTechnical, B::kAuthentication},
  });
  // Postfix's connect errors with any errno text are the connect rule's,
  // IPv6 address and all (smtp_connect.c "connect to %s[%s]:%d: %m").
  const BounceRules& rules = Shipped();
  for (const char* text : {"connect to mx.example[192.0.2.1]:25: Permission denied",
                           "connect to mx.example[2001:db8::25]:25: Operation not permitted"}) {
    const BounceRules::Explanation e = rules.Explain("bounced", "4.4.1", text);
    EXPECT_EQ(e.result.by, ClassifiedBy::kTextRule) << text;
    EXPECT_EQ(e.result.category, B::kNetwork) << text;
    EXPECT_NE(e.pattern.find("connect to"), std::string_view::npos) << text;
  }
}

// A 4yz reply is temporary (RFC 5321 §4.2.1): whatever its words, never hard.
// The category stays what the words say.
TEST(BounceGuards, TemporaryRepliesAreNeverHard) {
  Check({
      {"mailbox_disabled_450", "bounced", "4.2.1",
       Said("mx.example.net", "450 4.2.1 Mailbox disabled, not accepting messages"), C::kSoft,
       B::kMailboxDisabled},
      {"user_unknown_450", "bounced", "4.0.0",
       Said("mx.example.net", "450 <bob@example.net>: User unknown in local recipient table"),
       C::kSoft, B::kRecipientUnknown},
      {"no_such_user_451", "bounced", "4.1.1",
       Said("mx.example.net", "451 4.1.1 No such user here, try again later"), C::kSoft,
       B::kRecipientUnknown},
      {"account_disabled_452", "bounced", "4.0.0",
       Said("mx.example.net", "452 Account disabled"), C::kSoft, B::kMailboxDisabled},
      // The same words with a 5yz code stay hard.
      {"mailbox_disabled_550", "bounced", "5.2.1",
       Said("mx.example.net", "550 5.2.1 Mailbox disabled, not accepting messages"), C::kHard,
       B::kMailboxDisabled},
      // Without a reply code (a relay's DSN, Postfix's own text) the words decide.
      {"relay_dsn_nxdomain", "bounced", "4.0.0",
       "DNS Error: DNS type 'mx' lookup of nx.example responded with code NXDOMAIN Domain name "
       "not found: nx.example",
       C::kHard, B::kDomainUnknown},
  });
  const BounceRules& rules = Shipped();
  BounceRules::Explanation e = rules.Explain(
      "bounced", "4.2.1", Said("mx.example.net", "450 4.2.1 Mailbox disabled, not accepting messages"));
  EXPECT_TRUE(e.temporary_guard);
  EXPECT_FALSE(e.sender_guard);
  EXPECT_EQ(e.rule_class, "hard");
  e = rules.Explain("bounced", "5.2.1",
                    Said("mx.example.net", "550 5.2.1 Mailbox disabled, not accepting messages"));
  EXPECT_FALSE(e.temporary_guard);
}

// Under an enhanced code of subject 6 (the message's content, RFC 3463 §3.8)
// words that a user is unknown quote the message: the codes decide.
TEST(BounceGuards, UserUnknownQuotedUnderAContentCodeIsNotHard) {
  Check({
      {"quoted_header_5_6_0", "bounced", "5.6.0",
       Said("mx.example.net", "554 5.6.0 Message refused: header 'X-Failed-Recipients: user "
                              "unknown' not allowed", "end of DATA"),
       C::kTechnical, B::kOther},
      {"quoted_subject_5_6_1", "bounced", "5.6.1",
       Said("mx.example.net", "550 5.6.1 Media not supported: Subject \"Recipient address "
                              "unknown\"", "end of DATA"),
       C::kTechnical, B::kOther},
      // Not hard words under 5.6: the rules still read them.
      {"spam_score_5_6_0_stays_spam", "bounced", "5.6.0",
       Said("mx.example.net", "554 5.6.0 This message has been scored as spam",
            "end of DATA"),
       C::kTechnical, B::kSpam},
      // The same words under a recipient's code stay hard.
      {"user_unknown_5_1_1", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 user unknown"), C::kHard, B::kRecipientUnknown},
  });
  const BounceRules& rules = Shipped();
  const BounceRules::Explanation e =
      rules.Explain("bounced", "5.6.0",
                    Said("mx.example.net", "554 5.6.0 header 'X-Failed-Recipients: user "
                                           "unknown' not allowed", "end of DATA"));
  EXPECT_TRUE(e.content_guard);
  EXPECT_EQ(e.result.by, ClassifiedBy::kEnhancedCode);
  EXPECT_EQ(e.code_key, "5.6.");
}

// An address or domain that does not exist, in answer to MAIL FROM, is our
// sender address: authentication. Other hard words there stay policy (a
// smarthost's account), and at the greeting or HELO everything is policy.
TEST(BounceGuards, UnknownAddressAtMailFromIsOurSender) {
  Check({
      {"domain_does_not_exist_at_mail_from", "bounced", "5.0.0",
       Said("mx.example.net", "517-Domain does not exist: alice@nx.example. 517 Invalid domain",
            "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"user_unknown_at_mail_from", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 <alice@example.com>: User unknown", "MAIL FROM"),
       C::kTechnical, B::kAuthentication},
      {"no_such_domain_at_mail_from", "bounced", "5.0.0",
       Said("mx.example.net", "550 No such domain", "MAIL FROM"), C::kTechnical,
       B::kAuthentication},
      {"account_disabled_at_mail_from_stays_policy", "bounced", "5.2.1",
       Said("smtp.relay.example", "550 5.2.1 Account disabled", "MAIL FROM"), C::kTechnical,
       B::kPolicy},
      {"user_unknown_at_ehlo_stays_policy", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 User unknown", "EHLO"), C::kTechnical, B::kPolicy},
      {"user_unknown_at_auth_stays_policy", "bounced", "5.0.0",
       Said("smtp.relay.example", "535 User unknown", "AUTH"), C::kTechnical, B::kPolicy},
      {"user_unknown_at_rcpt_is_hard", "bounced", "5.1.1",
       Said("mx.example.net", "550 5.1.1 <bob@example.net>: User unknown"), C::kHard,
       B::kRecipientUnknown},
  });
  const BounceRules& rules = Shipped();
  const BounceRules::Explanation e = rules.Explain(
      "bounced", "5.1.1",
      Said("mx.example.net", "550 5.1.1 <alice@example.com>: User unknown", "MAIL FROM"));
  EXPECT_TRUE(e.sender_guard);
  EXPECT_EQ(e.rule_class, "hard");
  EXPECT_EQ(e.result.category, B::kAuthentication);
}

// ---------------------------------------------------------------------------
// Explain: the same verdict as Classify, and what decided it.

TEST(BounceExplain, SaysWhichRuleOrEntryDecided) {
  const BounceRules& rules = Shipped();
  // A text rule: its index, line, pattern and comment.
  const std::string user_unknown = Said(
      "mx.example.net",
      "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox "
      "table");
  BounceRules::Explanation e = rules.Explain("bounced", "5.1.1", user_unknown);
  EXPECT_EQ(e.result.by, ClassifiedBy::kTextRule);
  EXPECT_EQ(e.result.cls, C::kHard);
  EXPECT_EQ(e.line, rules.RuleLine(e.result.rule));
  EXPECT_GT(e.line, 0);
  EXPECT_NE(e.pattern.find("user unknown"), std::string_view::npos);
  EXPECT_NE(e.comment.find("virtual mailbox table"), std::string_view::npos);
  EXPECT_EQ(e.rule_class, "hard");
  EXPECT_EQ(e.server_text.substr(0, 9), "550 5.1.1");
  EXPECT_FALSE(e.sender_guard);
  const Classification c = rules.Classify("bounced", "5.1.1", user_unknown);
  EXPECT_EQ(e.result.cls, c.cls);
  EXPECT_EQ(e.result.category, c.category);
  EXPECT_EQ(e.result.rule, c.rule);

  // A dsn entry: its key and line.
  e = rules.Explain("bounced", "5.2.1", Said("mx.example.net", "550 5.2.1 Nope"));
  EXPECT_EQ(e.result.by, ClassifiedBy::kEnhancedCode);
  EXPECT_EQ(e.code_key, "5.2.1");
  EXPECT_GT(e.line, 0);
  EXPECT_TRUE(e.pattern.empty());

  // A reply-code entry.
  e = rules.Explain("bounced", "5.0.0", Said("mx.example.net", "550 Nein, danke"));
  EXPECT_EQ(e.result.by, ClassifiedBy::kReplyCode);
  EXPECT_EQ(e.code_key, "550");
  EXPECT_GT(e.line, 0);

  // Nothing: the fallback.
  e = rules.Explain("bounced", "", "hello world");
  EXPECT_EQ(e.result.by, ClassifiedBy::kDefault);
  EXPECT_EQ(e.result.cls, C::kTechnical);
  EXPECT_EQ(e.result.category, B::kOther);
  EXPECT_EQ(e.line, 0);

  // The guard: a hard rule on an answer to MAIL FROM.
  e = rules.Explain("bounced", "5.2.1",
                    Said("smarthost.test", "550 5.2.1 Account disabled", "MAIL FROM"));
  EXPECT_TRUE(e.sender_guard);
  EXPECT_EQ(e.rule_class, "hard");
  EXPECT_EQ(e.result.cls, C::kTechnical);
  EXPECT_EQ(e.result.category, B::kPolicy);

  // The status word: "sent" reads no rule; "deferred" keeps the rule's category.
  e = rules.Explain("sent", "2.0.0", "250 ok");
  EXPECT_EQ(e.result.by, ClassifiedBy::kStatus);
  EXPECT_EQ(e.line, 0);
  e = rules.Explain("deferred", "5.1.1", user_unknown);
  EXPECT_EQ(e.result.cls, C::kDeferred);
  EXPECT_EQ(e.rule_class, "hard");

  // A multi-line reply: what the rules read is unfolded.
  e = rules.Explain("bounced", "5.2.1",
                    Said("gmail-smtp-in.l.google.com",
                         "550-5.2.1 The email account that you tried to reach is 550-5.2.1 "
                         "disabled. 550 5.2.1 https://support.google.com/mail/?p=DisabledUser"));
  EXPECT_EQ(e.server_text,
            "550-5.2.1 The email account that you tried to reach is disabled. "
            "https://support.google.com/mail/?p=DisabledUser");
  EXPECT_EQ(e.result.by, ClassifiedBy::kTextRule);

  // No rules at all.
  BounceRules none;
  e = none.Explain("bounced", "5.1.1", user_unknown);
  EXPECT_EQ(e.result.by, ClassifiedBy::kDefault);
}

// Explain names the text rules whose words are in the text but whose `dsn`
// does not admit the reply's code: without the code Postfix logged, a
// domain-not-found text falls to the default, and the explanation says which
// rule it missed and why; with the code, that rule decides and none is named.
TEST(BounceExplain, RulesPassedOverForTheirCodeAreNamed) {
  const BounceRules& rules = Shipped();
  const std::string text =
      "Host or domain name not found. Name service error for name=example.invalid type=MX: "
      "Host not found";
  const BounceRules::Explanation without = rules.Explain("bounced", "", text);
  ASSERT_NE(without.result.by, ClassifiedBy::kTextRule);
  ASSERT_FALSE(without.dsn_excluded.empty());
  bool domain_rule = false;
  for (int h : without.dsn_excluded) {
    EXPECT_FALSE(rules.RuleDsn(h).empty()) << h;
    EXPECT_GT(rules.RuleLine(h), 0) << h;
    const BounceRules::Explanation with = rules.Explain("bounced", "5.4.4", text);
    if (with.result.by == ClassifiedBy::kTextRule && with.result.rule == h) domain_rule = true;
  }
  EXPECT_TRUE(domain_rule) << "the rule that decides under 5.4.4 is one of those named";
  const BounceRules::Explanation with = rules.Explain("bounced", "5.4.4", text);
  EXPECT_EQ(with.result.cls, OutcomeClass::kHard);
  EXPECT_EQ(with.result.category, B::kDomainUnknown);
  for (int h : with.dsn_excluded) EXPECT_LT(h, with.result.rule);
  // A text no rule's words are in names none.
  EXPECT_TRUE(rules.Explain("bounced", "", "550 zzzz qqqq").dsn_excluded.empty());
  EXPECT_EQ(rules.RuleDsn(-1), "");
  EXPECT_EQ(rules.RuleDsn(100000), "");
}

}  // namespace
}  // namespace senderguard
