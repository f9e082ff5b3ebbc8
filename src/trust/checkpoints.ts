/**
 * Signed checkpoints: statements about the chain, signed with Ed25519 so that a copy kept outside
 * the database (`vigil checkpoint --export FILE`, or `trust.checkpoint_export_file`) proves what the
 * chain held even if the database, its checkpoints table included, is rewritten later.
 *
 * - `checkpoint`: the chain head — the row at `chain_pos` (with `seq`) had hash `hash`.
 * - `anchor`: retention removed the rows at positions `from_pos`..`chain_pos`; `hash` is the hash of
 *   the last of them, from which the chain goes on (src/trust/retention.ts).
 *
 * The signing key is a PKCS#8 PEM file, `checkpoint-key.pem` in the data directory unless
 * configured; it is made (mode 0600) on first use. Each checkpoint carries its public key, and
 * `vigil verify --public-key` pins the ones to trust.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Queryable, Store } from '../store/store.js';

export const CHECKPOINT_KEY_FILE = 'checkpoint-key.pem';
/** Defaults, with units. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 3_600_000; // one hour

export type CheckpointKind = 'checkpoint' | 'anchor';

/** A checkpoint as stored, exported (one JSON object per line) and verified. */
export interface Checkpoint {
  kind: CheckpointKind;
  /** First removed position (anchors only). */
  from_pos: number | null;
  chain_pos: number;
  /** The seq of the row at chain_pos (checkpoints; null for anchors and an empty chain). */
  seq: number | null;
  /** Hex. */
  hash: string;
  created_at: string;
  key_id: string;
  /** SPKI DER, base64. */
  public_key: string;
  /** Base64. */
  signature: string;
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: string;
  keyId: string;
  path: string;
}

export function keyIdOf(publicKeyB64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyB64, 'base64')).digest('hex').slice(0, 16);
}

/** Reads the signing key, making it (0600, directories as needed) when the file does not exist. */
export function loadSigningKey(path: string): SigningKey {
  let pem: string;
  if (existsSync(path)) {
    pem = readFileSync(path, 'utf8');
  } else {
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`the checkpoint key ${path} is not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the checkpoint key ${path} must be an Ed25519 key, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), path };
}

export function defaultKeyPath(dataDir: string): string {
  return join(dataDir, CHECKPOINT_KEY_FILE);
}

/** The bytes a checkpoint's signature covers. */
export function signedText(c: Pick<Checkpoint, 'kind' | 'from_pos' | 'chain_pos' | 'seq' | 'hash' | 'created_at'>): string {
  return ['vigil-checkpoint/v1', c.kind, c.from_pos ?? '', c.chain_pos, c.seq ?? '', c.hash, c.created_at].join('\n');
}

export function signCheckpoint(key: SigningKey, c: Omit<Checkpoint, 'key_id' | 'public_key' | 'signature'>): Checkpoint {
  const signature = sign(null, Buffer.from(signedText(c)), key.privateKey).toString('base64');
  return { ...c, key_id: key.keyId, public_key: key.publicKey, signature };
}

/** Whether the signature holds for the checkpoint's own public key (and key_id matches it). */
export function signatureValid(c: Checkpoint): boolean {
  try {
    if (keyIdOf(c.public_key) !== c.key_id) return false;
    const pub = createPublicKey({ key: Buffer.from(c.public_key, 'base64'), format: 'der', type: 'spki' });
    return verify(null, Buffer.from(signedText(c)), pub, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

interface CheckpointRow {
  kind: CheckpointKind;
  from_pos: string | null;
  chain_pos: string;
  seq: string | null;
  hash: Uint8Array;
  created_at: Date;
  key_id: string;
  public_key: string;
  signature: string;
}

function fromRow(r: CheckpointRow): Checkpoint {
  return {
    kind: r.kind,
    from_pos: r.from_pos === null ? null : Number(r.from_pos),
    chain_pos: Number(r.chain_pos),
    seq: r.seq === null ? null : Number(r.seq),
    hash: Buffer.from(r.hash).toString('hex'),
    created_at: new Date(r.created_at).toISOString(),
    key_id: r.key_id,
    public_key: r.public_key,
    signature: r.signature,
  };
}

export async function insertCheckpoint(db: Queryable, c: Checkpoint): Promise<void> {
  await db.query(
    `INSERT INTO vigil_checkpoints (kind, from_pos, chain_pos, seq, hash, created_at, key_id, public_key, signature)
     VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6, $7, $8, $9)`,
    [c.kind, c.from_pos, c.chain_pos, c.seq, c.hash, c.created_at, c.key_id, c.public_key, c.signature],
  );
}

export async function listCheckpoints(db: Queryable, kind?: CheckpointKind): Promise<Checkpoint[]> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT kind, from_pos, chain_pos, seq, hash, created_at, key_id, public_key, signature FROM vigil_checkpoints
      WHERE $1::text IS NULL OR kind = $1 ORDER BY id`,
    [kind ?? null],
  );
  return rows.map(fromRow);
}

export interface ChainState {
  pos: number;
  hash: string;
  seq: number;
  legacySeq: number;
}

export async function chainState(db: Queryable): Promise<ChainState> {
  const { rows } = await db.query<{ pos: string; hash: Uint8Array; seq: string | null; legacy_seq: string }>('SELECT pos, hash, seq, legacy_seq FROM vigil_chain');
  const r = rows[0];
  if (r === undefined) throw new Error('the chain head (vigil_chain) is missing: run vigil migrate');
  return { pos: Number(r.pos), hash: Buffer.from(r.hash).toString('hex'), seq: Number(r.seq ?? 0), legacySeq: Number(r.legacy_seq) };
}

/**
 * Signs the chain head now. Returns null when the head has not moved since the last checkpoint
 * (unless `force`).
 */
export async function createCheckpoint(store: Store, key: SigningKey, opts: { force?: boolean; now?: Date } = {}): Promise<Checkpoint | null> {
  return store.transaction(async (tx) => {
    const head = await chainState(tx);
    if (!opts.force) {
      const { rows } = await tx.query<{ chain_pos: string }>(`SELECT chain_pos FROM vigil_checkpoints WHERE kind = 'checkpoint' ORDER BY id DESC LIMIT 1`);
      if (rows[0] !== undefined && Number(rows[0].chain_pos) === head.pos) return null;
    }
    const c = signCheckpoint(key, {
      kind: 'checkpoint',
      from_pos: null,
      chain_pos: head.pos,
      seq: head.pos === 0 ? null : head.seq,
      hash: head.hash,
      created_at: (opts.now ?? new Date()).toISOString(),
    });
    await insertCheckpoint(tx, c);
    return c;
  });
}

/** One JSON object per line. */
export function formatCheckpoints(list: readonly Checkpoint[]): string {
  return list.map((c) => JSON.stringify(c) + '\n').join('');
}

export function appendCheckpoints(file: string, list: readonly Checkpoint[]): void {
  if (list.length === 0) return;
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, formatCheckpoints(list));
}

/** Reads an exported checkpoint file; a malformed line is an error naming its number. */
export function readCheckpointFile(file: string): Checkpoint[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the checkpoint file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const out: Checkpoint[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let c: Checkpoint;
    try {
      c = JSON.parse(line) as Checkpoint;
    } catch {
      throw new Error(`${file}:${i + 1}: not a JSON checkpoint`);
    }
    const ok =
      (c.kind === 'checkpoint' || c.kind === 'anchor') &&
      Number.isInteger(c.chain_pos) &&
      typeof c.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(c.hash) &&
      typeof c.created_at === 'string' &&
      typeof c.public_key === 'string' &&
      typeof c.signature === 'string' &&
      typeof c.key_id === 'string';
    if (!ok) throw new Error(`${file}:${i + 1}: not a Vigil checkpoint (kind, chain_pos, hash, created_at, key_id, public_key, signature)`);
    out.push({ ...c, from_pos: c.from_pos ?? null, seq: c.seq ?? null });
  }
  return out;
}
