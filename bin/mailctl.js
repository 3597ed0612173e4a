#!/usr/bin/env node
// mailctl: see core/admin/mailctl.ts. Runs the TypeScript sources, on Node 24 from .tools/node
// when the node on PATH is older than 22.18 (node-launcher.js).
import { runTypeScript } from './node-launcher.js';

const cli = await runTypeScript('core/admin/mailctl-main.ts');
if (cli) process.exitCode = await cli.main(process.argv.slice(2));
