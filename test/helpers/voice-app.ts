import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';

/** What a voice app was asked: by the carrier, for one call's TwiML. */
export interface VoiceFetch {
  url: string;
  method: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** twilio.validateRequest's verdict over the URL the carrier requested. */
  valid: boolean;
}

/** A voice app as a business would run it: verifies Twilio's signature with the SDK, answers TwiML. */
export class VoiceApp {
  readonly fetches: VoiceFetch[] = [];
  twiml = '<Response><Hangup/></Response>';
  private readonly events = new EventEmitter();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(authToken: string): Promise<VoiceApp> {
    const app = express();
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const voice = new VoiceApp(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    app.use(express.urlencoded({ extended: false }));
    app.all('/voice', (req, res) => {
      const url = voice.url + req.originalUrl;
      const params = req.method === 'POST' ? { ...(req.body as Record<string, string>) } : {};
      const valid = twilio.validateRequest(authToken, req.get('X-Twilio-Signature') ?? '', url, params);
      voice.fetches.push({ url, method: req.method, params, query: { ...(req.query as Record<string, string>) }, valid });
      voice.events.emit('fetch');
      if (!valid) return void res.status(403).end();
      res.type('text/xml').send(voice.twiml);
    });
    return voice;
  }

  waitForFetches(count: number): Promise<VoiceFetch[]> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.fetches.length < count) return;
        this.events.off('fetch', check);
        resolve(this.fetches);
      };
      this.events.on('fetch', check);
      check();
    });
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
