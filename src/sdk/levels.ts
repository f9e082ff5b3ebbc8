import type { Logger } from 'pino';
import type { Level } from '../events/catalogue.js';

/** Vigil level → the pino method that writes its structured line. */
export const PINO_METHOD: Readonly<Record<Level, keyof Pick<Logger, 'debug' | 'info' | 'warn' | 'error' | 'fatal'>>> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'fatal',
};
