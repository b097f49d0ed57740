import { fork } from 'node:child_process';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import {
  BenchMessage,
  PROBE_ENV,
  ProbeMessage,
  ProbeOptions,
} from './protocol';

export interface ProbeBackend {
  url: string;
  /** From process start until the backend served (its caches may still be filling). */
  readyMs: number;
  startedAt: number;
  /** The process's memory after a full GC. */
  memory(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/** Starts a backend under measurement in a process of its own (see `probe.ts`). */
export async function launchProbe(
  options: ProbeOptions,
): Promise<ProbeBackend> {
  const startedAt = performance.now();
  const child = fork(
    resolvePackagePath('@backstage-gitops/bench', 'bin/gitops-bench-probe'),
    [],
    {
      env: { ...process.env, [PROBE_ENV]: JSON.stringify(options) },
      execArgv: ['--expose-gc', '--max-old-space-size=4096'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<void>(resolve =>
    child.once('exit', () => resolve()),
  );
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  const next = <T extends ProbeMessage['type']>(type: T) =>
    new Promise<Extract<ProbeMessage, { type: T }>>((resolve, reject) => {
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      function onMessage(message: ProbeMessage) {
        if (message.type === 'failed') {
          cleanup();
          reject(new Error(`The probe backend failed: ${message.message}`));
        } else if (message.type === type) {
          cleanup();
          resolve(message as Extract<ProbeMessage, { type: T }>);
        }
      }
      function onExit(code: number | null) {
        cleanup();
        reject(new Error(`The probe backend exited (${code})`));
      }
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  try {
    const { port } = await next('ready');
    return {
      url: `http://127.0.0.1:${port}`,
      readyMs: performance.now() - startedAt,
      startedAt,
      async memory() {
        const measured = next('memory');
        child.send({ type: 'memory' } satisfies BenchMessage);
        return (await measured).usage;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
