import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RULES } from '../../src/rules/defaults.js';
import { parseDuration, validateRules } from '../../src/rules/ruleSchema.js';
import { compileRule, periodStart, renderTemplate } from '../../src/rules/compile.js';
import { ConfigError, DEFAULT_THRESHOLDS } from '../../src/rules/thresholds.js';
import { resolveInterventionConfig } from '../../src/interventions/config.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('rule schema', () => {
  it('accepts the three default rules, which are plain data', () => {
    assert.deepEqual(validateRules(JSON.parse(JSON.stringify(DEFAULT_RULES))), DEFAULT_RULES);
  });

  it('names every problem by its path', () => {
    const p = problems(() =>
      validateRules([
        { id: 'Bad Id', event_type: 'task_failed', aggregate: 'avg', tiers: [], reason: 'x', dedupe_key: 'k', colour: 1 },
        {
          id: 'ok_rule',
          event_type: 'model_called',
          aggregate: { sum: 'cost_usd' },
          window: 'fortnight',
          where: [{ field: 'provider', op: 'like', value: 'x' }, { field: 'cost_usd', op: 'gt', value: 'ten' }],
          tiers: [{ at: { threshold: 'budget', factor: -1 }, level: 'URGENT' }, { at: 5, level: 'WARNING' }, { at: 0, level: 'HIGH' }],
          reason: 'BUDGET',
        },
        { id: 'ok_rule', event_type: 'x', aggregate: 'count', tiers: [{ at: 1, level: 'INFO' }], reason: 'X', dedupe_key: 'k' },
      ]),
    );
    assert.deepEqual(p, [
      'rules[0].colour: unknown key (known: id, description, event_type, where, aggregate, window, group_by, tiers, reason, dedupe_key, title, message, task_field)',
      'rules[0].id: expected a lower-case name ([a-z][a-z0-9_]*), got "Bad Id"',
      'rules[0].reason: expected an upper-case reason code ([A-Z][A-Z0-9_]*), got "x"',
      'rules[0].aggregate: expected "count" or {sum: field}, got "avg"',
      'rules[0].tiers: expected a non-empty list of {at, level}',
      'rules[1].dedupe_key: required',
      'rules[1].where[0].op: expected one of eq, ne, in, gt, gte, lt, lte, exists, got "like"',
      'rules[1].where[1].value: expected a number for op "gt"',
      'rules[1].window: expected a duration (30s, 10m, 1h, 7d) or one of day, week, month, got "fortnight"',
      'rules[1].tiers[0].at.threshold: expected one of confidence_threshold, error_threshold, budget_threshold, got "budget"',
      'rules[1].tiers[0].at.factor: expected a positive number, got -1',
      'rules[1].tiers[1].level: tiers must rise in level, WARNING does not',
      'rules[1].tiers[2].at: expected a positive number, got 0',
      'rules[1].tiers[2].level: expected one of INFO, WARNING, URGENT, CRITICAL, got "HIGH"',
      'rules[2].id: duplicate rule id "ok_rule"',
    ]);
  });

  it('parses durations and calendar periods', () => {
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('0s'), null);
    assert.equal(parseDuration('ten minutes'), null);
    assert.equal(periodStart('month', Date.parse('2026-02-28T23:59:59Z')), '2026-02-01');
    assert.equal(periodStart('week', Date.parse('2026-01-04T12:00:00Z')), '2025-12-29', 'weeks start on Monday');
    assert.equal(periodStart('day', Date.parse('2026-01-04T12:00:00Z')), '2026-01-04');
  });

  it('compiles conditions, groups, values and tiers', () => {
    const rule = compileRule({
      id: 'gpt_spend',
      event_type: 'model_called',
      where: [{ field: 'provider', op: 'eq', value: 'openai' }, { field: 'tokens_used', op: 'gte', value: 100 }],
      aggregate: { sum: 'cost_usd' },
      group_by: 'model_name',
      tiers: [{ at: { threshold: 'budget_threshold', factor: 0.5 }, level: 'INFO' }, { at: 70, level: 'URGENT' }],
      reason: 'SPEND',
      dedupe_key: 'spend:{group}',
    });
    const row = (m: Record<string, unknown>) => ({ id: '0190a0a0-0000-7000-8000-000000000001', level: 'INFO' as const, message: '', time: 0, event_type: 'model_called', metadata: { event_type: 'model_called', ...m } });
    assert.deepEqual(rule.hit(row({ provider: 'openai', tokens_used: 100, cost_usd: 2.5, model_name: 'gpt-4' })), {
      rule_id: 'gpt_spend', event_id: '0190a0a0-0000-7000-8000-000000000001', group_key: 'gpt-4', bucket: '', at: 0, value: 2.5,
    });
    assert.equal(rule.hit(row({ provider: 'anthropic', tokens_used: 100, cost_usd: 1, model_name: 'x' })), null);
    assert.equal(rule.hit(row({ provider: 'openai', tokens_used: 99, cost_usd: 1, model_name: 'x' })), null);
    assert.equal(rule.hit(row({ provider: 'openai', tokens_used: 100, cost_usd: 1 })), null, 'no group value: not counted');
    assert.deepEqual(rule.tiers(DEFAULT_THRESHOLDS), [{ at: 50, level: 'INFO' }, { at: 70, level: 'URGENT' }]);
    assert.equal(renderTemplate('{rule}:{group} ${value} {missing}', { rule: 'r', group: 'g', value: 80.0049 }), 'r:g $80 ?');
  });

  it('validates a whole interventions config section', () => {
    const c = resolveInterventionConfig({ thresholds: { error_threshold: 5 }, escalation: { URGENT: { repeat_after: '10m', escalate_after: null } } });
    assert.equal(c.thresholds.error_threshold, 5);
    assert.equal(c.thresholds.confidence_threshold, 0.75);
    assert.deepEqual(c.escalation.URGENT, { repeat_after_ms: 600_000, escalate_after_ms: null });
    assert.equal(c.rules.length, 3);
    assert.deepEqual(
      problems(() => resolveInterventionConfig({ thresholds: { budget_threshold: 0 }, escalation: { CRITICAL: { escalate_after: '1h' }, SEVERE: {} }, routes: [{ name: 'x' }], extra: 1 })),
      [
        'extra: unknown key (known: thresholds, rules, escalation, routes, tick_interval)',
        'thresholds.budget_threshold: expected a positive number of US dollars, got 0',
        'routes[0].channels: expected a non-empty list of channel names',
        'escalation.CRITICAL.escalate_after: CRITICAL is the highest level; it cannot escalate',
        'escalation.SEVERE: unknown level (known: INFO, WARNING, URGENT, CRITICAL)',
      ],
    );
  });
});
