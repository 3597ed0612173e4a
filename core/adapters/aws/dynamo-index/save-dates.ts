/**
 * Save dates of the DynamoDB MailIndex (RFC 8514 §3; MessageRecord.saveDate): the `savedAt`
 * attribute of a MSG item, put by appendMessage and copyMessages (messages.ts) with the time
 * the item is written, never copied from the source item. MSG items written before it existed
 * have none: those records have no saveDate.
 */
import { N, type Item } from '../dynamo-ops.ts';

/** The MSG item attribute for a record saved now. */
export function savedAtAttribute(now = Date.now()): Item {
  return { savedAt: N(now) };
}

/** The record's saveDate from a MSG item (absent when the item has no savedAt). */
export function saveDateOfItem(item: Item): { saveDate?: number } {
  const v = item.savedAt?.N;
  return v === undefined ? {} : { saveDate: Number(v) };
}
