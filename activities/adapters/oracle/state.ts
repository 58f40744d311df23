// Ferry's state on an Oracle target. DTS asks only for the schema owner's permissions, so Ferry
// creates no schema (user) of its own: its tables live in the connecting user's schema, named
// FERRY_*. A chunk's marker row commits in the same transaction as its rows; a CDC batch
// commits with the source LSN it reached.
import type { OracleWriter } from './apply';

export const CHUNK_TABLE = '"FERRY_CHUNK"';
export const POSITION_TABLE = '"FERRY_POSITION"';

/** Idempotent creation: ORA-00955 (name already used) is the "already there" answer. */
export const CREATE_STATE_PLSQL = `BEGIN
  BEGIN
    EXECUTE IMMEDIATE 'CREATE TABLE ${CHUNK_TABLE} (MIGRATION_ID VARCHAR2(200) NOT NULL, CHUNK_ID VARCHAR2(1000) NOT NULL, ROWS_COPIED NUMBER(19) NOT NULL, BYTES_COPIED NUMBER(19) NOT NULL, WORKER_ID VARCHAR2(200), COMMITTED_AT TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL, CONSTRAINT "FERRY_CHUNK_PK" PRIMARY KEY (MIGRATION_ID, CHUNK_ID))';
  EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 THEN RAISE; END IF;
  END;
  BEGIN
    EXECUTE IMMEDIATE 'CREATE TABLE ${POSITION_TABLE} (MIGRATION_ID VARCHAR2(200) NOT NULL, SLOT_NAME VARCHAR2(200) NOT NULL, LSN VARCHAR2(40) NOT NULL, UPDATED_AT TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL, CONSTRAINT "FERRY_POSITION_PK" PRIMARY KEY (MIGRATION_ID, SLOT_NAME))';
  EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 THEN RAISE; END IF;
  END;
END;`;

export const DROP_STATE_PLSQL = `BEGIN
  FOR t IN (SELECT table_name FROM user_tables WHERE table_name IN ('FERRY_CHUNK', 'FERRY_POSITION')) LOOP
    EXECUTE IMMEDIATE 'DROP TABLE "' || t.table_name || '" PURGE';
  END LOOP;
END;`;

export const MARKER_EXISTS_SQL = `SELECT ROWS_COPIED, BYTES_COPIED FROM ${CHUNK_TABLE} WHERE MIGRATION_ID = :1 AND CHUNK_ID = :2`;
export const INSERT_MARKER_SQL = `INSERT INTO ${CHUNK_TABLE} (MIGRATION_ID, CHUNK_ID, ROWS_COPIED, BYTES_COPIED, WORKER_ID) VALUES (:1, :2, :3, :4, :5)`;
export const SAVE_POSITION_SQL = `MERGE INTO ${POSITION_TABLE} t
USING (SELECT :1 AS MIGRATION_ID, :2 AS SLOT_NAME, :3 AS LSN FROM dual) s
ON (t.MIGRATION_ID = s.MIGRATION_ID AND t.SLOT_NAME = s.SLOT_NAME)
WHEN MATCHED THEN UPDATE SET t.LSN = s.LSN, t.UPDATED_AT = SYSTIMESTAMP
WHEN NOT MATCHED THEN INSERT (MIGRATION_ID, SLOT_NAME, LSN) VALUES (s.MIGRATION_ID, s.SLOT_NAME, s.LSN)`;
export const READ_POSITION_SQL = `SELECT LSN FROM ${POSITION_TABLE} WHERE MIGRATION_ID = :1 AND SLOT_NAME = :2`;

export async function chunkMarker(w: OracleWriter, migrationId: string, chunkId: string): Promise<{ rows: number; bytes: number } | null> {
  const r = await w.execute(MARKER_EXISTS_SQL, [migrationId, chunkId]);
  const row = (r.rows as unknown[][] | undefined)?.[0];
  return row ? { rows: Number(row[0]), bytes: Number(row[1]) } : null;
}
