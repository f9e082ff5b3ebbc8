import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkInterventionNeeded, validateCheckInput } from '../../src/rules/check.js';
import { DEFAULT_THRESHOLDS, mergeThresholds, ConfigError } from '../../src/rules/thresholds.js';
import { compareLevels, highestLevel, nextLevel, INTERVENTION_LEVELS } from '../../src/interventions/levels.js';

const calm = { id: 't1', text: 'Write a blog post', priority: 'normal', confidence: 0.9, impact: 'low', requires_review: false, agent: 'ContentAgent' };
const codes = (r: { reasons: { code: string }[] }) => r.reasons.map((x) => x.code);

describe('intervention levels', () => {
  it('are ordered INFO < WARNING < URGENT < CRITICAL', () => {
    assert.deepEqual([...INTERVENTION_LEVELS].sort(compareLevels), ['INFO', 'WARNING', 'URGENT', 'CRITICAL']);
    assert.ok(compareLevels('WARNING', 'URGENT') < 0);
    assert.ok(compareLevels('CRITICAL', 'INFO') > 0);
    assert.equal(highestLevel(['WARNING', 'INFO', 'URGENT', 'WARNING']), 'URGENT');
    assert.equal(highestLevel([]), null);
    assert.equal(nextLevel('URGENT'), 'CRITICAL');
    assert.equal(nextLevel('CRITICAL'), 'CRITICAL');
  });
});

describe('checkInterventionNeeded: the seven original checks', () => {
  it('a calm task needs nobody', () => {
    assert.deepEqual(checkInterventionNeeded(calm, {}), { needed: false, level: null, reasons: [] });
  });

  const cases: [string, Partial<typeof calm>, Record<string, unknown>, number, string, string][] = [
    ['1 low confidence', { confidence: 0.74 }, {}, 0, 'LOW_CONFIDENCE', 'WARNING'],
    ['2 critical priority', { priority: 'critical' }, {}, 0, 'CRITICAL_PRIORITY', 'URGENT'],
    ['3 error threshold', {}, {}, 3, 'ERROR_THRESHOLD', 'URGENT'],
    ['4 budget exceeded', {}, { budget_used: 100.01 }, 0, 'BUDGET_EXCEEDED', 'WARNING'],
    ['5 high impact', { impact: 'high' }, {}, 0, 'HIGH_IMPACT', 'WARNING'],
    ['6 manual review', { requires_review: true }, {}, 0, 'MANUAL_REVIEW', 'INFO'],
    ['7 compliance keyword', { text: 'Review the Contract terms' }, {}, 0, 'COMPLIANCE_CHECK', 'WARNING'],
  ];
  for (const [name, task, context, errors, code, level] of cases) {
    it(name, () => {
      const r = checkInterventionNeeded({ ...calm, ...task }, context, DEFAULT_THRESHOLDS, { error_count: errors });
      assert.equal(r.needed, true);
      assert.equal(r.level, level);
      assert.deepEqual(codes(r), [code]);
      assert.equal(r.reasons[0].level, level);
      assert.ok(r.reasons[0].detail.length > 0);
    });
  }

  it('uses the original defaults, at their exact boundaries', () => {
    assert.equal(checkInterventionNeeded({ ...calm, confidence: 0.75 }).needed, false, 'confidence equal to 0.75 is not low');
    assert.equal(checkInterventionNeeded(calm, {}, DEFAULT_THRESHOLDS, { error_count: 2 }).needed, false, '2 errors are below 3');
    assert.equal(checkInterventionNeeded(calm, { budget_used: 100 }).needed, false, 'budget equal to 100 is not exceeded');
    for (const word of ['financial', 'legal', 'contract', 'compliance', 'regulatory']) {
      assert.deepEqual(codes(checkInterventionNeeded({ ...calm, text: `a ${word.toUpperCase()} matter` })), ['COMPLIANCE_CHECK'], word);
    }
    assert.equal(checkInterventionNeeded({ ...calm, priority: 'high', impact: 'medium' }).needed, false);
  });

  it('reports every matched reason in the original order, and the highest level', () => {
    const r = checkInterventionNeeded(
      { id: 't2', text: 'legal review', priority: 'critical', confidence: 0.2, impact: 'high', requires_review: true },
      { budget_used: 250 },
      DEFAULT_THRESHOLDS,
      { error_count: 5 },
    );
    assert.deepEqual(codes(r), ['LOW_CONFIDENCE', 'CRITICAL_PRIORITY', 'ERROR_THRESHOLD', 'BUDGET_EXCEEDED', 'HIGH_IMPACT', 'MANUAL_REVIEW', 'COMPLIANCE_CHECK']);
    assert.equal(r.level, 'URGENT');
    const infoOnly = checkInterventionNeeded({ ...calm, requires_review: true, impact: 'high' });
    assert.deepEqual(codes(infoOnly), ['HIGH_IMPACT', 'MANUAL_REVIEW']);
    assert.equal(infoOnly.level, 'WARNING');
  });

  it('follows thresholds changed at run time', () => {
    const t = mergeThresholds(DEFAULT_THRESHOLDS, { confidence_threshold: 0.5, error_threshold: 5, budget_threshold: 1000, compliance_keywords: ['GDPR'] });
    assert.equal(checkInterventionNeeded({ ...calm, confidence: 0.6 }, {}, t).needed, false);
    assert.equal(checkInterventionNeeded({ ...calm, confidence: 0.49 }, {}, t).needed, true);
    assert.equal(checkInterventionNeeded(calm, {}, t, { error_count: 4 }).needed, false);
    assert.equal(checkInterventionNeeded(calm, {}, t, { error_count: 5 }).needed, true);
    assert.equal(checkInterventionNeeded(calm, { budget_used: 999 }, t).needed, false);
    assert.equal(checkInterventionNeeded({ ...calm, text: 'a legal matter' }, {}, t).needed, false);
    assert.deepEqual(codes(checkInterventionNeeded({ ...calm, text: 'gdpr request' }, {}, t)), ['COMPLIANCE_CHECK']);
    assert.equal(DEFAULT_THRESHOLDS.confidence_threshold, 0.75, 'defaults are untouched');
  });

  it('refuses bad thresholds with every problem named', () => {
    assert.throws(
      () => mergeThresholds(DEFAULT_THRESHOLDS, { confidence_threshold: 2, error_threshold: 0, budget_threshold: -1, colour: 'red' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 4);
        assert.match(err.message, /thresholds\.confidence_threshold: expected a number from 0 to 1, got 2/);
        assert.match(err.message, /thresholds\.colour: unknown threshold/);
        return true;
      },
    );
  });

  it('validates the task and context as callers send them', () => {
    assert.deepEqual(validateCheckInput(calm, { budget_used: 3 }), []);
    assert.deepEqual(validateCheckInput({ text: 'x', confidence: 1.5, requires_review: 'yes', colour: 1 }, { budget_used: 'lots' }), [
      'task.id: required',
      'task.confidence: expected a number from 0 to 1, got 1.5',
      'task.requires_review: expected true or false, got "yes"',
      'task.colour: unknown field (known: id, text, priority, confidence, impact, requires_review, agent)',
      'context.budget_used: expected a non-negative number of US dollars, got "lots"',
    ]);
    assert.deepEqual(validateCheckInput(null, {}), ['task: expected an object']);
  });
});
