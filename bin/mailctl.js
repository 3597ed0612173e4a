#!/usr/bin/env node
// mailctl: see core/admin/mailctl.ts. Needs Node >= 22.18 (runs the TypeScript sources directly).
import { main } from '../core/admin/mailctl-main.ts';

process.exitCode = await main(process.argv.slice(2));
