#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# peer_email_valid.pl - the bench corpus through Perl's Email::Valid.
#
# Usage: /usr/bin/perl tests/bench/peer_email_valid.pl CORPUS
#
# A peer for `make bench-offline`: every address of the corpus (one a
# line, as tests/bench/gen-corpus writes it) goes through
# Email::Valid->address(-address => $a) with its defaults: RFC 822 syntax
# and a dotted domain, no MX or TLD check, so nothing touches the network.
# The corpus is read before the clock starts. Prints the counts and the
# rate, and "RATE email_valid N" for tests/bench/bench-offline.
use strict;
use warnings;
use Email::Valid;
use Time::HiRes qw(time);

my $path = shift @ARGV or die "usage: $0 CORPUS\n";
open my $fh, '<:raw', $path or die "$path: $!\n";
my @addrs;
while (my $line = <$fh>) {
    chomp $line;
    $line =~ s/\r\z//;
    push @addrs, $line;
}
close $fh;

my ($ok, $bad) = (0, 0);
my $t0 = time;
for my $a (@addrs) {
    if (defined Email::Valid->address(-address => $a)) { $ok++ } else { $bad++ }
}
my $dt = time - $t0;
printf "Email::Valid %s: %d addresses in %.2f s: %d valid, %d invalid\n",
    $Email::Valid::VERSION, scalar @addrs, $dt, $ok, $bad;
printf "RATE email_valid %.0f\n", @addrs / $dt;
printf "VERSION email_valid %s\n", $Email::Valid::VERSION;
