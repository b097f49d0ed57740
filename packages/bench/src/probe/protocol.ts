import { JsonObject } from '@backstage/types';

/** The plugins a probe backend runs besides the GitOps backend. */
export interface ProbeFeatures {
  /** The Kubernetes backend, the peer the community Flux plugin builds on. */
  kubernetes?: boolean;
  /** The events backend with its GitLab module: Git host webhooks. */
  gitlabEvents?: boolean;
}

/** What the bench passes to the probe (in `GITOPS_BENCH_PROBE`, as JSON). */
export interface ProbeOptions {
  config: JsonObject;
  /** The catalog's entities (a mock catalog). */
  entities: JsonObject[];
  features: ProbeFeatures;
}

/** Messages from the probe to the bench. */
export type ProbeMessage =
  | { type: 'ready'; port: number }
  | { type: 'memory'; usage: NodeJS.MemoryUsage }
  | { type: 'failed'; message: string };

/** Messages from the bench to the probe. */
export type BenchMessage = { type: 'memory' };

export const PROBE_ENV = 'GITOPS_BENCH_PROBE';
