import {
  AuthService,
  LoggerService,
  RootConfigService,
  SchedulerService,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import {
  ANNOTATION_CLUSTERS,
  ANNOTATION_DELIVERY_PATH,
  ANNOTATION_DELIVERY_REF,
  ANNOTATION_DELIVERY_REPOSITORIES,
  DeliveryRepository,
  parseRepositoryUrl,
} from '@backstage-gitops/plugin-gitops-common';
import { CATALOG_FILTER_EXISTS } from '@backstage/catalog-client';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { readDurationFromConfig } from '@backstage/config';
import { stringifyError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { normalizePath } from '../database/DatabaseDeliveryRepositoryStore';
import {
  DeliveryRepositoryInput,
  DeliveryRepositoryStore,
} from '../database/DeliveryRepositoryStore';

const FREQUENCY_KEY = 'gitops.deliveryRepositories.syncFrequency';
const PAGE_SIZE = 500;
const FIELDS = [
  'kind',
  'metadata.namespace',
  'metadata.name',
  'metadata.annotations',
];

/** Reads `gitops.deliveryRepositories.syncFrequency`: a cron string, a duration string (`5m`, `PT5M`) or a HumanDuration object. */
export function readSyncFrequency(
  config: RootConfigService,
): SchedulerServiceTaskScheduleDefinition['frequency'] {
  const value = config.getOptional(FREQUENCY_KEY);
  if (value === undefined) {
    return { minutes: 1 };
  }
  // A cron expression has five or six space-separated fields; durations have none.
  if (typeof value === 'string' && value.trim().split(/\s+/).length >= 5) {
    return { cron: value.trim() };
  }
  return readDurationFromConfig(config, { key: FREQUENCY_KEY });
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map(item => item.trim())
    .filter(Boolean);
}

/**
 * The delivery repositories an entity's annotations declare, and the URLs that could
 * not be parsed (with the reason).
 */
export function deliveryRepositoriesFromAnnotations(entity: Entity): {
  inputs: DeliveryRepositoryInput[];
  invalid: { url: string; reason: string }[];
} {
  const annotations = entity.metadata.annotations ?? {};
  const entityRef = stringifyEntityRef(entity);
  const ref = annotations[ANNOTATION_DELIVERY_REF]?.trim() || undefined;
  const path = annotations[ANNOTATION_DELIVERY_PATH]?.trim() || undefined;
  const clusters = splitList(annotations[ANNOTATION_CLUSTERS]);
  const inputs: DeliveryRepositoryInput[] = [];
  const invalid: { url: string; reason: string }[] = [];
  for (const url of splitList(annotations[ANNOTATION_DELIVERY_REPOSITORIES])) {
    try {
      parseRepositoryUrl(url);
    } catch (error) {
      invalid.push({ url, reason: stringifyError(error) });
      continue;
    }
    inputs.push({
      entityRef,
      url,
      ref,
      path,
      clusters: clusters.length ? clusters : undefined,
      origin: 'annotation',
    });
  }
  return { inputs, invalid };
}

/** What makes two entries the same registration, as the store would keep it. */
function entryKey(entry: {
  url: string;
  ref?: string;
  path?: string;
  clusters?: string[];
}): string {
  return JSON.stringify([
    entry.url.trim(),
    entry.ref?.trim() ?? '',
    normalizePath(entry.path),
    [...(entry.clusters ?? [])].sort(),
  ]);
}

function sameEntries(
  stored: DeliveryRepository[],
  inputs: DeliveryRepositoryInput[],
): boolean {
  // Keys are computed for both sides first, so an input the store would refuse throws here.
  const keys = (entries: Parameters<typeof entryKey>[0][]) =>
    entries.map(entryKey).sort().join('\n');
  const wanted = keys(inputs);
  return keys(stored) === wanted;
}

/**
 * Keeps the store's `annotation` entries in step with the catalog: every entity with
 * the delivery-repositories annotation gets exactly what it declares, entities that
 * lost the annotation or vanished lose theirs. `api` entries are never touched.
 */
export class DeliveryRepositoryCatalogSync {
  /** Creates the sync and schedules it (globally: one replica runs each round). */
  static async create(options: {
    config: RootConfigService;
    logger: LoggerService;
    scheduler: SchedulerService;
    catalog: CatalogService;
    auth: AuthService;
    store: DeliveryRepositoryStore;
  }): Promise<DeliveryRepositoryCatalogSync> {
    const sync = new DeliveryRepositoryCatalogSync(
      options.catalog,
      options.auth,
      options.store,
      options.logger,
    );
    await options.scheduler.scheduleTask({
      id: 'gitops-delivery-repositories-catalog-sync',
      scope: 'global',
      frequency: readSyncFrequency(options.config),
      timeout: { minutes: 5 },
      initialDelay: { seconds: 5 },
      fn: () => sync.run(),
    });
    return sync;
  }

  constructor(
    private readonly catalog: CatalogService,
    private readonly auth: AuthService,
    private readonly store: DeliveryRepositoryStore,
    private readonly logger: LoggerService,
  ) {}

  /**
   * The entity's delivery repositories, after bringing its `annotation` entries in step
   * with `entity` (just read from the catalog), so a new or edited annotation shows at
   * once rather than after the next round. Writes only when they differ.
   */
  async listForEntity(entity: Entity): Promise<DeliveryRepository[]> {
    const entityRef = stringifyEntityRef(entity);
    const stored = await this.store.list({ entityRef });
    const { inputs } = deliveryRepositoriesFromAnnotations(entity);
    let inStep: boolean;
    try {
      inStep = sameEntries(
        stored.filter(entry => entry.origin === 'annotation'),
        inputs,
      );
    } catch {
      // An annotation the store refuses (a path leaving the repository): the round warns about it.
      return stored;
    }
    if (inStep) return stored;
    try {
      await this.store.replaceAnnotated(entityRef, inputs);
    } catch (error) {
      this.logger.warn(
        `Could not sync the delivery repositories of ${entityRef}: ${stringifyError(
          error,
        )}`,
      );
      return stored;
    }
    return this.store.list({ entityRef });
  }

  /** One round of the sync. A catalog failure aborts it before anything is removed. */
  async run(): Promise<void> {
    const seen = new Set<string>();
    for await (const entity of this.annotatedEntities()) {
      const entityRef = stringifyEntityRef(entity);
      seen.add(entityRef);
      const { inputs, invalid } = deliveryRepositoriesFromAnnotations(entity);
      for (const { url, reason } of invalid) {
        this.logger.warn(
          `Skipping delivery repository "${url}" of ${entityRef}: ${reason}`,
        );
      }
      try {
        await this.store.replaceAnnotated(entityRef, inputs);
      } catch (error) {
        // One bad annotation (e.g. a path leaving the repository) must not stop the others.
        this.logger.warn(
          `Could not sync the delivery repositories of ${entityRef}: ${stringifyError(
            error,
          )}`,
        );
      }
    }

    const stale = new Set(
      (await this.store.list())
        .filter(entry => entry.origin === 'annotation')
        .map(entry => entry.entityRef)
        .filter(entityRef => !seen.has(entityRef)),
    );
    for (const entityRef of stale) {
      await this.store.replaceAnnotated(entityRef, []);
    }
    this.logger.debug(
      `Synced the delivery repositories of ${seen.size} entities, removed those of ${stale.size}`,
    );
  }

  private async *annotatedEntities(): AsyncGenerator<Entity> {
    const credentials = await this.auth.getOwnServiceCredentials();
    let cursor: string | undefined;
    do {
      const page = await this.catalog.queryEntities(
        cursor
          ? { cursor, fields: FIELDS, limit: PAGE_SIZE }
          : {
              filter: {
                [`metadata.annotations.${ANNOTATION_DELIVERY_REPOSITORIES}`]:
                  CATALOG_FILTER_EXISTS,
              },
              fields: FIELDS,
              limit: PAGE_SIZE,
            },
        { credentials },
      );
      yield* page.items;
      cursor = page.pageInfo.nextCursor;
    } while (cursor);
  }
}
