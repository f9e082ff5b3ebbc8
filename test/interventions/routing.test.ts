import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ROUTES, route, validateRoutes, type Route } from '../../src/interventions/routing.js';
import { matches, type AlertView } from '../../src/interventions/matchers.js';
import { silencedBy, validateSilence, type Silence } from '../../src/interventions/silences.js';
import { ConfigError } from '../../src/rules/thresholds.js';
import type { InterventionLevel } from '../../src/interventions/levels.js';

const view = (level: InterventionLevel, over: Partial<AlertView> = {}): AlertView => ({
  level, reasons: ['LOW_CONFIDENCE'], task_id: 't1', dedupe_key: 'task:t1', source: 'check', title: 'x', context: {}, ...over,
});

describe('routing table', () => {
  it('the default table is the original channel choices for every level', () => {
    const expected: Record<InterventionLevel, string[]> = {
      INFO: ['slack', 'websocket', 'push', 'discord', 'in_app'],
      WARNING: ['slack', 'websocket', 'push', 'discord', 'in_app'],
      URGENT: ['email', 'slack', 'websocket', 'push', 'discord', 'in_app'],
      CRITICAL: ['email', 'slack', 'sms', 'websocket', 'push', 'discord', 'in_app'],
    };
    for (const [level, channels] of Object.entries(expected)) {
      assert.deepEqual(route(view(level as InterventionLevel), DEFAULT_ROUTES).channels, channels, level);
    }
  });

  it('routes can match reason codes and fields (budget alerts to the finance webhook)', () => {
    const table: Route[] = [
      ...DEFAULT_ROUTES,
      { name: 'finance', channels: ['finance_webhook', 'email'], match: { reasons: ['BUDGET_EXCEEDED'] } },
      { name: 'legal_team', channels: ['legal_slack'], match: { matchers: [{ field: 'context.team', op: 'in', value: ['legal', 'compliance'] }, { field: 'level', op: 'gte', value: 'WARNING' }] } },
    ];
    const budget = route(view('WARNING', { reasons: ['BUDGET_EXCEEDED'], task_id: null }), table);
    assert.deepEqual(budget.channels, ['slack', 'websocket', 'push', 'discord', 'in_app', 'finance_webhook', 'email']);
    assert.deepEqual(budget.routes, ['slack', 'websocket', 'push', 'discord', 'in_app', 'finance']);
    assert.ok(!route(view('WARNING'), table).channels.includes('finance_webhook'));
    assert.ok(route(view('WARNING', { context: { team: 'legal' } }), table).channels.includes('legal_slack'));
    assert.ok(!route(view('INFO', { context: { team: 'legal' } }), table).channels.includes('legal_slack'));
    assert.ok(!route(view('URGENT', { context: { team: 'ops' } }), table).channels.includes('legal_slack'));
  });

  it('matchers: operators, reasons as a list, nested context', () => {
    const v = view('URGENT', { reasons: ['ERROR_THRESHOLD', 'COMPLIANCE_CHECK'], context: { a: { b: 3 } } });
    assert.ok(matches(v, { field: 'reasons', value: 'COMPLIANCE_CHECK' }));
    assert.ok(!matches(v, { field: 'reasons', op: 'ne', value: 'COMPLIANCE_CHECK' }));
    assert.ok(matches(v, { field: 'level', op: 'lte', value: 'URGENT' }));
    assert.ok(!matches(v, { field: 'level', op: 'gte', value: 'CRITICAL' }));
    assert.ok(matches(v, { field: 'dedupe_key', op: 'regex', value: 'task:.*' }));
    assert.ok(!matches(v, { field: 'dedupe_key', op: 'regex', value: 'task' }), 'regexes are anchored');
    assert.ok(matches(v, { field: 'context.a.b', op: 'gte', value: 3 }));
    assert.ok(!matches(v, { field: 'context.a.c', op: 'exists' }));
  });

  it('refuses a bad table with every problem named', () => {
    assert.throws(
      () => validateRoutes([{ name: 'Email', channels: [] }, { name: 'x', channels: ['y'], match: { min_level: 'LOUD', matchers: [{ field: 'colour', value: 1 }] } }]),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'routes[0].name: expected a lower-case name, got "Email"',
          'routes[0].channels: expected a non-empty list of channel names',
          'routes[1].match.min_level: expected one of INFO, WARNING, URGENT, CRITICAL, got "LOUD"',
          'routes[1].match.matchers[0].field: expected one of level, reasons, task_id, dedupe_key, source, title or context.<path>, got "colour"',
        ]);
        return true;
      },
    );
  });
});

describe('silences', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const silence = (id: string, matchers: Silence['matchers']): Silence => ({
    id, matchers, starts_at: '', ends_at: '', created_by: 'x', comment: '', created_at: '', expired_by: null, expired_at: null,
  });

  it('mute the interventions all their matchers select', () => {
    const ss = [silence('a', [{ field: 'task_id', value: 't1' }]), silence('b', [{ field: 'reasons', value: 'BUDGET_EXCEEDED' }, { field: 'level', op: 'lte', value: 'WARNING' }])];
    assert.deepEqual(silencedBy(view('CRITICAL'), ss), ['a']);
    assert.deepEqual(silencedBy(view('WARNING', { task_id: null, reasons: ['BUDGET_EXCEEDED'] }), ss), ['b']);
    assert.deepEqual(silencedBy(view('URGENT', { task_id: null, reasons: ['BUDGET_EXCEEDED'] }), ss), []);
  });

  it('are validated: matchers required, a time range in the future, bounded', () => {
    const ok = validateSilence({ matchers: [{ field: 'task_id', value: 't1' }], duration: '2h', created_by: 'ops' }, now);
    assert.equal(ok.starts, now);
    assert.equal(ok.ends, now + 7_200_000);
    assert.throws(
      () => validateSilence({ matchers: [], ends_at: '2025-01-01T00:00:00Z', created_by: '' }, now),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'matchers: at least one matcher is required (a silence of everything is refused)',
          'created_by: required',
          'ends_at: must be after starts_at',
          'ends_at: already in the past',
        ]);
        return true;
      },
    );
    assert.throws(() => validateSilence({ matchers: [{ field: 'level', value: 'INFO' }], duration: '365d', created_by: 'x' }, now), /at most 90 days/);
  });
});
