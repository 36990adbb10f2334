#!/usr/bin/env python3
"""The peers' side of the benchmark: what an analyst would run instead of sanhu.

    peers.py TOOL xlsx    --in FILE [--in FILE ...] --out OUT.parquet [--codec zstd|snappy]
    peers.py TOOL csv     --in FILE --out OUT.parquet [--codec zstd|snappy]
    peers.py TOOL metrics --lake DIR --queries DIR --out DIR [--outlier-hours 720]
    peers.py duckdb probe-excel          # prints how DuckDB's excel extension loads, or why not

TOOL is pandas, polars or duckdb. Each call is one process, timed whole by the harness (imports
included, as for sanhu's process). The xlsx and csv jobs produce the same typed table sanhu's lake
holds for customs_declaration: sanhu's column names, codes as strings, 进口/出口 mapped to I/E,
是/否 to a boolean, 货值 as decimal(18,2), and the three timestamps parsed as local time
(Asia/Shanghai) and stored as UTC instants (timestamp[us, UTC]). The metrics job computes
sanhu's clearance_times and clearance_metrics models over sanhu's own lake files: DuckDB runs the
project's SQL files themselves (queries/*.sql, with iso_week/local_month/hours_between defined
as macros), polars computes the same table with its expression API.

--codec makes the xlsx and csv jobs write that Parquet compression (zstd at level 1, sanhu's lake
default, or snappy) instead of the tool's own default (DuckDB and pyarrow: snappy; polars: zstd),
so the bytes compressed are the same work for every tool.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

TZ = "Asia/Shanghai"
COLS = {  # header -> sanhu column name
    "报关单号": "entry_id", "进出口": "ie_flag", "申报地海关": "customs_office", "监管方式": "trade_mode",
    "收发货人": "consignee_uscc", "申报单位": "declarant_uscc", "申报时间": "declared_at",
    "接单时间": "accepted_at", "放行时间": "released_at", "是否查验": "inspected", "货值(元)": "total_value_cny",
}
TS = ["申报时间", "接单时间", "放行时间"]
CODES = ["报关单号", "申报地海关", "监管方式", "收发货人", "申报单位"]
IE = {"进口": "I", "进": "I", "I": "I", "出口": "E", "出": "E", "E": "E"}
BOOL = {"是": True, "否": False, "Y": True, "N": False}
TS_FMT = "%Y-%m-%d %H:%M:%S"
ZSTD_LEVEL = 1  # sanhu's lake default (sanhu.toml [lake] zstd_level)


# ---------------------------------------------------------------------------------------- polars

def polars_typed(df):
    import polars as pl

    exprs = []
    for h, name in COLS.items():
        c = pl.col(h)
        if h in TS:
            if df.schema[h] == pl.String:
                c = c.str.to_datetime(TS_FMT, time_unit="us")
            else:
                c = c.cast(pl.Datetime("us"))
            c = c.dt.replace_time_zone(TZ, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
        elif h == "进出口":
            c = c.replace_strict(IE, default=None, return_dtype=pl.String)
        elif h == "是否查验":
            c = c.replace_strict(BOOL, default=None, return_dtype=pl.Boolean)
        elif h == "货值(元)":
            c = (c.round(2) if df.schema[h] != pl.String else c).cast(pl.Decimal(18, 2))
        else:
            c = c.cast(pl.String)
        exprs.append(c.alias(name))
    return df.select(exprs)


def polars_write(df, out, codec):
    if codec is None:
        df.write_parquet(out)
    else:
        df.write_parquet(out, compression=codec, compression_level=ZSTD_LEVEL if codec == "zstd" else None)


def polars_xlsx(inputs, out, codec=None):
    import polars as pl

    frames = [pl.read_excel(p, engine="calamine", schema_overrides={h: pl.String for h in CODES}) for p in inputs]
    df = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
    polars_write(polars_typed(df), out, codec)


def polars_csv(inputs, out, codec=None):
    import polars as pl

    df = pl.concat([pl.read_csv(p, schema_overrides={h: pl.String for h in CODES + ["货值(元)"]}) for p in inputs])
    polars_write(polars_typed(df), out, codec)


# ---------------------------------------------------------------------------------------- pandas

def pandas_write(df, out, codec=None):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for h in TS:
        df[h] = pd.to_datetime(df[h], format=TS_FMT if df[h].dtype == object or str(df[h].dtype).startswith("str") else None)
        df[h] = df[h].dt.tz_localize(TZ, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    df["进出口"] = df["进出口"].map(IE)
    df["是否查验"] = df["是否查验"].map(BOOL).astype("boolean")
    df = df.rename(columns=COLS)[list(COLS.values())]
    t = pa.Table.from_pandas(df, preserve_index=False)
    v = t.column("total_value_cny")
    if pa.types.is_floating(v.type):
        v = pc.round(v, 2)
    t = t.set_column(t.schema.get_field_index("total_value_cny"), "total_value_cny", v.cast(pa.decimal128(18, 2)))
    if codec is None:
        pq.write_table(t, out)
    else:
        pq.write_table(t, out, compression=codec, compression_level=ZSTD_LEVEL if codec == "zstd" else None)


def pandas_xlsx(inputs, out, codec=None):
    import pandas as pd

    frames = [pd.read_excel(p, engine="openpyxl", dtype={h: str for h in CODES}) for p in inputs]
    pandas_write(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), out, codec)


def pandas_csv(inputs, out, codec=None):
    import pandas as pd

    frames = [pd.read_csv(p, dtype={h: str for h in CODES + ["货值(元)"]}) for p in inputs]
    pandas_write(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), out, codec)


# ---------------------------------------------------------------------------------------- duckdb

def duckdb_excel(con):
    """Load DuckDB's excel extension: INSTALL from the extension repository, else the file shipped
    by the PyPI package duckdb-ext-excel for this exact DuckDB version. Returns how, or raises
    RuntimeError with every reason."""
    import duckdb

    reasons = []
    try:
        con.execute("INSTALL excel; LOAD excel;")
        return "INSTALL excel (extension repository)"
    except Exception as e:  # noqa: BLE001 - any failure is a reason to try the next way
        reasons.append(f"INSTALL excel: {str(e).splitlines()[0]}")
    try:
        import duckdb_ext  # from duckdb-ext-excel
        base = list(duckdb_ext.__path__)[0]
    except ImportError:
        base = None
        reasons.append("no duckdb-ext-excel package importable")
    if base:
        hits = glob.glob(os.path.join(base, "extensions", f"v{duckdb.__version__}", "*", "excel.duckdb_extension"))
        if not hits:
            have = sorted(os.listdir(os.path.join(base, "extensions"))) if os.path.isdir(os.path.join(base, "extensions")) else []
            reasons.append(f"duckdb-ext-excel ships {have or 'nothing'}, not v{duckdb.__version__}")
        else:
            try:
                con.execute(f"LOAD '{hits[0]}'")
                return f"LOAD of {os.path.relpath(hits[0], os.path.dirname(base))} from PyPI package duckdb-ext-excel"
            except Exception as e:  # noqa: BLE001
                reasons.append(f"LOAD {hits[0]}: {str(e).splitlines()[0]}")
    raise RuntimeError("; ".join(reasons))


def duckdb_select(src: str, ts_expr) -> str:
    cols = []
    for h, name in COLS.items():
        q = f'"{h}"'
        if h in TS:
            cols.append(f"timezone('{TZ}', {ts_expr(q)}) AS {name}")
        elif h == "进出口":
            cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in IE.items())
            cols.append(f"CASE CAST({q} AS VARCHAR) {cases} END AS {name}")
        elif h == "是否查验":
            cases = " ".join(f"WHEN '{k}' THEN {str(v).upper()}" for k, v in BOOL.items())
            cols.append(f"CASE CAST({q} AS VARCHAR) {cases} END AS {name}")
        elif h == "货值(元)":
            cols.append(f"CAST(round(CAST({q} AS DOUBLE), 2) AS DECIMAL(18,2)) AS {name}")
        else:
            cols.append(f"CAST({q} AS VARCHAR) AS {name}")
    return f"SELECT {', '.join(cols)} FROM {src}"


def duckdb_format(codec):
    if codec is None:
        return "FORMAT parquet"
    return f"FORMAT parquet, COMPRESSION {codec}" + (f", COMPRESSION_LEVEL {ZSTD_LEVEL}" if codec == "zstd" else "")


def duckdb_xlsx(inputs, out, codec=None):
    import duckdb

    con = duckdb.connect()
    duckdb_excel(con)
    src = " UNION ALL ".join(f"SELECT * FROM read_xlsx('{p}', header = true)" for p in inputs)

    def ts(q):
        # A date-formatted cell arrives as TIMESTAMP; if the reader saw a plain number, it is an
        # Excel serial day count.
        return (f"CASE WHEN typeof({q}) = 'DOUBLE' THEN TIMESTAMP '1899-12-30' + to_microseconds(CAST(round(TRY_CAST({q} AS DOUBLE) * 86400e6) AS BIGINT)) "
                f"ELSE TRY_CAST({q} AS TIMESTAMP) END")

    con.execute(f"COPY ({duckdb_select(f'({src})', ts)}) TO '{out}' ({duckdb_format(codec)})")


def duckdb_csv(inputs, out, codec=None):
    import duckdb

    con = duckdb.connect()
    types = {h: "VARCHAR" for h in CODES + ["进出口", "是否查验"]}
    types.update({h: "TIMESTAMP" for h in TS})
    types["货值(元)"] = "DECIMAL(18,2)"
    tlit = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    files = "[" + ", ".join(f"'{p}'" for p in inputs) + "]"
    src = f"read_csv({files}, header = true, types = {tlit}, timestampformat = '{TS_FMT}')"
    con.execute(f"COPY ({duckdb_select(src, lambda q: q)}) TO '{out}' ({duckdb_format(codec)})")


def duckdb_metrics(lake, queries, out, outlier_hours):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{TZ}'")
    con.execute(f"CREATE MACRO iso_week(ts) AS strftime(timezone('{TZ}', ts), '%G-W%V')")
    con.execute(f"CREATE MACRO local_month(ts) AS strftime(timezone('{TZ}', ts), '%Y-%m')")
    con.execute("CREATE MACRO hours_between(a, b) AS (epoch_us(b) - epoch_us(a)) / 3600000000.0")
    empty = {
        "park_warehouse": "SELECT NULL::VARCHAR AS entry_id, NULL::TIMESTAMPTZ AS in_at, NULL::TIMESTAMPTZ AS out_at, "
                          "NULL::BIGINT AS _delivery, NULL::VARCHAR AS _source_file WHERE false",
        # sanhu's credit library (a model it builds upstream of clearance_metrics), when the lake has one.
        "credit_library": "SELECT NULL::VARCHAR AS uscc, NULL::VARCHAR AS grade WHERE false",
    }
    for t in ("customs_declaration", "airport_cargo", "park_warehouse", "credit_library"):
        files = sorted(glob.glob(os.path.join(lake, t, "*.parquet")))
        if files:
            lst = "[" + ", ".join(f"'{f}'" for f in files) + "]"
            # _source_file: the lake's own column where it has one, else the Parquet file name.
            con.execute(f"CREATE VIEW {t}_raw AS SELECT * FROM read_parquet({lst}, filename = true)")
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}_raw").fetchall()]
            extra = "" if "_source_file" in cols else ", filename AS _source_file"
            con.execute(f"CREATE VIEW {t} AS SELECT *{extra} FROM {t}_raw")
        elif t in empty:
            con.execute(f"CREATE VIEW {t} AS {empty[t]}")
        else:
            raise RuntimeError(f"no lake files for {t} under {lake}")
    # sanhu's delivery ledger (which file each delivery number came from), as sanhu's SQL sees it.
    import sqlite3
    ledger = sqlite3.connect(os.path.join(os.path.dirname(lake), "sanhu.db"))
    con.execute("CREATE TABLE deliveries (id BIGINT, file_name VARCHAR)")
    con.executemany("INSERT INTO deliveries VALUES (?, ?)", ledger.execute("SELECT id, file_name FROM deliveries").fetchall())
    ledger.close()
    os.makedirs(out, exist_ok=True)
    for model in ("clearance_times", "clearance_metrics"):
        with open(os.path.join(queries, f"{model}.sql"), encoding="utf-8") as f:
            sql = f.read().replace("{{outlier_hours}}", str(outlier_hours))
        con.execute(f"CREATE TABLE {model} AS {sql}")
        con.execute(f"COPY {model} TO '{os.path.join(out, model + '.parquet')}' (FORMAT parquet)")


# ---------------------------------------------------------------------------------------- polars metrics

def polars_metrics(lake, queries, out, outlier_hours):
    import polars as pl

    def scan(t):
        files = sorted(glob.glob(os.path.join(lake, t, "*.parquet")))
        if not files:
            raise RuntimeError(f"no lake files for {t} under {lake}")
        return pl.scan_parquet(files)

    hours = lambda a, b: (pl.col(b) - pl.col(a)).dt.total_microseconds() / 3.6e9  # noqa: E731
    local = lambda c: pl.col(c).dt.convert_time_zone(TZ)  # noqa: E731
    d = scan("customs_declaration").select("entry_id", "ie_flag", "customs_office", "trade_mode", "inspected",
                                           "consignee_uscc", "declared_at", "accepted_at", "released_at")
    air = (scan("airport_cargo").filter(pl.col("entry_id").is_not_null()).group_by("entry_id")
           .agg(pl.col("arrived_at").min(), pl.col("gate_out_at").max()))
    # No park_warehouse feed in the benchmark project: exports have no arrival / departure.
    m = d.join(air, on="entry_id", how="left").with_columns(
        pl.when(pl.col("ie_flag") == "I").then(pl.col("arrived_at")).alias("arrival_at"),
        pl.when(pl.col("ie_flag") == "I").then(pl.col("gate_out_at")).alias("gate_out_at"),
    )
    seg = {"arrival_to_declared": ("arrival_at", "declared_at"), "declared_to_released": ("declared_at", "released_at"),
           "released_to_gate_out": ("released_at", "gate_out_at"), "arrival_to_gate_out": ("arrival_at", "gate_out_at")}
    raw = {k: hours(a, b) for k, (a, b) in seg.items()}
    times = m.with_columns(
        *[pl.when(e >= 0).then(e).alias(f"{k}_h") for k, e in raw.items()],
        pl.any_horizontal([(e > outlier_hours).fill_null(False) for e in raw.values()]).alias("outlier"),
        local("declared_at").dt.strftime("%G-W%V").alias("week"),
        local("declared_at").dt.strftime("%Y-%m").alias("month"),
    ).collect()
    os.makedirs(out, exist_ok=True)
    times.write_parquet(os.path.join(out, "clearance_times.parquet"))

    lib_files = sorted(glob.glob(os.path.join(lake, "credit_library", "*.parquet")))
    lib = (pl.scan_parquet(lib_files).select(pl.col("uscc").alias("consignee_uscc"), pl.col("grade").alias("credit_grade"))
           if lib_files else pl.LazyFrame(schema={"consignee_uscc": pl.String, "credit_grade": pl.String}))
    base = times.lazy().join(lib, on="consignee_uscc", how="left").select(
                               "week", "month", "ie_flag", "customs_office", "trade_mode",
                               pl.col("credit_grade").fill_null("未评级"),
                               pl.when(pl.col("inspected")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("inspected"),
                               *[f"{k}_h" for k in seg])
    long = pl.concat([base.select(pl.exclude([f"{j}_h" for j in seg]), pl.lit(k).alias("segment"), pl.col(f"{k}_h").alias("h"))
                      for k in seg])
    h = pl.col("h")

    def rnd(e):
        try:
            return e.round(4, mode="half_away_from_zero")
        except TypeError:
            return e.round(4)

    aggs = [
        h.count().alias("n"), pl.len().alias("declarations"),
        rnd(h.count() / pl.len()).alias("coverage"), rnd(h.mean()).alias("mean_h"),
        rnd(h.quantile(0.5, "linear")).alias("median_h"), rnd(h.quantile(0.9, "linear")).alias("p90_h"),
        rnd(h.quantile(0.95, "linear")).alias("p95_h"), rnd(h.min()).alias("min_h"), rnd(h.max()).alias("max_h"),
        pl.when(h.count() > 0).then(rnd((h <= 24).sum() / h.count())).alias("share_within_24h"),
        pl.when(h.count() > 0).then(rnd((h <= 48).sum() / h.count())).alias("share_within_48h"),
        (h > outlier_hours).sum().alias("n_outliers"),
    ]
    parts = []
    for pk, pcol in (("week", "week"), ("month", "month")):
        for sk, scol in (("all", None), ("ie_flag", "ie_flag"), ("customs_office", "customs_office"),
                         ("trade_mode", "trade_mode"), ("inspected", "inspected"), ("credit_grade", "credit_grade")):
            sv = pl.lit("all") if scol is None else pl.col(scol)
            parts.append(long.group_by(pl.col(pcol).alias("period"), sv.alias("slice_value"), "segment").agg(aggs)
                         .select(pl.lit(pk).alias("period_kind"), "period", pl.lit(sk).alias("slice_kind"),
                                 pl.all().exclude("period")))
    pl.concat(pl.collect_all(parts)).write_parquet(os.path.join(out, "clearance_metrics.parquet"))


# ---------------------------------------------------------------------------------------- main

JOBS = {
    ("polars", "xlsx"): polars_xlsx, ("polars", "csv"): polars_csv,
    ("pandas", "xlsx"): pandas_xlsx, ("pandas", "csv"): pandas_csv,
    ("duckdb", "xlsx"): duckdb_xlsx, ("duckdb", "csv"): duckdb_csv,
    ("duckdb", "metrics"): duckdb_metrics, ("polars", "metrics"): polars_metrics,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tool", choices=["pandas", "polars", "duckdb"])
    ap.add_argument("job", choices=["xlsx", "csv", "metrics", "probe-excel"])
    ap.add_argument("--in", dest="inputs", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--lake")
    ap.add_argument("--queries")
    ap.add_argument("--outlier-hours", type=float, default=720.0)
    ap.add_argument("--codec", choices=["zstd", "snappy"], help="Parquet compression of the xlsx/csv output (default: the tool's own)")
    a = ap.parse_args()
    if a.job == "probe-excel":
        import duckdb
        try:
            print(duckdb_excel(duckdb.connect()))
            return 0
        except RuntimeError as e:
            print(f"not available here: {e}")
            return 3
    fn = JOBS.get((a.tool, a.job))
    if fn is None:
        print(f"{a.tool} has no {a.job} job", file=sys.stderr)
        return 2
    if a.job == "metrics":
        fn(a.lake, a.queries, a.out, a.outlier_hours)
    else:
        fn(a.inputs, a.out, a.codec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
