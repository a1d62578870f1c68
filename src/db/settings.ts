import type { OnMachinePolicy } from './statuses';

/**
 * The shapes of the campaign settings kept as JSON columns (a business's default voice app, a run's
 * voice app and answering-machine detection). The API validates them; these are what is stored.
 */

/** What a call does once answered, exactly as Twilio's Calls API takes it: one of Url, Twiml, ApplicationSid. */
export type VoiceApp = { url: string; method: 'GET' | 'POST' } | { twiml: string } | { applicationSid: string };

/** Twilio's answering-machine detection, and what Outdial does with a machine. */
export interface MachineDetection {
  mode: 'Enable' | 'DetectMessageEnd';
  /** MachineDetectionTimeout, seconds (Twilio: 3 to 59, default 30). */
  timeoutSeconds: number;
  /** AsyncAmd: the call connects at once and the result arrives on Outdial's AMD callback. */
  async: boolean;
  onMachine: OnMachinePolicy;
}

/** A lead's own fields for the voice app: a small flat map of strings. */
export type LeadVariables = Record<string, string>;
