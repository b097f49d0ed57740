import fs from 'fs';
import path from 'path';

// The spec is the source of truth; the typed constant must never drift from it.
describe('openapi.generated.ts', () => {
  it('is generated from the current openapi.yaml (run yarn generate:openapi)', () => {
    const { render, outFile } = require('../../scripts/generate-openapi.js');
    expect(fs.readFileSync(outFile, 'utf8')).toBe(render());
    expect(path.basename(outFile)).toBe('openapi.generated.ts');
  });
});
