/** `vigil silences add|list|expire`: silences, through the running server or in the store. */
import type { Command } from 'commander';
import type { Matcher } from '../interventions/matchers.js';
import type { Silence } from '../interventions/silences.js';
import { actorOf, BY_HELP, withInterventions } from './interventions.js';
import { CliError, type CliIo } from './io.js';
import { addStoreOptions } from './options.js';
import { table } from './table.js';

const OPS: [string, Matcher['op']][] = [
  ['!=', 'ne'],
  ['=~', 'regex'],
  ['>=', 'gte'],
  ['<=', 'lte'],
  ['=', 'eq'],
];

/** `reasons=BUDGET_EXCEEDED`, `level<=WARNING`, `task_id!=t1`, `title=~Budget.*`, `context.team=a|b` (in), `task_id` (exists). */
export function parseMatcher(text: string): Matcher {
  for (const [sym, op] of OPS) {
    const at = text.indexOf(sym);
    if (at <= 0) continue;
    const field = text.slice(0, at).trim();
    const value = text.slice(at + sym.length);
    if (op === 'eq' && value.includes('|')) return { field, op: 'in', value: value.split('|') };
    return { field, op, value };
  }
  if (/^[\w.]+$/.test(text)) return { field: text, op: 'exists' };
  throw new CliError(`--match: expected FIELD=VALUE (or != =~ >= <=, a|b for any of, FIELD alone for exists), got "${text}"`);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function silenceRows(list: Silence[]): string[][] {
  const show = (m: Matcher) => `${m.field}${m.op === 'exists' ? '' : ` ${m.op ?? 'eq'} ${JSON.stringify(m.value)}`}`;
  return list.map((s) => [s.id, s.starts_at, s.ends_at, s.created_by, s.matchers.map(show).join(' and '), s.comment]);
}

export function registerSilences(program: Command, io: CliIo): void {
  const cmd = program.command('silences').description('silences: interventions they match are recorded but not sent');

  addStoreOptions(
    cmd
      .command('add')
      .description('add a silence: every --match must hold; it lasts --duration or until --ends-at (at most 90 days)')
      .requiredOption('--match <matcher>', 'FIELD=VALUE, FIELD!=VALUE, FIELD=~REGEX, level>=LEVEL, level<=LEVEL, FIELD=a|b; fields: level, reasons, task_id, dedupe_key, source, title, context.<path> (repeatable)', collect)
      .option('--duration <d>', 'how long: 30m, 2h, 1d')
      .option('--ends-at <time>', 'when it ends (ISO 8601 with a zone), instead of --duration')
      .option('--starts-at <time>', 'when it starts (ISO 8601 with a zone; default now)')
      .option('--comment <text>', 'why')
      .option('--by <name>', BY_HELP)
      .option('--json', 'print JSON'),
  ).action(async (flags: Record<string, string> & { match: string[] }) => {
    if (flags.duration === undefined && flags.endsAt === undefined) throw new CliError('give --duration or --ends-at');
    const matchers = flags.match.map(parseMatcher);
    const s = await withInterventions(flags, io, 'vigil silences add', (b) =>
      b.addSilence({ matchers, duration: flags.duration, ends_at: flags.endsAt, starts_at: flags.startsAt, comment: flags.comment }, actorOf(flags)),
    );
    io.stdout(flags.json ? JSON.stringify(s, null, 2) + '\n' : `Silence ${s.id} added, from ${s.starts_at} to ${s.ends_at}.\n`);
  });

  addStoreOptions(
    cmd
      .command('list')
      .description('silences not yet ended (in force or pending), newest first')
      .option('--all', 'include ended silences')
      .option('--active', 'only those in force now')
      .option('--json', 'print JSON'),
  ).action(async (flags: Record<string, string>) => {
    const list = await withInterventions(flags, io, 'vigil silences list', (b) => b.listSilences({ all: Boolean(flags.all), active: Boolean(flags.active) }));
    if (flags.json) io.stdout(JSON.stringify(list, null, 2) + '\n');
    else io.stdout(list.length === 0 ? 'no silences\n' : table(['ID', 'STARTS', 'ENDS', 'BY', 'MATCHERS', 'COMMENT'], silenceRows(list), [36, 24, 24, 24, 80, 60]));
  });

  addStoreOptions(
    cmd.command('expire').description('end a silence now').argument('<id>', 'the silence id').option('--by <name>', BY_HELP).option('--json', 'print JSON'),
  ).action(async (id: string, flags: Record<string, string>) => {
    const s = await withInterventions(flags, io, 'vigil silences expire', (b) => b.expireSilence(id, actorOf(flags)));
    io.stdout(flags.json ? JSON.stringify(s, null, 2) + '\n' : `Silence ${s.id} expired at ${s.ends_at}.\n`);
  });
}
