// A bridge to conmon's attach socket. conmon serves a container's (or an exec session's) stdio on
// a unix SOCK_SEQPACKET socket: each packet it sends starts with one byte naming the stream
// (conmon's pipe numbers: 2 stdout, 3 stderr); whatever is sent to it goes to stdin, and a half-close (SHUT_WR) closes
// stdin when the container was started with stdin_once. Node cannot open SOCK_SEQPACKET sockets,
// and a stream socket would lose the packet boundaries that carry the stream byte, so a tiny Perl
// program (perl-base is part of every Debian system) connects and relays: packets of stream 2 to
// its stdout, of stream 3 to its stderr, its stdin to the socket, stdin's end to a half-close. It
// reports "ok" or the error of the connect on fd 3, exits when conmon closes the socket, and its
// blocking writes carry backpressure from the client all the way to conmon.

import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { internal } from '../../errors/errors.ts';

export const PERL = '/usr/bin/perl';

/** The relay. ARGV[0] is the socket path, relative to the working directory (no sun_path limit). */
export const SEQPACKET_RELAY_SCRIPT = String.raw`
use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_SEQPACKET SHUT_WR pack_sockaddr_un);
use IO::Select;
use IO::Handle;
$SIG{PIPE} = 'IGNORE';
open(my $status, '>&=', 3) or exit 3;
$status->autoflush(1);
my $sock;
unless (socket($sock, AF_UNIX, SOCK_SEQPACKET, 0) && connect($sock, pack_sockaddr_un($ARGV[0]))) {
  print $status "error: $!\n";
  exit 2;
}
print $status "ok\n";
binmode($_) for ($sock, \*STDIN, \*STDOUT, \*STDERR);
my $sel = IO::Select->new($sock);
$sel->add(\*STDIN) if ($ARGV[1] // '') eq 'stdin';
sub put {
  my ($fh, $data) = @_;
  my $off = 0;
  while ($off < length $data) {
    my $n = syswrite($fh, $data, length($data) - $off, $off);
    if (!defined $n) { next if $!{EINTR}; exit 0; }
    $off += $n;
  }
}
while (1) {
  my @ready = $sel->can_read;
  next if !@ready && $!{EINTR};
  for my $fh (@ready) {
    if ($fh == $sock) {
      my $n = sysread($sock, my $buf, 65536);
      if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; exit 0; }
      exit 0 if $n == 0;
      next if $n < 2;
      my $pipe = ord($buf);
      put(\*STDOUT, substr($buf, 1)) if $pipe == 2;
      put(\*STDERR, substr($buf, 1)) if $pipe == 3;
    } else {
      my $n = sysread(STDIN, my $buf, 8192);
      if (!defined $n && $!{EINTR}) { next; }
      if (!$n) { $sel->remove(\*STDIN); shutdown($sock, SHUT_WR); next; }
      put($sock, $buf);
    }
  }
}
`;

export interface SeqpacketRelay {
  child: ChildProcess;
  /** Resolves once connected; rejects with the reason when the socket cannot be reached. */
  connected: Promise<void>;
}

/**
 * Starts the relay in `dir` (conmon's socket directory: a bundle) for the socket `name`. Without
 * `stdin`, the relay never writes (it must not half-close either: conmon would close the stdin of
 * a stdin_once container).
 */
export function spawnSeqpacketRelay(dir: string, name: string, options: { stdin: boolean }): SeqpacketRelay {
  const child = spawn(PERL, ['-e', SEQPACKET_RELAY_SCRIPT, name, options.stdin ? 'stdin' : 'no-stdin'], {
    cwd: dir,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  const status = child.stdio[3] as Readable;
  const connected = new Promise<void>((resolve, reject) => {
    let text = '';
    status.setEncoding('utf8');
    status.on('data', (s: string) => {
      text += s;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      if (line === 'ok') resolve();
      else reject(internal('attach-relay-failed', `cannot connect to ${name} in ${dir}: ${line.replace(/^error: /, '')}`));
    });
    status.on('error', () => {});
    child.once('error', (e) => reject(internal('attach-relay-failed', `cannot run ${PERL}: ${e.message}`)));
    child.once('exit', (code, sig) =>
      reject(internal('attach-relay-failed', `the attach relay exited (${code ?? sig}) before connecting`)),
    );
  });
  connected.catch(() => {});
  return { child, connected };
}
