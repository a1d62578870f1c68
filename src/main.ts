import { ConfigError } from './config';

/**
 * Runs an entry point. Bad configuration and start-up failures end the process with one readable
 * line and exit code 1, never a stack trace.
 */
export function runMain(component: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`outdial ${component}: ${err.message}\n`);
    else process.stderr.write(`outdial ${component}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
