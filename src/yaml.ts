import fs from 'node:fs';
import YAML from 'yaml';
import { ConfigError } from './errors.js';

/**
 * Reads a YAML (or JSON) file as plain data. A missing/unreadable file or malformed YAML is a
 * one-line ConfigError naming the file (and the line and column of a syntax error).
 */
export function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`);
  }
  try {
    return YAML.parse(text, { prettyErrors: false, uniqueKeys: true }) ?? {};
  } catch (e) {
    const err = e as Error & { linePos?: { line: number; col: number }[] };
    const at = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new ConfigError(`${file}: malformed YAML${at}: ${err.message.split('\n')[0]}`);
  }
}
