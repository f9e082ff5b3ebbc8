/** The errors the service throws, each with a stable code the HTTP layer maps to a status. */
import { ConfigError } from '../rules/thresholds.js';

export type InterventionErrorCode = 'invalid' | 'not_found' | 'conflict';

/** Suggested HTTP status per code, for the routes. */
export const HTTP_STATUS: Readonly<Record<InterventionErrorCode, number>> = { invalid: 400, not_found: 404, conflict: 409 };

export class InterventionError extends Error {
  constructor(
    readonly code: InterventionErrorCode,
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
    this.name = 'InterventionError';
  }

  static invalid(problems: readonly string[]): InterventionError {
    return new InterventionError('invalid', problems.join('; '), problems);
  }
}

/** Runs fn, turning a ConfigError (validation) into an `invalid` InterventionError. */
export function validating<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw InterventionError.invalid(err.problems);
    throw err;
  }
}
