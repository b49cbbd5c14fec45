#!/usr/bin/perl
#
# mail_dmarc_verdict.pl - independent DMARC verdicts from Mail::DMARC
# (Debian package libmail-dmarc-perl), used by senderguard's end-to-end tests
# as a reference oracle.
#
# Usage:
#   perl tests/e2e/mail_dmarc_verdict.pl --dns 127.0.0.1:PORT < cases.txt
#
# Input, one case per line, tab-separated (blank lines and lines whose first
# character is '#' are ignored):
#   ID  header_from_domain  envelope_from_domain  spf_result  dkim
# spf_result: pass|fail|softfail|neutral|none|temperror|permerror, the SPF
#   result for envelope_from_domain, scope mfrom ("-" or empty envelope
#   domain: no SPF result is supplied).
# dkim: "-" or a comma-separated list of domain:result
#   (e.g. example.test:pass,other.test:fail).
#
# Output, one line per case, tab-separated:
#   ID  result  disposition  policy
# result is Mail::DMARC's result (pass/fail/none), disposition is
# none/quarantine/reject, and policy is the published p= that was found
# ("-" if none was found). If Mail::DMARC dies on a case:
#   ID  error  -  message
#
# Hermeticity:
# - Every DNS query goes to the resolver given with --dns (UDP, short
#   timeouts); the system resolver is never built (get_resolver is overridden
#   and set_resolver is also called).
# - Mail::DMARC reads a private config file in a temporary directory (also
#   exported as MAIL_DMARC_CONFIG_FILE, which would otherwise take precedence
#   over everything, and ahead of ./mail-dmarc.ini and /etc/mail-dmarc.ini).
#   It sets report_store.auto_save = 0 (no report database), no whitelist,
#   and the Debian PSL /usr/share/publicsuffix/public_suffix_list.dat.
# - No reports are sent: validate() only touches reporting when auto_save
#   is enabled.
#
# Unknown TLDs (e.g. the reserved ".test"): Mail::DMARC's is_public_suffix
# looks names up in the PSL only, without the PSL's default rule "*". For
# ".test" that breaks two things: header_from() croaks with
# "invalid header_from" (is_valid_domain needs the TLD in the PSL), and
# get_organizational_domain("a.b.test") returns "test". The subclass below
# adds the default rule (any single label is a public suffix), so the org
# domain of a name under an unknown TLD is its last two labels, as RFC 7489
# section 3.2 and the PSL algorithm say.

use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use File::Temp qw(tempdir);
use Net::DNS::Resolver;
use Mail::DMARC::PurePerl;

my $PSL_FILE = '/usr/share/publicsuffix/public_suffix_list.dat';

our $RESOLVER;

{
    package SenderGuard::E2E::MailDMARC;
    use parent -norequire, 'Mail::DMARC::PurePerl';

    # PSL default rule "*": an unlisted TLD is still a public suffix.
    sub is_public_suffix {
        my ( $self, $zone ) = @_;
        return 1 if defined $zone && length $zone && $zone !~ /\./;
        return $self->SUPER::is_public_suffix($zone);
    }

    # Never fall back to a Net::DNS::Resolver built from /etc/resolv.conf.
    sub get_resolver {
        my $self = shift;
        die "no test resolver configured\n" if !$main::RESOLVER;
        return $main::RESOLVER;
    }
}

sub usage {
    my ($msg) = @_;
    print STDERR "$msg\n" if $msg;
    print STDERR "usage: perl $0 --dns 127.0.0.1:PORT < cases.txt\n";
    exit 2;
}

sub clean {
    my ($s) = @_;
    $s = '' if !defined $s;
    $s =~ s/[\t\r\n]+/ /g;
    $s =~ s/\s+$//;
    $s =~ s/^\s+//;
    return length $s ? $s : 'unknown error';
}

sub norm_domain {
    my ($d) = @_;
    $d = '' if !defined $d;
    $d =~ s/^\s+|\s+$//g;
    $d = lc $d;
    $d =~ s/\.$//;
    return $d;
}

my $dns;
GetOptions( 'dns=s' => \$dns, 'help|h' => sub { usage() } ) or usage();
usage('--dns is required') if !defined $dns;
usage('unexpected arguments: ' . join( ' ', @ARGV ) ) if @ARGV;

my ( $dns_host, $dns_port );
if ( $dns =~ /^\[([^\]]+)\]:(\d+)$/ || $dns =~ /^([^:]+):(\d+)$/ ) {
    ( $dns_host, $dns_port ) = ( $1, $2 );
}
else {
    usage("bad --dns '$dns', expected HOST:PORT");
}
usage("bad port in --dns '$dns'") if $dns_port < 1 || $dns_port > 65535;

die "public suffix list $PSL_FILE not readable\n" if !-r $PSL_FILE;

# Private Mail::DMARC configuration.
my $tmpdir   = tempdir( 'mail-dmarc-verdict.XXXXXX', TMPDIR => 1, CLEANUP => 1 );
my $cfg_file = "$tmpdir/mail-dmarc.ini";
{
    open my $fh, '>', $cfg_file or die "cannot write $cfg_file: $!\n";
    print {$fh} <<"INI";
[organization]
domain             = e2e.test
org_name           = senderguard e2e
email              = noreply\@e2e.test

[report_store]
backend   = SQL
dsn       = dbi:SQLite:dbname=$tmpdir/unused.sqlite
auto_save = 0

[dmarc]
backend = perl

[dns]
timeout            = 3
public_suffix_list = $PSL_FILE

[smtp]
whitelist =
INI
    close $fh or die "cannot write $cfg_file: $!\n";
}
$ENV{MAIL_DMARC_CONFIG_FILE} = $cfg_file;

$RESOLVER = Net::DNS::Resolver->new(
    nameservers    => [$dns_host],
    port           => $dns_port,
    recurse        => 1,
    dnsrch         => 0,
    defnames       => 0,
    usevc          => 0,
    igntc          => 0,
    persistent_udp => 0,
    persistent_tcp => 0,
    dnssec         => 0,
    retry          => 1,
    retrans        => 1,
    udp_timeout    => 3,
    tcp_timeout    => 3,
);
# Belt and braces: constructor arguments override resolv.conf, but make sure.
$RESOLVER->nameservers($dns_host);
$RESOLVER->port($dns_port);

$| = 1;

sub verdict {
    my ( $from, $envelope, $spf, $dkim ) = @_;

    my $dmarc = SenderGuard::E2E::MailDMARC->new( config_file => $cfg_file );
    $dmarc->config($cfg_file);
    $dmarc->set_resolver($RESOLVER);

    $from = norm_domain($from);
    die "empty header_from domain\n" if $from eq '';
    $dmarc->header_from($from);

    $envelope = norm_domain($envelope);
    $spf = lc( defined $spf ? $spf : '' );
    $spf =~ s/^\s+|\s+$//g;
    if ( $envelope ne '' && $envelope ne '-' ) {
        die "invalid spf result '$spf'\n"
            if !grep { $spf eq $_ }
            qw(pass fail softfail neutral none temperror permerror);
        $dmarc->spf( domain => $envelope, scope => 'mfrom', result => $spf );
    }

    $dkim = defined $dkim ? $dkim : '';
    $dkim =~ s/^\s+|\s+$//g;
    if ( $dkim ne '' && $dkim ne '-' ) {
        my @sigs;
        foreach my $item ( split /\s*,\s*/, $dkim ) {
            next if $item eq '';
            my ( $d, $r ) = $item =~ /^(.*):([^:]*)$/
                or die "bad dkim item '$item'\n";
            $r = lc $r;
            die "invalid dkim result '$r' for '$d'\n"
                if !grep { $r eq $_ }
                qw(pass fail neutral none permerror policy temperror);
            push @sigs, {
                domain   => norm_domain($d),
                selector => 'e2e',
                result   => $r,
            };
        }
        $dmarc->dkim( \@sigs ) if @sigs;
    }

    my $res = $dmarc->validate();
    die "validate returned nothing\n" if !$res;

    my $result      = $res->result;
    my $disposition = $res->disposition;
    my $policy      = eval { $res->published->p };
    return (
        ( defined $result      && length $result )      ? $result      : '-',
        ( defined $disposition && length $disposition ) ? $disposition : '-',
        ( defined $policy      && length $policy )      ? lc $policy   : '-',
    );
}

while ( my $line = <STDIN> ) {
    $line =~ s/[\r\n]+$//;
    next if $line =~ /^\s*$/;
    next if $line =~ /^#/;

    my @f  = split /\t/, $line, -1;
    my $id = clean( $f[0] );
    $id = '-' if $id eq 'unknown error';

    if ( @f < 5 ) {
        print join( "\t", $id, 'error', '-',
            'expected 5 tab-separated fields, got ' . scalar(@f) ), "\n";
        next;
    }

    my @out = eval { verdict( @f[ 1 .. 4 ] ) };
    if ( !@out ) {
        print join( "\t", $id, 'error', '-', clean( $@ || 'no result' ) ), "\n";
        next;
    }
    print join( "\t", $id, @out ), "\n";
}

exit 0;
