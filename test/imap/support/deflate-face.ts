/** The client side of COMPRESS=DEFLATE (RFC 4978) for the bare test client. */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import zlib from 'node:zlib';

/** The socket face a RawImap reads through once COMPRESS is active: inflated in, deflated out. */
export function deflateFace(raw: net.Socket): { face: net.Socket; wire: { in: number; out: number } } {
  const inflate = zlib.createInflateRaw();
  const deflate = zlib.createDeflateRaw();
  const wire = { in: 0, out: 0 };
  const face = new EventEmitter() as EventEmitter & { write: (d: string | Buffer) => boolean; destroy: () => void };
  raw.removeAllListeners('data');
  raw.removeAllListeners('close');
  raw.on('data', (d: Buffer) => {
    wire.in += d.length;
    inflate.write(d);
  });
  // zlib works asynchronously: the close is told after the last inflated octets.
  raw.on('close', () => inflate.end());
  inflate.on('close', () => face.emit('close'));
  inflate.on('data', (d: Buffer) => face.emit('data', d));
  inflate.on('error', (e) => face.emit('error', e));
  deflate.on('data', (d: Buffer) => {
    wire.out += d.length;
    raw.write(d);
  });
  face.write = (d) => {
    deflate.write(d);
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    return true;
  };
  face.destroy = () => raw.destroy();
  return { face: face as unknown as net.Socket, wire };
}
