import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { startRegistryProxy, type RegistryAuthorizer } from './registryProxy';

export interface StartRegistryOptions {
  /** Holds the registry's config.yml and its storage; created when missing. */
  dataDir: string;
  /** When given, the registry demands Basic auth and asks this for every request. */
  authorize?: RegistryAuthorizer;
  /** The docker-registry binary; found at /usr/bin/docker-registry or on PATH by default. */
  binary?: string;
  /** Port of the public address on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
}

export interface RunningRegistry {
  /** `127.0.0.1:<port>`, the host part of `oci://` URLs. */
  host: string;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The next `count` requests are answered with `status` and a registry error body. */
  failNext(count: number, status: number): void;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const MAX_PORT_ATTEMPTS = 5;

// Children still running when the parent exits are killed, whoever forgot stop().
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const running of liveChildren) running.kill('SIGKILL');
    });
  }
}

async function findBinary(explicit: string | undefined): Promise<string> {
  const candidates = explicit
    ? [explicit]
    : [
        '/usr/bin/docker-registry',
        ...(process.env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map(dir => join(dir, 'docker-registry')),
      ];
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `docker-registry binary not found (looked for ${candidates.join(
      ', ',
    )}): install it with 'apt-get install docker-registry'`,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>(done => server.close(() => done()));
  return port;
}

async function writeConfig(dataDir: string, port: number): Promise<string> {
  const config = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dataDir, 'storage') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}` },
  };
  const path = join(dataDir, 'config.yml');
  await writeFile(path, stringify(config));
  return path;
}

class StartupError extends Error {
  constructor(message: string, readonly portTaken: boolean) {
    super(message);
  }
}

/** Starts docker-registry and resolves once `GET /v2/` answers; rejects if it exits first. */
async function launch(
  binary: string,
  configPath: string,
  port: number,
): Promise<ChildProcess> {
  const child = spawn(binary, ['serve', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  trackChild(child);
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096);
  });
  let exited:
    | { code: number | null; signal: NodeJS.Signals | null }
    | undefined;
  let spawnError: Error | undefined;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  child.once('error', error => {
    spawnError = error;
  });

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError)
      throw new StartupError(
        `cannot run ${binary}: ${spawnError.message}`,
        false,
      );
    if (exited) {
      throw new StartupError(
        `docker-registry exited during startup (code ${exited.code}, signal ${
          exited.signal
        }): ${stderrTail.trim()}`,
        /address already in use/.test(stderrTail),
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      await response.arrayBuffer();
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise(done => setTimeout(done, 50));
  }
  child.kill('SIGKILL');
  throw new StartupError(
    `docker-registry did not answer on 127.0.0.1:${port} within ${STARTUP_TIMEOUT_MS} ms`,
    false,
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>(done => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

async function launchOnFreePort(
  binary: string,
  dataDir: string,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const configPath = await writeConfig(dataDir, port);
    try {
      return { child: await launch(binary, configPath, port), port };
    } catch (error) {
      // Another process may have taken the port between probing and binding it.
      const portTaken = error instanceof StartupError && error.portTaken;
      if (!portTaken || attempt >= MAX_PORT_ATTEMPTS) throw error;
    }
  }
}

/**
 * Runs a real OCI registry (Debian's docker-registry, distribution 2.8) on loopback,
 * behind a small proxy that is its public address and adds Basic auth and faults.
 */
export async function startRegistry(
  options: StartRegistryOptions,
): Promise<RunningRegistry> {
  const binary = await findBinary(options.binary);
  const dataDir = resolve(options.dataDir);
  await mkdir(join(dataDir, 'storage'), { recursive: true });

  const backend = await launchOnFreePort(binary, dataDir);
  const proxy = await startRegistryProxy(
    backend.port,
    options.authorize,
    options.port,
  ).catch(async error => {
    await stopChild(backend.child);
    throw error;
  });
  const host = `127.0.0.1:${proxy.port}`;
  return {
    host,
    url: `http://${host}`,
    failNext: (count, status) => proxy.failNext(count, status),
    stop: async () => {
      await proxy.close();
      await stopChild(backend.child);
    },
  };
}
