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

export abstract class HttpPostChannel<Cfg extends { timeoutMs: number }> implements Channel {
  abstract readonly name: string;
  protected readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly logger: ChannelLogger;
  protected readonly now: () => number;

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

  /** Everything secret in a target, to keep out of errors. */
  protected redactor(target: ChannelTarget): Redactor {
    return urlSecrets(target.address);
  }

  mask(target: ChannelTarget): string {
    return maskUrl(target.address);
  }

  async send(n: Notification, target: ChannelTarget, signal?: AbortSignal): Promise<SendResult> {
    const started = Date.now();
    const redactor = this.redactor(target);
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
    logResult(this.logger, this.name, this.mask(target), result);
    return result;
  }

  async close(): Promise<void> {
    if (this.ownsHttp) await this.http.close();
  }
}
