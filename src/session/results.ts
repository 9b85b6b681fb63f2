/** RowDescription and DataRow for a result: column metadata from the types table, values in each column's format. */
import type { SqlValue } from '../sql/registry.js';
import type { ExecEnv, ResultColumn } from '../sql/plan.js';
import { formatValue } from '../sql/execute.js';
import { mustType } from '../sql/types.js';
import type { DataRow, RowDescription } from '../wire/messages.js';

export function rowDescription(columns: readonly ResultColumn[], formats: readonly number[]): RowDescription {
  return {
    type: 'RowDescription',
    fields: columns.map((c, i) => ({
      name: c.name, tableOid: c.tableOid, columnAttr: c.columnAttr, typeOid: c.type,
      typeSize: mustType(c.type).typlen, typeModifier: -1, format: formats[i] ?? 0,
    })),
  };
}

export function dataRow(columns: readonly ResultColumn[], formats: readonly number[], values: readonly SqlValue[], env: ExecEnv): DataRow {
  return { type: 'DataRow', values: columns.map((c, i) => formatValue(c.type, values[i] ?? null, formats[i] ?? 0, env)) };
}
