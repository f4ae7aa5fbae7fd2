#!/usr/bin/perl
# tests/cuda/emu/to_host.pl - rewrites a kernels/cuda/*.cu source for the host
# compiler and the CUDA emulator (cuda_emu.h): the only two constructs of
# CUDA C that are not C++.
#   kernel<<<grid, block[, shared[, stream]]>>>(args)
#       -> IK_EMU_LAUNCH(kernel)(grid, block[, shared[, stream]])(args)
#   extern __shared__ T name[];
#       -> T *const name = IK_EMU_DYNAMIC_SHARED(T);
# and static __shared__ arrays are filled with garbage per block (below);
# NULL becomes nullptr: a launch's arguments are forwarded through a
# template, where C++'s NULL (an integer) no longer converts to a pointer;
# `#pragma unroll` lines become empty.
# Lines keep their numbers (a #line names the source), so the compiler's
# errors point into the .cu. Usage: to_host.pl SOURCE.cu > OUT.cpp
use strict;
use warnings;

my $path = $ARGV[0] or die "usage: to_host.pl SOURCE.cu\n";
open(my $in, '<', $path) or die "to_host.pl: $path: $!\n";
my $s = do { local $/; <$in> };
close($in);

my $launches = ($s =~ s/([A-Za-z_]\w*(?:<[^<>;()]*>)?)\s*<<<(.*?)>>>/IK_EMU_LAUNCH($1)($2)/gs);
$s =~ s/\bNULL\b/nullptr/g;
# nvcc's loop hints mean nothing to the host compiler (which warns of them).
$s =~ s/^[ \t]*#pragma unroll\b.*$//mg;
$s =~ s/extern\s+__shared__\s+([^;\[]+?)\s+(\w+)\s*\[\s*\]\s*;/$1 *const $2 = IK_EMU_DYNAMIC_SHARED($1);/g;
# After each static __shared__ declaration, on its line, a call that fills
# the array with garbage at each block's start, as a GPU's shared memory
# holds (cuda_emu.h: IK_EMU_SHARED_FRESH).
# (Text that is no declaration, as in a comment, is left as it is.)
$s =~ s{(__shared__[ \t]+([^;\n]+);)}{
    my ($decl, $list) = ($1, $2);
    (my $bare = $list) =~ s/\[[^\]]*\]//g;
    $bare =~ s/__align__\s*\(\s*\d+\s*\)//g;
    my @names = map { /^\s*(?:\w+\s+)*?(\w+)\s*$/ ? $1 : undef } split /,/, $bare;
    (grep { !defined } @names) || $list =~ m{/\*|\*/}
        ? $decl : $decl . join('', map { " IK_EMU_SHARED_FRESH($_);" } @names);
}ge;
# A declaration over two lines would escape the fill: refused.
for my $line (split /\n/, $s) {
    die "to_host.pl: $path: a __shared__ declaration ends on a later line (keep each on one)\n"
        if $line =~ /^\s*(?:extern\s+)?__shared__\s/ && $line !~ /;/;
}
die "to_host.pl: $path: a <<< or >>> is left that is not a launch of a named kernel\n"
    if $s =~ /<<<|>>>/;
print "#line 1 \"$path\"\n", $s;
