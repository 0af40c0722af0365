// ws answers every PING at once, whether or not the client reads the PONGs: a client that sends
// PINGs and never reads would make the server hold the answers without bound. Cut it off instead.
import type { WebSocket } from 'ws';

export function closeOnUnreadPongs(ws: WebSocket, maxBufferedBytes: number): void {
  ws.on('ping', () => {
    if (ws.bufferedAmount > maxBufferedBytes) ws.terminate();
  });
}
