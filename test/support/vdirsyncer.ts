/**
 * Debian's vdirsyncer (scripts/setup.sh --test installs it) for the CardDAV tests: a suite that
 * needs it fails under CI when it is missing (skipped elsewhere, with the reason in its name),
 * and a config that pairs a local vCard directory with the test server's address books.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'vitest';

export const VDIRSYNCER = '/usr/bin/vdirsyncer';

export function describeWithVdirsyncer(name: string, fn: () => void): void {
  if (existsSync(VDIRSYNCER)) describe(name, fn);
  else if (process.env.CI)
    describe(name, () => {
      it('needs vdirsyncer', () => {
        throw new Error('vdirsyncer is not installed: scripts/setup.sh --test installs it (apt-get install vdirsyncer)');
      });
    });
  else describe.skip(`${name} (skipped: vdirsyncer is not installed; scripts/setup.sh --test installs it; with CI set this fails)`, fn);
}

/**
 * Writes `<work>/config`: the server's books ("from b") synced into `<work>/contacts/<book>/`,
 * the server winning conflicts, its certificate trusted from `caFile`. Returns the config path.
 */
export async function writeVdirsyncerConfig(work: string, server: { url: string; user: string; password: string; caFile: string }): Promise<string> {
  const file = path.join(work, 'config');
  await writeFile(
    file,
    `[general]
status_path = "${work}/status/"

[pair contacts]
a = "local"
b = "server"
collections = ["from b"]
conflict_resolution = "b wins"

[storage local]
type = "filesystem"
path = "${work}/contacts/"
fileext = ".vcf"

[storage server]
type = "carddav"
url = "${server.url}"
username = "${server.user}"
password = "${server.password}"
verify = "${server.caFile}"
`,
  );
  return file;
}
