import type { LeadVariables, MachineDetection, VoiceApp } from '../db/settings';

/**
 * What a call does, turned into the Calls API's parameters: the voice app (Url, Twiml or
 * ApplicationSid), the lead's variables carried to it, and answering-machine detection.
 */

export interface CallInstructions {
  /** null = Outdial's short greeting. */
  voiceApp: VoiceApp | null;
  /** The lead's own fields plus Outdial's IDs (`outdial_*`). */
  variables: LeadVariables;
  machineDetection: MachineDetection | null;
}

/** The greeting of a business that set no voice app. */
export const DEFAULT_TWIML = '<Response><Say>Hello, this is a call from Outdial.</Say></Response>';

/** Twilio takes at most 4,000 characters of inline TwiML. */
export const MAX_TWIML_LENGTH = 4000;

/** Keys a lead may use: lowercase snake case, so none can collide with Twilio's PascalCase request parameters. */
export const VARIABLE_KEY = /^[a-z][a-z0-9_]{0,39}$/;
/** Keys Outdial adds itself. */
export const RESERVED_VARIABLE_PREFIX = 'outdial_';

/**
 * The variables a call's voice app receives: the lead's own, its name as `name` (unless the lead sets
 * one), and Outdial's IDs so the app can tell which lead, run and call it is serving.
 */
export function callVariables(lead: { name: string | null; variables: LeadVariables | null }, ids: { callId: string; runId?: string; leadId?: string }): LeadVariables {
  const vars: LeadVariables = {};
  if (lead.name) vars.name = lead.name;
  Object.assign(vars, lead.variables ?? {});
  vars.outdial_call_id = ids.callId;
  if (ids.runId) vars.outdial_run_id = ids.runId;
  if (ids.leadId) vars.outdial_lead_id = ids.leadId;
  return vars;
}

/**
 * The voice URL with the variables appended to its query, URL-encoded with encodeURIComponent (spaces
 * as %20: twilio-node's validator mishandles `+`, twilio-node#1183). A fragment (Twilio's connection
 * overrides, `#rc=…`) stays at the end.
 */
export function voiceUrlWithVariables(url: string, variables: LeadVariables): string {
  const hash = url.indexOf('#');
  const [base, fragment] = hash < 0 ? [url, ''] : [url.slice(0, hash), url.slice(hash)];
  const query = Object.entries(variables)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  if (!query) return url;
  const joiner = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${joiner}${query}${fragment}`;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Inline TwiML with `{{key}}` replaced by the variable's XML-escaped value; unknown keys stay as written. */
export function twimlWithVariables(twiml: string, variables: LeadVariables): string {
  return twiml.replace(/\{\{\s*([a-z][a-z0-9_]*)\s*\}\}/g, (whole, key: string) =>
    key in variables ? (variables[key] ?? '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c) : whole,
  );
}

export interface VoiceParams {
  url?: string;
  method?: 'GET' | 'POST';
  twiml?: string;
  applicationSid?: string;
}

export function voiceParams(app: VoiceApp | null, variables: LeadVariables): VoiceParams {
  if (app === null) return { twiml: DEFAULT_TWIML };
  if ('url' in app) return { url: voiceUrlWithVariables(app.url, variables), method: app.method };
  if ('twiml' in app) return { twiml: twimlWithVariables(app.twiml, variables) };
  // An application's own Voice URL gets Twilio's parameters only: variables cannot travel there.
  return { applicationSid: app.applicationSid };
}

export interface AmdParams {
  machineDetection?: string;
  machineDetectionTimeout?: number;
  asyncAmd?: string;
  asyncAmdStatusCallback?: string;
  asyncAmdStatusCallbackMethod?: string;
}

export function amdParams(amd: MachineDetection | null, amdCallbackUrl: string | null): AmdParams {
  if (!amd) return {};
  const params: AmdParams = { machineDetection: amd.mode, machineDetectionTimeout: amd.timeoutSeconds };
  if (amd.async && amdCallbackUrl) {
    params.asyncAmd = 'true';
    params.asyncAmdStatusCallback = amdCallbackUrl;
    params.asyncAmdStatusCallbackMethod = 'POST';
  }
  return params;
}
