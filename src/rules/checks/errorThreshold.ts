/** Check 3: errors recorded for the task `>= error_threshold` (3) → URGENT ERROR_THRESHOLD. */
import type { Check } from './types.js';

export const errorThreshold: Check = ({ facts, thresholds }) =>
  facts.error_count >= thresholds.error_threshold
    ? { code: 'ERROR_THRESHOLD', level: 'URGENT', detail: `${facts.error_count} errors recorded for the task (threshold ${thresholds.error_threshold})` }
    : null;
