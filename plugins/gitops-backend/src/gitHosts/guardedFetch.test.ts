import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  RecordingServer,
  startRecordingServer,
} from '../__testUtils__/recordingServer';
import { githubClient } from './githubClient';
import { gitlabClient } from './gitlabApi';
import { guardedFetch, isWithinApiBase } from './guardedFetch';

jest.setTimeout(20_000);

const TOKEN = 'git-host-token-canary';

/**
 * A Git host that redirects: within its API (followed), and to a server nothing
 * configured (never followed, so the token header never reaches it).
 */
describe('Git host requests stay on the configured API base', () => {
  let recorder: RecordingServer;
  let host: Server;
  let hostUrl: string;

  beforeAll(async () => {
    recorder = await startRecordingServer();
    host = createServer((req, res) => {
      const url = req.url ?? '';
      const json = (body: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.startsWith('/api/v4/projects/team%2Fmoved')) {
        res.writeHead(301, { location: '/api/v4/projects/team%2Fnew' });
        res.end();
      } else if (url.startsWith('/api/v4/projects/team%2Fnew')) {
        json({ id: 7, path_with_namespace: 'team/new' });
      } else if (url.startsWith('/api/v4/projects/team%2Fout')) {
        // Another port of the same host is another origin.
        res.writeHead(302, { location: `${recorder.url}/api/v4/projects/x` });
        res.end();
      } else if (url.startsWith('/api/v4/projects/team%2Fsideways')) {
        res.writeHead(307, { location: '/elsewhere/projects/x' });
        res.end();
      } else if (url.startsWith('/api/v3/repos/team/app')) {
        res.writeHead(301, {
          location: `http://team@127.0.0.1:${recorder.port}/api/v3/repos/x`,
        });
        res.end();
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"message":"404 Not found"}');
      }
    });
    await new Promise<void>(resolve => host.listen(0, '127.0.0.1', resolve));
    hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    host.closeAllConnections();
    await new Promise(resolve => host.close(resolve));
    await recorder.close();
  });

  it('knows what is within an API base', () => {
    const base = new URL('https://gitlab.example.com/api/v4');
    const within = (url: string) => isWithinApiBase(new URL(url), base);
    expect(within('https://gitlab.example.com/api/v4/projects/1')).toBe(true);
    expect(within('https://gitlab.example.com/api/v4')).toBe(true);
    expect(within('https://gitlab.example.com/api/v40/x')).toBe(false);
    expect(within('https://gitlab.example.com/other')).toBe(false);
    expect(within('https://gitlab.example.com:444/api/v4/x')).toBe(false);
    expect(within('http://gitlab.example.com/api/v4/x')).toBe(false);
    expect(within('https://gitlab.example.com@evil.example/api/v4/x')).toBe(
      false,
    );
    expect(within('https://x@gitlab.example.com/api/v4/x')).toBe(false);
    expect(within('https://gitlab.example.com/api/v4/../../x')).toBe(false);
  });

  it('gitbeaker follows a redirect within the API and refuses one that leaves it', async () => {
    const api = gitlabClient(`${hostUrl}/api/v4`, TOKEN);
    await expect(api.Projects.show('team/moved')).resolves.toMatchObject({
      id: 7,
    });
    await expect(api.Projects.show('team/out')).rejects.toThrow(
      /redirected outside its configured API base/,
    );
    await expect(api.Projects.show('team/sideways')).rejects.toThrow(
      /redirected outside/,
    );
    expect(recorder.requests).toEqual([]);
  });

  it('Octokit refuses a redirect that leaves the API', async () => {
    const octokit = githubClient({
      token: TOKEN,
      baseUrl: `${hostUrl}/api/v3`,
    });
    await expect(
      octokit.repos.get({ owner: 'team', repo: 'app' }),
    ).rejects.toThrow(/redirected outside its configured API base/);
    expect(recorder.requests).toEqual([]);
  });

  it('does not send a request outside the base at all', async () => {
    const send = guardedFetch(`${hostUrl}/api/v4`);
    await expect(
      send(`${recorder.url}/api/v4/projects`, {
        headers: { 'private-token': TOKEN },
      }),
    ).rejects.toThrow(/outside the configured API base/);
    await expect(send(`${hostUrl}/api/v4/../../x`)).rejects.toThrow(
      /outside the configured API base/,
    );
    expect(recorder.requests).toEqual([]);
  });
});
