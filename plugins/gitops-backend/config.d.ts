import { HumanDuration } from '@backstage/types';

export interface Config {
  /** Configuration of the GitOps backend plugin. */
  gitops?: {
    /**
     * Per-cluster GitOps settings. The clusters themselves come from the Kubernetes
     * plugin's `kubernetes.clusterLocatorMethods` (types `config` and `catalog`, auth
     * provider `serviceAccount`) or are registered through the API; an entry here adds
     * settings to the cluster of the same name.
     */
    clusters?: Array<{
      /** The cluster's name, as in `kubernetes.clusterLocatorMethods` or the catalog. */
      name: string;
      /**
       * A catalog cluster's Resource entity (`resource:<namespace>/<name>`): the entry (its
       * settings and serviceAccountToken) applies to that entity only, and the cluster takes
       * this entry's `name`. Without it, the entry matches a catalog cluster only when the
       * entity is `resource:default/<name>`. An entry with entityRef never applies to
       * config or API clusters.
       */
      entityRef?: string;
      /**
       * Namespace Flux runs in.
       * @default flux-system
       */
      fluxNamespace?: string;
      /**
       * Base URL of Flux's webhook receiver: an http(s) URL, or a service-proxy path
       * `/api/v1/namespaces/{namespace}/services/{service}/proxy` reached through the API
       * server with the cluster's credentials (then it must be listed in
       * `trustedServiceProxyPaths`, or the backend refuses to start).
       * @default http://webhook-receiver.<fluxNamespace>.svc.cluster.local
       */
      receiverUrl?: string;
      /**
       * Service-proxy paths an administrator trusts as receiver URLs.
       * @default []
       */
      trustedServiceProxyPaths?: string[];
      /**
       * The service-account token for a cluster whose locator carries none, e.g. a
       * catalog cluster (the catalog never holds tokens).
       * @visibility secret
       */
      serviceAccountToken?: string;
    }>;
    /**
     * Key material (at least 32 characters, e.g. `openssl rand -base64 32`) for encrypting
     * the tokens of clusters registered through the API (AES-256-GCM). Without it,
     * runtime registration is refused with 503. Changing it makes stored tokens unreadable.
     * @visibility secret
     */
    encryptionSecret?: string;
    /** What is registered through the API: clusters, delivery repositories, bootstraps. */
    registration?: {
      /**
       * Hosts (`name` or `*.domain`) that URLs entered through the API may point at
       * although they are loopback or link-local addresses: a registered cluster's `url`
       * or `receiverUrl`, a delivery repository's `url` (`POST /delivery-repositories`,
       * `POST /flux/bootstrap`). Refused otherwise, so the API cannot aim the backend or
       * the clusters' Flux at their own loopback or a cloud metadata service. For local
       * test setups only.
       */
      dangerouslyAllowHosts?: string[];
    };
    /**
     * Flux's multi-tenancy for what the backend creates (`POST /flux/bootstrap`, the
     * scaffolder's `gitops:delivery-repo:register`): each entity's source, Secret and
     * Kustomization go to its owner's tenant namespace on each cluster, and the
     * Kustomization is applied as the tenant's service account (`serviceAccountName`,
     * `targetNamespace`). An owner without a tenant on a cluster cannot bootstrap
     * there; `privileged` bootstraps (the Flux namespace, the controller's own rights)
     * need `gitops.cluster.manage`. The map is configuration, never an annotation, so an
     * entity cannot place itself in another team's namespace.
     */
    tenancy?: {
      tenants?: Array<{
        /**
         * The owner (`spec.owner` as the catalog resolves it, e.g.
         * `group:default/team-a`; a bare name is a group in `default`) whose entities
         * this tenant holds.
         */
        owner: string;
        /** The tenant namespace on the clusters. */
        namespace: string;
        /**
         * The service account kustomize-controller impersonates, in `namespace`.
         * @default the namespace's name, as `flux create tenant` names it
         */
        serviceAccountName?: string;
        /**
         * The clusters the tenant exists on; an entry naming a cluster wins over one
         * for every cluster.
         * @default every cluster
         */
        clusters?: string[];
      }>;
    };
    /**
     * A repository a user names (`POST /delivery-repositories`, `POST /flux/bootstrap`)
     * is read with the backend's own Git host credentials afterwards, so it is taken
     * only when the user could read it themselves on a configured host: a public one, or
     * one their account may read (GitLab: internal, or a member with Reporter or more;
     * GitHub: a collaborator). The account is the user entity's `<hostname>/user-login`
     * annotation (a login or a profile URL, as the GitLab and GitHub org providers write
     * it).
     */
    repositoryAccess?: {
      /**
       * With no annotation, take the user entity's name as the login, as the
       * `usernameMatchingUserEntityName` sign-in resolvers do.
       * @default false
       */
      loginFromEntityName?: boolean;
    };
    /** Delivery repositories kept in step with the catalog's annotations. */
    deliveryRepositories?: {
      /**
       * How often the catalog's `gitops.backstage.io/*` annotations are synced into the
       * registry: a duration (`30s`, `5m`, ISO 8601 `PT5M`, or an object such as
       * `{ minutes: 5 }`) or a cron expression (`0 * * * *`).
       * @default { minutes: 1 }
       */
      syncFrequency?: string | HumanDuration;
    };
    /**
     * Flux Receivers the backend keeps for every GitRepository and OCIRepository whose
     * URL is on a host of `integrations.gitlab` / `integrations.github` (host names
     * compared without port). Opt a source out with the annotation
     * `gitops.backstage.io/receiver: disabled` on it.
     */
    receivers?: {
      /**
       * Off removes the Receivers (and their Secrets) the backend created.
       * @default true
       */
      enabled?: boolean;
      /**
       * Also list the source's Kustomizations in each Receiver's resources, so a
       * webhook reconciles them too rather than waiting for the new artifact event.
       * @default false
       */
      includeConsumers?: boolean;
      /** How push webhooks are relayed to the Receivers, on each backend instance. */
      relay?: {
        /**
         * Relays running at once on one instance.
         * @default 8
         */
        maxConcurrent?: number;
        /**
         * Accepted deliveries waiting for a relay on one instance. Beyond it a delivery,
         * already recorded, is left for the next adoption sweep of any replica (within 30 s).
         * @default 100
         */
        maxQueued?: number;
        /**
         * The same push (repository, ref and commit) delivered again with a new delivery id
         * within this window is not relayed again, whichever replica receives it.
         * @default { minutes: 10 }
         */
        replayWindow?: HumanDuration | string;
      };
    };
    /**
     * Push webhooks the backend creates on the Git host (GitLab project hook, GitHub
     * repository webhook) for every registered Git delivery repository. They post to
     * the events backend's ingress with the secret its module checks
     * (`events.modules.gitlab.webhookSecret` / `events.modules.github.webhookSecret`);
     * a host kind without that secret gets no hooks.
     */
    webhooks?: {
      /**
       * Off removes the hooks the backend created.
       * @default true
       */
      register?: boolean;
      /**
       * The backend's URL as the Git host reaches it, when that is not the external URL
       * of discovery (`backend.baseUrl`), e.g. a public ingress in front of Backstage.
       */
      baseUrl?: string;
    };
    /** The inventory of the credentials Flux uses (`GET /tokens`, `GET /tokens/report`). */
    tokens?: {
      /**
       * How many days before its expiry the report flags a credential.
       * @default 30
       */
      expiringWithinDays?: number;
      /**
       * How many days the credentials the backend creates are valid.
       * @default 90
       */
      lifetimeDays?: number;
      /** Rotation on a schedule (an hourly check, on one replica). Off: on demand only. */
      rotation?: {
        /** @default false */
        enabled?: boolean;
        /**
         * Rotate a credential when it expires within this many days.
         * @default 14
         */
        beforeExpiryDays?: number;
      };
    };
    /**
     * Commit statuses for syncs the backend set off (a push through a receiver, a CI
     * notify): `pending`, then `success` or `failed` per cluster and Kustomization.
     */
    commitStatus?: {
      /**
       * @default true
       */
      enabled?: boolean;
      /**
       * How long a sync may take before the commit gets `failed`.
       * @default { minutes: 10 }
       */
      timeout?: HumanDuration | string;
    };
    /** `POST /flux/bootstrap` (the scaffolder's `gitops:delivery-repo:register`). */
    bootstrap?: {
      /**
       * How long a new source may take to be Ready before everything is undone, and
       * each new Kustomization before it is reported not Ready.
       * @default { minutes: 5 }
       */
      readyTimeout?: HumanDuration | string;
    };
  };
}
