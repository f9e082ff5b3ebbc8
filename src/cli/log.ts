/** The CLI's pino logger: JSON lines on standard error, so standard output holds only results. */
import pino, { type Logger } from 'pino';

export function cliLogger(level: string): Logger {
  return pino({ name: 'vigil', level }, pino.destination({ dest: 2, sync: true }));
}

/** An AbortSignal that fires on SIGINT or SIGTERM (a second signal exits at once). */
export function stopSignal(given?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (given) return { signal: given, dispose: () => undefined };
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`vigil: ${sig} again, exiting now\n`);
      process.exit(1);
    }
    ac.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}

export function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
