/** Check 4: `context.budget_used > budget_threshold` (100 USD per month) → WARNING BUDGET_EXCEEDED. */
import type { Check } from './types.js';

export const budgetExceeded: Check = ({ context, thresholds }) =>
  typeof context.budget_used === 'number' && context.budget_used > thresholds.budget_threshold
    ? { code: 'BUDGET_EXCEEDED', level: 'WARNING', detail: `budget used $${context.budget_used} exceeds $${thresholds.budget_threshold}` }
    : null;
