MERGE INTO "SALES"."ORDERS" t
USING (SELECT TO_NUMBER(:1) AS "ID", :2 AS "Customer Name", FROM_TZ(TO_TIMESTAMP(:3, 'YYYY-MM-DD HH24:MI:SS.FF6'), '+00:00') AS "PLACED_AT", HEXTORAW(:4) AS "REF", :5 AS "NOTE" FROM dual) s
ON (t."ID" = s."ID")
WHEN MATCHED THEN UPDATE SET t."Customer Name" = s."Customer Name", t."PLACED_AT" = s."PLACED_AT", t."REF" = s."REF", t."NOTE" = s."NOTE"
WHEN NOT MATCHED THEN INSERT ("ID", "Customer Name", "PLACED_AT", "REF", "NOTE") VALUES (s."ID", s."Customer Name", s."PLACED_AT", s."REF", s."NOTE")
