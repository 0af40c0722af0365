// Entry point of the port-forward relay: `nsenter --net=<pod netns> -- node netns-relay-main.ts`.
// Speaks relay-protocol.ts on stdin/stdout and exits when the daemon closes its stdin.
import { runRelay } from './netns-relay.ts';

process.stdout.on('error', () => process.exit(0));
await runRelay(process.stdin, process.stdout);
process.exit(0);
