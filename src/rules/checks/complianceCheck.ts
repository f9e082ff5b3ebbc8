/**
 * Check 7: the task's text mentions a compliance keyword (financial, legal, contract, compliance,
 * regulatory) → WARNING COMPLIANCE_CHECK. The original matched substrings of the lower-cased text;
 * so does this one (so "contracts" and "legally" match, as they did).
 */
import type { Check } from './types.js';

export const complianceCheck: Check = ({ task, thresholds }) => {
  if (typeof task.text !== 'string' || task.text === '') return null;
  const text = task.text.toLowerCase();
  const found = thresholds.compliance_keywords.filter((k) => text.includes(k));
  return found.length > 0 ? { code: 'COMPLIANCE_CHECK', level: 'WARNING', detail: `the task mentions ${found.join(', ')}` } : null;
};
