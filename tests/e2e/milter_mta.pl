#!/usr/bin/perl
# milter_mta.pl SOCKET SASL_LOGIN: plays an MTA's side of the milter protocol (version 6) over a
# unix socket, as Postfix and Sendmail do, and prints what the milter answered, one line each:
#   optneg version=V actions=0xA protocol=0xP    what the milter asked for
#   after-mail CMD TEXT                          the first reply read after CONNECT, the macros
#                                                and MAIL were sent (CMD: c, y, t, r ...)
#   pending N                                    bytes still unread 0.5 s later (0: in step)
# Every step is offered (all SMFIP_NR_* and SMFIP_NO* bits), so the answer to the negotiation
# is the milter's own choice. With SMFIP_NR_CONN it must send nothing for CONNECT: its first
# reply is then MAIL's. A milter that replied to CONNECT anyway would put that reply first.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;

my ($path, $login) = @ARGV;
die "usage: $0 SOCKET SASL_LOGIN\n" unless defined $login;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or die "connect $path: $!\n";

sub send_cmd {
    my ($cmd, $data) = @_;
    print {$s} pack('N', 1 + length $data) . $cmd . $data or die "write: $!\n";
}

sub read_exact {
    my ($n) = @_;
    my $buf = '';
    my $sel = IO::Select->new($s);
    while (length $buf < $n) {
        die "timeout reading the milter\n" unless $sel->can_read(10);
        my $got = sysread($s, $buf, $n - length $buf, length $buf);
        die "read: " . (defined $got ? "end of stream" : $!) . "\n" unless $got;
    }
    return $buf;
}

sub read_reply {
    my $len = unpack('N', read_exact(4));
    my $body = read_exact($len);
    return (substr($body, 0, 1), substr($body, 1));
}

$s->autoflush(1);
send_cmd('O', pack('NNN', 6, 0x1ff, 0x1fffff));
my ($cmd, $data) = read_reply();
die "expected O, got $cmd\n" unless $cmd eq 'O';
my ($version, $actions, $protocol) = unpack('NNN', $data);
printf "optneg version=%d actions=0x%x protocol=0x%x\n", $version, $actions, $protocol;

# CONNECT (host, family '4', port, address), then MAIL with its macros.
send_cmd('D', "C" . "j\0mta.test\0");
send_cmd('C', "client.test\0" . '4' . pack('n', 40000) . "127.0.0.1\0");
send_cmd('D', "M" . "{auth_authen}\0$login\0");
send_cmd('M', "<$login\@example.test>\0");
($cmd, $data) = read_reply();
$data =~ s/\0+$//;
print "after-mail $cmd $data\n";
select(undef, undef, undef, 0.5);
my $pending = IO::Select->new($s)->can_read(0) ? 1 : 0;
my $extra = '';
sysread($s, $extra, 4096) if $pending;
print "pending ", length($extra), "\n";
send_cmd('Q', '');
close $s;
