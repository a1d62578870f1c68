#!/usr/bin/env node
// The `outdial` command: the CLI's TypeScript (src/cli) run through tsx, as the rest of the project is.
import { require as tsxRequire } from 'tsx/cjs/api';

tsxRequire('../src/cli/main.ts', import.meta.url);
