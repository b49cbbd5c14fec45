#!/usr/bin/perl
# bench/milter_mta.pl SOCKET N SENDER [--no-headers]: plays Postfix's side of the milter
# protocol (version 6) against a milter on a unix socket for N messages, one connection and one
# recipient each, sequentially: the connect macros and CONNECT, MAIL with its macros, RCPT,
# six headers (Received, From, To, Date, Message-Id, Subject), end of message, QUIT. Each step
# the milter negotiated away (SMFIP_NO*) is not sent, and no reply is awaited where it asked
# for none (SMFIP_NR_*), as Postfix does. --no-headers leaves the headers out whatever the milter
# asked for (what reading them costs it). Used by bench/milter_cpu.sh; prints "done N".
use strict;
use warnings;
use IO::Socket::UNIX;

my ($path, $n, $sender, $opt) = @ARGV;
die "usage: $0 SOCKET N SENDER [--no-headers]\n" unless defined $sender;
my $no_headers = defined $opt && $opt eq '--no-headers';
my $s;

sub send_cmd {
    my ($cmd, $data) = @_;
    print {$s} pack('N', 1 + length $data) . $cmd . $data or die "write: $!\n";
}

sub read_exact {
    my ($len) = @_;
    my $buf = '';
    while (length $buf < $len) {
        my $got = sysread($s, $buf, $len - length $buf, length $buf);
        die "read: " . (defined $got ? "end of stream" : $!) . "\n" unless $got;
    }
    return $buf;
}

# The next reply's command letter.
sub reply { my $len = unpack('N', read_exact(4)); return substr(read_exact($len), 0, 1); }

# SMFIP_* bits (libmilter's mfdef.h).
my %P = (NOHELO => 0x2, NOBODY => 0x10, NOHDRS => 0x20, NOEOH => 0x40, NR_HDR => 0x80,
         NR_CONN => 0x1000, NR_HELO => 0x2000, NR_EOH => 0x40000, NR_BODY => 0x80000);
for my $i (1 .. $n) {
    $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or die "connect $path: $!\n";
    $s->autoflush(1);
    send_cmd('O', pack('NNN', 6, 0x1ff, 0x1fffff));
    my $len = unpack('N', read_exact(4));
    my (undef, undef, $p) = unpack('NNN', substr(read_exact($len), 1));
    send_cmd('D', "Cj\0mta.test\0{daemon_name}\0smtpd\0v\0Postfix 3.7\0");
    send_cmd('C', "client.test\0" . '4' . pack('n', 40000) . "127.0.0.1\0");
    reply() unless $p & $P{NR_CONN};
    unless ($p & $P{NOHELO}) { send_cmd('H', "client.test\0"); reply() unless $p & $P{NR_HELO}; }
    send_cmd('D', "Mi\0Q$i\0{auth_authen}\0\0{mail_addr}\0$sender\0");
    send_cmd('M', "<$sender>\0");
    reply();
    send_cmd('D', "R{rcpt_addr}\0u$i\@sink.test\0i\0Q$i\0");
    send_cmd('R', "<u$i\@sink.test>\0");
    reply();
    unless (($p & $P{NOHDRS}) || $no_headers) {
        for my $h (["Received", "from client.test by mta.test; Mon, 7 Dec 2026 14:00:00 +0000"],
                   ["From", "<$sender>"], ["To", "<u$i\@sink.test>"],
                   ["Date", "Mon, 7 Dec 2026 14:00:00 +0000"],
                   ["Message-Id", "<$i.bench\@client.test>"], ["Subject", "bench $i"]) {
            send_cmd('L', "$h->[0]\0 $h->[1]\0");
            reply() unless $p & $P{NR_HDR};
        }
    }
    unless ($p & $P{NOEOH}) { send_cmd('N', ''); reply() unless $p & $P{NR_EOH}; }
    unless ($p & $P{NOBODY}) { send_cmd('B', "hello\r\n"); reply() unless $p & $P{NR_BODY}; }
    send_cmd('D', "Ei\0Q$i\0");
    send_cmd('E', '');
    while (1) { last if reply() =~ /[acdrty]/; }  # header edits first, then the verdict
    send_cmd('Q', '');
    close $s;
}
print "done $n\n";
