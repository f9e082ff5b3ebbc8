/**
 * Helpers for the proofs under failure (proofs.test.ts): `vigil worker` child processes, a peer
 * that accepts connections and never answers, ingest clients that keep posting batches with their
 * own ids, and counting stored events by id.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { uuidv7 } from '../../src/events/uuid7.js';
import type { Store } from '../../src/store/store.js';
import { http } from '../http/harness.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WorkerChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, and the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

/** Starts `vigil worker <args>` as a child process and waits for its banner. */
export function startWorker(args: string[]): Promise<WorkerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--log-level', 'warn', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const handle: WorkerChild = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: () => stopChild(child, exited),
  };
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/Outbox: worker \S+/.test(out)) resolve(handle);
    });
    void exited.then((code) => reject(new Error(`vigil worker exited (${code}) before starting:\n${out}\n${err}`)));
  });
}

/** SIGTERM a child and wait for its exit code; SIGKILL it if it has not exited after 15 s. */
export async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    return await exited;
  } finally {
    clearTimeout(t);
  }
}

/**
 * A provider that hangs: it accepts every connection, reads the request and never answers. It
 * counts connections and the requests it read.
 */
export class HangingPeer {
  private readonly sockets = new Set<net.Socket>();
  connections = 0;
  requests = 0;

  private constructor(
    private readonly server: net.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HangingPeer> {
    const box: { peer?: HangingPeer } = {};
    const server = net.createServer((socket) => {
      const peer = box.peer!;
      peer.connections++;
      peer.sockets.add(socket);
      socket.on('data', (d: Buffer) => (peer.requests += (d.toString('latin1').match(/^POST /gm) ?? []).length));
      socket.on('error', () => undefined);
      socket.on('close', () => peer.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    box.peer = new HangingPeer(server, `http://127.0.0.1:${port}`);
    return box.peer;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export type Batch = Record<string, unknown>[];

/** `n` valid task_created events with client-chosen ids. */
export function createdBatch(tag: string, n: number): Batch {
  return Array.from({ length: n }, (_, i) => ({ event_type: 'task_created', id: uuidv7(), task_id: `${tag}-${i}`, task_type: 'proof', created_by: 'proofs' }));
}

export interface IngestOutcome {
  /** Batches answered 200 with every result a success. */
  acked: Batch[];
  /** Batches whose request got no answer (connection reset or refused): maybe stored, maybe not. */
  unanswered: Batch[];
}

/**
 * `clients` concurrent clients post batches to `url` until their request fails (the server is
 * gone); `onAck` is called after every acknowledged batch with the total so far. Any answer other
 * than 200 with every result a success fails the test.
 */
export async function ingestUntilGone(url: string, key: string, opts: { clients: number; batchSize: number; onAck: (acked: number) => void }): Promise<IngestOutcome> {
  const out: IngestOutcome = { acked: [], unanswered: [] };
  const client = async (c: number) => {
    for (let i = 0; ; i++) {
      const batch = createdBatch(`kill-${c}-${i}`, opts.batchSize);
      let r;
      try {
        r = await http(`${url}/v1/events`, { key, json: { events: batch } });
      } catch {
        out.unanswered.push(batch);
        return;
      }
      assert.equal(r.status, 200, r.text);
      const results = r.body.results as { success: boolean; id: string }[];
      assert.deepEqual(
        results.map((x) => [x.success, x.id]),
        batch.map((e) => [true, e.id]),
      );
      out.acked.push(batch);
      opts.onAck(out.acked.length);
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  return out;
}

/** How many rows of `logs` each of these ids has (ids with none are absent from the map). */
export async function storedCounts(db: Pick<Store, 'query'>, ids: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; n: number }>('SELECT id::text AS id, count(*)::int AS n FROM logs WHERE id = ANY($1::uuid[]) GROUP BY id', [ids]);
  return new Map(rows.map((r) => [r.id, r.n]));
}

/** Asserts that every id is stored exactly once. */
export function assertEachOnce(counts: Map<string, number>, ids: readonly string[], what: string): void {
  const missing = ids.filter((id) => !counts.has(id));
  const twice = [...counts].filter(([, n]) => n !== 1);
  assert.deepEqual(missing, [], `${what}: every one is stored (${missing.length} of ${ids.length} missing)`);
  assert.deepEqual(twice, [], `${what}: none is stored twice`);
}

/**
 * Config sections for delivery proofs: a signed webhook and a Slack target (loopback allowed), a
 * stream rule opening an URGENT intervention at a task's first `task_failed`, and one route
 * sending every intervention to both channels.
 */
export function deliverySections(opts: {
  webhookUrl: string;
  secret: string;
  slackUrl: string;
  channels?: Record<string, unknown>;
  worker?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    channels: {
      allow_outbound: ['127.0.0.1'],
      webhook: { urls: [{ name: 'audit', url: opts.webhookUrl }], secret: opts.secret },
      slack: { webhook_urls: [{ name: 'team', url: opts.slackUrl }] },
      ...opts.channels,
    },
    worker: { poll_interval_ms: 50, unhealthy_after: 0, ...opts.worker },
    interventions: {
      rules: [
        {
          id: 'errors_per_task',
          event_type: 'task_failed',
          aggregate: 'count',
          group_by: 'task_id',
          tiers: [{ at: 1, level: 'URGENT' }],
          reason: 'ERROR_THRESHOLD',
          dedupe_key: 'task:{task_id}',
          title: 'Task {task_id} failed',
        },
      ],
      routes: [{ name: 'proof', channels: ['webhook', 'slack'] }],
    },
  };
}

/** A valid task_failed event with a client-chosen id. */
export function failed(task: string): Record<string, unknown> {
  return { event_type: 'task_failed', id: uuidv7(), task_id: task, error_message: 'proof: it failed' };
}
