import { rfc3339NanoNow } from './clock';

describe('rfc3339NanoNow', () => {
  it('formats like Go RFC3339Nano and never repeats a value', () => {
    const values = Array.from({ length: 1000 }, () => rfc3339NanoNow());
    for (const value of values) {
      expect(value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
    }
    expect(new Set(values).size).toBe(values.length);
    expect(Math.abs(Date.parse(values[0]) - Date.now())).toBeLessThan(60_000);
  });
});
