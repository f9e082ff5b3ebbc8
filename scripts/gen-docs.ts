/**
 * Writes docs/events.md from the event catalogue (`npm run docs`). A test fails when the
 * committed file differs from what this produces, so the document cannot drift from the code.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderEventsDoc } from '../src/events/docs.js';

const target = fileURLToPath(new URL('../docs/events.md', import.meta.url));
writeFileSync(target, renderEventsDoc());
console.log(`wrote ${target}`);
