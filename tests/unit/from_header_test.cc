// Tests for from_header.h: the author domain DMARC evaluates, from the
// From: header fields as libmilter hands them over.
//
// The table holds every form the header documents, the two OpenDMARC CVE
// inputs (CVE-2019-16378: several From: addresses; CVE-2021-34555: a From:
// without a domain), folded values as clients send them, IDN, and the
// hostile cases (8-bit garbage, control bytes, nesting over the cap, huge
// values).
#include "senderguard/auth/from_header.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;
using E = AuthorError;

struct Case {
  const char* name;                 // the test's name (letters, digits, '_')
  std::vector<std::string> fields;  // the From: values
  E error;
  std::string domain;  // when error == kNone
  // Checked when set.
  std::optional<std::vector<std::string>> addresses = std::nullopt;
};

std::vector<std::string> V(std::initializer_list<std::string> l) { return l; }

const Case kCases[] = {
    // ---- the field count (RFC 5322 §3.6: exactly one From:)
    {"NoField", {}, E::kNoFrom, ""},
    {"TwoFields", {"a@example.com", "b@example.com"}, E::kMultipleFrom, ""},
    {"TwoFieldsSameAddress", {"a@example.com", "a@example.com"}, E::kMultipleFrom, ""},
    {"ThreeFieldsOneEmpty", {"", "a@example.com", ""}, E::kMultipleFrom, ""},

    // ---- plain forms
    {"Bare", {"a@example.com"}, E::kNone, "example.com", V({"a@example.com"})},
    {"NameAddr", {"Alice <a@example.com>"}, E::kNone, "example.com", V({"a@example.com"})},
    {"AngleOnly", {"<a@example.com>"}, E::kNone, "example.com", V({"a@example.com"})},
    {"QuotedName", {"\"Alice Liddell\" <a@example.com>"}, E::kNone, "example.com"},
    {"QuotedNameWithPairs", {R"("Al \"the\" \\ice" <a@example.com>)"}, E::kNone, "example.com"},
    {"QuotedNameWithSpecials", {"\"Smith, John <x@evil.example>\" <j@example.com>"}, E::kNone,
     "example.com", V({"j@example.com"})},
    {"LeadingTrailingSpace", {"  \t a@example.com \t "}, E::kNone, "example.com"},
    {"NoSpaceBeforeAngle", {"Alice<a@example.com>"}, E::kNone, "example.com"},
    {"DotAtomLocal", {"first.last+tag@example.com"}, E::kNone, "example.com",
     V({"first.last+tag@example.com"})},
    {"AtextLocal", {"!#$%&'*+-/=?^_`{|}~@example.com"}, E::kNone, "example.com"},
    {"Subdomain", {"a@mail.sub.example.co.uk"}, E::kNone, "mail.sub.example.co.uk"},
    {"HyphensInside", {"a@r3---sn-4g5e6nz7.googlevideo.com"}, E::kNone,
     "r3---sn-4g5e6nz7.googlevideo.com"},
    {"DigitsInLabels", {"a@123.example"}, E::kNone, "123.example"},

    // ---- display names: encoded words, obsolete and non-conforming forms
    {"EncodedWord", {"=?utf-8?q?J=C3=B6rg?= <a@example.com>"}, E::kNone, "example.com"},
    {"EncodedWordBase64", {"=?UTF-8?B?SsO2cmc=?= <a@example.com>"}, E::kNone, "example.com"},
    {"EncodedWordWithSpecials", {"=?utf-8?q?Smith,_John_<x@evil.example>?= <j@example.com>"},
     E::kSyntax, ""},  // "<" inside closes nothing: the word stops, "<" opens an address
    {"EncodedWordWithComma", {"=?utf-8?q?Smith,_John?= <j@example.com>"}, E::kNone,
     "example.com", V({"j@example.com"})},
    {"EncodedWordWithAt", {"=?utf-8?q?support@paypal.example?= <j@example.com>"}, E::kNone,
     "example.com", V({"j@example.com"})},
    {"EncodedWordsAdjacent", {"=?utf-8?q?a?= =?utf-8?q?b?= <a@example.com>"}, E::kNone,
     "example.com"},
    {"EncodedWordAlone", {"=?utf-8?q?support@paypal.example?="}, E::kNoAddress, ""},
    {"EncodedWordAsLocal", {"=?utf-8?q?a?=@example.com"}, E::kNone, "example.com"},
    {"EncodedWordInGroupName", {"=?utf-8?q?T=C3=A9am?=: a@example.com;"}, E::kNone,
     "example.com"},
    {"BrokenEncodedWord", {"=?utf-8?q?broken <a@example.com>"}, E::kNone, "example.com"},
    {"UnquotedDotsInName", {"John Q. Public <jqp@example.com>"}, E::kNone, "example.com",
     V({"jqp@example.com"})},
    {"QuotedAddressInName", {"\"a@evil.example\" <b@good.example>"}, E::kNone, "good.example",
     V({"b@good.example"})},
    {"UnquotedAddressInName", {"a@evil.example <b@good.example>"}, E::kNone, "good.example",
     V({"b@good.example"})},
    {"Utf8Name", {"J\xc3\xb6rg M\xc3\xbcller <jm@example.com>"}, E::kNone, "example.com"},
    {"Latin1Name", {"J\xf6rg <jm@example.com>"}, E::kNone, "example.com"},
    {"LiteralInName", {"Sales [EU] <s@example.com>"}, E::kNone, "example.com"},
    {"UnquotedColonInName", {"Re: John <j@example.com>"}, E::kNone, "example.com"},

    // ---- quoted local parts
    {"QuotedLocal", {"\"a b\"@example.com"}, E::kNone, "example.com", V({"\"a b\"@example.com"})},
    {"QuotedLocalWithAt", {"\"x@y\"@example.com"}, E::kNone, "example.com",
     V({"\"x@y\"@example.com"})},
    {"QuotedLocalWithAtInAngle", {"X <\"x@evil.example\"@example.com>"}, E::kNone, "example.com"},
    {"QuotedLocalWithPair", {R"("a\"b"@example.com)"}, E::kNone, "example.com",
     V({R"("a\"b"@example.com)"})},
    {"ObsLocalMixed", {"john.\"q\".public@example.com"}, E::kNone, "example.com",
     V({"john.\"q\".public@example.com"})},
    {"LocalTrailingDot", {"taro.@example.jp"}, E::kNone, "example.jp", V({"taro.@example.jp"})},
    {"LocalDoubleDot", {"a..b@example.com"}, E::kNone, "example.com"},

    // ---- comments and CFWS
    {"CommentAfter", {"a@example.com (Alice)"}, E::kNone, "example.com", V({"a@example.com"})},
    {"CommentBefore", {"(Alice) a@example.com"}, E::kNone, "example.com"},
    {"CommentsEverywhere", {"(x)a(y)@(z)example(w).(v)com(u)"}, E::kNone, "example.com",
     V({"a@example.com"})},
    {"NestedComments", {"a@example.com (a (b (c)) d)"}, E::kNone, "example.com"},
    {"CommentWithSpecials", {"a@example.com (<evil@evil.example>, \"x\" @ ;:)"}, E::kNone,
     "example.com"},
    {"CommentWithQuotedPair", {R"(a@example.com (a \) b))"}, E::kNone, "example.com"},
    {"CommentInAngle", {"<(c)a@example.com(d)>"}, E::kNone, "example.com"},
    {"SpacesAroundAt", {"a @ example.com"}, E::kNone, "example.com", V({"a@example.com"})},
    {"SpacesAroundDots", {"a@example . com"}, E::kNone, "example.com", V({"a@example.com"})},
    {"SpacesAroundLocalDots", {"john . doe@example.com"}, E::kNone, "example.com",
     V({"john.doe@example.com"})},
    {"TrailingDotDomain", {"a@example.com."}, E::kNone, "example.com", V({"a@example.com."})},
    {"TrailingDotInAngle", {"<a@example.com.>"}, E::kNone, "example.com"},

    // ---- folding (CRLF or LF, then white space) and line breaks
    {"FoldCrlfInName", {"Alice\r\n Liddell <a@example.com>"}, E::kNone, "example.com"},
    {"FoldLfInName", {"Alice\n\tLiddell <a@example.com>"}, E::kNone, "example.com"},
    {"FoldCrlfInQuotedName", {"\"Alice\r\n Liddell\" <a@example.com>"}, E::kNone, "example.com"},
    {"FoldBeforeAngle", {"Alice\r\n <a@example.com>"}, E::kNone, "example.com"},
    {"FoldAroundAt", {"a\r\n @\r\n example.com"}, E::kNone, "example.com", V({"a@example.com"})},
    {"FoldLfAroundAt", {"<a\n @\n\texample.com>"}, E::kNone, "example.com"},
    {"FoldInQuotedLocal", {"\"a\r\n b\"@example.com"}, E::kNone, "example.com",
     V({"\"a b\"@example.com"})},
    {"FoldInComment", {"a@example.com (x\r\n y)"}, E::kNone, "example.com"},
    {"FoldBetweenMailboxes", {"a@example.com,\r\n b@example.com"}, E::kNone, "example.com"},
    {"TrailingCrlf", {"a@example.com\r\n"}, E::kNone, "example.com"},
    {"TrailingLf", {"a@example.com\n"}, E::kNone, "example.com"},
    {"BareLfInside", {"a@example.com\nb@evil.example"}, E::kSyntax, ""},
    {"BareCrInside", {"a@example.com\r b@evil.example"}, E::kSyntax, ""},
    {"CrlfNotFolded", {"Alice\r\nFrom: <a@example.com>"}, E::kSyntax, ""},
    {"BareLfInQuoted", {"\"a\nb\"@example.com"}, E::kSyntax, ""},
    {"TwoTrailingCrlf", {"a@example.com\r\n\r\n"}, E::kSyntax, ""},

    // ---- several mailboxes (CVE-2019-16378)
    {"TwoSameDomain", {"a@example.com, b@example.com"}, E::kNone, "example.com",
     V({"a@example.com", "b@example.com"})},
    {"TwoSameDomainCase", {"a@Example.COM, B <b@example.com>"}, E::kNone, "example.com"},
    {"Cve201916378", {"victim@bank.example, attacker@evil.example"}, E::kMultipleDomains, "",
     V({"victim@bank.example", "attacker@evil.example"})},
    {"Cve201916378Named", {"\"Bank\" <ceo@bank.example>, <x@evil.example>"}, E::kMultipleDomains,
     ""},
    {"SubdomainDiffers", {"a@example.com, b@mail.example.com"}, E::kMultipleDomains, ""},
    {"IdnVsALabelSame", {"a@b\xc3\xbc" "cher.example, b@XN--BCHER-KVA.example"}, E::kNone,
     "xn--bcher-kva.example"},
    {"TrailingDotSame", {"a@example.com, b@example.com."}, E::kNone, "example.com"},
    {"EmptyMembers", {"a@example.com,,b@example.com"}, E::kNone, "example.com",
     V({"a@example.com", "b@example.com"})},
    {"LeadingTrailingCommas", {" , a@example.com , "}, E::kNone, "example.com"},
    {"OnlyCommas", {",,,"}, E::kNoAddress, ""},

    // ---- groups (RFC 6854 allows them in From:)
    {"Group", {"Team: a@example.com, b@example.com;"}, E::kNone, "example.com",
     V({"a@example.com", "b@example.com"})},
    {"GroupDomainsDiffer", {"Team: a@example.com, b@evil.example;"}, E::kMultipleDomains, ""},
    {"GroupThenMailbox", {"Team: a@example.com;, c@example.com"}, E::kNone, "example.com",
     V({"a@example.com", "c@example.com"})},
    {"GroupThenOtherDomain", {"Team: a@example.com; , c@evil.example"}, E::kMultipleDomains, ""},
    {"EmptyGroup", {"undisclosed-recipients:;"}, E::kNoAddress, ""},
    {"EmptyGroupSpaces", {"undisclosed-recipients: ;"}, E::kNoAddress, ""},
    {"QuotedGroupName", {"\"The Team\": <a@example.com>;"}, E::kNone, "example.com"},
    {"GroupEmptyMembers", {"T: ,a@example.com,,;"}, E::kNone, "example.com"},
    {"GroupUnclosedAtEnd", {"Team: a@example.com"}, E::kNone, "example.com"},
    {"NestedGroup", {"A: B: a@example.com;;"}, E::kSyntax, ""},
    {"SemicolonOutsideGroup", {"a@example.com;"}, E::kSyntax, ""},
    {"TextAfterGroup", {"T: a@example.com; b@example.com"}, E::kSyntax, ""},
    {"GroupNameWithAt", {"a@b: c@example.com;"}, E::kSyntax, ""},

    // ---- obsolete routes
    {"Route", {"<@route1,@route2:user@example.com>"}, E::kNone, "example.com",
     V({"user@example.com"})},
    {"RouteOneHop", {"Name <@relay.example:user@example.com>"}, E::kNone, "example.com"},
    {"RouteLeadingCommas", {"<,,@r.example,,@s.example:u@example.com>"}, E::kNone,
     "example.com"},
    {"RouteLiteral", {"<@[192.0.2.1]:u@example.com>"}, E::kNone, "example.com"},
    {"RouteWithoutColon", {"<@relay.example>"}, E::kSyntax, ""},
    {"RouteEmptyDomain", {"<@:u@example.com>"}, E::kSyntax, ""},

    // ---- no address / no domain (CVE-2021-34555)
    {"EmptyValue", {""}, E::kNoAddress, ""},
    {"WhitespaceValue", {" \t "}, E::kNoAddress, ""},
    {"CommentOnly", {"(nobody)"}, E::kNoAddress, ""},
    {"DisplayNameOnly", {"John Smith"}, E::kNoAddress, ""},
    {"QuotedAndWords", {"\"John\" Smith"}, E::kNoAddress, ""},
    {"Cve202134555", {"alice"}, E::kNoDomain, "", V({"alice"})},
    {"NoDomainInAngle", {"Alice <alice>"}, E::kNoDomain, "", V({"alice"})},
    {"NoDomainDotted", {"john.doe"}, E::kNoDomain, ""},
    {"NoDomainQuoted", {"\"Alice\""}, E::kNoDomain, ""},
    {"EmptyAngle", {"<>"}, E::kNoDomain, "", V({""})},
    {"EmptyAngleNamed", {"Mailer Daemon <>"}, E::kNoDomain, ""},
    {"AtNoDomain", {"a@"}, E::kNoDomain, "", V({"a@"})},
    {"AtNoDomainInAngle", {"<a@ >"}, E::kNoDomain, ""},
    {"OneWithoutDomain", {"a@example.com, bob"}, E::kNoDomain, ""},
    {"UnquotedCommaInName", {"Smith, John <j@example.com>"}, E::kNoDomain, "",
     V({"Smith", "j@example.com"})},
    {"NameAndGroupEmpty", {"x: ;, John Smith"}, E::kNoAddress, ""},

    // ---- bad domains
    {"DomainLiteral", {"a@[192.0.2.1]"}, E::kBadDomain, "", V({"a@[192.0.2.1]"})},
    {"DomainLiteralV6", {"<a@[IPv6:2001:db8::1]>"}, E::kBadDomain, ""},
    {"QuotedDomain", {"a@\"example.com\""}, E::kBadDomain, ""},
    {"EmptyLabelLeading", {"a@.example.com"}, E::kBadDomain, ""},
    {"EmptyLabelMiddle", {"a@example..com"}, E::kBadDomain, ""},
    {"TwoTrailingDots", {"a@example.com.."}, E::kBadDomain, ""},
    {"OnlyDot", {"a@."}, E::kBadDomain, ""},
    {"Underscore", {"a@my_host.example"}, E::kBadDomain, ""},
    {"AtextInDomain", {"a@exa$mple.com"}, E::kBadDomain, ""},
    {"HyphenStart", {"a@-example.com"}, E::kBadDomain, ""},
    {"HyphenEnd", {"a@example-.com"}, E::kBadDomain, ""},
    {"Label63", {"a@" + std::string(63, 'l') + ".example"}, E::kNone,
     std::string(63, 'l') + ".example"},
    {"Label64", {"a@" + std::string(64, 'l') + ".example"}, E::kBadDomain, ""},
    {"Name253", {"a@" + std::string(61, 'a') + "." + std::string(63, 'b') + "." +
                 std::string(63, 'c') + "." + std::string(63, 'd')},
     E::kNone, std::string(61, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') +
                   "." + std::string(63, 'd')},
    {"Name254", {"a@" + std::string(62, 'a') + "." + std::string(63, 'b') + "." +
                 std::string(63, 'c') + "." + std::string(63, 'd')},
     E::kBadDomain, ""},
    {"Name253TrailingDot", {"a@" + std::string(61, 'a') + "." + std::string(63, 'b') + "." +
                            std::string(63, 'c') + "." + std::string(63, 'd') + "."},
     E::kNone, std::string(61, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') +
                   "." + std::string(63, 'd')},
    {"HugeDomain", {"a@" + std::string(5000, 'x') + ".example"}, E::kBadDomain, ""},
    {"NumericAddress", {"a@192.0.2.1"}, E::kBadDomain, ""},
    {"NumericLastLabel", {"a@example.123"}, E::kBadDomain, ""},
    {"BadDomainBeatsDiffering", {"a@example.com, b@[192.0.2.1]"}, E::kBadDomain, ""},
    {"SecondDomainBad", {"a@example.com, b@example..com"}, E::kBadDomain, ""},

    // ---- single-label domains: accepted (see from_header.h)
    {"SingleLabel", {"root@localhost"}, E::kNone, "localhost"},
    {"SingleLabelTld", {"a@COM"}, E::kNone, "com"},

    // ---- case and IDN (RFC 9989: U-labels are evaluated as A-labels)
    {"UpperCase", {"A@EXAMPLE.COM"}, E::kNone, "example.com", V({"A@EXAMPLE.COM"})},
    {"MixedCase", {"a@ExAmPlE.CoM"}, E::kNone, "example.com"},
    {"Idn", {"a@b\xc3\xbc" "cher.example"}, E::kNone, "xn--bcher-kva.example",
     V({"a@b\xc3\xbc" "cher.example"})},
    {"IdnUpper", {"a@B\xc3\x9c" "CHER.Example"}, E::kNone, "xn--bcher-kva.example"},
    {"IdnNamed", {"J\xc3\xb6rg <j@b\xc3\xbc" "cher.example>"}, E::kNone, "xn--bcher-kva.example"},
    {"IdnSharpS", {"a@fa\xc3\x9f.de"}, E::kNone, "xn--fa-hia.de"},  // non-transitional
    {"IdnFullwidthDot", {"a@ex\xef\xbc\x8e" "ample"}, E::kNone, "ex.ample"},
    {"IdnIdeographicDot", {"a@b\xc3\xbc" "cher\xe3\x80\x82" "example"}, E::kNone,
     "xn--bcher-kva.example"},
    {"ALabel", {"a@xn--bcher-kva.example"}, E::kNone, "xn--bcher-kva.example"},
    {"ALabelUpper", {"a@XN--BCHER-KVA.EXAMPLE"}, E::kNone, "xn--bcher-kva.example"},
    {"BadPunycode", {"a@xn--zz.example"}, E::kBadDomain, ""},
    {"Utf8Local", {"j\xc3\xb6rg@example.com"}, E::kNone, "example.com"},
    {"InvalidUtf8Domain", {"a@b\xff" "c.example"}, E::kBadDomain, ""},
    {"OverlongUtf8Domain", {"a@\xc0\xae" "example"}, E::kBadDomain, ""},
    {"SurrogateUtf8Domain", {"a@\xed\xa0\x80.example"}, E::kBadDomain, ""},
    {"TruncatedUtf8Domain", {"a@example.c\xc3"}, E::kBadDomain, ""},
    {"ZeroWidthLabel", {"a@\xe2\x80\x8b.example"}, E::kBadDomain, ""},
    {"IdnaDisallowed", {"a@\xe2\x98\x83\xef\xb8\x8f.example"}, E::kBadDomain, ""},  // emoji
    {"IdnLabelTooLong", {"a@" + [] {
       std::string s;
       for (int i = 0; i < 63; ++i) s += "\xc3\xbc";
       return s;
     }() + ".example"},
     E::kBadDomain, ""},

    // ---- syntax errors
    {"UnterminatedQuote", {"\"Alice <a@example.com>"}, E::kSyntax, ""},
    {"UnterminatedComment", {"a@example.com (Alice"}, E::kSyntax, ""},
    {"UnterminatedNestedComment", {"a@example.com (a (b)"}, E::kSyntax, ""},
    {"UnbalancedParen", {"a@example.com)"}, E::kSyntax, ""},
    {"UnterminatedAngle", {"Alice <a@example.com"}, E::kSyntax, ""},
    {"UnterminatedAngleThenComma", {"Alice <a@example.com, b@example.com"}, E::kSyntax, ""},
    {"StrayGt", {"a@example.com>"}, E::kSyntax, ""},
    {"NestedAngle", {"<<a@example.com>>"}, E::kSyntax, ""},
    {"TwoAngles", {"<a@evil.example> <b@example.com>"}, E::kSyntax, ""},
    {"TextAfterAngle", {"<a@example.com> Alice"}, E::kSyntax, ""},
    {"UnterminatedLiteral", {"a@[192.0.2.1"}, E::kSyntax, ""},
    {"StrayBracket", {"a@example.com]"}, E::kSyntax, ""},
    {"TwoAts", {"a@b@example.com"}, E::kSyntax, ""},
    {"TwoAtsInAngle", {"<a@evil.example@example.com>"}, E::kSyntax, ""},
    {"SpaceInDomain", {"a@example com"}, E::kSyntax, ""},
    {"SpaceInLocal", {"john smith@example.com"}, E::kSyntax, ""},
    {"NameWithoutAngle", {"John Smith a@example.com"}, E::kSyntax, ""},
    {"EmptyLocal", {"@example.com"}, E::kSyntax, ""},
    {"BackslashOutsideQuotes", {"a\\b@example.com"}, E::kSyntax, ""},
    {"BackslashAtEnd", {"\"a\\"}, E::kSyntax, ""},
    {"ColonInAngle", {"<a:b@example.com>"}, E::kSyntax, ""},
    {"LiteralThenName", {"a@[1.2.3.4].example"}, E::kSyntax, ""},
    {"Nul", {"a@exa\0mple.com"s}, E::kSyntax, ""},
    {"NulInQuoted", {"\"a\0b\"@example.com"s}, E::kSyntax, ""},
    {"NulInComment", {"a@example.com (\0)"s}, E::kSyntax, ""},
    {"EscapeByte", {"a@example.com \x1b[31m"}, E::kSyntax, ""},
    {"DelByte", {"a\x7f@example.com"}, E::kSyntax, ""},
    {"QuotedPairControl", {"\"a\\\x01\"@example.com"}, E::kSyntax, ""},

    // ---- nesting and size caps
    {"Comments32Deep", {"a@example.com " + std::string(32, '(') + std::string(32, ')')}, E::kNone,
     "example.com"},
    {"Comments33Deep", {"a@example.com " + std::string(33, '(') + std::string(33, ')')},
     E::kSyntax, ""},
    {"Comments5000Deep", {std::string(5000, '(') + std::string(5000, ')') + "a@example.com"},
     E::kSyntax, ""},
    {"CommentsManyShallow", {[] {
       std::string s = "a@example.com ";
       for (int i = 0; i < 2000; ++i) s += "((x))";
       return s;
     }()},
     E::kNone, "example.com"},
    {"FieldAtCap", {"a@example.com (" + std::string(kMaxFromField - 16, 'x') + ")"}, E::kNone,
     "example.com"},
    {"FieldOverCap", {"a@example.com (" + std::string(kMaxFromField - 15, 'x') + ")"},
     E::kTooLong, ""},
    {"HundredMailboxes", {[] {
       std::string s;
       for (int i = 0; i < 100; ++i) s += "u" + std::to_string(i) + "@example.com,";
       return s;
     }()},
     E::kNone, "example.com"},
    {"HundredAndOneMailboxes", {[] {
       std::string s;
       for (int i = 0; i < 101; ++i) s += "u" + std::to_string(i) + "@example.com,";
       return s;
     }()},
     E::kTooLong, ""},
    {"ManyEmptyMembers", {std::string(10000, ',') + "a@example.com"}, E::kNone, "example.com"},
    {"LongQuotedName", {"\"" + std::string(15000, 'n') + "\" <a@example.com>"}, E::kNone,
     "example.com"},

    // ---- 8-bit garbage
    {"GarbageOnly", {"\xff\xfe\x80\x81\xc3"}, E::kNoDomain, ""},
    {"GarbageWords", {"\xff\xfe \x80\x81"}, E::kNoAddress, ""},
    {"GarbageName", {"\xff\xfe\x80 <a@example.com>"}, E::kNone, "example.com"},
    {"GarbageInComment", {"a@example.com (\xff\xfe)"}, E::kNone, "example.com"},
    {"GarbageLocal", {"\xff\xfe@example.com"}, E::kNone, "example.com"},
    {"GarbageDomain", {"a@\xff\xfe.example"}, E::kBadDomain, ""},
};

class FromHeaderTable : public ::testing::TestWithParam<Case> {};

TEST_P(FromHeaderTable, Parses) {
  const Case& c = GetParam();
  std::vector<std::string_view> views(c.fields.begin(), c.fields.end());
  const Author a = ParseAuthor(views);
  EXPECT_EQ(AuthorErrorName(a.error), AuthorErrorName(c.error)) << a.detail;
  EXPECT_EQ(a.domain, c.domain);
  if (c.addresses) {
    EXPECT_EQ(a.addresses, *c.addresses);
  }
  // Invariants of every outcome.
  EXPECT_EQ(a.error == E::kNone, !a.domain.empty());
  EXPECT_EQ(a.error == E::kNone, a.detail.empty()) << a.detail;
  EXPECT_LE(a.domain.size(), 253u);
  EXPECT_LE(a.addresses.size(), kMaxAuthorMailboxes);
  EXPECT_LE(a.detail.size(), 400u);
  for (char ch : a.detail) {
    const auto u = static_cast<unsigned char>(ch);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "raw byte in detail: " << a.detail;
  }
  for (char ch : a.domain) {
    EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')
        << a.domain;
  }
  for (const std::string& addr : a.addresses) {
    for (char ch : addr) {
      const auto u = static_cast<unsigned char>(ch);
      EXPECT_TRUE(u == '\t' || (u >= 0x20 && u != 0x7f)) << "control byte in an address";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(FromHeader, FromHeaderTable, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(FromHeader, ErrorNames) {
  EXPECT_EQ(AuthorErrorName(E::kNone), "none");
  EXPECT_EQ(AuthorErrorName(E::kNoFrom), "no-from");
  EXPECT_EQ(AuthorErrorName(E::kMultipleFrom), "multiple-from");
  EXPECT_EQ(AuthorErrorName(E::kNoAddress), "no-address");
  EXPECT_EQ(AuthorErrorName(E::kNoDomain), "no-domain");
  EXPECT_EQ(AuthorErrorName(E::kMultipleDomains), "multiple-domains");
  EXPECT_EQ(AuthorErrorName(E::kBadDomain), "bad-domain");
  EXPECT_EQ(AuthorErrorName(E::kSyntax), "syntax");
  EXPECT_EQ(AuthorErrorName(E::kTooLong), "too-long");
  EXPECT_EQ(AuthorErrorName(static_cast<E>(200)), "unknown");
}

TEST(FromHeader, SingleLabelIsMarked) {
  EXPECT_TRUE(ParseAuthor({"root@localhost"}).single_label);
  EXPECT_FALSE(ParseAuthor({"a@example.com"}).single_label);
  EXPECT_FALSE(ParseAuthor({"a@[192.0.2.1]"}).single_label);
}

// The detail line quotes the input escaped: no control byte, no 8-bit byte,
// no line break a log reader could take for a new line.
TEST(FromHeader, DetailEscapesTheInput) {
  const Author nd = ParseAuthor({"\"x\ty\xff\\\\\"\r\n "});
  EXPECT_EQ(nd.error, E::kNoDomain);
  EXPECT_EQ(nd.detail, "mailbox without a domain: \"x\\x09y\\xff\\\\\\\\\"");
  EXPECT_EQ(ParseAuthor({"<@relay.example:>"}).detail, "mailbox without a domain: <>");
  const Author bd = ParseAuthor({"a@[1.2.3.4\r\n\t]"});
  EXPECT_EQ(bd.error, E::kBadDomain);
  EXPECT_EQ(bd.detail, "bad domain [1.2.3.4\\x09]: domain literal");
  const Author syn = ParseAuthor({"a@example.com\nBcc: x@evil.example"});
  EXPECT_EQ(syn.error, E::kSyntax);
  EXPECT_EQ(syn.detail, "line break not followed by white space at byte 13");
  const Author md = ParseAuthor({"a@example.com, b@evil.example"});
  EXPECT_EQ(md.detail, "2 mailboxes, domains differ: example.com evil.example");
  // Two 253-byte domains are cut to keep the line short.
  const std::string big1 = std::string(61, 'a') + "." + std::string(63, 'b') + "." +
                           std::string(63, 'c') + "." + std::string(63, 'd');
  const std::string big2 = std::string(61, 'e') + "." + std::string(63, 'b') + "." +
                           std::string(63, 'c') + "." + std::string(63, 'd');
  const Author mdl = ParseAuthor({"x@" + big1 + ", y@" + big2});
  EXPECT_EQ(mdl.error, E::kMultipleDomains);
  EXPECT_EQ(mdl.detail, "2 mailboxes, domains differ: " + big1.substr(0, 100) + "... " +
                            big2.substr(0, 100) + "...");
  const Author mf = ParseAuthor({"a@example.com", "b@example.com"});
  EXPECT_EQ(mf.detail, "2 From: fields");
  // A long hostile local part is cut.
  const Author longnd = ParseAuthor({std::string(500, 'z')});
  EXPECT_EQ(longnd.error, E::kNoDomain);
  EXPECT_LE(longnd.detail.size(), 140u);
}

TEST(FromHeader, ViewsNeedNotBeTerminated) {
  // The parser reads only the view, not up to a NUL: the bytes after the
  // view would make a different address.
  const std::string buf = "a@example.comevil";
  const Author a = ParseAuthor({std::string_view(buf).substr(0, 13)});
  EXPECT_EQ(a.error, E::kNone);
  EXPECT_EQ(a.domain, "example.com");
  const std::string quote = "\"a\"@example.com";
  EXPECT_EQ(ParseAuthor({std::string_view(quote).substr(0, 2)}).error, E::kSyntax);
}

TEST(FromHeader, ManyFieldsAreNotRead) {
  std::vector<std::string_view> many(10000, std::string_view("\"unterminated"));
  const Author a = ParseAuthor(many);
  EXPECT_EQ(a.error, E::kMultipleFrom);
  EXPECT_EQ(a.detail, "10000 From: fields");
  EXPECT_TRUE(a.addresses.empty());
}

TEST(FromHeader, TooManyMailboxesKeepsTheFirst) {
  std::string s;
  for (int i = 0; i < 150; ++i) s += "u" + std::to_string(i) + "@example.com,";
  const Author a = ParseAuthor({s});
  EXPECT_EQ(a.error, E::kTooLong);
  ASSERT_EQ(a.addresses.size(), kMaxAuthorMailboxes);
  EXPECT_EQ(a.addresses.front(), "u0@example.com");
  EXPECT_EQ(a.addresses.back(), "u99@example.com");
}

}  // namespace
}  // namespace senderguard
