import { LoggerService } from '@backstage/backend-plugin-api';
import {
  ConflictError,
  InputError,
  NotFoundError,
  stringifyError,
} from '@backstage/errors';
import {
  parseRepositoryUrl,
  ParsedRepositoryUrl,
  TokenRecord,
  TokenUsage,
} from '@backstage-gitops/plugin-gitops-common';
import { Config } from '@backstage/config';
import { DateTime } from 'luxon';
import { FluxActions } from '../actions/FluxActions';
import { FluxObjectRef } from '../actions/fluxKinds';
import { FluxCache } from '../cache';
import { LeaseLostError } from '../database/leases';
import { HeldLock, LockStore } from '../database/LockStore';
import { TokenStore } from '../database/TokenStore';
import {
  CredentialSpec,
  GitLabCredentialIssuer,
  IssuedCredential,
} from './GitLabCredentialIssuer';
import { GitLabCredentialLookup } from './GitLabCredentialLookup';
import { dataFor, SecretTarget, SecretWriter } from './secretWriter';
import { TokenInventory } from './TokenInventory';

/** Who asked, for the logs. */
export interface Actor {
  actor: string;
}

export interface RotationSettings {
  /** Days a credential the backend creates is valid (`gitops.tokens.lifetimeDays`, 90). */
  lifetimeDays: number;
  /** How long the sources may take to be Ready again with the new credential. */
  readyTimeoutMs: number;
  /**
   * `gitops.tokens.rotation`: rotate on a schedule (hourly check) every credential the
   * backend can rotate that expires within `beforeExpiryDays`; absent: on demand only.
   */
  schedule?: { beforeExpiryDays: number };
}

const DEFAULT_LIFETIME_DAYS = 90;
const DEFAULT_BEFORE_EXPIRY_DAYS = 14;

function wholeDays(config: Config, key: string, fallback: number): number {
  const days = config.getOptionalNumber(key) ?? fallback;
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(
      `${key} must be a whole number of days (1 or more), got ${days}`,
    );
  }
  return days;
}

/** Reads `gitops.tokens.lifetimeDays` and `gitops.tokens.rotation`. */
export function readRotationSettings(config: Config): RotationSettings {
  const rotation = config.getOptionalConfig('gitops.tokens.rotation');
  const enabled = rotation?.getOptionalBoolean('enabled') ?? false;
  return {
    lifetimeDays: wholeDays(
      config,
      'gitops.tokens.lifetimeDays',
      DEFAULT_LIFETIME_DAYS,
    ),
    readyTimeoutMs: 5 * 60_000,
    ...(enabled
      ? {
          schedule: {
            beforeExpiryDays: wholeDays(
              config,
              'gitops.tokens.rotation.beforeExpiryDays',
              DEFAULT_BEFORE_EXPIRY_DAYS,
            ),
          },
        }
      : {}),
  };
}

/** A Flux object that must work again with the new credential. */
export interface Check {
  cluster: string;
  object: FluxObjectRef;
}

const ROTATABLE = [
  'deploy-token',
  'deploy-key',
  'project-access-token',
  'group-access-token',
] as const;
type Rotatable = (typeof ROTATABLE)[number];

const isRotatable = (kind: TokenRecord['kind']): kind is Rotatable =>
  (ROTATABLE as readonly string[]).includes(kind);

/** The usages of a credential grouped per Secret. */
function targetsOf(
  usages: TokenUsage[],
  registryOf: (u: TokenUsage) => string | undefined,
): SecretTarget[] {
  const targets = new Map<string, SecretTarget>();
  for (const usage of usages) {
    const key = `${usage.cluster}/${usage.namespace}/${usage.secret}`;
    const target = targets.get(key) ?? {
      cluster: usage.cluster,
      namespace: usage.namespace,
      secret: usage.secret,
      formats: [],
    };
    target.formats.push({ format: usage.format, registry: registryOf(usage) });
    targets.set(key, target);
  }
  return [...targets.values()];
}

/**
 * Creates least-privilege credentials and rotates existing ones without a gap: the new
 * credential is created on the Git host, written into every Secret that uses the old one
 * (server-side apply), the sources using it are reconciled and must be Ready, and only
 * then is the old one revoked. If any source does not become Ready, every Secret gets
 * its old content back, the new credential is revoked and the old one kept.
 */
export class TokenRotator {
  constructor(
    private readonly options: {
      store: Pick<TokenStore, 'get' | 'list' | 'recordRotation'>;
      inventory: Pick<TokenInventory, 'run'>;
      cache: Pick<FluxCache, 'isStale' | 'sourcesByUrl' | 'get'>;
      issuer: Pick<GitLabCredentialIssuer, 'issue' | 'revoke'>;
      lookup: () => Pick<GitLabCredentialLookup, 'projectOf'>;
      secrets: SecretWriter;
      actionsFor: (
        cluster: string,
      ) => Pick<FluxActions, 'reconcile' | 'requestReconcile'>;
      settings: RotationSettings;
      /** Shared by the replicas: one change of a credential or repository at a time. */
      locks: LockStore;
      logger: LoggerService;
    },
  ) {}

  /**
   * The scheduled round: rotates every credential it can that expires within
   * `schedule.beforeExpiryDays`; one that fails (and is rolled back) waits for the
   * next round, with a warning.
   */
  async rotateDue(): Promise<void> {
    const { schedule } = this.options.settings;
    if (!schedule) return;
    const horizon = DateTime.utc().plus({ days: schedule.beforeExpiryDays });
    for (const token of await this.options.store.list()) {
      if (!isRotatable(token.kind) || !token.expiresAt) continue;
      if (DateTime.fromISO(token.expiresAt, { zone: 'utc' }) > horizon)
        continue;
      try {
        await this.rotate(token.id, { actor: 'the rotation schedule' });
      } catch (error) {
        this.options.logger.warn(
          `Scheduled rotation of "${token.name}" (${
            token.id
          }) failed: ${stringifyError(error)}`,
        );
      }
    }
  }

  /** Rotates a credential of the inventory; answers the new one. */
  async rotate(id: string, { actor }: Actor): Promise<TokenRecord> {
    const token = await this.options.store.get(id);
    if (!token) throw new NotFoundError(`No token ${id} in the inventory`);
    if (!isRotatable(token.kind) || !token.owner || !token.host) {
      throw new ConflictError(
        token.kind === 'personal-access-token'
          ? `"${token.name}" is a personal access token: the backend does not rotate a person's token; create a deploy token or project access token for the repository instead`
          : `A credential the Git host does not know cannot be rotated; create one for the repository instead`,
      );
    }
    return this.exclusively(id, async lock => {
      this.requireFresh(token.usages);
      const registries = await this.registries(token);
      const spec: CredentialSpec = {
        kind: token.kind as Rotatable,
        host: token.host!,
        owner: token.owner!,
        name: token.name ?? 'backstage-gitops',
        scopes: token.scopes ?? [],
        expiresAt: this.expiresAt(),
      };
      await lock.check();
      const issued = await this.options.issuer.issue(spec);
      await this.swap(
        lock,
        targetsOf(token.usages, u => registries.get(u)),
        issued,
        checksOf(token.usages),
      );
      await lock.check();
      await this.options.issuer.revoke({
        kind: token.kind,
        host: token.host!,
        hostId: token.hostId!,
        owner: token.owner!,
      });
      this.options.logger.info(
        `${actor} rotated ${token.kind} "${token.name}" (${token.id}): new ${issued.kind} ${issued.hostId} in ${token.usages.length} Secret key(s), old one revoked`,
      );
      return this.recorded(lock, issued);
    });
  }

  /**
   * Creates a least-privilege credential for a repository and writes it into the
   * Secrets its sources (`read`) or its notification Providers (`commit-status`) use.
   * The credentials it replaces there are not revoked: they may serve elsewhere.
   */
  async create(
    input: { repository: string; purpose: TokenUsage['purpose'] },
    { actor }: Actor,
  ): Promise<TokenRecord> {
    let repository: ParsedRepositoryUrl;
    try {
      repository = parseRepositoryUrl(input.repository);
    } catch (error) {
      throw new InputError(stringifyError(error));
    }
    const project = await this.options.lookup().projectOf(repository);
    if (!project) {
      throw new NotFoundError(
        `${input.repository} is not on a GitLab of integrations.gitlab`,
      );
    }
    const usages = (await this.options.store.list())
      .flatMap(token => token.usages)
      .filter(
        usage =>
          usage.purpose === input.purpose &&
          usage.repository === repository.normalized,
      );
    if (usages.length === 0) {
      throw new ConflictError(
        `No Secret to write: no ${
          input.purpose === 'read' ? 'source' : 'notification Provider'
        } of ${input.repository} names a secretRef in the inventory`,
      );
    }
    const ssh = usages.some(u => u.format === 'ssh-key');
    if (ssh && usages.some(u => u.format !== 'ssh-key')) {
      throw new ConflictError(
        `${input.repository} is read both over SSH and HTTPS: create the credentials one kind at a time`,
      );
    }
    const spec: CredentialSpec = {
      kind: kindFor(input.purpose, ssh),
      host: project.host,
      owner: { type: 'project', path: project.path },
      name: `backstage-gitops-${input.purpose}`,
      scopes: scopesFor(input.purpose, usages),
      expiresAt: this.expiresAt(),
    };
    return this.exclusively(repository.normalized, async lock => {
      this.requireFresh(usages);
      await lock.check();
      const issued = await this.options.issuer.issue(spec);
      await this.swap(
        lock,
        targetsOf(usages, u =>
          u.format === 'docker-config' ? repository.host : undefined,
        ),
        issued,
        checksOf(usages),
      );
      this.options.logger.info(
        `${actor} created ${issued.kind} "${issued.name}" (${issued.hostId}) on ${project.path} for ${input.purpose}, written to ${usages.length} Secret key(s)`,
      );
      return this.recorded(lock, issued);
    });
  }

  /**
   * Creates a read credential for sources the backend has just created, which no
   * inventory knows yet: a project deploy token with `read_repository` (Git) or
   * `read_registry` (OCI), written into `secrets` (new ones), then `sources` must be
   * Ready with it. Rolled back as a rotation is: Secrets emptied, credential revoked.
   */
  async provision(
    input: {
      repository: ParsedRepositoryUrl;
      project: { host: string; path: string };
      name: string;
      secrets: Array<Omit<SecretTarget, 'formats'>>;
      sources: Check[];
      /** Default: the rotations' own. */
      readyTimeoutMs?: number;
    },
    { actor }: Actor,
  ): Promise<TokenRecord> {
    const { repository, project } = input;
    const git = repository.kind === 'git';
    const spec: CredentialSpec = {
      kind: 'deploy-token',
      host: project.host,
      owner: { type: 'project', path: project.path },
      name: input.name,
      scopes: [git ? 'read_repository' : 'read_registry'],
      expiresAt: this.expiresAt(),
    };
    return this.exclusively(repository.normalized, async lock => {
      await lock.check();
      const issued = await this.options.issuer.issue(spec);
      await this.swap(
        lock,
        input.secrets.map(secret => ({
          ...secret,
          formats: [
            git
              ? { format: 'basic-auth' }
              : { format: 'docker-config', registry: repository.host },
          ],
        })),
        issued,
        input.sources,
        input.readyTimeoutMs,
      );
      this.options.logger.info(
        `${actor} created deploy token "${issued.name}" (${issued.hostId}) on ${project.path} for the new sources of ${repository.normalized}`,
      );
      return this.recorded(lock, issued);
    });
  }

  /**
   * Writes the credential, checks the objects, and puts everything back if a check
   * fails. Each write checks the lock first; once it is lost (this instance stalled
   * past it and another holder took over) nothing more is written, not even the roll
   * back: the Secrets are the new holder's now.
   */
  private async swap(
    lock: HeldLock,
    targets: SecretTarget[],
    issued: IssuedCredential,
    checks: Check[],
    readyTimeoutMs = this.options.settings.readyTimeoutMs,
  ) {
    const { secrets, logger } = this.options;
    const previous: Array<{
      target: SecretTarget;
      data: Record<string, string>;
    }> = [];
    try {
      for (const target of targets) {
        const old = (await secrets.read(target)) ?? {};
        const next = dataFor(old, target.formats, issued);
        previous.push({
          target,
          // Exactly the keys written, as they were (absent ones are dropped on rollback).
          data: Object.fromEntries(
            Object.keys(next)
              .filter(key => old[key] !== undefined)
              .map(key => [key, old[key]]),
          ),
        });
        await lock.check();
        await secrets.apply(target, next);
      }
      for (const check of checks) {
        await this.options.actionsFor(check.cluster).reconcile(check.object, {
          timeoutMs: readyTimeoutMs,
          signal: lock.signal,
        });
      }
    } catch (error) {
      if (error instanceof LeaseLostError || lock.signal.aborted) {
        logger.error(
          `Credential change stopped, its lock taken over: the new ${issued.kind} ${issued.hostId} may be left unused on the Git host`,
        );
        throw lock.signal.reason ?? error;
      }
      const reason = stringifyError(error);
      for (const { target, data } of previous) {
        await secrets
          .apply(target, data)
          .catch(restoreError =>
            logger.error(
              `Could not restore Secret ${target.namespace}/${
                target.secret
              } on ${target.cluster}: ${stringifyError(restoreError)}`,
            ),
          );
      }
      for (const check of checks) {
        await this.options
          .actionsFor(check.cluster)
          .requestReconcile(check.object)
          .catch(() => undefined);
      }
      await this.options.issuer
        .revoke(issued)
        .catch(revokeError =>
          logger.error(
            `Could not revoke the unused new ${issued.kind} ${
              issued.hostId
            }: ${stringifyError(revokeError)}`,
          ),
        );
      logger.warn(`Credential change rolled back: ${reason}`);
      throw new ConflictError(
        `Rolled back, the old credential is kept: ${reason}`,
      );
    }
  }

  /** Reads the inventory again and marks the new credential as rotated now. */
  private async recorded(
    lock: HeldLock,
    issued: IssuedCredential,
  ): Promise<TokenRecord> {
    const tokens = await this.options.inventory.run();
    const token = tokens.find(
      t =>
        t.host === issued.host &&
        t.kind === issued.kind &&
        t.hostId === issued.hostId,
    );
    if (!token) {
      throw new Error(
        `The new ${issued.kind} ${issued.hostId} is not in the inventory`,
      );
    }
    const now = new Date();
    await lock.whileHeld(() =>
      this.options.store.recordRotation(token.id, now),
    );
    return { ...token, lastRotatedAt: now.toISOString() };
  }

  /** A docker-config usage needs its registry host: the source's URL says it. */
  private async registries(token: TokenRecord) {
    const registries = new Map<TokenUsage, string | undefined>();
    for (const usage of token.usages) {
      if (usage.format !== 'docker-config') continue;
      const source = this.options.cache.get(
        usage.cluster,
        usage.object.kind as 'OCIRepository',
        usage.namespace,
        usage.object.name,
      );
      try {
        registries.set(
          usage,
          parseRepositoryUrl(String(source?.spec.url)).host,
        );
      } catch {
        registries.set(usage, undefined);
      }
    }
    return registries;
  }

  private requireFresh(usages: TokenUsage[]) {
    const stale = [...new Set(usages.map(u => u.cluster))].filter(cluster =>
      this.options.cache.isStale(cluster),
    );
    if (stale.length > 0) {
      throw new ConflictError(
        `Cluster(s) ${stale.join(
          ', ',
        )} cannot be reached: the credential would change under them`,
      );
    }
  }

  private expiresAt(): string {
    return DateTime.utc()
      .plus({ days: this.options.settings.lifetimeDays })
      .toISODate()!;
  }

  private async exclusively<T>(
    key: string,
    work: (lock: HeldLock) => Promise<T>,
  ): Promise<T> {
    const done = await this.options.locks
      .runExclusively(`token-change:${key}`, work)
      .catch(error => {
        throw error instanceof LeaseLostError
          ? new ConflictError(
              `The change of ${key} was taken over by another instance`,
            )
          : error;
      });
    if (!done) {
      throw new ConflictError(`A change of ${key} is already running`);
    }
    return done.result;
  }
}

/** Only what the uses need: `api` to post statuses, read scopes for what is read. */
function scopesFor(
  purpose: TokenUsage['purpose'],
  usages: TokenUsage[],
): string[] {
  if (purpose === 'commit-status') return ['api'];
  const scopes: string[] = [];
  if (usages.some(u => u.format !== 'docker-config')) {
    scopes.push('read_repository');
  }
  if (usages.some(u => u.format === 'docker-config')) {
    scopes.push('read_registry');
  }
  return scopes;
}

/** The least-privilege credential for a use. */
function kindFor(
  purpose: TokenUsage['purpose'],
  ssh: boolean,
): CredentialSpec['kind'] {
  if (purpose === 'commit-status') return 'project-access-token';
  return ssh ? 'deploy-key' : 'deploy-token';
}

/** The sources that must be Ready again (Providers are checked by their next alert). */
function checksOf(usages: TokenUsage[]): Check[] {
  const checks = new Map<string, Check>();
  for (const usage of usages) {
    if (usage.purpose !== 'read') continue;
    checks.set(
      `${usage.cluster}/${usage.namespace}/${usage.object.kind}/${usage.object.name}`,
      {
        cluster: usage.cluster,
        object: {
          kind: usage.object.kind as FluxObjectRef['kind'],
          namespace: usage.namespace,
          name: usage.object.name,
        },
      },
    );
  }
  return [...checks.values()];
}
