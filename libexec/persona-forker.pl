#!/usr/bin/perl
# Persona's forker: the root process that starts processes as OS accounts for one application pool's worker
# (MODEL.md §8; docs/ARCHITECTURE.md "Processes"). It plays the part of Apache's cgid daemon: the worker connects over
# a Unix socket for each process it needs, and that connection becomes the new process's stdin and stdout, so request
# and response bodies flow between the worker and the program directly. Forking from this small process costs a
# fraction of a fork of the launcher (a large Node process), and the program is exec'd directly: uid, gid and
# supplementary groups are set here, not by further helper programs.
#
# Why Perl: the switch needs fork, setgroups, setgid and setuid between fork and exec, which Node cannot do (its
# spawn({uid, gid}) drops the supplementary groups); perl-base is Essential on Debian, so it is always there, and only
# its modules are used (no JSON: the protocol is NUL-separated fields). It is kept small on purpose: every fork
# copies its page tables and every page it then writes, so the modules it loads and the work of its loop are paid
# for on every request (raw select() and sockets rather than IO::Select and IO::Socket).
#
# Trust: only the pool's current worker may connect (SO_PEERCRED pid, told by the launcher on stdin), and everything
# it sends is still checked as hostile (a compromised worker gets nothing beyond its pool's policy): bounded sizes,
# absolute paths, valid names, never uid 0, another account only with replaceProcessToken. Before exec the child
# checks /proc/self/status: all uids, all gids, the groups and no capabilities, or it does not run the program.
#
# Protocol (all from the worker, over the forker's socket):
#   control connection: "PCTL" + uint32 0. Forker -> worker lines (fields %XX-escaped):
#     HELLO <pool>                               ready; spawns may be sent
#     STARTED <id> <pid> <uid> <gid> <groups,> <name> <home>
#     REFUSED <id> <status> <substatus> <reason>
#     STDERR <id> <length>\n<bytes>              what the process wrote to stderr
#     STDERREND <id>
#     EXIT <id> <code|-> <signal number|->
#   worker -> forker lines: KILL <id> <SIGNAME>  (the process's group; also for a while after the leader exited)
#   spawn connection: "PSPN" + uint32 length + fields joined by NUL: id, account, file, cwd, purpose, argc, args...,
#     envc, NAME=VALUE...; then the connection is the process's stdout.
#   input connection, opened right after it: "PSIN" + uint32 id; then it is the process's stdin.
# Launcher -> forker (stdin): "worker <pid>" (0: none; the previous worker's processes are killed); EOF: exit.
# Forker -> launcher (stdout): tab-separated events for its log (refusals, invalid requests, refused connections).
use strict;
use warnings;
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use POSIX qw(setgid setuid _exit dup2 EAGAIN EINTR);
use Socket qw(AF_UNIX SOCK_STREAM SOL_SOCKET SO_PEERCRED pack_sockaddr_un);

my %LIMIT = (
    max_id      => 2**31,
    max_path    => 4096,
    max_string  => 128 * 1024,
    max_args    => 4096,
    max_env     => 4096,
    max_total   => 1024 * 1024,
    max_purpose => 1024,
    max_header  => 1024 * 1024 + 64 * 1024 + 2 * 4096 + 8192,
);
my $HEADER_TIMEOUT        = 5;
my $EXITED_GROUP_SECONDS  = 15 * 60;
my $MAX_EXITED_GROUPS     = 256;
my $ACCOUNT_CACHE_SECONDS = 5;
my $CONTROL_BUFFER_LIMIT  = 1024 * 1024;
my $WNOHANG               = 1;    # Linux's value; POSIX's constant would cost a larger forker
# Signals a worker may ask for (kill() dies on a name it does not know).
my %KILLABLE = map { $_ => 1 } qw(HUP INT QUIT KILL TERM USR1 USR2 CONT STOP TSTP ALRM);

my %opt = (max_live => 256);
while (@ARGV) {
    my $name  = shift @ARGV;
    my $value = shift @ARGV;
    die "persona-forker: usage: --socket PATH --group GID --pool NAME --pool-account NAME --replace-process-token 0|1 [--max-live N]\n"
        unless defined $value && $name =~ /^--(socket|group|pool|pool-account|replace-process-token|max-live)$/;
    (my $key = $1) =~ tr/-/_/;
    $opt{$key} = $value;
}
for my $required (qw(socket group pool pool_account replace_process_token)) {
    die "persona-forker: --" . ($required =~ tr/_/-/r) . " is required\n" unless defined $opt{$required};
}
die "persona-forker: must run as root\n" unless $< == 0 && $> == 0;

# Descriptors inherited without close-on-exec (from whatever started the launcher: Node's spawn passes them on)
# would reach every program started here.
if (opendir my $fds, '/proc/self/fd') {
    my @stray = grep { /^[0-9]+$/ && $_ > 2 && $_ != fileno $fds } readdir $fds;
    closedir $fds;
    POSIX::close($_) for @stray;
}

$SIG{PIPE} = 'IGNORE';
# Interrupts select() so that exits are noticed at once; reaping happens in the loop (which also wakes every
# $TICK seconds while processes live, in case the signal came just before select blocked).
$SIG{CHLD} = sub { };
my $TICK = 0.05;

# Made under a temporary name and renamed into place once it listens with its owner and mode: whoever sees the
# socket (the launcher waits for it) can connect at once, and never to a socket with the wrong permissions.
my $staging = "$opt{socket}.new";
unlink $staging;
socket(my $listener, AF_UNIX, SOCK_STREAM, 0) or die "persona-forker: socket: $!\n";
bind($listener, pack_sockaddr_un($staging)) or die "persona-forker: cannot listen on $staging: $!\n";
chown 0, $opt{group}, $staging or die "persona-forker: chown $staging: $!\n";
chmod 0660, $staging or die "persona-forker: chmod $staging: $!\n";
listen($listener, 128) or die "persona-forker: listen: $!\n";
rename $staging, $opt{socket} or die "persona-forker: rename $staging to $opt{socket}: $!\n";
nonblocking($listener);

my $worker_pid = 0;
my $control;
my $control_in   = '';
my $control_out  = '';
my $stdin_buffer = '';
my %child;           # id -> { pid, status, stderr, starting, exit, exit_sent, account, purpose }
my %id_of_pid;
my %owner;           # fileno -> [kind, id] for status and stderr pipes
my %exited_group;    # id -> [pgid, time]
my @exited_order;    # their ids, oldest first
my %account_cache;   # name -> [time, account or undef, reason]
my $read_set = '';   # select() bit vectors, kept up to date rather than rebuilt
my $stderr_paused = 0;  # while the control backlog is over its limit, no stderr is read
vec($read_set, fileno $listener, 1) = 1;
vec($read_set, 0, 1) = 1;

sub nonblocking {
    my ($fh) = @_;
    my $flags = fcntl($fh, F_GETFL, 0) or return;
    fcntl($fh, F_SETFL, $flags | O_NONBLOCK);
}
sub watch   { vec($read_set, fileno $_[0], 1) = 1 }
sub unwatch { vec($read_set, fileno $_[0], 1) = 0 }

sub escape { my ($s) = @_; $s =~ s/([%\s\x00-\x1f\x7f])/sprintf('%%%02X', ord $1)/ge; return $s }
sub event {
    my @fields = map { my $f = $_ // ''; $f =~ s/[\t\r\n]+/ /g; $f } @_;
    syswrite STDOUT, join("\t", 'event', @fields) . "\n";
}

sub send_control {
    my ($line, $bytes) = @_;
    return unless $control;
    $control_out .= $line . "\n";
    $control_out .= $bytes if defined $bytes;
}

sub flush_control {
    return unless $control && length $control_out;
    my $n = syswrite $control, $control_out;
    if (defined $n) { substr($control_out, 0, $n) = '' }
    elsif ($! != EAGAIN && $! != EINTR) { return drop_control() }
    resume_stderr() if $stderr_paused && length $control_out <= $CONTROL_BUFFER_LIMIT / 2;
}

# A worker that does not read its control connection holds back stderr: the programs block, nothing piles up; once
# it has caught up, reading resumes.
sub pause_stderr {
    $stderr_paused = 1;
    unwatch($_->{stderr}) for grep { $_->{stderr} && !$_->{starting} } values %child;
}
sub resume_stderr {
    $stderr_paused = 0;
    watch($_->{stderr}) for grep { $_->{stderr} && !$_->{starting} } values %child;
}

# Signals are sent with the account's own uid, from a child of ours: once a group is gone its id (a pid) can be
# reused by any process, and root's kill() would reach it; the account's reaches only the account's own processes.
sub kill_groups {
    my ($uid, $signal, @pgids) = @_;
    # Only groups that still have a member cost a fork: the usual call, after a program has exited with nothing left
    # behind, finds its group empty (signal 0 tests, it sends nothing).
    @pgids = grep { $_ > 1 && kill(0, -$_) } @pgids;
    return unless @pgids && $uid;
    my $pid = fork;
    return unless defined $pid;
    return if $pid;
    $SIG{$_} = 'DEFAULT' for qw(PIPE CHLD);
    setuid($uid) or _exit(1);
    kill $signal, -$_ for @pgids;
    _exit(0);
}

# Every process of the worker is killed when its control connection goes: the worker is gone or starts over.
sub drop_control {
    return unless $control;
    unwatch($control);
    close $control;
    undef $control;
    $control_in = $control_out = '';
    $stderr_paused = 0;
    my %pgids_of;    # uid -> the groups to kill
    push @{ $pgids_of{ $_->{account}{uid} } }, $_->{pid} for values %child;
    push @{ $pgids_of{ $_->[2] } }, $_->[0] for values %exited_group;
    kill_groups($_, 'KILL', @{ $pgids_of{$_} }) for keys %pgids_of;
    forget_child($_) for keys %child;
    %exited_group = ();
    @exited_order = ();
}

sub forget_child {
    my ($id) = @_;
    my $c = delete $child{$id} or return;
    for my $fh (grep { defined } $c->{status}, $c->{stderr}) {
        delete $owner{fileno $fh};
        unwatch($fh);
        close $fh;
    }
    delete $id_of_pid{ $c->{pid} } unless $c->{exit};
}

# Blocking, with a deadline: only the pool's own worker can connect, so a slow one only delays its own pool.
sub read_exactly {
    my ($fh, $length) = @_;
    my $data     = '';
    my $deadline = time + $HEADER_TIMEOUT;
    while (length $data < $length) {
        my $left = $deadline - time;
        return undef if $left <= 0;
        my $bits = '';
        vec($bits, fileno $fh, 1) = 1;
        next unless select($bits, undef, undef, $left) > 0;
        my $n = sysread $fh, $data, $length - length $data, length $data;
        return undef unless $n;
    }
    return $data;
}

sub accept_connection {
    my $connection;
    accept($connection, $listener) or return;
    my $cred = getsockopt($connection, SOL_SOCKET, SO_PEERCRED);
    my ($pid, $uid) = $cred ? unpack('i3', $cred) : (-1, -1);
    if (!$worker_pid || $pid != $worker_pid) {
        event('refused-connection', $opt{pool}, "pid $pid uid $uid is not the pool's worker (pid $worker_pid)");
        close $connection;
        return;
    }
    my $prefix = read_exactly($connection, 8);
    if (!defined $prefix) { close $connection; return }
    my ($kind, $length) = unpack('a4 N', $prefix);
    if ($kind eq 'PCTL') {
        drop_control();
        $control = $connection;
        nonblocking($control);
        watch($control);
        send_control('HELLO ' . escape($opt{pool}));
    } elsif ($kind eq 'PSPN' && $length <= $LIMIT{max_header} && $control) {
        my $header = read_exactly($connection, $length);
        my $input  = defined $header && input_connection($header);
        if ($input) { spawn_request($connection, $input, $header) }
        else { event('invalid', $opt{pool}, 'a spawn request without its header or its stdin connection in time') }
        close $connection;
        close $input if $input;
    } else {
        event('invalid', $opt{pool}, $control ? 'unknown connection kind or oversized header' : 'a spawn request came before the control connection');
        close $connection;
    }
}

# The process's stdin is a connection of its own, which the worker opens right after the spawn connection: a worker
# that writes to a program that has exited gets an error on that connection only, never losing the program's output
# (one socket for both would be torn down by that error, with unread output in it).
sub input_connection {
    my ($header) = @_;
    my ($id) = $header =~ /^([0-9]{1,10})\0/ or return undef;
    my $deadline = time + $HEADER_TIMEOUT;
    my $input;
    until (accept($input, $listener)) {
        return undef if time >= $deadline || ($! != EAGAIN && $! != EINTR);
        my $bits = '';
        vec($bits, fileno $listener, 1) = 1;
        select($bits, undef, undef, $deadline - time);
    }
    my $cred = getsockopt($input, SOL_SOCKET, SO_PEERCRED);
    my ($pid) = $cred ? unpack('i3', $cred) : (-1);
    my $prefix = $pid == $worker_pid ? read_exactly($input, 8) : undef;
    if (!defined $prefix || $prefix ne pack('a4 N', 'PSIN', $id)) {
        close $input;
        return undef;
    }
    return $input;
}

sub refuse {
    my ($id, $status, $substatus, $reason, $purpose, $account) = @_;
    event('refused', $opt{pool}, $purpose // '', $account // '', $reason);
    send_control(join ' ', 'REFUSED', $id, $status, $substatus, escape($reason)) if defined $id;
}

sub absolute_path_problem {
    my ($value) = @_;
    return 'not an absolute path' unless defined $value && $value =~ m{^/};
    return "longer than $LIMIT{max_path} bytes" if length $value > $LIMIT{max_path};
    return undef;
}

sub spawn_request {
    my ($connection, $input, $header) = @_;
    my @f  = split /\0/, $header, -1;
    my $id = shift @f;
    if (!defined $id || $id !~ /^[1-9][0-9]{0,9}$/ || $id >= $LIMIT{max_id}) {
        event('invalid', $opt{pool}, 'a spawn request without a valid id');
        return;
    }
    my $invalid = sub { refuse($id, 500, 0, "forker: malformed spawn request: $_[0]") };
    return $invalid->('the id is already in use by this worker') if $child{$id};
    my ($account, $file, $cwd, $purpose, $argc) = splice @f, 0, 5;
    return $invalid->('too few fields') unless defined $argc;
    return $invalid->('the account is not a valid account name') unless $account =~ /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
    for ([file => $file], [cwd => $cwd]) {
        my $problem = absolute_path_problem($_->[1]);
        return $invalid->("$_->[0]: $problem") if $problem;
    }
    return $invalid->("the purpose is longer than $LIMIT{max_purpose} bytes") if length $purpose > $LIMIT{max_purpose};
    return $invalid->('the argument count is not a number within bounds') unless $argc =~ /^[0-9]{1,4}$/ && $argc <= $LIMIT{max_args} && $argc < @f;
    my @args = splice @f, 0, $argc;
    my $envc = shift @f;
    return $invalid->('the environment count is not a number within bounds') unless defined $envc && $envc =~ /^[0-9]{1,4}$/ && $envc <= $LIMIT{max_env} && $envc == @f;
    my %env;
    my $total = length $file;
    for my $s (@args) {
        return $invalid->("an argument is longer than $LIMIT{max_string} bytes") if length $s > $LIMIT{max_string};
        $total += length($s) + 1;
    }
    for my $entry (@f) {
        my ($name, $value) = $entry =~ /^([^=]+)=(.*)$/s or return $invalid->('an environment entry has no name');
        return $invalid->("an environment entry is longer than $LIMIT{max_string} bytes") if length $entry > $LIMIT{max_string};
        return $invalid->("the environment variable $name is given twice") if exists $env{$name};
        $env{$name} = $value;
        $total += length($entry) + 1;
    }
    return $invalid->("arguments and environment exceed $LIMIT{max_total} bytes") if $total > $LIMIT{max_total};

    if (keys(%child) >= $opt{max_live}) {
        return refuse($id, 503, 2, "application pool $opt{pool} already has " . scalar(keys %child) . " processes started by its forker (limit $opt{max_live})", $purpose, $account);
    }
    if ($account ne $opt{pool_account} && !$opt{replace_process_token}) {
        return refuse($id, 403, 19,
            "application pool $opt{pool} is not granted replaceProcessToken (IIS: Replace a process level token), so it cannot start CGI as the user: "
                . "$purpose asked for OS account \"$account\", the pool runs as \"$opt{pool_account}\"", $purpose, $account);
    }
    my ($who, $why) = lookup_account($account);
    return refuse($id, 500, 0, "cannot run $purpose: $why", $purpose, $account) unless $who;
    if ($who->{uid} == 0) {
        return refuse($id, 403, 19, "cannot run $purpose as OS account \"$account\": it is uid 0 (root), and no request code ever runs as root", $purpose, $account);
    }
    start_child($connection, $input, $id, $who, $file, \@args, \%env, $cwd, $purpose);
}

# uid, gid and home from getpwnam; the supplementary groups as `id -G` lists them (initgroups' view through NSS, which
# Perl cannot ask directly). Cached briefly, as the Node side's lookupOsAccount.
sub lookup_account {
    my ($name) = @_;
    my $hit = $account_cache{$name};
    return @$hit[1, 2] if $hit && time - $hit->[0] < $ACCOUNT_CACHE_SECONDS;
    my ($login, undef, $uid, $gid, undef, undef, undef, $home) = getpwnam $name;
    my @result;
    if (!defined $login) {
        @result = (undef, "OS account \"$name\" is unknown to NSS (getent passwd)");
    } else {
        my @groups;
        if (open my $id, '-|', 'id', '-G', '--', $name) {
            my $line = <$id> // '';
            close $id;
            @groups = grep { /^[0-9]+$/ } split ' ', $line;
        }
        @groups = ($gid) unless @groups;
        @result = ({ name => $login, uid => $uid, gid => $gid, groups => \@groups, home => $home // '/' }, undef);
        my $w = $result[0];
        $w->{started} = join ' ', $uid, $gid, join(',', @groups), escape($login), escape($w->{home});
    }
    %account_cache = () if keys %account_cache > 1000;
    $account_cache{$name} = [time, @result];
    return @result;
}

sub start_child {
    my ($connection, $input, $id, $who, $file, $args, $env, $cwd, $purpose) = @_;
    my ($status_r, $status_w, $err_r, $err_w);
    if (!pipe($status_r, $status_w) || !pipe($err_r, $err_w)) {
        return refuse($id, 500, 0, "cannot run $purpose: pipe: $!", $purpose, $who->{name});
    }
    my $pid = fork;
    if (!defined $pid) {
        return refuse($id, 503, 2, "cannot run $purpose: fork: $!", $purpose, $who->{name});
    }
    if ($pid == 0) {
        close $status_r;
        close $err_r;
        become($connection, $input, $err_w, $status_w, $who, $file, $args, $env, $cwd);
    }
    close $status_w;
    close $err_w;
    $child{$id} = { pid => $pid, status => $status_r, stderr => $err_r, starting => 1, account => $who, purpose => $purpose };
    $id_of_pid{$pid} = $id;
    $owner{ fileno $status_r } = ['status', $id];
    $owner{ fileno $err_r }    = ['stderr', $id];
    watch($status_r);
    # stderr is read once STARTED is sent: the worker must know the process before its output.
}

# In the child: stdio, process group, identity, checks, working directory, environment, exec. Any failure is written
# to the status pipe (close-on-exec, so a successful exec closes it empty) and ends the child.
sub become {
    my ($connection, $input, $err_w, $status_w, $who, $file, $args, $env, $cwd) = @_;
    my $fail = sub {
        syswrite $status_w, $_[0];
        _exit(127);
    };
    # The forker starts with default dispositions (the launcher's spawn resets them) and changes only these two; an
    # ignored SIGPIPE would otherwise survive exec. No signal is blocked here (Perl blocks them only inside handlers).
    $SIG{$_} = 'DEFAULT' for qw(PIPE CHLD);
    setpgrp(0, 0) or $fail->("500\0setpgid: $!");
    defined dup2(fileno $input, 0) or $fail->("500\0dup2: $!");
    defined dup2(fileno $connection, 1) or $fail->("500\0dup2: $!");
    defined dup2(fileno $err_w, 2) or $fail->("500\0dup2: $!");
    # setgroups and the effective gid, then setgid(2) and setuid(2), which as root set real, effective and saved ids.
    $) = join ' ', $who->{gid}, @{ $who->{groups} };
    setgid($who->{gid}) or $fail->("500\0setgid($who->{gid}): $!");
    setuid($who->{uid}) or $fail->("500\0setuid($who->{uid}): $!");
    my $problem = identity_problem($who);
    $fail->("500\0the process is not exactly $who->{name} before exec: $problem") if $problem;
    chdir $cwd or $fail->("502\0cannot enter the working directory $cwd as $who->{name}: $!");
    %ENV = %$env;
    { no warnings 'exec'; exec { $file } $file, @$args; }
    $fail->("502\0exec $file: $!");
}

# What /proc/self/status says differs from the account: real, effective, saved and filesystem ids, the groups, and
# any capability left. The kernel's word, whatever Perl's variables did.
sub identity_problem {
    my ($who) = @_;
    open my $status, '<', '/proc/self/status' or return "cannot read /proc/self/status: $!";
    local $/;
    my $text = <$status>;
    close $status;
    my %field = $text =~ /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb):[ \t]*([^\n]*?)[ \t]*$/mg;
    my $uids = join ' ', ($who->{uid}) x 4;
    my $gids = join ' ', ($who->{gid}) x 4;
    return "uids are " . ($field{Uid} // '?') unless ($field{Uid} // '') =~ s/\s+/ /gr eq $uids;
    return "gids are " . ($field{Gid} // '?') unless ($field{Gid} // '') =~ s/\s+/ /gr eq $gids;
    my %want = map { $_ => 1 } @{ $who->{groups} };
    my %have = map { $_ => 1 } split ' ', $field{Groups} // '';
    my $same = keys(%want) == keys(%have) && !grep { !$have{$_} } keys %want;
    return "groups are [" . ($field{Groups} // '') . "]" unless $same;
    for my $set (qw(CapInh CapPrm CapEff CapAmb)) {
        return "$set is " . ($field{$set} // 'missing') unless defined $field{$set} && $field{$set} =~ /^0+$/;
    }
    return undef;
}

sub child_input {
    my ($fd) = @_;
    my $owner = $owner{$fd} or return;
    my ($kind, $id) = @$owner;
    my $c = $child{$id} or return;
    if ($kind eq 'status') {
        my $fh = $c->{status};
        my $report = '';
        1 while sysread $fh, $report, 4096, length $report;
        delete $owner{$fd};
        unwatch($fh);
        close $fh;
        $c->{status} = undef;
        if ($report eq '') {
            send_control("STARTED $id $c->{pid} $c->{account}{started}");
            delete $c->{starting};
            watch($c->{stderr}) unless $stderr_paused;
            report_exit($id) if $c->{exit};
        } else {
            my ($status, $reason) = split /\0/, $report, 2;
            $status = 500 unless defined $status && $status =~ /^(500|502)$/;
            refuse($id, $status, $status == 502 ? 2 : 0, "could not start $c->{purpose} as $c->{account}{name}: " . ($reason // 'unknown'), $c->{purpose}, $c->{account}{name});
            delete $id_of_pid{ $c->{pid} };
            forget_child($id);
        }
        return;
    }
    my $fh   = $c->{stderr};
    my $data = '';
    my $n    = sysread $fh, $data, 65536;
    return if !defined $n && ($! == EAGAIN || $! == EINTR);
    if ($n) {
        send_control("STDERR $id $n", $data);
        # A worker that does not read its control connection holds back stderr: the programs block, nothing piles up.
        pause_stderr() if length $control_out > $CONTROL_BUFFER_LIMIT;
        return;
    }
    send_control("STDERREND $id");
    delete $owner{$fd};
    unwatch($fh);
    close $fh;
    $c->{stderr} = undef;
    finish_child($id);
}

sub reap {
    while ((my $pid = waitpid(-1, $WNOHANG)) > 0) {
        my $status = $?;
        my $id     = delete $id_of_pid{$pid};
        next unless defined $id && $child{$id};
        my $c = $child{$id};
        # The signal goes as its number: the worker names it (os.constants.signals).
        $c->{exit} = ($status & 127) ? ['-', $status & 127] : [$status >> 8, '-'];
        report_exit($id) unless $c->{starting};
    }
}

sub report_exit {
    my ($id) = @_;
    my $c = $child{$id};
    return if !$c || $c->{exit_sent};
    send_control(join ' ', 'EXIT', $id, @{ $c->{exit} });
    $c->{exit_sent} = 1;
    $exited_group{$id} = [$c->{pid}, time, $c->{account}{uid}];
    push @exited_order, $id;
    delete $exited_group{ shift @exited_order } while @exited_order > $MAX_EXITED_GROUPS;
    finish_child($id);
}

sub finish_child {
    my ($id) = @_;
    my $c = $child{$id};
    forget_child($id) if $c && $c->{exit_sent} && !$c->{stderr};
}

sub control_input {
    my $n = sysread $control, $control_in, 4096, length $control_in;
    if (!$n) {
        return if !defined $n && ($! == EAGAIN || $! == EINTR);
        return drop_control();
    }
    while ($control_in =~ s/^([^\n]*)\n//) {
        my $line = $1;
        if ($line =~ /^KILL ([1-9][0-9]{0,9}) SIG([A-Z0-9]+)$/ && $KILLABLE{$2}) {
            my ($id, $signal) = ($1, $2);
            if ($child{$id}) { kill_groups($child{$id}{account}{uid}, $signal, $child{$id}{pid}) }
            elsif ($exited_group{$id} && time - $exited_group{$id}[1] < $EXITED_GROUP_SECONDS) { kill_groups($exited_group{$id}[2], $signal, $exited_group{$id}[0]) }
        } else {
            event('invalid', $opt{pool}, 'an unknown control message');
        }
    }
    return drop_control() if length $control_in > 4096;
}

sub launcher_input {
    my $n = sysread STDIN, $stdin_buffer, 4096, length $stdin_buffer;
    if (!$n) {
        return if !defined $n && $! == EINTR;
        drop_control();
        unlink $opt{socket};
        exit 0;
    }
    while ($stdin_buffer =~ s/^([^\n]*)\n//) {
        next unless $1 =~ /^worker ([0-9]+)$/;
        drop_control() if $1 != $worker_pid;
        $worker_pid = $1;
    }
}

my $listener_fd = fileno $listener;
while (1) {
    my $write_set = '';
    vec($write_set, fileno $control, 1) = 1 if $control && length $control_out;
    my $ready = select(my $readable = $read_set, $write_set eq '' ? undef : $write_set, undef, %child ? $TICK : 1);
    reap();
    if ($ready > 0) {
        launcher_input() if vec($readable, 0, 1);
        accept_connection() if vec($readable, $listener_fd, 1);
        control_input() if $control && vec($readable, fileno $control, 1);
        for my $fd (keys %owner) {
            child_input($fd) if vec($readable, $fd, 1);
        }
        reap();
    }
    flush_control();
}
