#!/usr/bin/perl
# Perl LWP's Digest (Debian libwww-perl, LWP::Authen::Digest): GET URL COUNT times with the credentials for REALM and
# print each status on a line, then the last body. Usage: lwp-digest.pl URL HOST:PORT REALM USER PASSWORD COUNT.
# After the first exchange LWP answers preemptively, counting nc up for the nonce it holds.
use strict;
use warnings;
use LWP::UserAgent;

my ($url, $hostport, $realm, $user, $password, $count) = @ARGV;
my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 10);
$ua->credentials($hostport, $realm, $user, $password);
my $response;
for (1 .. $count) {
  $response = $ua->get($url);
  print $response->code, "\n";
}
print $response->decoded_content // '';
