/**
 * Every scenario group, modelled on the groups of Dovecot's imaptest (one per command or
 * extension) with expectations from the RFC examples. A new extension gets a group here that
 * names its capability in `requires`: it runs on each server that announces it.
 */
import type { Group } from '../group.ts';
import { baseGroups } from './base.ts';
import { fetchGroups } from './fetch.ts';

export const GROUPS: Group[] = [...baseGroups, ...fetchGroups];
