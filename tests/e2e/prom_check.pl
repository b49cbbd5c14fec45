#!/usr/bin/perl
# prom_check.pl FILE...: checks that each FILE is valid Prometheus text exposition format
# (version 0.0.4, as node_exporter's textfile collector parses it) and prints each breach:
#   - every line is "# HELP name text", "# TYPE name type", another comment, or a sample
#     "name{label="value",...} value" with no timestamp (the textfile collector refuses them);
#   - metric and label names are well formed, label values use only the \\ \" \n escapes,
#     values are Go floats (or +Inf, -Inf, NaN), the file ends with a newline;
#   - one TYPE and one HELP per family, given before its samples; a family's samples are
#     together; no series twice;
#   - counters are named *_total; a histogram has _bucket series with le, cumulative counts
#     that never go down, an le="+Inf" bucket equal to _count, and _sum;
#   - no label value holds '@' (senderguard never labels with an address).
# Exit status 0 when every file is valid, 1 otherwise.
use strict;
use warnings;

my $bad = 0;
sub breach { my ($f, $n, $what) = @_; print "$f:$n: $what\n"; $bad = 1; }

my $NAME  = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LNAME = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $VALUE = qr/(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)/;

for my $file (@ARGV) {
    open(my $fh, '<', $file) or do { breach($file, 0, "cannot open: $!"); next; };
    local $/;
    my $text = <$fh>;
    close $fh;
    if ($text eq '') { breach($file, 0, 'empty file'); next; }
    breach($file, 0, 'does not end with a newline') unless $text =~ /\n\z/;
    my (%type, %help, %seen_series, %family_done, %hist);
    my $current = '';
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        if ($line =~ /^#/) {
            if ($line =~ /^# (HELP|TYPE) ($NAME) ?(.*)$/) {
                my ($kind, $name, $rest) = ($1, $2, $3);
                if ($kind eq 'TYPE') {
                    breach($file, $n, "second TYPE for $name") if exists $type{$name};
                    breach($file, $n, "TYPE of $name after its samples") if $family_done{$name} || $current eq $name;
                    breach($file, $n, "unknown type '$rest'")
                        unless $rest =~ /^(counter|gauge|histogram|summary|untyped)$/;
                    $type{$name} = $rest;
                } else {
                    breach($file, $n, "second HELP for $name") if exists $help{$name};
                    breach($file, $n, "HELP text of $name has a bad escape")
                        if $rest =~ /\\(?![\\n])/;
                    $help{$name} = $rest;
                }
            } elsif ($line =~ /^# (HELP|TYPE)/) {
                breach($file, $n, "malformed $1 line");
            }
            next;
        }
        if ($line =~ /^\s*$/) { next; }
        unless ($line =~ /^($NAME)(?:\{(.*)\})? ($VALUE)$/) {
            breach($file, $n, "not a sample line (name{labels} value, no timestamp): $line");
            next;
        }
        my ($name, $labels, $value) = ($1, $2 // '', $3);
        my %l;
        my $rest = $labels;
        while ($rest ne '') {
            unless ($rest =~ s/^($LNAME)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//) {
                breach($file, $n, "malformed labels {$labels}");
                last;
            }
            my ($k, $v) = ($1, $2);
            breach($file, $n, "label $k twice") if exists $l{$k};
            breach($file, $n, "label $k holds an address: $v") if $v =~ /@/;
            $l{$k} = $v;
        }
        # The family: a histogram's series carry suffixes.
        my $family = $name;
        for my $suffix (qw(_bucket _sum _count)) {
            my $base = $name;
            if ($base =~ s/\Q$suffix\E$// && ($type{$base} // '') =~ /^(histogram|summary)$/) {
                $family = $base;
                last;
            }
        }
        breach($file, $n, "sample of $family before its TYPE") unless exists $type{$family};
        breach($file, $n, "sample of $family before its HELP") unless exists $help{$family};
        if ($family ne $current) {
            breach($file, $n, "samples of $family are not together") if $family_done{$family};
            $family_done{$current} = 1 if $current ne '';
            $current = $family;
        }
        my $series = $name . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
        breach($file, $n, "series $series twice") if $seen_series{$series}++;
        my $t = $type{$family} // '';
        if ($t eq 'counter') {
            breach($file, $n, "counter $name is not named *_total") unless $name =~ /_total$/;
            breach($file, $n, "counter $name is negative") if $value =~ /^-/;
        }
        if ($t eq 'histogram') {
            my %g = %l;
            my $le = delete $g{le};
            my $key = $family . '{' . join(',', map { "$_=$g{$_}" } sort keys %g) . '}';
            my $h = ($hist{$key} //= { last => -1, inf => undef, count => undef, sum => 0 });
            if ($name eq "${family}_bucket") {
                if (!defined $le) { breach($file, $n, "bucket without le"); next; }
                breach($file, $n, "bucket count goes down at le=$le") if $value < $h->{last};
                $h->{last} = $value;
                $h->{inf} = $value if $le eq '+Inf';
            } elsif ($name eq "${family}_count") {
                $h->{count} = $value;
            } elsif ($name eq "${family}_sum") {
                $h->{sum} = 1;
            }
        }
    }
    for my $key (sort keys %hist) {
        my $h = $hist{$key};
        breach($file, 0, "$key: no le=\"+Inf\" bucket") unless defined $h->{inf};
        breach($file, 0, "$key: no _count") unless defined $h->{count};
        breach($file, 0, "$key: no _sum") unless $h->{sum};
        breach($file, 0, "$key: +Inf bucket $h->{inf} != _count $h->{count}")
            if defined $h->{inf} && defined $h->{count} && $h->{inf} != $h->{count};
    }
}
exit $bad;
