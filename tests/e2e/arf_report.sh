# shellcheck shell=bash
# arf TOKEN MESSAGE-ID RCPT [REPORT-FIELDS]: an RFC 5965 abuse report on stdout, as a mailbox
# provider's feedback loop sends it, for the e2e tests that feed senderguard-arf.
#   TOKEN           the X-Senderguard-ID of the reported message ("" = no such header)
#   MESSAGE-ID      its Message-ID ("" = no such header)
#   RCPT            the complainer (Original-Rcpt-To and To:)
#   REPORT-FIELDS   more lines of the message/feedback-report part (Arrival-Date, Source-IP...)
arf() {
    local token=${1:+X-Senderguard-ID: $1$'\n'} mid=${2:+Message-ID: $2$'\n'} fields=${4:+$4$'\n'}
    cat <<EOF
From: fbl@isp.example
To: abuse@platform.example
Subject: FW: hello
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain

This is an email abuse report.

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: <$3>
${fields}
--b1
Content-Type: text/rfc822-headers

From: someone@dest.test
To: $3
Subject: hello
${mid}${token}
--b1--
EOF
}
