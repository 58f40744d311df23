DECLARE
  h NUMBER;
  job_state VARCHAR2(30);
BEGIN
  FOR j IN (SELECT job_name FROM user_datapump_jobs WHERE job_name = 'FERRY_IMP_M42' AND state = 'NOT RUNNING') LOOP
    EXECUTE IMMEDIATE 'DROP TABLE "' || j.job_name || '" PURGE';
  END LOOP;
  h := DBMS_DATAPUMP.OPEN(operation => 'IMPORT', job_mode => 'SCHEMA', job_name => 'FERRY_IMP_M42');
  DBMS_DATAPUMP.ADD_FILE(handle => h, filename => 'ferry_m42_%U.dmp', directory => 'FERRY_DUMP', filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_DUMP_FILE);
  DBMS_DATAPUMP.ADD_FILE(handle => h, filename => 'ferry_m42_import.log', directory => 'FERRY_DUMP', filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_LOG_FILE, reusefile => 1);
  DBMS_DATAPUMP.METADATA_FILTER(handle => h, name => 'SCHEMA_EXPR', value => 'IN (''HR'', ''O''''BRIEN'')');
  DBMS_DATAPUMP.METADATA_REMAP(handle => h, name => 'REMAP_SCHEMA', old_value => 'HR', value => 'HR_K8S');
  DBMS_DATAPUMP.SET_PARAMETER(handle => h, name => 'TABLE_EXISTS_ACTION', value => 'SKIP');
  DBMS_DATAPUMP.SET_PARALLEL(handle => h, degree => 4);
  DBMS_DATAPUMP.START_JOB(handle => h);
  DBMS_DATAPUMP.WAIT_FOR_JOB(handle => h, job_state => job_state);
  IF job_state <> 'COMPLETED' THEN
    RAISE_APPLICATION_ERROR(-20001, 'Data Pump import FERRY_IMP_M42 ended in state ' || job_state);
  END IF;
EXCEPTION
  WHEN OTHERS THEN
    -- Leave no half-defined job behind; the original error is what the caller sees.
    IF h IS NOT NULL THEN
      BEGIN DBMS_DATAPUMP.STOP_JOB(handle => h, immediate => 1, keep_master => 0); EXCEPTION WHEN OTHERS THEN NULL; END;
    END IF;
    RAISE;
END;
