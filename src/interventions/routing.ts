/**
 * The routing table: level, reason codes and fields → channels. Every matching route contributes
 * its channels (a fan-out); the default table is the original's channel choices by level.
 */
import { ConfigError } from '../rules/thresholds.js';
import { INTERVENTION_LEVELS, INTERVENTION_RANK, isInterventionLevel, type InterventionLevel } from './levels.js';
import { matcherProblems, matchesAll, type AlertView, type Matcher } from './matchers.js';

export interface RouteMatch {
  /** Exactly these levels. */
  levels?: InterventionLevel[];
  /** This level or higher. */
  min_level?: InterventionLevel;
  /** Any of these reason codes. */
  reasons?: string[];
  /** All of these field matchers (see matchers.ts). */
  matchers?: Matcher[];
}

export interface Route {
  name: string;
  /** Channel (receiver) names, e.g. `email`, `slack`, or a configured `finance_webhook`. */
  channels: string[];
  /** Absent: every intervention. */
  match?: RouteMatch;
}

/** The original's channel choices: email URGENT and CRITICAL, SMS CRITICAL only, the rest all levels. */
export const DEFAULT_ROUTES: readonly Route[] = Object.freeze([
  { name: 'email', channels: ['email'], match: { min_level: 'URGENT' } },
  { name: 'slack', channels: ['slack'] },
  { name: 'sms', channels: ['sms'], match: { levels: ['CRITICAL'] } },
  { name: 'websocket', channels: ['websocket'] },
  { name: 'push', channels: ['push'] },
  { name: 'discord', channels: ['discord'] },
  { name: 'in_app', channels: ['in_app'] },
] satisfies Route[]);

export function routeMatches(route: Route, view: AlertView): boolean {
  const m = route.match;
  if (m === undefined) return true;
  if (m.levels !== undefined && !m.levels.includes(view.level)) return false;
  if (m.min_level !== undefined && INTERVENTION_RANK[view.level] < INTERVENTION_RANK[m.min_level]) return false;
  if (m.reasons !== undefined && !view.reasons.some((r) => m.reasons!.includes(r))) return false;
  return m.matchers === undefined || matchesAll(view, m.matchers);
}

export interface RouteResult {
  /** Distinct channel names, in table order. */
  channels: string[];
  /** Names of the routes that matched. */
  routes: string[];
}

export function route(view: AlertView, table: readonly Route[]): RouteResult {
  const channels: string[] = [];
  const routes: string[] = [];
  for (const r of table) {
    if (!routeMatches(r, view)) continue;
    routes.push(r.name);
    for (const c of r.channels) if (!channels.includes(c)) channels.push(c);
  }
  return { channels, routes };
}

const NAME = /^[a-z][a-z0-9_:-]{0,63}$/;

/** Validates a routing table; throws ConfigError listing every problem. */
export function validateRoutes(input: unknown, path = 'routes'): Route[] {
  if (!Array.isArray(input)) throw new ConfigError([`${path}: expected a list of routes`]);
  const p: string[] = [];
  const names = new Set<string>();
  input.forEach((r: unknown, i) => {
    const rp = `${path}[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return void p.push(`${rp}: expected {name, channels, match}`);
    const { name, channels, match } = r as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!['name', 'channels', 'match'].includes(k)) p.push(`${rp}.${k}: unknown key (known: name, channels, match)`);
    if (typeof name !== 'string' || !NAME.test(name)) p.push(`${rp}.name: expected a lower-case name, got ${JSON.stringify(name)}`);
    else if (names.has(name)) p.push(`${rp}.name: duplicate route name "${name}"`);
    else names.add(name);
    if (!Array.isArray(channels) || channels.length === 0 || channels.some((c) => typeof c !== 'string' || !NAME.test(c))) {
      p.push(`${rp}.channels: expected a non-empty list of channel names`);
    }
    if (match === undefined) return;
    if (typeof match !== 'object' || match === null || Array.isArray(match)) return void p.push(`${rp}.match: expected an object`);
    const m = match as Record<string, unknown>;
    for (const k of Object.keys(m)) if (!['levels', 'min_level', 'reasons', 'matchers'].includes(k)) p.push(`${rp}.match.${k}: unknown key (known: levels, min_level, reasons, matchers)`);
    const lv = `one of ${INTERVENTION_LEVELS.join(', ')}`;
    if (m.levels !== undefined && (!Array.isArray(m.levels) || !m.levels.every(isInterventionLevel))) p.push(`${rp}.match.levels: expected a list of ${lv}`);
    if (m.min_level !== undefined && !isInterventionLevel(m.min_level)) p.push(`${rp}.match.min_level: expected ${lv}, got ${JSON.stringify(m.min_level)}`);
    if (m.reasons !== undefined && (!Array.isArray(m.reasons) || m.reasons.some((x) => typeof x !== 'string'))) p.push(`${rp}.match.reasons: expected a list of reason codes`);
    if (m.matchers !== undefined) p.push(...matcherProblems(m.matchers, `${rp}.match.matchers`));
  });
  if (p.length > 0) throw new ConfigError(p);
  return input as Route[];
}
