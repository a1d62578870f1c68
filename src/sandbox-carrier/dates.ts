/** RFC 2822 with the literal `+0000` Twilio uses; the SDK's dayjs format only parses this form. */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/**
 * A list filter date: `YYYY-MM-DD` (a UTC day) or any date-time Date.parse understands
 * (the SDK sends `YYYY-MM-DDTHH:mm:ssZ`), as an instant.
 */
export function parseFilterDate(value: string): { at: number } | null {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (day) return { at: Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])) };
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : { at };
}

export const DAY_MS = 86_400_000;
