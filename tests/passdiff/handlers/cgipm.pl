#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# cgipm.pl - a legacy form handler on Perl's CGI.pm.
#
# Reads what a typical handler could read for each pass field (@ARGV):
# multi_param($name) (an upload's filename among them), url_param($name),
# and the content of every upload($name); writes {"handler": "perl",
# "fields": {name: [hex of each value]}} to the file $PASSDIFF_OUT.
use strict;
use warnings;
no warnings 'uninitialized';
use CGI;

my %fields;
my $err = '';
eval {
    my $q = CGI->new;
    for my $name (@ARGV) {
        my @vals;
        push @vals, map { "$_" } $q->multi_param($name);
        push @vals, map { "$_" } $q->url_param($name);
        for my $fh ($q->upload($name)) {
            next unless defined $fh;
            binmode $fh;
            local $/;
            my $c = <$fh>;
            push @vals, defined $c ? $c : '';
        }
        $fields{$name} = [map { unpack('H*', $_) } @vals];
    }
    $err = $q->cgi_error || '';
    1;
} or $err = "died: $@";

sub js { my $s = shift; $s =~ s/([\\"])/\\$1/g; $s =~ s/([\x00-\x1f\x7f-\xff])/sprintf('\\u%04x', ord $1)/ge; "\"$s\"" }
open(my $out, '>', $ENV{PASSDIFF_OUT}) or die "PASSDIFF_OUT: $!";
print $out '{"handler": "perl", "error": ', js($err), ', "fields": {',
    join(', ', map { js($_) . ': [' . join(', ', map { js($_) } @{$fields{$_} || []}) . ']' } @ARGV), "}}\n";
close $out;
