import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILTIN_EVENT_TYPES } from '../../src/events/catalogue.js';
import { renderEventsDoc } from '../../src/events/docs.js';

it('docs/events.md is what the catalogue generates (run `npm run docs` after changing it)', () => {
  const committed = readFileSync(fileURLToPath(new URL('../../docs/events.md', import.meta.url)), 'utf8');
  assert.equal(committed, renderEventsDoc());
  for (const type of BUILTIN_EVENT_TYPES) assert.ok(committed.includes(`### ${type}\n`), type);
});
