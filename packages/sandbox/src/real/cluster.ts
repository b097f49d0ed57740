import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { programOf, RealBinaries, REPO_ROOT } from './binaries';
import { makeClusterPki } from './pki';
import { freePort, RealProcess, waitFor } from './processes';

const run = promisify(execFile);

export const REAL_FLUX_NAMESPACE = 'flux-system';

/** Nodes with this annotation are kwok's to play. */
const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** A node for kwok, as its documentation creates one: room for the demo's workloads. */
function fakeNode(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [FAKE_NODE_ANNOTATION]: 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  });
}

/** One real cluster on loopback: etcd, the API server, the controller manager, Flux. */
export interface RealCluster {
  name: string;
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** The cluster CA, as a kubeconfig's `certificate-authority-data`. */
  caData: string;
  /** A kubeconfig with the administrator's client certificate (`system:masters`). */
  adminKubeconfig: string;
  /** A token of `flux-system/backstage-gitops`, bound by deploy/kubernetes/rbac.yaml. */
  backstageToken: string;
  /** notification-controller's receiver server, where Flux Receivers' webhooks land. */
  receiverUrl: string;
  /** Runs the real kubectl against the cluster as the administrator. */
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface RealClusterOptions {
  name: string;
  /** A folder of its own: data, certificates, logs (`<dir>/logs`). */
  dir: string;
  binaries: RealBinaries;
  log?: (line: string) => void;
}

function kubeconfigYaml(
  name: string,
  url: string,
  pki: {
    caCert: string;
    adminCert: string;
    adminKey: string;
  },
): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: ${name}, cluster: { server: '${url}', certificate-authority: '${pki.caCert}' } }]`,
    `users: [{ name: admin, user: { client-certificate: '${pki.adminCert}', client-key: '${pki.adminKey}' } }]`,
    `contexts: [{ name: ${name}, context: { cluster: ${name}, user: admin } }]`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

/**
 * Starts a real cluster as controller-runtime's envtest starts its control plane (etcd,
 * then kube-apiserver with RBAC, real TLS and service account tokens), with
 * kube-controller-manager for garbage collection and the workload controllers, then
 * installs the Flux CRDs their modules ship and deploy/kubernetes/rbac.yaml, and runs
 * the Flux controllers outside the cluster, each on its own loopback ports.
 */
export async function startRealCluster(
  options: RealClusterOptions,
): Promise<RealCluster> {
  const { name, dir, binaries } = options;
  const log = (line: string) => options.log?.(`[${name}] ${line}`);
  const logDir = join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  await mkdir(join(dir, 'pki'), { recursive: true });
  const pki = await makeClusterPki(join(dir, 'pki'));
  const processes: RealProcess[] = [];
  const started = (p: RealProcess) => {
    processes.push(p);
    return p;
  };
  const stop = async () => {
    for (const p of processes.reverse()) await p.stop();
  };

  try {
    const [etcdClient, etcdPeer, apiPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
    ]);
    log('starting etcd');
    const etcd = started(
      new RealProcess(
        'etcd',
        programOf(binaries, 'etcd', 'etcd'),
        [
          `--name=${name}`,
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=${name}=http://127.0.0.1:${etcdPeer}`,
          '--unsafe-no-fsync',
        ],
        { logDir },
      ),
    );
    await waitFor(
      'etcd',
      async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok,
      30_000,
      etcd,
    );

    log('starting kube-apiserver');
    const url = `https://127.0.0.1:${apiPort}`;
    const apiserver = started(
      new RealProcess(
        'kube-apiserver',
        programOf(binaries, 'kubernetes', 'kube-apiserver'),
        [
          `--etcd-servers=http://127.0.0.1:${etcdClient}`,
          `--secure-port=${apiPort}`,
          '--bind-address=127.0.0.1',
          `--tls-cert-file=${pki.serverCert}`,
          `--tls-private-key-file=${pki.serverKey}`,
          `--client-ca-file=${pki.caCert}`,
          '--authorization-mode=RBAC',
          '--service-cluster-ip-range=10.0.0.0/24',
          '--service-account-issuer=https://kubernetes.default.svc',
          `--service-account-key-file=${pki.serviceAccountPub}`,
          `--service-account-signing-key-file=${pki.serviceAccountKey}`,
          '--allow-privileged=true',
        ],
        { logDir },
      ),
    );
    const agent = new Agent({
      ca: pki.caPem,
      cert: await readFile(pki.adminCert),
      key: await readFile(pki.adminKey),
    });
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((ok, fail) => {
        request(`${url}${path}`, { agent }, res => {
          let body = '';
          res.on('data', chunk => (body += chunk));
          res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
        })
          .on('error', fail)
          .end();
      });
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await get('/readyz')).status === 200,
      120_000,
      apiserver,
    );

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(name, url, pki));
    const kubectlPath = programOf(binaries, 'kubernetes', 'kubectl');
    const kubectl = async (args: string[], input?: string) => {
      const child = run(
        kubectlPath,
        ['--kubeconfig', kubeconfigPath, ...args],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      if (input !== undefined) {
        child.child.stdin?.end(input);
      }
      return (await child).stdout;
    };

    log('starting kube-controller-manager');
    started(
      new RealProcess(
        'kube-controller-manager',
        programOf(binaries, 'kubernetes', 'kube-controller-manager'),
        [
          `--kubeconfig=${kubeconfigPath}`,
          `--authentication-kubeconfig=${kubeconfigPath}`,
          `--authorization-kubeconfig=${kubeconfigPath}`,
          `--service-account-private-key-file=${pki.serviceAccountKey}`,
          `--root-ca-file=${pki.caCert}`,
          `--cluster-signing-cert-file=${pki.caCert}`,
          `--cluster-signing-key-file=${pki.caKey}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${await freePort()}`,
          // No cloud, no pod CIDRs; the node lifecycle controller stays: it lifts the
          // not-ready taint from kwok's node once the node reports Ready.
          '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service,-route',
        ],
        { logDir },
      ),
    );

    // Workloads run on a fake node: kube-scheduler places pods, kwok plays the node and
    // its kubelet with the Stages its module ships (pods become Running and Ready).
    log('starting kube-scheduler and kwok');
    started(
      new RealProcess(
        'kube-scheduler',
        programOf(binaries, 'kubernetes', 'kube-scheduler'),
        [
          `--kubeconfig=${kubeconfigPath}`,
          `--authentication-kubeconfig=${kubeconfigPath}`,
          `--authorization-kubeconfig=${kubeconfigPath}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${await freePort()}`,
        ],
        { logDir },
      ),
    );
    const stagesDir = join(binaries.kwok, 'stages');
    const stages = (await readdir(stagesDir)).sort();
    started(
      new RealProcess(
        'kwok',
        programOf(binaries, 'kwok', 'kwok'),
        [
          `--kubeconfig=${kubeconfigPath}`,
          `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
          '--node-ip=127.0.0.1',
          `--node-port=${await freePort()}`,
          `--server-address=127.0.0.1:${await freePort()}`,
          ...stages.map(file => `--config=${join(stagesDir, file)}`),
        ],
        { logDir },
      ),
    );
    await kubectl(['apply', '-f', '-'], fakeNode(`${name}-node`));

    log('installing the Flux CRDs and the backend RBAC');
    await kubectl(['create', 'namespace', REAL_FLUX_NAMESPACE]);
    for (const component of [
      'flux/source-controller',
      'flux/kustomize-controller',
      'flux/notification-controller',
      'flux/helm-controller',
    ] as const) {
      const crds = join(binaries[component], 'crds');
      for (const file of (await readdir(crds)).sort()) {
        await kubectl(['apply', '--server-side', '-f', join(crds, file)]);
      }
    }
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '--all',
    ]);
    await kubectl([
      'apply',
      '--server-side',
      '-f',
      join(REPO_ROOT, 'deploy/kubernetes/rbac.yaml'),
    ]);
    const backstageToken = (
      await kubectl([
        '-n',
        REAL_FLUX_NAMESPACE,
        'create',
        'token',
        'backstage-gitops',
        '--duration=24h',
      ])
    ).trim();

    log('starting the Flux controllers');
    // source-controller serves artifacts from it, and refuses a folder that is missing.
    await mkdir(join(dir, 'storage'), { recursive: true });
    const [storage, events, receiver] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
    ]);
    const fluxEnv = {
      KUBECONFIG: kubeconfigPath,
      RUNTIME_NAMESPACE: REAL_FLUX_NAMESPACE,
    };
    const controller = async (
      component:
        | 'flux/source-controller'
        | 'flux/kustomize-controller'
        | 'flux/notification-controller'
        | 'flux/helm-controller',
      extra: string[],
    ) => {
      const program = component.slice('flux/'.length);
      return started(
        new RealProcess(
          program,
          programOf(binaries, component, program),
          [
            `--metrics-addr=127.0.0.1:${await freePort()}`,
            `--health-addr=127.0.0.1:${await freePort()}`,
            '--log-level=debug',
            ...extra,
          ],
          { logDir, env: fluxEnv },
        ),
      );
    };
    const eventsUrl = `http://127.0.0.1:${events}`;
    await controller('flux/notification-controller', [
      `--events-addr=127.0.0.1:${events}`,
      `--receiverAddr=127.0.0.1:${receiver}`,
    ]);
    await controller('flux/source-controller', [
      `--storage-path=${join(dir, 'storage')}`,
      `--storage-addr=127.0.0.1:${storage}`,
      `--storage-adv-addr=127.0.0.1:${storage}`,
      `--events-addr=${eventsUrl}`,
    ]);
    await controller('flux/kustomize-controller', [
      '--no-remote-bases=true',
      `--events-addr=${eventsUrl}`,
    ]);
    await controller('flux/helm-controller', [`--events-addr=${eventsUrl}`]);

    return {
      name,
      url,
      caData: Buffer.from(pki.caPem).toString('base64'),
      adminKubeconfig: kubeconfigPath,
      backstageToken,
      receiverUrl: `http://127.0.0.1:${receiver}`,
      kubectl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
