#!/usr/bin/perl
# Perl LWP with Authen::NTLM (Debian libwww-perl, libauthen-ntlm-perl): GET URL as DOMAIN\USER and print the status
# and the body. Usage: lwp-ntlm.pl URL HOST:PORT 'DOMAIN\user' PASSWORD v1|v2
# LWP::Authen::Ntlm splits the user at the backslash: a bare "alice" would be sent as domain "alice", empty user.
# Authen::NTLM answers NTLMv1 unless ntlmv2(1) is called; keep_alive is needed for the three legs.
use strict;
use warnings;
use LWP::UserAgent;
use Authen::NTLM;

my ($url, $hostport, $user, $password, $version) = @ARGV;
Authen::NTLM::ntlmv2($version eq 'v2' ? 1 : 0);
my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 10);
$ua->credentials($hostport, '', $user, $password);
my $response = $ua->get($url);
print $response->code, "\n", $response->decoded_content // '';
