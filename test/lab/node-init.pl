#!/usr/bin/perl
# Init of a lab node: holds its namespaces open, reaps orphans as pid 1 would, and runs sshd.
#
# Services started over ssh outlive their session; as a child subreaper we adopt and reap them,
# so killing one leaves no zombie (the machine's own pid 1 may not reap). SIGUSR1 (re)starts sshd.
use strict;
use warnings;
use POSIX ();

my ($prctl_nr, $sshd_config, $sshd_log) = @ARGV;
my $PR_SET_CHILD_SUBREAPER = 36;
syscall($prctl_nr, $PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
  or die "node-init: cannot become a child subreaper: $!\n";

my $sshd = 0;

sub start_sshd {
  return if $sshd && kill(0, $sshd);
  my $pid = fork();
  die "node-init: fork: $!\n" unless defined $pid;
  if ($pid == 0) {
    POSIX::setsid();
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>>', $sshd_log);
    open(STDERR, '>&', \*STDOUT);
    exec('/usr/sbin/sshd', '-D', '-e', '-f', $sshd_config) or POSIX::_exit(127);
  }
  $sshd = $pid;
}

$SIG{USR1} = \&start_sshd;
$SIG{TERM} = sub { kill('TERM', $sshd) if $sshd; POSIX::_exit(0) };

start_sshd();
$| = 1;
print "ready $sshd\n";
open(STDOUT, '>', '/dev/null');
open(STDERR, '>', '/dev/null');

for (;;) {
  my $pid = waitpid(-1, 0);
  if ($pid == -1) {
    sleep 1;
  } elsif ($pid == $sshd) {
    $sshd = 0;
  }
}
