/**
 * A client-side model of a selected mailbox, fed with every untagged response, that fails
 * when the server's sequence numbers and UIDs ever disagree with what it said before
 * (the consistency rules of RFC 3501 §7.4.1 / RFC 9051 §7.5.1; in the spirit of imaptest).
 */
export class ViewChecker {
  /** UIDs by sequence number - 1; null when the message is known (EXISTS) but its UID not yet. */
  uids: Array<number | null> = [];
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }

  private fail(msg: string): never {
    throw new Error(`[${this.name}] ${msg}; view ${JSON.stringify(this.uids)}`);
  }

  /** Applies the untagged responses of one command; `command` tells which rules apply. */
  apply(untagged: string[], command: string): void {
    const noExpunge = /^(FETCH|STORE|SEARCH) /i.test(command);
    for (const line of untagged) {
      let m: RegExpExecArray | null;
      if ((m = /^\* (\d+) EXISTS$/.exec(line))) {
        const n = Number(m[1]);
        if (n < this.uids.length) this.fail(`EXISTS ${n} below ${this.uids.length}`);
        while (this.uids.length < n) this.uids.push(null);
      } else if ((m = /^\* (\d+) EXPUNGE$/.exec(line))) {
        if (noExpunge) this.fail(`EXPUNGE during ${command}`);
        const n = Number(m[1]);
        if (n < 1 || n > this.uids.length) this.fail(`EXPUNGE ${n} out of range`);
        this.uids.splice(n - 1, 1);
      } else if ((m = /^\* (\d+) FETCH \(.*?UID (\d+)/.exec(line))) {
        const n = Number(m[1]);
        const uid = Number(m[2]);
        if (n < 1 || n > this.uids.length) this.fail(`FETCH ${n} out of range`);
        const known = this.uids[n - 1];
        if (known === null) this.uids[n - 1] = uid;
        else if (known !== uid) this.fail(`message ${n} was UID ${known}, now UID ${uid}`);
        const prev = this.uids
          .slice(0, n - 1)
          .filter((u) => u !== null)
          .pop();
        const next = this.uids.slice(n).find((u) => u !== null);
        if ((prev !== undefined && prev! >= uid) || (next !== undefined && next! <= uid)) this.fail(`UID ${uid} out of order at ${n}`);
      } else if ((m = /^\* SEARCH( [\d ]+)?$/.exec(line)) && !/^UID/i.test(command)) {
        for (const s of (m[1] ?? '').trim().split(' ').filter(Boolean).map(Number))
          if (s > this.uids.length) this.fail(`SEARCH result ${s} beyond ${this.uids.length}`);
      }
    }
  }
}
