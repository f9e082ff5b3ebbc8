/** Check 6: `task.requires_review` is true → INFO MANUAL_REVIEW. */
import type { Check } from './types.js';

export const manualReview: Check = ({ task }) =>
  task.requires_review === true ? { code: 'MANUAL_REVIEW', level: 'INFO', detail: 'the task requires a review' } : null;
