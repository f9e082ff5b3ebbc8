/**
 * An exclusive lock on the embedded data directory.
 *
 * PGlite has no lock of its own: a second process opening the same directory corrupts it. The
 * lock is a file created with O_EXCL holding the holder's pid; a lock whose process is gone (it
 * was killed) is taken over, under a short-lived takeover file so two newcomers cannot both take it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreConfigError } from './store.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  command: string;
  started_at: string;
  /** The HTTP address of a running server holding the store, for commands to go through it. */
  url?: string;
}

export const LOCK_FILE = 'vigil.lock';
/** A takeover file older than this was left by a process that died mid-takeover. */
const TAKEOVER_STALE_MS = 10_000;

export class DataDirLockedError extends StoreConfigError {
  constructor(
    readonly dir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `the embedded database in ${dir} is in use by process ${holder.pid} (${holder.command}, since ${holder.started_at})` +
        (holder.url ? `; it serves ${holder.url}` : '') +
        '. Stop that process, or use its HTTP API, or point this one at another --data directory.',
    );
    this.name = 'DataDirLockedError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(dir: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockInfo;
  } catch {
    return null;
  }
}

function tryCreate(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function isStale(holder: LockInfo | null): boolean {
  return holder !== null && holder.hostname === hostname() && holder.pid !== process.pid && !alive(holder.pid);
}

export class DataDirLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(
    readonly dir: string,
    readonly info: LockInfo,
  ) {
    process.once('exit', this.onExit);
  }

  /** Takes the lock or throws DataDirLockedError naming the holder. Synchronous on purpose. */
  static acquire(dir: string, command: string, url?: string): DataDirLock {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, LOCK_FILE);
    const info: LockInfo = { pid: process.pid, hostname: hostname(), command, started_at: new Date().toISOString(), ...(url ? { url } : {}) };
    const content = JSON.stringify(info) + '\n';
    for (let attempt = 0; attempt < 50; attempt++) {
      if (tryCreate(path, content)) return new DataDirLock(dir, info);
      const holder = readLock(dir);
      if (holder === null) {
        // Being written right now by another process, or left empty by one killed mid-write.
        const age = safeAge(path);
        if (age !== null && age > TAKEOVER_STALE_MS) safeUnlink(path);
        else sleepSync(20);
        continue;
      }
      if (!isStale(holder)) throw new DataDirLockedError(dir, holder);
      takeOver(dir, path, holder);
    }
    throw new StoreConfigError(`could not lock the embedded database in ${dir}: the lock file kept changing`);
  }

  /** Records the server's address in the lock file, for other commands to find it. */
  setUrl(url: string): void {
    this.info.url = url;
    const path = join(this.dir, LOCK_FILE);
    const fd = openSync(path, 'r+');
    try {
      const buf = Buffer.from(JSON.stringify(this.info) + '\n');
      writeSync(fd, buf, 0, buf.length, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    const holder = readLock(this.dir);
    if (holder?.pid === process.pid) safeUnlink(join(this.dir, LOCK_FILE));
  }
}

function takeOver(dir: string, path: string, stale: LockInfo): void {
  const takeover = path + '.takeover';
  if (!tryCreate(takeover, String(process.pid))) {
    const age = safeAge(takeover);
    if (age !== null && age > TAKEOVER_STALE_MS) safeUnlink(takeover);
    else sleepSync(20);
    return;
  }
  try {
    const now = readLock(dir);
    // Only remove the lock if it is still the stale one we saw.
    if (now !== null && now.pid === stale.pid && now.started_at === stale.started_at) safeUnlink(path);
  } finally {
    safeUnlink(takeover);
  }
}

function safeAge(path: string): number | null {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
