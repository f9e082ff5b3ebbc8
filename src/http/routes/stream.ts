/**
 * `GET /v1/stream`: the live WebSocket stream (protocol in docs/api.md#stream). A client signs in
 * with `Authorization: Bearer <key or user token>` on the upgrade request, or — browsers cannot set
 * headers on a WebSocket — with its first message `{"type":"auth","token":"…"}`. Never in the URL.
 * API keys need `read`; user tokens see their own user's messages. The hub does the fan-out.
 */
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { hasScope } from '../apiKeys.js';
import { ApiError, E } from '../errors.js';
import { CLOSE, type StreamClient, type StreamHub } from '../stream/hub.js';
import { parseFilter, type StreamIdentity } from '../stream/messages.js';

export interface StreamRoutesOptions extends Record<string, unknown> {
  hub: StreamHub;
}

/** Client messages are small: auth, subscribe, ping. */
export const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the upgrade request carried a valid Authorization header. */
    streamIdentity?: StreamIdentity;
    /** The token of that header. */
    streamToken?: string;
  }
}

function refusal(identity: StreamIdentity): string | null {
  if (identity.userId !== null || hasScope(identity.principal.scopes, 'read')) return null;
  return `the API key "${identity.principal.name}" lacks the "read" scope the stream requires (it has: ${identity.principal.scopes.join(', ')})`;
}

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, { hub }) => {
  if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES } });

  async function identify(req: FastifyRequest, token: string): Promise<StreamIdentity> {
    const { principal, user } = await app.authenticateToken(req, token);
    return { principal, userId: user?.id ?? null };
  }

  app.get(
    '/v1/stream',
    {
      websocket: true,
      schema: { summary: 'Live stream of interventions, notifications and events (WebSocket)', tags: ['stream'], description: 'See docs/api.md#stream for the protocol.' },
      // A header, when sent, is checked before upgrading: a bad one is an HTTP 401/403.
      preValidation: async (req) => {
        const header = req.headers.authorization;
        if (header === undefined || header === '') return;
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
        if (m === null) throw new ApiError(E.malformedAuth);
        const identity = await identify(req, m[1]);
        const refused = refusal(identity);
        if (refused !== null) throw new ApiError(E.missingScope, refused);
        req.streamIdentity = identity;
        req.streamToken = m[1];
      },
    },
    (socket: WebSocket, req) => {
      let client: StreamClient | null = null;
      let authenticating = false;
      let recheck: NodeJS.Timeout | null = null;
      const fail = (code: number, error: string) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'error', error }));
        socket.close(code, error.slice(0, 120));
      };
      const welcome = (identity: StreamIdentity, token: string) => {
        client = hub.attach(socket, identity);
        hub.send(client, JSON.stringify({ type: 'welcome', principal: { name: identity.principal.name, user_id: identity.userId, scopes: identity.principal.scopes } }));
        // A key or token revoked (or stripped of "read") while its stream is open ends the stream:
        // the token is checked again every recheckMs (through the key cache, so a key costs at
        // most one query per cache period however many streams it has).
        recheck = setInterval(() => {
          identify(req, token).then(
            (now) => {
              const refused = refusal(now);
              if (refused !== null) fail(CLOSE.forbidden, refused);
            },
            (err: unknown) => {
              // The database being unreachable is no reason to drop a client; a refusal is.
              if (err instanceof ApiError) fail(err.statusCode === 403 ? CLOSE.forbidden : CLOSE.unauthenticated, err.message);
            },
          );
        }, hub.recheckMs);
        recheck.unref();
      };
      let timer: NodeJS.Timeout | null = null;
      if (req.streamIdentity) welcome(req.streamIdentity, req.streamToken!);
      else {
        timer = setTimeout(() => fail(CLOSE.authTimeout, 'no auth message in time'), hub.authTimeoutMs);
        timer.unref();
      }
      socket.on('close', () => {
        if (timer) clearTimeout(timer);
        if (recheck) clearInterval(recheck);
      });

      socket.on('message', (raw, isBinary) => {
        let m: Record<string, unknown>;
        try {
          const v: unknown = isBinary ? null : JSON.parse(String(raw));
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
          m = v as Record<string, unknown>;
        } catch {
          fail(CLOSE.badMessage, 'messages must be JSON objects with a "type"');
          return;
        }
        if (client === null) {
          if (authenticating) return;
          if (m.type !== 'auth' || typeof m.token !== 'string' || m.token === '') {
            fail(CLOSE.unauthenticated, 'the first message must be {"type":"auth","token":"…"}');
            return;
          }
          authenticating = true;
          const token = m.token;
          identify(req, token).then(
            (identity) => {
              if (timer) clearTimeout(timer);
              const refused = refusal(identity);
              if (refused !== null) fail(CLOSE.forbidden, refused);
              else if (socket.readyState === socket.OPEN) welcome(identity, token);
            },
            (err: unknown) => fail(err instanceof ApiError && err.statusCode === 403 ? CLOSE.forbidden : CLOSE.unauthenticated, err instanceof ApiError ? err.message : 'authentication failed'),
          );
          return;
        }
        const c: StreamClient = client;
        if (m.type === 'ping') hub.send(c, JSON.stringify({ type: 'pong' }));
        else if (m.type === 'subscribe') {
          const filter = m.events === true ? parseFilter(m) : null;
          if (typeof filter === 'string') return hub.send(c, JSON.stringify({ type: 'error', error: filter }));
          void hub.subscribeEvents(c, filter).then((refused) =>
            hub.send(c, JSON.stringify(refused === null ? { type: 'subscribed', events: filter !== null, filter } : { type: 'error', error: refused })),
          );
        } else if (m.type === 'auth') hub.send(c, JSON.stringify({ type: 'error', error: 'already authenticated' }));
        else hub.send(c, JSON.stringify({ type: 'error', error: `unknown message type ${JSON.stringify(String(m.type)).slice(0, 60)}` }));
      });
    },
  );
};
