/**
 * What the webhook-style channels (Discord, Slack, the signed webhook) share: one JSON POST to
 * the target's URL, classified by the provider's rules, masked, logged. Each channel says only how
 * to build its request and how to read the answer.
 */
import type { Channel, ChannelTarget, Notification, SendResult } from './channel.js';
import {
  failureResult,
  HttpClient,
  invalidTarget,
  logResult,
  silentLogger,
  type ChannelDeps,
  type ChannelLogger,
  type HttpResponse,
} from './http.js';
import { maskUrl, urlSecrets, type Redactor } from './mask.js';

export interface JsonPost {
  url: string;
  headers?: Record<string, string>;
  body: string;
}

/** Targets whose redactor and masked form are kept; past this many the cache starts afresh. */
const MAX_CACHED_TARGETS = 256;

export abstract class HttpPostChannel<Cfg extends { timeoutMs: number }> implements Channel {
  abstract readonly name: string;
  protected readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly logger: ChannelLogger;
  protected readonly now: () => number;
  /**
   * Each target address's redactor and masked form, made once: both parse the URL, and the redactor
   * encodes every secret three ways; made on every send, they were a sixteenth of its CPU time.
   */
  private readonly secrets = new Map<string, { redactor: Redactor; masked: string }>();

  constructor(
    protected readonly cfg: Cfg,
    deps: ChannelDeps,
  ) {
    this.ownsHttp = !deps.http;
    this.http = deps.http ?? new HttpClient({ guard: deps.guard });
    this.logger = deps.logger ?? silentLogger;
    this.now = deps.now ?? Date.now;
  }

  /** The request for this notification, or a refusal (a target this channel cannot use). */
  protected abstract build(n: Notification, target: ChannelTarget): JsonPost | SendResult;
  /** What the provider's answer means. */
  protected abstract classify(res: HttpResponse, redactor: Redactor): Omit<SendResult, 'durationMs'>;

  /** Everything secret in a target, to keep out of errors (a function of its address and the channel's config). */
  protected redactor(target: ChannelTarget): Redactor {
    return urlSecrets(target.address);
  }

  mask(target: ChannelTarget): string {
    return maskUrl(target.address);
  }

  private secretsOf(target: ChannelTarget): { redactor: Redactor; masked: string } {
    let s = this.secrets.get(target.address);
    if (!s) {
      if (this.secrets.size >= MAX_CACHED_TARGETS) this.secrets.clear();
      s = { redactor: this.redactor(target), masked: this.mask(target) };
      this.secrets.set(target.address, s);
    }
    return s;
  }

  async send(n: Notification, target: ChannelTarget, signal?: AbortSignal): Promise<SendResult> {
    const started = Date.now();
    const { redactor, masked } = this.secretsOf(target);
    let result: SendResult;
    if (!URL.canParse(target.address)) result = invalidTarget(started);
    else {
      const req = this.build(n, target);
      if ('outcome' in req) result = req;
      else {
        try {
          const res = await this.http.request({
            url: req.url,
            headers: { 'content-type': 'application/json', ...req.headers },
            body: req.body,
            timeoutMs: this.cfg.timeoutMs,
            signal,
          });
          result = { ...this.classify(res, redactor), durationMs: Date.now() - started };
        } catch (err) {
          result = failureResult(err, redactor, started);
        }
      }
    }
    logResult(this.logger, this.name, masked, result);
    return result;
  }

  async close(): Promise<void> {
    if (this.ownsHttp) await this.http.close();
  }
}
