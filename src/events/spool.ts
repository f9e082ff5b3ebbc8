/**
 * The on-disk spool: batches that could not be committed yet, one file per batch, named so that
 * lexical order is acceptance order (`<uuidv7>-<count>.ndjson`). A file is written to `.tmp`,
 * fsync'd, then renamed, so a crash never leaves a half-written batch where replay would read it.
 * Rows the database refused for their data are kept in `rejected/` (never silently dropped).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename, unlink, appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventRow } from './types.js';

export interface SpoolFile {
  name: string;
  count: number;
  bytes: number;
}

const FILE_PATTERN = /^([0-9a-f-]{36})-(\d+)\.ndjson$/;

function encode(rows: readonly EventRow[]): string {
  let s = '';
  for (const r of rows) {
    // metaJson repeats metadata: it is made again from it when the batch is read back.
    if (r.metaJson === undefined) s += JSON.stringify(r) + '\n';
    else {
      const { metaJson: _repeat, ...row } = r;
      s += JSON.stringify(row) + '\n';
    }
  }
  return s;
}

export class Spool {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  fileName(key: string, count: number): string {
    return `${key}-${count}.ndjson`;
  }

  /** Spooled batches in replay order; removes leftovers of interrupted writes. */
  list(): SpoolFile[] {
    const files: SpoolFile[] = [];
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith('.tmp')) {
        try {
          unlinkSync(join(this.dir, name));
        } catch {
          /* another process's, or gone */
        }
        continue;
      }
      const m = FILE_PATTERN.exec(name);
      if (!m) continue;
      let bytes: number;
      try {
        bytes = statSync(join(this.dir, name)).size;
      } catch {
        continue;
      }
      files.push({ name, count: Number(m[2]), bytes });
    }
    return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async write(key: string, rows: readonly EventRow[]): Promise<SpoolFile> {
    const name = this.fileName(key, rows.length);
    const data = encode(rows);
    const tmp = join(this.dir, name + '.tmp');
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
    return { name, count: rows.length, bytes: Buffer.byteLength(data) };
  }

  /** The same, synchronously: for the process's `exit` event, where nothing async runs. */
  writeSync(key: string, rows: readonly EventRow[]): SpoolFile {
    const name = this.fileName(key, rows.length);
    const data = encode(rows);
    const tmp = join(this.dir, name + '.tmp');
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
    return { name, count: rows.length, bytes: Buffer.byteLength(data) };
  }

  async read(name: string): Promise<EventRow[]> {
    const text = await readFile(join(this.dir, name), 'utf8');
    const rows: EventRow[] = [];
    for (const line of text.split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as EventRow);
    return rows;
  }

  async remove(name: string): Promise<void> {
    try {
      await unlink(join(this.dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Keeps rows the database refused, with the reason, for an operator to inspect. */
  async reject(rows: readonly { row: EventRow; error: string }[]): Promise<void> {
    const dir = join(this.dir, 'rejected');
    await mkdir(dir, { recursive: true });
    await appendFile(join(dir, 'rejected.ndjson'), rows.map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 });
  }
}
