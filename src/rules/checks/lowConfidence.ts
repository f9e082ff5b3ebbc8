/** Check 1: `task.confidence < confidence_threshold` (0.75) → WARNING LOW_CONFIDENCE. */
import type { Check } from './types.js';

export const lowConfidence: Check = ({ task, thresholds }) =>
  typeof task.confidence === 'number' && task.confidence < thresholds.confidence_threshold
    ? { code: 'LOW_CONFIDENCE', level: 'WARNING', detail: `confidence ${task.confidence} is below ${thresholds.confidence_threshold}` }
    : null;
