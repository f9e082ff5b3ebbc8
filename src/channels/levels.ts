/** Intervention levels as channels see them; ordered INFO < WARNING < URGENT < CRITICAL. */
export const INTERVENTION_LEVELS = ['INFO', 'WARNING', 'URGENT', 'CRITICAL'] as const;
export type InterventionLevelName = (typeof INTERVENTION_LEVELS)[number];
