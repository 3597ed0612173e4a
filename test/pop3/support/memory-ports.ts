/**
 * Small in-memory stand-ins for the MailIndex and BlobStore ports — only what a POP3 session
 * uses — with switches to make storage fail, so the session's state machine can be tested
 * without sockets or adapters.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { hashPassword } from '#core/accounts/password.ts';
import { BlobNotFoundError, type BlobStore } from '#core/ports/blob-store.ts';
import type { FlagChange, FlagUpdateMode, MailIndex, Mailbox, MessageRecord, User } from '#core/ports/mail-index.ts';

export class MemoryBlobs implements BlobStore {
  readonly data = new Map<string, Buffer>();
  failReads = false;
  reads = 0;
  async put(key: string, body: Buffer | Readable) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.concat(await body.toArray());
    this.data.set(key, buf);
    return { size: buf.length };
  }
  private take(key: string): Buffer {
    this.reads++;
    if (this.failReads) throw new Error('blob store down');
    const b = this.data.get(key);
    if (!b) throw new BlobNotFoundError(key);
    return b;
  }
  async get(key: string) {
    return this.take(key);
  }
  async getRange(key: string, start: number, end: number) {
    return this.take(key).subarray(start, end);
  }
  async stream(key: string) {
    const b = this.take(key);
    // Small chunks, so encoders see chunk boundaries.
    const parts: Buffer[] = [];
    for (let i = 0; i < b.length; i += 7) parts.push(b.subarray(i, i + 7));
    return Readable.from(parts);
  }
  async exists(key: string) {
    return this.data.has(key);
  }
  async delete(key: string) {
    this.data.delete(key);
  }
}

interface Lease {
  owner: string;
  expires: number;
}

export class MemoryIndex {
  readonly users = new Map<string, User>();
  readonly mailboxes = new Map<string, Mailbox>();
  readonly messages = new Map<string, MessageRecord[]>();
  readonly leases = new Map<string, Lease>();
  failExpunge = false;
  failList = false;
  failLease = false;
  expungeCalls: number[][] = [];

  async addUser(address: string, password: string): Promise<Mailbox> {
    this.users.set(address, { address, passwordHash: await hashPassword(password, { N: 1024, r: 8, p: 1 }), createdAt: Date.now() });
    const mb: Mailbox = {
      id: `mb-${address}`,
      user: address,
      name: 'INBOX',
      uidValidity: 1700000000,
      uidNext: 1,
      highestModseq: 1,
      messageCount: 0,
      specialUse: null,
      createdAt: Date.now(),
    };
    this.mailboxes.set(address, mb);
    this.messages.set(mb.id, []);
    return mb;
  }

  /** Appends raw bytes to the user's INBOX (blob + record). */
  async deliver(blobs: MemoryBlobs, user: string, raw: Buffer, flags: string[] = []): Promise<number> {
    const mb = this.mailboxes.get(user)!;
    const blobKey = `blob-${randomUUID()}`;
    await blobs.put(blobKey, raw);
    const uid = mb.uidNext++;
    mb.messageCount++;
    this.messages.get(mb.id)!.push({ uid, modseq: ++mb.highestModseq, flags, internalDate: Date.now(), size: raw.length, blobKey });
    return uid;
  }

  asPort(): MailIndex {
    return this as unknown as MailIndex;
  }

  async getUser(address: string) {
    return this.users.get(address) ?? null;
  }
  async getMailbox(user: string, name: string) {
    const mb = this.mailboxes.get(user);
    return mb && mb.name === name ? { ...mb } : null;
  }
  async getMessages(_user: string, mailboxId: string, uids: number[]): Promise<MessageRecord[]> {
    return (this.messages.get(mailboxId) ?? []).filter((m) => uids.includes(m.uid)).map((m) => ({ ...m, flags: [...m.flags] }));
  }
  async listMessages(_user: string, mailboxId: string): Promise<MessageRecord[]> {
    if (this.failList) throw new Error('index down');
    return (this.messages.get(mailboxId) ?? []).map((m) => ({ ...m, flags: [...m.flags] }));
  }
  async updateFlags(_user: string, mailboxId: string, uids: number[], mode: FlagUpdateMode, flags: string[]): Promise<FlagChange[]> {
    if (mode !== 'add') throw new Error('only add in this fake');
    const out: FlagChange[] = [];
    for (const m of this.messages.get(mailboxId) ?? []) {
      if (!uids.includes(m.uid)) continue;
      const add = flags.filter((f) => !m.flags.includes(f));
      if (!add.length) continue;
      m.flags.push(...add);
      out.push({ uid: m.uid, flags: [...m.flags], modseq: ++m.modseq });
    }
    return out;
  }
  async expunge(_user: string, mailboxId: string, uids: number[]) {
    if (this.failExpunge) throw new Error('index down');
    this.expungeCalls.push([...uids]);
    const list = this.messages.get(mailboxId) ?? [];
    const removed = list.filter((m) => uids.includes(m.uid));
    this.messages.set(
      mailboxId,
      list.filter((m) => !uids.includes(m.uid)),
    );
    return { expunged: removed.map((m) => m.uid), orphanedBlobs: removed.map((m) => m.blobKey) };
  }
  async acquireLease(name: string, owner: string, ttlSeconds: number) {
    if (this.failLease) throw new Error('index down');
    const l = this.leases.get(name);
    if (l && l.owner !== owner && l.expires > Date.now()) return false;
    this.leases.set(name, { owner, expires: Date.now() + ttlSeconds * 1000 });
    return true;
  }
  async releaseLease(name: string, owner: string) {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }
}
