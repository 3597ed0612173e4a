/**
 * CDK entry point (cdk.json: `node infra/app.ts`). Context keys: infra/context.ts.
 * Deployment guide: docs/deploy.md. The CLI synthesises the app when this process exits.
 */
import { createMailApp } from './mail-app.ts';

createMailApp();
