import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * libphonenumber-js matches a number against its metadata's patterns by building
 * `new RegExp('^(?:' + pattern + ')$')` on every call: for a North American number that is a
 * pattern of several kilobytes copied and hashed each time, half the CPU of checking a number (about
 * 0.6 s of a 100,000-lead upload). Its one matcher (a CommonJS export its other modules read at each
 * call) is swapped here for one that compiles each pattern once: the same patterns, the same results.
 * Applied once, on import; if a later version of the library is shaped otherwise, nothing is swapped.
 */
type Matcher = (text: string | undefined, pattern: string) => boolean;

function compilePatternsOnce(): void {
  const root = path.dirname(require.resolve('libphonenumber-js/package.json'));
  const file = path.join(root, 'build/helpers/matchesEntirely.js');
  // The library's package exports do not name its internal modules, so it is loaded by file.
  const loaded = createRequire(__filename)(file) as { default?: Matcher & { compiledOnce?: true } };
  if (typeof loaded.default !== 'function' || loaded.default.compiledOnce || !readFileSync(file, 'utf8').includes("new RegExp('^(?:' + regularExpressionText + ')$')")) return;
  const compiled = new Map<string, RegExp>();
  const matcher: Matcher & { compiledOnce?: true } = (text, pattern) => {
    let regExp = compiled.get(pattern);
    if (!regExp) compiled.set(pattern, (regExp = new RegExp(`^(?:${pattern})$`)));
    return regExp.test(text || '');
  };
  matcher.compiledOnce = true;
  loaded.default = matcher;
}

compilePatternsOnce();
