import { applyJsonPatch, asJsonPatch } from './jsonPatch';

describe('applyJsonPatch', () => {
  const doc = { spec: { list: [1, 2, 3], map: { 'a/b': 1, 'c~d': 2 } } };

  it('applies add, remove, replace, move, copy and test without touching the input', () => {
    const result = applyJsonPatch(doc, [
      { op: 'add', path: '/spec/list/-', value: 4 },
      { op: 'add', path: '/spec/list/0', value: 0 },
      { op: 'remove', path: '/spec/list/1' },
      { op: 'replace', path: '/spec/map/a~1b', value: 10 },
      { op: 'move', from: '/spec/map/c~0d', path: '/spec/moved' },
      { op: 'copy', from: '/spec/moved', path: '/spec/copied' },
      { op: 'test', path: '/spec/copied', value: 2 },
    ]);
    expect(result).toEqual({
      spec: { list: [0, 2, 3, 4], map: { 'a/b': 10 }, moved: 2, copied: 2 },
    });
    expect(doc.spec.list).toEqual([1, 2, 3]);
  });

  it('fails like evanphx/json-patch on missing paths and failed tests', () => {
    expect(() =>
      applyJsonPatch(doc, [{ op: 'replace', path: '/spec/nope', value: 1 }]),
    ).toThrow(
      'replace operation does not apply: doc is missing path: "/spec/nope": missing value',
    );
    expect(() =>
      applyJsonPatch(doc, [{ op: 'add', path: '/nope/deeper', value: 1 }]),
    ).toThrow(/missing path/);
    expect(() =>
      applyJsonPatch(doc, [{ op: 'test', path: '/spec/list/0', value: 9 }]),
    ).toThrow(/test failed/);
    expect(() => asJsonPatch([{ op: 'explode', path: '/' }])).toThrow(
      /unexpected kind of JSON 6902 operation/,
    );
  });
});
