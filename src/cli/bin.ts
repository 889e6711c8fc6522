#!/usr/bin/env node
import { main } from './main.js';

// A reader that closes early (`gauntlet list | head`) is not an error: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`gauntlet: internal error: ${String(e)}\n`);
    process.exitCode = 70;
  },
);
