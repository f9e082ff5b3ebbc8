/** Check 5: `task.impact == "high"` → WARNING HIGH_IMPACT. */
import type { Check } from './types.js';

export const highImpact: Check = ({ task }) =>
  typeof task.impact === 'string' && task.impact.toLowerCase() === 'high'
    ? { code: 'HIGH_IMPACT', level: 'WARNING', detail: 'the task has high impact' }
    : null;
