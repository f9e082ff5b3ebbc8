/** The shell: sign-in, the navigation (with the inbox's unread badge) and the current page. */
import { useEffect, useState, type ReactNode } from 'react';
import { UNAUTHORISED_EVENT } from './api';
import { useHashRoute } from './hooks';
import { useUnreadCount } from './inbox';
import { Agents } from './pages/Agents';
import { Costs } from './pages/Costs';
import { Deliveries } from './pages/Deliveries';
import { Events } from './pages/Events';
import { Inbox } from './pages/Inbox';
import { Interventions } from './pages/Interventions';
import { Overview } from './pages/Overview';
import { SignIn } from './pages/SignIn';
import { loadSession, signOut, type Session } from './session';
import { stream, useStreamState } from './stream';

interface PageDef {
  id: string;
  title: string;
  needs: 'read' | 'inbox' | 'any';
  render: (s: Session) => ReactNode;
}

const PAGES: PageDef[] = [
  { id: 'overview', title: 'Overview', needs: 'read', render: () => <Overview /> },
  { id: 'events', title: 'Events', needs: 'read', render: () => <Events /> },
  { id: 'costs', title: 'Costs', needs: 'read', render: () => <Costs /> },
  { id: 'agents', title: 'Agents', needs: 'read', render: () => <Agents /> },
  { id: 'interventions', title: 'Interventions', needs: 'read', render: () => <Interventions /> },
  { id: 'inbox', title: 'Inbox', needs: 'inbox', render: () => <Inbox /> },
  { id: 'deliveries', title: 'Deliveries', needs: 'read', render: () => <Deliveries /> },
];

function allowed(p: PageDef, s: Session): boolean {
  return p.needs === 'any' || (p.needs === 'read' ? s.canRead : s.hasInbox);
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  useEffect(() => {
    const out = () => {
      signOut();
      stream.stop();
      setSession(null);
    };
    window.addEventListener(UNAUTHORISED_EVENT, out);
    return () => window.removeEventListener(UNAUTHORISED_EVENT, out);
  }, []);
  if (session === null) return <SignIn onSignedIn={setSession} />;
  return (
    <Shell
      session={session}
      onSignOut={() => {
        signOut();
        stream.stop();
        setSession(null);
      }}
    />
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const route = useHashRoute();
  const pages = PAGES.filter((p) => allowed(p, session));
  const page = pages.find((p) => p.id === route) ?? pages[0];
  const unread = useUnreadCount(session.hasInbox);
  const live = useStreamState();
  useEffect(() => {
    document.title = `${page.title} · Vigil`;
  }, [page.title]);
  return (
    <div className="app">
      <header className="top">
        <a className="brand" href="#/overview">
          Vigil
        </a>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a key={p.id} href={`#/${p.id}`} className={p.id === page.id ? 'active' : undefined} aria-current={p.id === page.id ? 'page' : undefined}>
              {p.title}
              {p.id === 'inbox' && unread !== null && unread > 0 && (
                <span className="unread-count" data-testid="unread-badge" aria-label={`${unread} unread`}>
                  {unread > 99 ? '99+' : unread}
                </span>
              )}
            </a>
          ))}
        </nav>
        <span className={`stream-dot ${live}`} data-stream={live} title={live === 'open' ? 'Live updates: connected' : live === 'off' ? 'Live updates: not in use' : 'Live updates: reconnecting (pages poll meanwhile)'} />
        <button type="button" className="link signout" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id={`page-${page.id}`}>
        <h1>{page.title}</h1>
        {page.render(session)}
      </main>
    </div>
  );
}
