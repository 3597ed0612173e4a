/**
 * COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib or gzip header) in both
 * directions, layered over TLS when TLS is active (§3: compression runs inside TLS, on the
 * cleartext). The deflater uses zlib's defaults (window 2^15, memLevel 8: about 256 KiB of zlib
 * state) and the inflater must accept any window the client chose (2^15 at most, about 40 KiB);
 * bench/imap.ts measures what a compressed connection costs in all.
 */
import zlib from 'node:zlib';

export interface DeflateLayer {
  /** Client → server: compressed bytes in, IMAP bytes out. */
  inflate: zlib.InflateRaw;
  /** Server → client: IMAP bytes in, compressed bytes out (flushed with Z_SYNC_FLUSH). */
  deflate: zlib.DeflateRaw;
}

export function createDeflateLayer(): DeflateLayer {
  return {
    inflate: zlib.createInflateRaw(),
    deflate: zlib.createDeflateRaw({ level: zlib.constants.Z_DEFAULT_COMPRESSION }),
  };
}

/** Frees the zlib state of both directions (at the end of the connection). */
export function closeDeflateLayer(layer: DeflateLayer): void {
  layer.inflate.destroy();
  layer.deflate.destroy();
}
