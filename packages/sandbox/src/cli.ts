import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TenancyOptions } from './controllers';
import { startControlServer } from './world/control';
import { backstageConfigFor, describeWorld } from './world/describe';
import { DEMO_PORTS, startWorld } from './world/world';

const USAGE = `Usage: gitops-sandbox start [--state-dir DIR] [--ephemeral-ports]
         [--default-service-account NAME] [--no-cross-namespace-refs]

Starts the demo world (GitLab, OCI registry, clusters dev and prod running Flux) and writes
into DIR (default .sandbox): world.json (endpoints, tokens, control API), app-config.sandbox.yaml
(for the Backstage backend), control-url, and ready once everything answers.
The last two are kustomize-controller's and helm-controller's multi-tenancy lockdown flags
on every cluster (default off). Stops cleanly on SIGINT/SIGTERM.`;

function log(message: string) {
  process.stdout.write(`[sandbox] ${new Date().toISOString()} ${message}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== 'start') {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = command === undefined || command === '--help' ? 0 : 2;
    return;
  }
  let stateDir = resolve('.sandbox');
  let fixedPorts = true;
  const lockdown: TenancyOptions = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--state-dir' && rest[i + 1]) {
      stateDir = resolve(rest[++i]);
    } else if (rest[i] === '--ephemeral-ports') {
      fixedPorts = false;
    } else if (rest[i] === '--default-service-account' && rest[i + 1]) {
      lockdown.defaultServiceAccount = rest[++i];
    } else if (rest[i] === '--no-cross-namespace-refs') {
      lockdown.noCrossNamespaceRefs = true;
    } else {
      process.stderr.write(`Unknown argument ${rest[i]}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
  }

  await mkdir(stateDir, { recursive: true });
  const readyFile = join(stateDir, 'ready');
  await rm(readyFile, { force: true });
  const world = await startWorld({
    dataDir: join(stateDir, 'data'),
    fixedPorts,
    lockdown,
    log,
  });
  const control = await startControlServer({
    world,
    port: fixedPorts ? DEMO_PORTS.control : 0,
    describe: c => describeWorld(world, c),
  });

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('Stopping');
    await rm(readyFile, { force: true });
    await control.stop();
    await world.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  // Secrets go to files only readable by this user, never to the log.
  await writeFile(
    join(stateDir, 'world.json'),
    `${JSON.stringify(describeWorld(world, control), null, 2)}\n`,
    { mode: 0o600 },
  );
  await writeFile(
    join(stateDir, 'app-config.sandbox.yaml'),
    backstageConfigFor(world),
    { mode: 0o600 },
  );
  await writeFile(join(stateDir, 'control-url'), `${control.url}\n`);
  await writeFile(readyFile, `${new Date().toISOString()}\n`);
  log(
    `Ready. Control API on ${control.url}; details in ${join(
      stateDir,
      'world.json',
    )}`,
  );
}
