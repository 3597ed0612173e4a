/**
 * mailctl as a program: the entry point of the bundle in the listeners' image
 * (fargate-listeners/Dockerfile, `node /app/mailctl.mjs …`), which the stack's one-off import
 * task runs (infra/import-task.ts). From a checkout, bin/mailctl.js runs the same main().
 */
import { main } from './mailctl-main.ts';

process.exitCode = await main(process.argv.slice(2));
