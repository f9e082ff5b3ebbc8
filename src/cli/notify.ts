/**
 * `vigil notify test --channel <name> [--target <name>]`: sends a test notification through a
 * configured channel now and prints what the provider answered (outcome, status, masked target,
 * duration). Exit code 1 when any target did not accept it.
 */
import { Option, type Command } from 'commander';
import { INTERVENTION_LEVELS, type InterventionLevelName } from '../channels/levels.js';
import { buildDirectory } from '../outbox/channelDirectory.js';
import { sendTest, TestSendError, type TestSendResult } from '../outbox/testSend.js';
import { CliError, type CliIo } from './io.js';
import { configFrom } from './options.js';

function line(r: TestSendResult): string {
  let s = `${r.channel} ${r.target} ${r.target_masked}: ${r.outcome}`;
  s += r.status === null ? '' : ` (status ${r.status})`;
  s += ` in ${r.duration_ms} ms`;
  if (r.provider_id) s += `, provider id ${r.provider_id}`;
  if (r.retry_after_ms !== null) s += `, retry after ${r.retry_after_ms} ms`;
  if (r.target_gone) s += ', the target is gone';
  if (r.error) s += `\n  ${r.error}`;
  return s + '\n';
}

export function registerNotify(program: Command, io: CliIo): void {
  const notify = program.command('notify').description('notification channels');
  notify
    .command('test')
    .description('send a test notification through a channel now and print what the provider answered (exit code 1 if it was not accepted)')
    .requiredOption('--channel <name>', 'the channel: discord, slack, email, sms, webhook, push, or a receiver')
    .option('--target <name>', 'one target of the channel, by name (default: every target)')
    .addOption(new Option('--level <level>', 'the level of the test notification').choices([...INTERVENTION_LEVELS]).default('INFO'))
    .option('--config <file>', 'config file (default: vigil.config.yaml, .yml or .json in the current directory; also VIGIL_CONFIG)')
    .option('--json', 'print JSON')
    .action(async (flags: { channel: string; target?: string; level: InterventionLevelName; config?: string; json?: boolean }) => {
      const cfg = configFrom({ config: flags.config }, io);
      const dir = buildDirectory({ sections: cfg.file.sections, env: io.env ?? process.env });
      let results: TestSendResult[];
      try {
        results = await sendTest(dir, flags.channel, { target: flags.target, level: flags.level });
      } catch (err) {
        if (err instanceof TestSendError) throw new CliError(err.message);
        throw err;
      } finally {
        await dir.close();
      }
      io.stdout(flags.json ? JSON.stringify(results, null, 2) + '\n' : results.map(line).join(''));
      const failed = results.filter((r) => r.outcome !== 'ok').length;
      if (failed > 0) throw new CliError(`${failed} of ${results.length} target${results.length === 1 ? '' : 's'} did not accept the test notification`);
    });
}
