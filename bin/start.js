#!/usr/bin/env node
// `npm start`: fargate-listeners/src/local-main.ts on a Node that runs TypeScript (node-launcher.js).
import { runTypeScript } from './node-launcher.js';

await runTypeScript('fargate-listeners/src/local-main.ts');
