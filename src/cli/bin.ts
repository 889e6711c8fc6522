#!/usr/bin/env node
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`gauntlet: internal error: ${String(e)}\n`);
    process.exitCode = 70;
  },
);
