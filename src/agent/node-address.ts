// The node's address when none is configured: the first non-loopback IPv4 address of an interface
// (the kubelet takes the address of the default route's interface; on most nodes that is the same).
import { networkInterfaces } from 'node:os';

export function defaultNodeAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return undefined;
}
