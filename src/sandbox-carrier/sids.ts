import { randomBytes } from 'node:crypto';

/** Fixed so a standalone carrier and the processes configured against it agree without setup. */
export const DEFAULT_ACCOUNT_SID = 'AC5a4db0c0ffee5a4db0c0ffee5a4db0c0';
export const DEFAULT_AUTH_TOKEN = 'sandbox-auth-token-0123456789abcdef';

/** Twilio SIDs: a two-letter prefix and 32 lowercase hex digits. */
export function newSid(prefix: 'CA' | 'RQ' | 'PN'): string {
  return prefix + randomBytes(16).toString('hex');
}

export const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
