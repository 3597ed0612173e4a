/**
 * Every scenario group, modelled on the groups of Dovecot's imaptest (one per command or
 * extension) with expectations from the RFC examples. A new extension gets a group that names
 * its capability in `requires` (a name ending in `=` matches any value, as `APPENDLIMIT=`): it
 * runs on each server that announces it and is skipped on the others.
 */
import type { Group } from '../group.ts';
import { appendSearchExtensionGroups } from './append-search-extensions.ts';
import { baseGroups } from './base.ts';
import { condstoreGroups } from './condstore.ts';
import { fetchGroups } from './fetch.ts';
import { mailboxExtensionGroups } from './mailbox-extensions.ts';
import { searchGroups } from './search.ts';
import { sessionExtensionGroups } from './session-extensions.ts';
import { sortThreadGroups } from './sort-thread.ts';

export const GROUPS: Group[] = [
  ...baseGroups,
  ...fetchGroups,
  ...searchGroups,
  ...sortThreadGroups,
  ...mailboxExtensionGroups,
  ...sessionExtensionGroups,
  ...condstoreGroups,
  ...appendSearchExtensionGroups,
];
