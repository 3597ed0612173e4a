/** Core/echo (RFC 8620 §4): the arguments come back as they were sent. */
import type { MethodDef } from '../api.ts';
import { CORE } from '../capabilities.ts';

export const coreMethods: Record<string, MethodDef> = {
  'Core/echo': { capability: CORE, handle: async (args) => args },
};
