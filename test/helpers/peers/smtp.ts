/**
 * An SMTP server in the test process (smtp-server) on 127.0.0.1 port 0: STARTTLS (or implicit TLS)
 * with smtp-server's built-in self-signed certificate, optional AUTH, and every accepted message
 * parsed with mailparser. Scriptable: the next transaction can get an SMTP error at connect,
 * MAIL FROM, RCPT TO or DATA (4xx or 5xx), or a DATA that never answers.
 */
import type { AddressInfo, Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export type SmtpPhase = 'connect' | 'mail' | 'rcpt' | 'data';

export interface SmtpScript {
  phase: SmtpPhase;
  /** SMTP reply code to answer with, e.g. 451 or 550. */
  code?: number;
  message?: string;
  /** At DATA: take the message and never answer. */
  hang?: boolean;
  /** At DATA: only for a message whose subject matches (others pass it by and are accepted). */
  subject?: RegExp;
}

export interface SmtpPeerOptions {
  /** Implicit TLS from the first byte. Default false (plain + STARTTLS). */
  secure?: boolean;
  /** Do not offer STARTTLS. */
  hideStartTls?: boolean;
  /** Require AUTH with these credentials. */
  auth?: { user: string; pass: string };
}

export interface SmtpPeer {
  port: number;
  mails: ParsedMail[];
  /** The envelope of each accepted message, and whether its session was TLS. */
  envelopes: { from: string; to: string[]; secure: boolean; user?: string }[];
  script(...s: SmtpScript[]): void;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startSmtpPeer(options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const mails: ParsedMail[] = [];
  const envelopes: SmtpPeer['envelopes'] = [];
  const queue: SmtpScript[] = [];
  const take = (phase: SmtpPhase): SmtpScript | undefined => (queue[0]?.phase === phase ? queue.shift() : undefined);
  const fail = (s: SmtpScript): Error => smtpError(s.code ?? 451, s.message ?? 'scripted failure');

  const opts: SMTPServerOptions = {
    secure: options.secure ?? false,
    hideSTARTTLS: options.hideStartTls ?? false,
    authOptional: !options.auth,
    disabledCommands: [...(options.auth ? [] : ['AUTH']), ...(options.hideStartTls ? ['STARTTLS'] : [])],
    logger: false,
    closeTimeout: 50,
    onConnect(_session, cb) {
      const s = take('connect');
      cb(s ? fail(s) : null);
    },
    onAuth(auth, _session, cb) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) cb(null, { user: auth.username });
      else cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
    },
    onMailFrom(_address, _session, cb) {
      const s = take('mail');
      cb(s ? fail(s) : null);
    },
    onRcptTo(address, _session, cb) {
      const s = take('rcpt');
      cb(s ? smtpError(s.code ?? 550, s.message ?? `5.1.1 <${address.address}>: Recipient address rejected`) : null);
    },
    onData(stream, session, cb) {
      const first = queue[0];
      const s = first?.phase === 'data' && first.subject === undefined ? take('data') : undefined;
      simpleParser(stream)
        .then((parsed) => {
          const mail = parsed;
          // A script waiting for a subject is taken by the first message that has it.
          if (s === undefined && queue[0]?.phase === 'data' && queue[0].subject?.test(mail.subject ?? '')) {
            const t = queue.shift()!;
            if (t.hang) return;
            return cb(fail(t));
          }
          if (s?.hang) return;
          if (s) return cb(fail(s));
          mails.push(mail);
          envelopes.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          cb(null, `2.0.0 Ok: queued as TEST${mails.length}`);
        })
        .catch((err: Error) => cb(err));
    },
  };
  const server = new SMTPServer(opts);
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const sockets = new Map<Socket, Promise<void>>();
  server.server.on('connection', (socket: Socket) => {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    sockets.set(socket, closed);
    void closed.then(() => sockets.delete(socket));
  });
  return {
    port,
    mails,
    envelopes,
    script: (...s) => queue.push(...s),
    // smtp-server's own close() waits up to closeTimeout for sessions (a hung DATA never ends),
    // so stop listening and end every socket here, then wait until all are released.
    close: async () => {
      const listening = new Promise<void>((resolve) => server.server.close(() => resolve()));
      for (const socket of sockets.keys()) socket.destroy();
      // (A socket upgraded by STARTTLS no longer reports its own close, so wait for the server's.)
      await listening;
      await new Promise((resolve) => setTimeout(resolve, 1));
    },
  };
}
