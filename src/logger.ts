import pino from 'pino';

/** One structured logger for every process; `component` tells API, worker, carrier and stack apart. */
export function createLogger(component: string, level: string = process.env.LOG_LEVEL ?? 'info') {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type Logger = pino.Logger;
