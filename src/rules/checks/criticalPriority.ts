/** Check 2: `task.priority == "critical"` → URGENT CRITICAL_PRIORITY. */
import type { Check } from './types.js';

export const criticalPriority: Check = ({ task }) =>
  typeof task.priority === 'string' && task.priority.toLowerCase() === 'critical'
    ? { code: 'CRITICAL_PRIORITY', level: 'URGENT', detail: 'the task has critical priority' }
    : null;
