// The CNI network the tests give a runtime: a bridge of its own (gateway, masquerading, hairpin)
// with host-local IPAM in `ipamDir` and a default route, and, unless asked otherwise, portmap.
export function bridgeConflist(network: string, bridge: string, subnet: string, ipamDir: string, portmap = true): string {
  const conflist = {
    cniVersion: '1.0.0',
    name: network,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
      },
      ...(portmap ? [{ type: 'portmap', capabilities: { portMappings: true } }] : []),
    ],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}
