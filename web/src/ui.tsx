/**
 * Shared pieces: loading, error and empty states, badges, JSON shown as text. Everything from the
 * server is rendered as React text nodes (escaped); nothing is ever inserted as HTML.
 */
import type { ReactNode } from 'react';
import { errorText } from './api';
import type { Async } from './hooks';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="state loading" role="status">
      {what}…
    </p>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <span>Could not load: {errorText(error)}</span>
      {retry && (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** Loading / error / data of one request; `empty` decides whether the data counts as nothing. */
export function Load<T>({ state, empty, emptyText, children }: { state: Async<T>; empty?: (d: T) => boolean; emptyText?: ReactNode; children: (d: T) => ReactNode }) {
  if (state.data === undefined) {
    if (state.error !== undefined) return <ErrorBox error={state.error} retry={state.reload} />;
    return <Loading />;
  }
  return (
    <>
      {state.error !== undefined && <ErrorBox error={state.error} retry={state.reload} />}
      {empty?.(state.data) ? <Empty>{emptyText ?? 'Nothing yet.'}</Empty> : children(state.data)}
    </>
  );
}

export function Level({ level }: { level: string }) {
  return <span className={`badge level-${level.toLowerCase()}`}>{level}</span>;
}

export function Status({ status }: { status: string }) {
  return <span className={`badge status-${status.toLowerCase()}`}>{status}</span>;
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function Card({ title, children, className }: { title: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className ?? ''}`}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Stat({ label, value, sub, tone }: { label: string; value: ReactNode; sub?: ReactNode; tone?: 'ok' | 'warn' | 'bad' }) {
  return (
    <div className={`stat ${tone ?? ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub !== undefined && <div className="stat-sub">{sub}</div>}
    </div>
  );
}

/** A link only for http(s) URLs or same-site paths: a `javascript:` action_url is shown as text. */
export function SafeLink({ href, children }: { href: string; children: ReactNode }) {
  let url: URL | null;
  try {
    url = new URL(href, window.location.origin);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) return <span className="muted">(a link that is not http or https is not shown)</span>;
  // This server's links (`/interventions/<id>`) open here; others in a new tab.
  if (url.origin === window.location.origin) return <a href={url.href}>{children}</a>;
  return (
    <a href={url.href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}
