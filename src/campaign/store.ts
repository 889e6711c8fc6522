import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../data/util.js';

/** Writes a file atomically (see `writeFileAtomicSync`), creating its folder. Never leaves a half-written file. */
export function writeAtomic(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, content);
}

export function writeJson(file: string, value: unknown): void {
  writeAtomic(file, JSON.stringify(value, jsonReplacer, 2) + '\n');
}

/** JSON with non-finite numbers written as null (JSON has no NaN). */
export function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return v;
}

/** The run directory: manifest, results, per-cell checkpoints and an append-only event log. */
export class RunStore {
  constructor(readonly dir: string) {}

  get manifestPath(): string {
    return path.join(this.dir, 'manifest.json');
  }
  get resultsPath(): string {
    return path.join(this.dir, 'results.json');
  }
  cellPath(id: string): string {
    return path.join(this.dir, 'cells', `${id}.json`);
  }

  readJson<T>(file: string): T | null {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
    } catch {
      return null;
    }
  }

  event(e: Record<string, unknown>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.appendFileSync(path.join(this.dir, 'events.jsonl'), JSON.stringify({ time: new Date().toISOString(), ...e }, jsonReplacer) + '\n');
  }
}
