/** Rendering exported events: NDJSON (one JSON object per line) or CSV (RFC 4180, with a header). */
import type { StoredEvent } from '../events/queries.js';

export type ExportFormat = 'ndjson' | 'csv';

export const CONTENT_TYPE: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

export const CSV_HEADER = 'id,timestamp,level,event_type,message,log_metadata\r\n';

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function renderBatch(format: ExportFormat, events: readonly StoredEvent[]): string {
  let out = '';
  if (format === 'ndjson') {
    for (const e of events) out += JSON.stringify(e) + '\n';
    return out;
  }
  for (const e of events) {
    const type = typeof e.log_metadata.event_type === 'string' ? e.log_metadata.event_type : '';
    out += [e.id, e.timestamp, e.level, csvField(type), csvField(e.message), csvField(JSON.stringify(e.log_metadata))].join(',') + '\r\n';
  }
  return out;
}

/** The export as text chunks, one per batch read: what the HTTP route streams and `vigil export` writes. */
export async function* renderExport(format: ExportFormat, batches: AsyncIterable<StoredEvent[]>, onBatch?: (n: number) => void): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  for await (const events of batches) {
    onBatch?.(events.length);
    yield renderBatch(format, events);
  }
}
