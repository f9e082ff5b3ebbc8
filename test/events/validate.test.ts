import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILTIN_EVENT_TYPES, CATALOGUE, MAX_MESSAGE_BYTES, MAX_METADATA_BYTES } from '../../src/events/catalogue.js';
import { formatProblems, validateBuiltin, validateEvent } from '../../src/events/validate.js';
import { isUuid, uuidv7 } from '../../src/events/uuid7.js';

const NOW = Date.parse('2026-11-27T10:00:00.000Z');

function errorOf(event: unknown): string {
  const v = validateEvent(event, NOW);
  assert.equal(v.ok, false, "expected a refusal");
  return formatProblems((v as { problems: { field: string; problem: string }[] }).problems);
}

/** A valid example event of each type, built from the catalogue's own examples. */
function example(type: string): Record<string, unknown> {
  const spec = CATALOGUE[type as keyof typeof CATALOGUE];
  return { event_type: type, ...Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, f.example])) };
}

describe('validation', () => {
  it('accepts every catalogue example and keeps the fields exactly', () => {
    for (const type of BUILTIN_EVENT_TYPES) {
      const ev = example(type);
      const v = validateEvent(ev, NOW);
      assert.ok(v.ok, `${type}: ${!v.ok && formatProblems(v.problems)}`);
      assert.deepEqual(v.row.metadata, ev);
      assert.equal(v.row.event_type, type);
      assert.equal(v.row.level, CATALOGUE[type].level);
      assert.ok(isUuid(v.row.id));
      assert.equal(v.row.time, NOW);
    }
  });

  it('names a missing required field', () => {
    assert.equal(errorOf({ event_type: 'task_created', task_type: 'x', created_by: 'u' }), 'task_id: required');
  });

  it('names a field of the wrong type and shows the value', () => {
    assert.equal(
      errorOf({ event_type: 'model_called', model_name: 'gpt-4', provider: 'openai', tokens_used: 'ten', cost_usd: 0.1 }),
      'tokens_used: expected a non-negative integer, got "ten"',
    );
    assert.match(errorOf({ ...example('model_called'), cost_usd: -1 }), /^cost_usd: expected a non-negative number, got -1$/);
    assert.match(errorOf({ ...example('api_call'), status_code: 99 }), /^status_code: expected an HTTP status code/);
    assert.match(errorOf({ ...example('task_updated'), changes: [1] }), /^changes: expected a JSON object, got \[1\]$/);
    assert.match(errorOf({ ...example('task_created'), task_id: '' }), /^task_id: expected a non-empty string$/);
    assert.match(errorOf({ ...example('model_called'), tokens_used: Number.NaN }), /tokens_used: expected a non-negative integer, got NaN/);
    assert.match(errorOf({ ...example('model_called'), tokens_used: 1e12 + 1 }), /^tokens_used: too large: 1000000000001, at most 1e\+12$/);
    assert.equal(validateEvent({ ...example('model_called'), tokens_used: 1e12 }, 0).ok, true);
  });

  it('reports every problem at once', () => {
    const e = errorOf({ event_type: 'permission_denied', user_id: 5 });
    assert.equal(e, 'user_id: expected a string, got 5; permission: required; resource: required; action: required');
  });

  it('refuses unknown fields on built-in types and envelope fields among the fields', () => {
    assert.match(errorOf({ ...example('task_created'), taskid: 'x' }), /^taskid: unknown field for task_created \(known: task_id, /);
    const v = validateBuiltin('task_created', { ...example('task_created'), event_type: undefined, id: uuidv7() }, undefined, NOW);
    assert.equal(v.ok, false);
  });

  it('refuses bad envelope fields', () => {
    assert.match(errorOf({ ...example('task_created'), id: 'nope' }), /^id: expected a UUID, got "nope"$/);
    assert.match(errorOf({ ...example('task_created'), timestamp: 'yesterday' }), /^timestamp: expected an ISO 8601 date-time/);
    assert.match(errorOf({ ...example('task_created'), level: 'LOUD' }), /^level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got "LOUD"$/);
    assert.match(errorOf({ event_type: 'Bad Type!' }), /^event_type: expected a built-in event type or a custom name/);
    assert.equal(errorOf({ task_id: 'x' }), 'event_type: required');
    assert.match(errorOf([1, 2]), /^\(event\): expected a JSON object, got \[1,2\]$/);
  });

  it('takes id, timestamp, level and message from the envelope', () => {
    const id = uuidv7();
    const v = validateEvent({ ...example('task_created'), id, timestamp: '2026-01-02T03:04:05.678+01:00', level: 'WARNING', message: 'custom' }, NOW);
    assert.ok(v.ok);
    assert.equal(v.row.id, id);
    assert.equal(v.row.time, Date.parse('2026-01-02T02:04:05.678Z'));
    assert.equal(v.row.level, 'WARNING');
    assert.equal(v.row.message, 'custom');
    assert.equal('id' in v.row.metadata, false, 'envelope fields are not stored in log_metadata');
  });

  it('refuses an oversize message and oversize metadata instead of truncating', () => {
    const big = 'x'.repeat(MAX_MESSAGE_BYTES + 1);
    assert.match(errorOf({ ...example('task_created'), message: big }), /^message: too large: 65537 bytes, at most 65536 \(64 KiB\)$/);
    const huge = 'y'.repeat(MAX_METADATA_BYTES);
    assert.match(errorOf({ ...example('task_created'), description: huge }), /^\(metadata\): too large: \d+ bytes, at most 262144 \(256 KiB\)$/);
    assert.match(errorOf({ event_type: 'my.custom', blob: huge }), /^\(metadata\): too large/);
    // Multi-byte text counts in bytes, not characters.
    const euro = '€'.repeat(Math.ceil(MAX_METADATA_BYTES / 3) + 10);
    assert.match(errorOf({ ...example('task_created'), description: euro }), /too large/);
    // Just under the limit is accepted.
    assert.ok(validateEvent({ ...example('task_created'), description: 'z'.repeat(MAX_METADATA_BYTES - 400) }, NOW).ok);
  });

  it('refuses text PostgreSQL cannot store', () => {
    assert.match(errorOf({ ...example('task_created'), description: 'a\u0000b' }), /^description: contains a NUL character/);
    assert.match(errorOf({ ...example('task_created'), task_id: 'a\ud800b' }), /^task_id: contains an unpaired surrogate/);
    assert.match(errorOf({ ...example('error'), context: { k: 'a\u0000' } }), /^context: contains a NUL character/);
    assert.match(errorOf({ event_type: 'x.y', ['k\ud800']: 1 }), /contains an unpaired surrogate/);
  });

  it('refuses values that are not JSON', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.match(errorOf({ ...example('error'), context: circular }), /^context: not JSON-serialisable: it contains a circular reference$/);
    assert.match(errorOf({ ...example('agent_executed'), result: 10n }), /^result: not JSON-serialisable/);
  });

  it('copies objects, so later changes by the caller do not reach the stored event', () => {
    const changes = { status: { from: 'a', to: 'b' } };
    const v = validateEvent({ event_type: 'task_updated', task_id: 't', updated_by: 'u', changes }, NOW);
    assert.ok(v.ok);
    changes.status.to = 'changed';
    assert.deepEqual(v.row.metadata.changes, { status: { from: 'a', to: 'b' } });
  });

  it('accepts custom event types with free fields at INFO', () => {
    const v = validateEvent({ event_type: 'deploy.finished', service: 'api', took_ms: 5 }, NOW);
    assert.ok(v.ok);
    assert.equal(v.row.level, 'INFO');
    assert.deepEqual(v.row.metadata, { event_type: 'deploy.finished', service: 'api', took_ms: 5 });
  });

  it('builds the human messages of the design report', () => {
    const v = validateEvent(example('task_created'), NOW);
    assert.ok(v.ok);
    assert.equal(v.row.message, 'Task task_12345 created (content_generation) by user_456');
  });
});

describe('uuidv7', () => {
  it('is a version 7 UUID, strictly increasing within a process, even within one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7(NOW));
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `${ids[i]} after ${ids[i - 1]}`);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(Number.parseInt(uuidv7(NOW + 10_000).slice(0, 8) + uuidv7(NOW + 10_000).slice(9, 13), 16) >= NOW + 10_000, true);
  });
});
