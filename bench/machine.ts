/** The machine a benchmark ran on, printed with its figures. */
import os from 'node:os';

export function machine(extra: Record<string, string> = {}): string {
  const cpus = os.cpus();
  const parts = [
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    `${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM`,
    `${os.type()} ${os.release()}`,
    `Node.js ${process.version}`,
    ...Object.entries(extra).map(([k, v]) => `${k} ${v}`),
  ];
  return parts.join(', ');
}
