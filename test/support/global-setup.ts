/** Vitest global setup: one emulator for the whole run, its endpoint handed to workers. */
import type { TestProject } from 'vitest/node';
import { startEmulator } from './emulator.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const emulator = await startEmulator();
  project.provide('awsEndpoint', emulator.endpoint);
  return async () => {
    await emulator.stop();
  };
}
