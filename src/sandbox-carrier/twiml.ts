/**
 * Just enough TwiML reading to decide what a call does: is the document well-formed XML with a
 * `<Response>` root, and which verbs does it hold. Nothing is executed.
 */

export type TwimlDocument = { ok: true; verbs: string[] } | { ok: false; error: string };

const NAME = '[A-Za-z_:][-\\w.:]*';
const ATTRIBUTE = `\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*')`;
const TOKEN = new RegExp(
  [
    '(?<comment><!--[\\s\\S]*?-->)',
    '(?<cdata><!\\[CDATA\\[[\\s\\S]*?\\]\\]>)',
    '(?<pi><\\?[\\s\\S]*?\\?>)',
    '(?<doctype><!DOCTYPE[^>]*>)',
    `(?<end></(?<endName>${NAME})\\s*>)`,
    `(?<start><(?<startName>${NAME})(?:${ATTRIBUTE})*\\s*(?<selfClosing>/)?>)`,
    '(?<text>[^<]+)',
  ].join('|'),
  'y',
);
/** A bare `&` (not an entity or character reference) makes XML malformed. */
const BAD_AMPERSAND = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

export function parseTwiml(text: string): TwimlDocument {
  const source = text.replace(/^\uFEFF/, '');
  const open: string[] = [];
  const verbs: string[] = [];
  let root: string | null = null;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < source.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(source);
    const g = m?.groups;
    if (!m || !g) return { ok: false, error: `not well-formed XML at character ${at}` };
    if (g.text !== undefined || g.cdata !== undefined) {
      if (open.length === 0 && (g.cdata !== undefined || g.text?.trim())) return { ok: false, error: 'text outside the root element' };
      if (g.text !== undefined && BAD_AMPERSAND.test(g.text)) return { ok: false, error: `unescaped "&" at character ${at}` };
    } else if (g.start !== undefined) {
      const name = g.startName ?? '';
      if (BAD_AMPERSAND.test(g.start)) return { ok: false, error: `unescaped "&" in <${name}>` };
      if (open.length === 0) {
        if (root !== null) return { ok: false, error: 'more than one root element' };
        root = name;
      } else if (open.length === 1) {
        verbs.push(name);
      }
      if (g.selfClosing === undefined) open.push(name);
    } else if (g.end !== undefined) {
      const expected = open.pop();
      if (expected !== g.endName) return { ok: false, error: `</${g.endName}> closes ${expected ? `<${expected}>` : 'nothing'}` };
    } else if (g.doctype !== undefined && root !== null) {
      return { ok: false, error: 'DOCTYPE after the root element' };
    }
  }
  if (open.length > 0) return { ok: false, error: `<${open[open.length - 1]}> is never closed` };
  if (root === null) return { ok: false, error: 'no root element' };
  if (root !== 'Response') return { ok: false, error: `the root element is <${root}>, not <Response>` };
  return { ok: true, verbs };
}

/** `<Hangup/>` or `<Reject/>` first ends the call at once; anything else lets it run its script. */
export function hangsUp(verbs: readonly string[]): boolean {
  return verbs[0] === 'Hangup' || verbs[0] === 'Reject';
}
