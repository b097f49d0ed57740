import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { extractTarGz } from './archive';
import { OciError } from './errors';

function tarGzWith(
  entries: {
    path: string;
    type?: 'File' | 'SymbolicLink';
    content?: string;
    linkpath?: string;
  }[],
) {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? '');
    const header = new Header({
      path: entry.path,
      type: entry.type ?? 'File',
      linkpath: entry.linkpath,
      size: entry.type === 'SymbolicLink' ? 0 : content.length,
      mode: 0o644,
      mtime: new Date(0),
    });
    header.encode();
    blocks.push(header.block!);
    if (entry.type !== 'SymbolicLink' && content.length > 0) {
      const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
      content.copy(padded);
      blocks.push(padded);
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe('extractTarGz', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oci-archive-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses entries that escape the destination and writes nothing', async () => {
    const archive = tarGzWith([
      { path: 'ok.yaml', content: 'a: 1\n' },
      { path: '../escaped.yaml', content: 'b: 2\n' },
    ]);
    const destination = join(dir, 'out');
    await expect(extractTarGz(archive, destination)).rejects.toThrow(
      /refusing to extract the artifact: tar entry '\.\.\/escaped\.yaml' would be extracted outside/,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses links', async () => {
    const archive = tarGzWith([
      { path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' },
    ]);
    await expect(
      extractTarGz(archive, join(dir, 'out')),
    ).rejects.toBeInstanceOf(OciError);
  });

  it('extracts ordinary entries', async () => {
    await extractTarGz(
      tarGzWith([{ path: 'a/b.yaml', content: 'x\n' }]),
      join(dir, 'out'),
    );
    expect(await readdir(join(dir, 'out', 'a'))).toEqual(['b.yaml']);
  });
});
