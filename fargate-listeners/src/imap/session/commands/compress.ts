/**
 * COMPRESS (RFC 4978): DEFLATE is the one mechanism. The tagged OK goes out uncompressed and
 * everything after it, both ways, is raw deflate (session.startCompression, compression.ts).
 */
import type { CompressRequest } from '#listeners/imap/protocol/requests.ts';
import { bad, no, type Tagged } from '../errors.ts';
import type { ImapSession } from '../session.ts';

export async function compress(s: ImapSession, req: CompressRequest, tag: string): Promise<Tagged> {
  // §3: a second COMPRESS (or compression by another layer) is NO [COMPRESSIONACTIVE].
  if (s.compression) throw no('DEFLATE compression is already active', 'COMPRESSIONACTIVE');
  // §3: BAD for a mechanism the server does not know.
  if (req.mechanism !== 'DEFLATE') throw bad(`Unknown compression mechanism ${req.mechanism.slice(0, 40)}`);
  await s.startCompression(tag);
  return { status: 'OK', code: null, text: '', silent: true };
}
