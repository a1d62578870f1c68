/**
 * Turns a child's pino JSON lines into short readable lines for the local stack's terminal:
 * `12:00:01 [worker] call started for lead 3 runId=… callSid=…`. Anything else passes through.
 */
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg', 'v']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: '', 40: 'WARN ', 50: 'ERROR ', 60: 'FATAL ' };

export function formatLogLine(name: string, line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `[${name}] ${line}`;
  }
  if (typeof entry !== 'object' || entry === null || !('msg' in entry)) return `[${name}] ${line}`;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const fields = Object.entries(entry)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${time} [${name}] ${LEVELS[Number(entry.level)] ?? ''}${String(entry.msg)}${fields ? `  ${fields}` : ''}`;
}

/** Splits a stream into lines and hands each to `onLine`. */
export function forEachLine(stream: NodeJS.ReadableStream | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(line);
  });
  stream.on('end', () => {
    if (buffered.trim()) onLine(buffered);
  });
}
