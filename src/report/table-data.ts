/**
 * A table as data, for sections that report.md and report.html show alike (explanation drift,
 * layer sensitivity, uncertainty): each report renders the same rows its own way (Markdown table,
 * sortable HTML table), so the numbers and their CIs come from one place. Text is raw (each
 * renderer escapes it).
 */
import type { Num } from './format.js';

/** A number with its 95 % CI ([null, null] or absent: no CI), shown with `digits` decimals. */
export interface NumCell {
  value: Num;
  ci?: readonly [Num, Num] | readonly Num[] | null;
  digits?: number;
}

/** Text, or a number (with its CI when it has one). */
export type TableCell = string | NumCell;

export interface TableData {
  /** HTML id of the table (unique in the report). */
  id: string;
  /** One line above the table. */
  caption: string;
  head: string[];
  rows: TableCell[][];
}

/** A cell of `value` with its CI (null or absent CI: the value alone). */
export function num(value: Num, ci?: readonly [Num, Num] | readonly Num[] | null, digits = 3): NumCell {
  return { value, ci: ci ?? null, digits };
}
