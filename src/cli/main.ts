import { Command, Option } from 'commander';
import { version } from '../../package.json';
import { CliError, DEFAULT_API_URL } from './api-client';
import { businessCommands } from './commands/businesses';
import { doNotCallCommands } from './commands/do-not-call';
import { runCommands } from './commands/runs';

/**
 * `outdial`: Outdial's API from a terminal or a script. It talks HTTP to the API only (never the
 * database or Temporal), so it works against any Outdial it can reach with a key.
 */

export function program(): Command {
  const cli = new Command('outdial')
    .description('Outdial from the command line: businesses, keys, do-not-call lists, runs from CSV, live progress, results')
    .addOption(new Option('--api-url <url>', "the API's base URL").env('OUTDIAL_API_URL').default(DEFAULT_API_URL))
    .addOption(new Option('--key <key>', 'an API key (admin, or a business key for that business)').env('OUTDIAL_API_KEY'))
    .version(version)
    .option('--json', 'print JSON instead of tables and field lines')
    .showHelpAfterError('(add --help for usage)');
  businessCommands(cli);
  doNotCallCommands(cli);
  runCommands(cli);
  return cli;
}

async function main() {
  try {
    await program().parseAsync(process.argv);
  } catch (err) {
    // One line, never a stack trace: what went wrong, as the API or the system said it.
    const message = err instanceof CliError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`outdial: ${message}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}

void main();
