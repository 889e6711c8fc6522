/**
 * Output-path guards shared by every verb that writes files: an output must never be one of the
 * verb's inputs (the model, the data, a labels or annotations file, a config, a spec), nor another of
 * its outputs. "The same file" is decided after path.resolve and realpath (so a symlink, or a folder
 * reached through one, is seen through) and, where both exist, by device and inode (so a hard link is
 * caught too). A file that does not exist yet is compared through its nearest existing ancestor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultAssets } from '../defaults.js';
import { UsageError } from '../errors.js';
import { STREAM_FILES } from '../stream/output.js';

/** One path the verb reads or writes, named by the flag (or key) the user gave it with. */
export interface PathArg {
  /** How the user named it: '--data', '--model', 'CONFIG', 'data.labels' … */
  name: string;
  /** The path; undefined (an option not given) is skipped. */
  path: string | undefined | null;
}

/** Absolute path with every existing part resolved through symlinks (a missing tail kept as given). */
export function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let head = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

function statOf(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** How `a` and `b` are the same file: 'path', 'link' (symlink or hard link), or null when they differ. */
export function sameFile(a: string, b: string): 'path' | 'link' | null {
  if (path.resolve(a) === path.resolve(b)) return 'path';
  if (canonicalPath(a) === canonicalPath(b)) return 'link';
  const sa = statOf(a);
  const sb = statOf(b);
  if (sa && sb && sa.dev === sb.dev && sa.ino === sb.ino) return 'link';
  return null;
}

/**
 * Throws a UsageError (exit 2, one line) when an output is one of the inputs or two outputs are the
 * same file. Call it after parsing, before reading or writing anything.
 */
export function guardOutputs(verb: string, outputs: readonly PathArg[], inputs: readonly PathArg[]): void {
  const outs = outputs.filter((o): o is PathArg & { path: string } => typeof o.path === 'string' && o.path !== '');
  const ins = inputs.filter((i): i is PathArg & { path: string } => typeof i.path === 'string' && i.path !== '');
  for (const o of outs) {
    for (const i of ins) {
      const how = sameFile(o.path, i.path);
      if (how) {
        const via = how === 'link' ? ` (through a link: ${canonicalPath(i.path)})` : '';
        throw new UsageError(`${verb}: ${q(o.name)} ${o.path} is the same file as ${q(i.name)} ${i.path}${via}; Gauntlet never overwrites an input, write to another path`);
      }
    }
  }
  for (let a = 0; a < outs.length; a++) {
    for (let b = a + 1; b < outs.length; b++) {
      if (sameFile(outs[a]!.path, outs[b]!.path)) throw new UsageError(`${verb}: ${q(outs[a]!.name)} and ${q(outs[b]!.name)} name the same file ${outs[b]!.path}; give each output its own path`);
    }
  }
}

/** A flag name as the other messages write it ('--out'); other names (CONFIG, data.labels) as given. */
function q(name: string): string {
  return /^--[\w-]+$/.test(name) ? `'${name}'` : name;
}

/**
 * For verbs that write a fixed set of files into a directory (stream): refuses when one of them
 * exists there and the directory was not written by the verb (`ours`), so no user file is overwritten.
 */
export function guardOutputDir(verb: string, dir: string, files: readonly string[], ours: (dir: string) => boolean): void {
  const taken = files.filter((f) => fs.existsSync(path.join(dir, f)));
  if (taken.length && !ours(dir)) {
    throw new UsageError(`${verb}: ${dir} already has ${taken.join(', ')}, not written by 'gauntlet ${verb}'; Gauntlet never overwrites files it did not write: use another --out`);
  }
}

/** A JSON-or-file option (noise --matrix, --spec): the file it names, if it is not inline JSON. */
export function fileOption(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim();
  return t.startsWith('{') || t.startsWith('[') ? undefined : raw;
}

/** --model as an input path (the embedded model when not given). */
export function modelInput(p: string | undefined, name = '--model'): PathArg {
  return { name, path: p ?? defaultAssets.model };
}

/** --data as an input path (the embedded data when not given). */
export function dataInput(p: string | undefined, name = '--data'): PathArg {
  return { name, path: p ?? defaultAssets.data };
}

/** `gauntlet stream --out DIR`: no scenario input is DIR or one of its files, and no foreign file there is overwritten. */
export function guardStreamOut(dir: string, scenarioFile: string | undefined, inputs: { model: string; data: string; challenger: { model: string } | null }): void {
  guardOutputs(
    'stream',
    [{ name: '--out', path: dir }, ...STREAM_FILES.map((f) => ({ name: `--out's ${f}`, path: path.join(dir, f) }))],
    [{ name: 'SCENARIO', path: scenarioFile }, { name: 'model', path: inputs.model }, { name: 'data', path: inputs.data }, { name: 'challenger model', path: inputs.challenger?.model }],
  );
  guardOutputDir('stream', dir, STREAM_FILES, (d) => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(d, 'stream.json'), 'utf8')) as { gauntlet?: unknown }).gauntlet === 'stream';
    } catch {
      return false;
    }
  });
}
