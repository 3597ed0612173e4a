/**
 * Counts AWS requests and DynamoDB capacity units at the SDK middleware of every client built
 * by core/adapters/aws/clients.ts (installed with setAwsClientHook), by service and operation.
 *
 * Requests are HTTP attempts (the SDK's retries included: each is billed). Emulators report no
 * consumed capacity, so units are computed from item sizes by the AWS rules
 * (DynamoDB developer guide, "read and write operations", "item sizes", "transactions"):
 *  - item size: attribute names (UTF-8) + values: S/B by bytes, N ≈ 1 byte per 2 significant
 *    digits + 1, BOOL/NULL 1, L/M 3 + 1 per element (+ key names), sets the sum of elements;
 *  - reads in 4 KB units, eventually consistent ones half; a missing item still costs the
 *    minimum unit; GetItem/BatchGetItem round per item, Query/Scan round the sum of the items
 *    they *evaluate* (before projections and filters) per request; transactional reads 2×;
 *  - writes in 1 KB units (minimum 1) of the larger of the item before and after; DeleteItem of
 *    the item deleted; a single write whose condition fails still costs the existing item's
 *    size; transactional writes (Put, Update, Delete and ConditionCheck items) 2×;
 *  - a cancelled TransactWriteItems is counted apart and charged its prepare phase: 1 × each
 *    item's units (the assumption here; the commit phase does not run).
 * Projections and filters hide the evaluated items from the response, so the sizes come from
 * "shadow" reads made with an unmetered client of the same emulator: the item before a write
 * (consistent GetItem), after an update, and a Query/GetItem/BatchGetItem repeated without
 * projection or filter. Shadow reads are never counted.
 * moto does not end Query pages at 1 MB of evaluated data as DynamoDB does, so a long Query is
 * one request here where DynamoDB would take one per MB; its units are the same either way.
 */
import { DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand, type AttributeValue, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import type { AwsClientHook, AwsService } from '#core/adapters/aws/clients.ts';
import { MAIL_INDEX_TABLE } from '#core/resources.ts';

type Item = Record<string, AttributeValue>;

/** The part of the SDK's middleware stack used here (the clients' stacks differ in their types only). */
interface MiddlewareStackLike {
  add(
    middleware: (
      next: (args: { input: unknown }) => Promise<{ output: unknown }>,
      context: { commandName?: string },
    ) => (args: { input: unknown }) => Promise<{ output: unknown }>,
    options: { step: 'initialize'; name: string; override: boolean },
  ): void;
}

export interface OperationCount {
  service: AwsService;
  operation: string;
  requests: number;
  /** Read request units (on-demand RRU = RCU). */
  rru: number;
  wru: number;
  /** TransactWriteItems cancelled (a condition failed or a conflict). */
  cancelled: number;
}

export type MeterSnapshot = Map<string, OperationCount>;

// --- item sizes and units (exported for the unit test) ---

function numberBytes(n: string): number {
  const digits = n
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S, 'utf8');
  if (v.N !== undefined) return numberBytes(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((a, s) => a + Buffer.byteLength(s, 'utf8'), 0);
  if (v.NS) return v.NS.reduce((a, s) => a + numberBytes(s), 0);
  if (v.BS) return v.BS.reduce((a, b) => a + b.length, 0);
  if (v.L) return v.L.reduce((a, x) => a + 1 + valueBytes(x), 3);
  if (v.M) return Object.entries(v.M).reduce((a, [k, x]) => a + 1 + Buffer.byteLength(k, 'utf8') + valueBytes(x), 3);
  return 0;
}

export function itemBytes(item: Item | undefined | null): number {
  if (!item) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(item)) n += Buffer.byteLength(k, 'utf8') + valueBytes(v);
  return n;
}

/** Read units of one item (GetItem, BatchGetItem) or of one Query/Scan page's evaluated bytes. */
export function readUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return consistent ? units : units / 2;
}

export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

// --- the meter ---

const KEY_NAMES = [MAIL_INDEX_TABLE.partitionKey.name, MAIL_INDEX_TABLE.sortKey.name];

function keyOf(item: Item): Item {
  return Object.fromEntries(KEY_NAMES.filter((k) => item[k]).map((k) => [k, item[k]]));
}

const errName = (err: unknown) => (err as { name?: string } | null)?.name ?? '';

/** Expression attribute names/values a key condition uses (unused ones make DynamoDB refuse the request). */
function usedBy<T>(expr: string, map: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!map) return undefined;
  const out = Object.fromEntries(Object.entries(map).filter(([k]) => new RegExp(`${k.replace(/[#:]/g, (c) => `\\${c}`)}(?![A-Za-z0-9_])`).test(expr)));
  return Object.keys(out).length ? out : undefined;
}

interface WriteTarget {
  kind: 'put' | 'update' | 'delete' | 'check';
  table: string;
  key: Item;
  /** The new item of a Put. */
  item?: Item;
}

function writeTargets(operation: string, input: any): WriteTarget[] {
  switch (operation) {
    case 'PutItem':
      return [{ kind: 'put', table: input.TableName, key: keyOf(input.Item), item: input.Item }];
    case 'UpdateItem':
      return [{ kind: 'update', table: input.TableName, key: input.Key }];
    case 'DeleteItem':
      return [{ kind: 'delete', table: input.TableName, key: input.Key }];
    case 'BatchWriteItem':
      return Object.entries(input.RequestItems as Record<string, any[]>).flatMap(([table, reqs]) =>
        reqs.map((r): WriteTarget =>
          r.PutRequest ? { kind: 'put', table, key: keyOf(r.PutRequest.Item), item: r.PutRequest.Item } : { kind: 'delete', table, key: r.DeleteRequest.Key },
        ),
      );
    case 'TransactWriteItems':
      return (input.TransactItems as any[]).map((t): WriteTarget => {
        if (t.Put) return { kind: 'put', table: t.Put.TableName, key: keyOf(t.Put.Item), item: t.Put.Item };
        if (t.Update) return { kind: 'update', table: t.Update.TableName, key: t.Update.Key };
        if (t.Delete) return { kind: 'delete', table: t.Delete.TableName, key: t.Delete.Key };
        return { kind: 'check', table: t.ConditionCheck.TableName, key: t.ConditionCheck.Key };
      });
    default:
      return [];
  }
}

export class AwsMeter {
  private counts: MeterSnapshot = new Map();
  private pending = new Set<Promise<void>>();
  private shadowClient: DynamoDBClient | undefined;
  /** Off: requests pass uncounted (seeding a mailbox). */
  enabled = true;

  /** How to reach the same DynamoDB endpoint without being metered (set before the first metered request). */
  connect(shadowConfig: NonNullable<ConstructorParameters<typeof DynamoDBClient>[0]>): void {
    this.shadowClient?.destroy();
    this.shadowClient = new DynamoDBClient(shadowConfig);
  }

  private get shadow(): DynamoDBClient {
    if (!this.shadowClient) throw new Error('AwsMeter: connect() it to the emulator first');
    return this.shadowClient;
  }

  readonly hook: AwsClientHook = (service, client) => {
    (client.middlewareStack as unknown as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        if (!this.enabled) return next(args);
        const operation = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        const targets = service === 'dynamodb' ? writeTargets(operation, input) : [];
        const before = targets.length ? await Promise.all(targets.map((t) => this.get(t.table, t.key))) : [];
        try {
          const result = await next(args);
          const output = result.output as any;
          const attempts = Number(output?.$metadata?.attempts ?? 1);
          let op = operation;
          if (operation === 'ReceiveMessage') op = (output?.Messages?.length ?? 0) > 0 ? 'ReceiveMessage' : 'ReceiveMessage (empty)';
          if (service === 'dynamodb') this.track(this.accountSuccess(operation, input, output, targets, before, attempts));
          else this.add(service, op, { requests: attempts });
          return result;
        } catch (err) {
          const attempts = Number((err as any)?.$metadata?.attempts ?? 1);
          if (service === 'dynamodb') this.accountFailure(operation, err, targets, before, attempts);
          else this.add(service, operation, { requests: attempts });
          throw err;
        }
      },
      { step: 'initialize', name: 'awsMeter', override: true },
    );
  };

  reset(): void {
    this.counts = new Map();
  }

  /** The counts so far, after every shadow read in progress has finished. */
  async snapshot(): Promise<MeterSnapshot> {
    while (this.pending.size) await Promise.all([...this.pending]);
    return new Map([...this.counts].map(([k, v]) => [k, { ...v }]));
  }

  close(): void {
    this.shadowClient?.destroy();
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private add(service: AwsService, operation: string, d: Partial<Omit<OperationCount, 'service' | 'operation'>>): void {
    const key = `${service}:${operation}`;
    const c = this.counts.get(key) ?? { service, operation, requests: 0, rru: 0, wru: 0, cancelled: 0 };
    c.requests += d.requests ?? 0;
    c.rru += d.rru ?? 0;
    c.wru += d.wru ?? 0;
    c.cancelled += d.cancelled ?? 0;
    this.counts.set(key, c);
  }

  private async get(table: string, key: Item): Promise<Item | undefined> {
    const res = await this.shadow.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
    return res.Item;
  }

  private async accountSuccess(
    operation: string,
    input: any,
    output: any,
    targets: WriteTarget[],
    before: Array<Item | undefined>,
    attempts: number,
  ): Promise<void> {
    let rru = 0;
    let wru = 0;
    switch (operation) {
      case 'GetItem': {
        const item = input.ProjectionExpression ? await this.get(input.TableName, input.Key) : output.Item;
        rru = readUnits(itemBytes(item), input.ConsistentRead === true);
        break;
      }
      case 'BatchGetItem': {
        for (const [table, req] of Object.entries(input.RequestItems as Record<string, any>)) {
          const unprocessed = new Set(((output.UnprocessedKeys?.[table]?.Keys ?? []) as Item[]).map((k) => JSON.stringify(k)));
          const keys = (req.Keys as Item[]).filter((k) => !unprocessed.has(JSON.stringify(k)));
          const items = req.ProjectionExpression
            ? await Promise.all(keys.map((k) => this.get(table, k)))
            : this.matchItems(keys, output.Responses?.[table] ?? []);
          for (const item of items) rru += readUnits(itemBytes(item), req.ConsistentRead === true);
        }
        break;
      }
      case 'Query':
      case 'Scan': {
        const consistent = input.ConsistentRead === true && !input.IndexName;
        const evaluated =
          input.ProjectionExpression || input.FilterExpression || (input.Select && input.Select !== 'ALL_ATTRIBUTES')
            ? await this.evaluatedItems(operation, input)
            : (output.Items as Item[]);
        rru = readUnits(
          evaluated.reduce((a, i) => a + itemBytes(i), 0),
          consistent,
        );
        break;
      }
      case 'TransactGetItems': {
        for (const t of input.TransactItems as any[]) rru += 2 * readUnits(itemBytes(await this.get(t.Get.TableName, t.Get.Key)), true);
        break;
      }
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
      case 'BatchWriteItem':
      case 'TransactWriteItems': {
        const unprocessed =
          operation === 'BatchWriteItem'
            ? new Set(
                Object.values((output.UnprocessedItems ?? {}) as Record<string, any[]>)
                  .flat()
                  .map((r) => JSON.stringify(r.PutRequest ? keyOf(r.PutRequest.Item) : r.DeleteRequest.Key)),
              )
            : new Set<string>();
        const factor = operation === 'TransactWriteItems' ? 2 : 1;
        for (let i = 0; i < targets.length; i++) {
          const t = targets[i];
          if (unprocessed.has(JSON.stringify(t.key))) continue;
          const after = t.kind === 'put' ? t.item : t.kind === 'update' ? await this.get(t.table, t.key) : undefined;
          wru += factor * writeUnits(Math.max(itemBytes(before[i]), itemBytes(after)));
        }
        break;
      }
      default:
        // Control-plane calls (CreateTable, DescribeTable, ...) consume no request units.
        break;
    }
    this.add('dynamodb', operation, { requests: attempts, rru, wru });
  }

  private accountFailure(operation: string, err: unknown, targets: WriteTarget[], before: Array<Item | undefined>, attempts: number): void {
    const name = errName(err);
    if (operation === 'TransactWriteItems' && (name === 'TransactionCanceledException' || name === 'TransactionConflictException')) {
      const wru = targets.reduce((a, t, i) => a + writeUnits(Math.max(itemBytes(before[i]), itemBytes(t.item))), 0);
      this.add('dynamodb', operation, { requests: attempts, wru, cancelled: 1 });
      return;
    }
    if (name === 'ConditionalCheckFailedException' && targets.length === 1) {
      this.add('dynamodb', operation, { requests: attempts, wru: writeUnits(Math.max(itemBytes(before[0]), itemBytes(targets[0].item))) });
      return;
    }
    this.add('dynamodb', operation, { requests: attempts });
  }

  private matchItems(keys: Item[], items: Item[]): Array<Item | undefined> {
    const byKey = new Map(items.map((i) => [JSON.stringify(keyOf(i)), i]));
    return keys.map((k) => byKey.get(JSON.stringify(keyOf(k))));
  }

  /** The items a Query/Scan page evaluates: the same page read again without projection or filter. */
  private async evaluatedItems(operation: string, input: QueryCommandInput): Promise<Item[]> {
    const keyExpr = input.KeyConditionExpression ?? '';
    const base = {
      TableName: input.TableName,
      IndexName: input.IndexName,
      ConsistentRead: input.ConsistentRead,
      ExclusiveStartKey: input.ExclusiveStartKey,
      Limit: input.Limit,
      ExpressionAttributeNames: usedBy(keyExpr, input.ExpressionAttributeNames),
      ExpressionAttributeValues: usedBy(keyExpr, input.ExpressionAttributeValues),
    };
    const res =
      operation === 'Query'
        ? await this.shadow.send(new QueryCommand({ ...base, KeyConditionExpression: keyExpr, ScanIndexForward: input.ScanIndexForward }))
        : await this.shadow.send(
            new ScanCommand({
              TableName: base.TableName,
              IndexName: base.IndexName,
              ConsistentRead: base.ConsistentRead,
              ExclusiveStartKey: base.ExclusiveStartKey,
              Limit: base.Limit,
            }),
          );
    return res.Items ?? [];
  }
}

/** Sums of a snapshot per service (requests) and in total (units, cancelled transactions). */
export function totals(s: MeterSnapshot, skip: (c: OperationCount) => boolean = () => false) {
  const out = { s3: 0, sqs: 0, sns: 0, dynamodb: 0, requests: 0, rru: 0, wru: 0, cancelled: 0 };
  for (const c of s.values()) {
    if (skip(c)) continue;
    out[c.service] += c.requests;
    out.requests += c.requests;
    out.rru += c.rru;
    out.wru += c.wru;
    out.cancelled += c.cancelled;
  }
  return out;
}
