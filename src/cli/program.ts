/** The `vigil` command line, one file per command; `run` is what the binary and the tests call. */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { KeyNotFoundError } from '../http/apiKeys.js';
import { StoreConfigError } from '../store/store.js';
import { CliError, processIo, type CliIo } from './io.js';
import { registerExport } from './export.js';
import { registerDemo } from './demo.js';
import { registerInterventions } from './interventions.js';
import { registerSilences } from './silences.js';
import { registerKeys } from './keys.js';
import { registerMigrate } from './migrate.js';
import { registerQuery } from './query.js';
import { registerServe } from './serve.js';
import { registerTail } from './tail.js';
import { registerWorker } from './worker.js';
import { registerDeliveries } from './deliveries.js';
import { registerNotify } from './notify.js';
import { registerUsers } from './users.js';
import { registerTrust } from './trust.js';

export const VERSION = '0.1.0';

export function createProgram(io: CliIo): Command {
  const program = new Command('vigil')
    .description('Vigil: audit trail and human-intervention alerting for AI-agent platforms')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  registerServe(program, io);
  registerWorker(program, io);
  registerDeliveries(program, io);
  registerNotify(program, io);
  registerMigrate(program, io);
  registerKeys(program, io);
  registerUsers(program, io);
  registerQuery(program, io);
  registerTail(program, io);
  registerExport(program, io);
  registerDemo(program, io);
  registerInterventions(program, io);
  registerSilences(program, io);
  registerTrust(program, io);
  return program;
}

/** Runs the CLI with `argv` (without `node vigil`); resolves the exit code. */
export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError) {
      io.stderr(`vigil: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError || err instanceof StoreConfigError || err instanceof KeyNotFoundError) {
      io.stderr(`vigil: ${err.message}\n`);
      return 1;
    }
    io.stderr(`vigil: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}
