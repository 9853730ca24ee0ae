package postgres

import "fmt"

// supportDDL creates, in the support schema (second on every org's
// search_path), what the PostgreSQL SQL of Base relies on:
//
//   - base_json(text): the text as json, NULL when it is none;
//   - base_strftime(fmt, time, modifiers...): SQLite's strftime for the
//     datetime text format of Base (see rules.Postgres for the subset);
//   - comparison operators between text and double precision (numeric
//     when the text is a number, else text sorts after numbers, as in
//     SQLite) and equality between text and boolean, so filter
//     expressions whose operand types are only known per row (JSON paths)
//     compare like SQLite's dynamically typed values.
func supportDDL() []string {
	ddl := []string{
		`CREATE OR REPLACE FUNCTION base_json(t text) RETURNS json LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN t::json;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$`,
		`CREATE OR REPLACE FUNCTION base_num(t text) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN t ~ '^\s*[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?\s*$' THEN CAST(t AS double precision) END $$`,
		`CREATE OR REPLACE FUNCTION base_cmp(a text, b double precision) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN base_num(a) IS NULL THEN 1
  WHEN base_num(a) < b THEN -1 WHEN base_num(a) > b THEN 1 ELSE 0 END $$`,
		`CREATE OR REPLACE FUNCTION base_text_bool_eq(a text, b boolean) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN b THEN lower(a) IN ('true', '1') ELSE lower(a) IN ('false', '0') END $$`,
		`CREATE OR REPLACE FUNCTION base_strftime(fmt text, VARIADIC args text[] DEFAULT '{}') RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  ts timestamp;
  t text := COALESCE(args[1], 'now');
  m text;
  spec text;
  res text := '';
  i int;
BEGIN
  IF fmt IS NULL OR args[1] IS NULL AND array_length(args, 1) >= 1 THEN
    RETURN NULL;
  END IF;
  IF lower(trim(t)) = 'now' THEN
    ts := now() AT TIME ZONE 'UTC';
  ELSE
    BEGIN
      ts := CAST(replace(replace(trim(t), 'T', ' '), 'Z', '') AS timestamp);
    EXCEPTION WHEN others THEN
      RETURN NULL;
    END;
  END IF;
  FOR i IN 2 .. COALESCE(array_length(args, 1), 0) LOOP
    m := lower(trim(args[i]));
    IF m IS NULL THEN
      RETURN NULL;
    ELSIF m = 'start of day' THEN
      ts := date_trunc('day', ts);
    ELSIF m = 'start of month' THEN
      ts := date_trunc('month', ts);
    ELSIF m = 'start of year' THEN
      ts := date_trunc('year', ts);
    ELSIF m IN ('utc', 'localtime') THEN
      NULL;
    ELSIF m ~ '^[-+]?[0-9]+([.][0-9]*)?\s+(second|minute|hour|day|month|year)s?$' THEN
      ts := ts + CAST(m AS interval);
    ELSE
      RETURN NULL;
    END IF;
  END LOOP;
  i := 1;
  WHILE i <= length(fmt) LOOP
    IF substr(fmt, i, 1) <> '%' THEN
      res := res || substr(fmt, i, 1);
      i := i + 1;
      CONTINUE;
    END IF;
    spec := substr(fmt, i + 1, 1);
    res := res || CASE spec
      WHEN 'Y' THEN to_char(ts, 'YYYY')
      WHEN 'm' THEN to_char(ts, 'MM')
      WHEN 'd' THEN to_char(ts, 'DD')
      WHEN 'H' THEN to_char(ts, 'HH24')
      WHEN 'M' THEN to_char(ts, 'MI')
      WHEN 'S' THEN to_char(ts, 'SS')
      WHEN 'f' THEN to_char(ts, 'SS.MS')
      WHEN 'j' THEN to_char(ts, 'DDD')
      WHEN 'w' THEN CAST(CAST(extract(dow FROM ts) AS int) AS text)
      WHEN 's' THEN CAST(CAST(floor(extract(epoch FROM ts)) AS bigint) AS text)
      WHEN '%' THEN '%'
    END;
    IF res IS NULL THEN
      RETURN NULL;
    END IF;
    i := i + 2;
  END LOOP;
  RETURN res;
END $$`,
	}
	ops := []struct{ op, test string }{
		{"=", "= 0"}, {"<>", "<> 0"}, {"<", "< 0"}, {"<=", "<= 0"}, {">", "> 0"}, {">=", ">= 0"},
	}
	for i, o := range ops {
		f1 := fmt.Sprintf("base_tn_%d", i)
		f2 := fmt.Sprintf("base_nt_%d", i)
		ddl = append(ddl,
			fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s(a text, b double precision) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT base_cmp(a, b) %s $$`, f1, o.test),
			fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s(a double precision, b text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT -base_cmp(b, a) %s $$`, f2, o.test),
			fmt.Sprintf(`CREATE OPERATOR %s (LEFTARG = text, RIGHTARG = double precision, FUNCTION = %s)`, o.op, f1),
			fmt.Sprintf(`CREATE OPERATOR %s (LEFTARG = double precision, RIGHTARG = text, FUNCTION = %s)`, o.op, f2),
		)
	}
	ddl = append(ddl,
		`CREATE OR REPLACE FUNCTION base_bt_eq(a boolean, b text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT base_text_bool_eq(b, a) $$`,
		`CREATE OR REPLACE FUNCTION base_tb_ne(a text, b boolean) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT NOT base_text_bool_eq(a, b) $$`,
		`CREATE OR REPLACE FUNCTION base_bt_ne(a boolean, b text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT NOT base_text_bool_eq(b, a) $$`,
		`CREATE OPERATOR = (LEFTARG = text, RIGHTARG = boolean, FUNCTION = base_text_bool_eq)`,
		`CREATE OPERATOR = (LEFTARG = boolean, RIGHTARG = text, FUNCTION = base_bt_eq)`,
		`CREATE OPERATOR <> (LEFTARG = text, RIGHTARG = boolean, FUNCTION = base_tb_ne)`,
		`CREATE OPERATOR <> (LEFTARG = boolean, RIGHTARG = text, FUNCTION = base_bt_ne)`,
		// json has no equality; SQLite compares JSON columns as their text.
		`CREATE OR REPLACE FUNCTION base_jt_eq(a json, b text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CAST(a AS text) = b $$`,
		`CREATE OR REPLACE FUNCTION base_tj_eq(a text, b json) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT a = CAST(b AS text) $$`,
		`CREATE OR REPLACE FUNCTION base_jj_eq(a json, b json) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CAST(a AS text) = CAST(b AS text) $$`,
		`CREATE OR REPLACE FUNCTION base_jt_ne(a json, b text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CAST(a AS text) <> b $$`,
		`CREATE OR REPLACE FUNCTION base_tj_ne(a text, b json) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT a <> CAST(b AS text) $$`,
		`CREATE OR REPLACE FUNCTION base_jj_ne(a json, b json) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CAST(a AS text) <> CAST(b AS text) $$`,
		`CREATE OPERATOR = (LEFTARG = json, RIGHTARG = text, FUNCTION = base_jt_eq)`,
		`CREATE OPERATOR = (LEFTARG = text, RIGHTARG = json, FUNCTION = base_tj_eq)`,
		`CREATE OPERATOR = (LEFTARG = json, RIGHTARG = json, FUNCTION = base_jj_eq)`,
		`CREATE OPERATOR <> (LEFTARG = json, RIGHTARG = text, FUNCTION = base_jt_ne)`,
		`CREATE OPERATOR <> (LEFTARG = text, RIGHTARG = json, FUNCTION = base_tj_ne)`,
		`CREATE OPERATOR <> (LEFTARG = json, RIGHTARG = json, FUNCTION = base_jj_ne)`,
	)
	return ddl
}
