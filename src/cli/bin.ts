#!/usr/bin/env node
import { main } from './main.js';
import { endQuietlyOnClosedPipes } from './pipes.js';

// A reader that closes early (`gauntlet run --dry-run | head -1`, `2>&1 | head`) is not an error.
endQuietlyOnClosedPipes();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`gauntlet: internal error: ${String(e)}\n`);
    process.exitCode = 70;
  },
);
