/**
 * The event lines Vigil builds itself (src/sdk/eventLine.ts) carry exactly what pino would have
 * written for the same logger, and any configuration that changes pino's output goes through pino.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino, { type LoggerOptions } from 'pino';
import { directLines } from '../../src/sdk/eventLine.js';
import { canonicalJson } from '../../src/trust/chain.js';
import type { Level } from '../../src/events/catalogue.js';
import { PINO_METHOD } from '../../src/sdk/levels.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { stream, lines };
}

const EVENT = {
  id: '0193a1b2-c3d4-7e5f-8a9b-000000000001',
  metadata: { event_type: 'task_failed', task_id: 'task_9', error_message: 'quote " back\\slash\nnewline é 😀', nested: { b: [1, null, true], a: 'x' } } as Record<string, unknown>,
  message: 'Task task_9 failed: "quoted" \\ and\tcontrol\u0001 and 😀',
};

/** The same event through pino's API and through the direct writer, parsed, without the time. */
async function both(options: LoggerOptions, level: Level, child: Record<string, unknown> = { component: 'audit' }, childOptions?: object) {
  const viaPino = capture();
  const direct = capture();
  const a = pino(options, viaPino.stream).child(child, childOptions);
  const b = pino(options, direct.stream).child(child, childOptions);
  const writer = directLines(b);
  assert.ok(writer, 'this configuration is written directly');
  a[PINO_METHOD[level]]({ event_id: EVENT.id, event: EVENT.metadata }, EVENT.message);
  writer.write(level, EVENT.id, EVENT.metadata, canonicalJson(EVENT.metadata)!, EVENT.message);
  await nextTurn();
  const strip = (lines: string[]) => lines.map((l) => {
    assert.ok(l.endsWith(options.crlf ? '\r\n' : '\n'), 'one line, terminated as pino terminates it');
    const o = JSON.parse(l) as Record<string, unknown>;
    if (options.timestamp !== false) assert.equal(typeof o.time, 'number');
    delete o.time;
    return o;
  });
  return { pino: strip(viaPino.lines), direct: strip(direct.lines) };
}

describe('event lines built without pino', () => {
  const configs: [string, LoggerOptions, Record<string, unknown>?, object?][] = [
    ['pino defaults', {}],
    ['a name and another level', { name: 'vigil', level: 'debug' }],
    ['no base bindings and no timestamp', { base: null, timestamp: false }],
    ['another message key and CRLF', { messageKey: 'message', crlf: true }],
    ['level labels instead of numbers', { formatters: { level: (label) => ({ level: label }) } }],
    ['serializers for other keys', { serializers: { user: () => 'x' } }],
    ['child bindings and a message prefix', {}, { component: 'audit', region: 'eu' }, { msgPrefix: '[audit] ' }],
  ];
  for (const [name, options, child, childOptions] of configs) {
    it(`writes what pino writes: ${name}`, async () => {
      for (const level of ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as Level[]) {
        const r = await both(options, level, child, childOptions);
        assert.deepEqual(r.direct, r.pino, level);
        if (level !== 'DEBUG') assert.equal(r.pino.length, 1, level);
      }
    });
  }

  it('leaves to pino every configuration that changes its output', () => {
    const refused: LoggerOptions[] = [
      { redact: ['event.task_id'] },
      { mixin: () => ({ extra: 1 }) },
      { formatters: { log: (o) => ({ wrapped: o }) } },
      { hooks: { logMethod(args, method) { method.apply(this, args); } } },
      { hooks: { streamWrite: (s) => s } },
      { serializers: { event: () => 'hidden' } },
      { serializers: { event_id: () => 'hidden' } },
      { nestedKey: 'payload' },
    ];
    for (const options of refused) assert.equal(directLines(pino(options, capture().stream).child({ component: 'audit' })), null, JSON.stringify(Object.keys(options)));
    // A multistream needs each line's level and object: it goes through pino too.
    assert.equal(directLines(pino({}, pino.multistream([{ stream: capture().stream }]))), null);
  });

  it('honours the level in force at each line, and traced serialisation goes through pino, after the lines before it', async () => {
    const out = capture();
    const logger = pino({ level: 'warn' }, out.stream);
    const writer = directLines(logger)!;
    writer.write('INFO', EVENT.id, EVENT.metadata, canonicalJson(EVENT.metadata)!, 'dropped');
    logger.level = 'info';
    writer.write('INFO', EVENT.id, EVENT.metadata, canonicalJson(EVENT.metadata)!, 'kept');
    await nextTurn();
    assert.deepEqual(out.lines.map((l) => JSON.parse(l).msg), ['kept']);
    writer.write('INFO', EVENT.id, EVENT.metadata, canonicalJson(EVENT.metadata)!, 'before the traced one');
    const seen: unknown[] = [];
    const onStart = (m: unknown) => seen.push(m);
    subscribe('tracing:pino_asJson:start', onStart);
    try {
      writer.write('INFO', EVENT.id, EVENT.metadata, canonicalJson(EVENT.metadata)!, 'traced');
    } finally {
      unsubscribe('tracing:pino_asJson:start', onStart);
    }
    assert.equal(seen.length, 1, 'pino serialised the traced line');
    await nextTurn();
    const msgs = out.lines.join('').trim().split('\n').map((l) => JSON.parse(l).msg);
    assert.deepEqual(msgs, ['kept', 'before the traced one', 'traced']);
  });

  it('writes the lines of one stretch of code together, in order, after it', async () => {
    const out = capture();
    const writer = directLines(pino({}, out.stream))!;
    for (let i = 0; i < 500; i++) writer.write('INFO', EVENT.id, EVENT.metadata, canonicalJson(EVENT.metadata)!, `line ${i}`);
    const during = out.lines.length;
    await nextTurn();
    const msgs = out.lines.join('').trim().split('\n').map((l) => JSON.parse(l).msg);
    assert.deepEqual(msgs, Array.from({ length: 500 }, (_, i) => `line ${i}`));
    assert.ok(during > 0 && out.lines.length < 100, `handed over in ${out.lines.length} writes of up to 16 KiB, ${during} of them during the stretch`);
  });

  it('writes the lines of a process that exits in the middle of a stretch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-lines-'));
    try {
      const script = [
        "import pino from 'pino';",
        "import { createAuditLogger } from './src/index.ts';",
        `const audit = createAuditLogger({ dataDir: ${JSON.stringify(dir)}, logger: pino(pino.destination({ dest: 1, sync: false })) });`,
        "for (let i = 0; i < 3; i++) audit.logTaskCreated({ task_id: 'task_' + i, task_type: 'exit', created_by: 'u' });",
        'process.exit(0);',
      ].join('\n');
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: process.cwd(), timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const tasks = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event?: { task_id?: string } }).filter((l) => l.event).map((l) => l.event!.task_id);
      assert.deepEqual(tasks, ['task_0', 'task_1', 'task_2']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
