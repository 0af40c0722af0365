// The channel framing of the Kubernetes WebSocket subprotocols, binary and base64.
import { decodeChannelMessage, encodeChannelMessage } from '../../../src/streaming/websocket/ws-channels.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult, words } from '../expect.ts';

export const websocketTarget: FuzzTarget = {
  name: 'websocket-channels',
  cover: ['/src/streaming/websocket/'],
  maxLength: 2048,
  dictionary: words('0', '1', '2', '3', '4', '\xff', '=', '==', '+/'),
  seeds: () => [Buffer.from([0, 104, 105]), Buffer.from('1aGk='), Buffer.from([255, 1]), Buffer.from('4eyJ3aWR0aCI6ODB9')],
  async run(input) {
    const binary = await refusalOrResult(() => decodeChannelMessage(input, 'binary'));
    if (binary) {
      const again = encodeChannelMessage(binary.channel, binary.data, 'binary') as Buffer;
      invariant(again.equals(input), 'binary message does not encode back to itself');
    }
    const text = await refusalOrResult(() => decodeChannelMessage(input.toString('latin1'), 'base64'));
    if (text) invariant(text.channel >= 0 && text.channel <= 9, `base64 channel ${text.channel}`);
  },
};
