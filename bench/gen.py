#!/usr/bin/env python3
"""Benchmark inputs for sanhu and its peers: N customs declarations (报关单) and the airport
arrival/gate-out rows (运抵提离) of the imports among them.

Writes, into --out:
  customs_declaration_<N>.csv              UTF-8, timestamps as text `YYYY-MM-DD HH:MM:SS`
  customs_declaration_<N>[_pKK].xlsx       one sheet of real Excel datetimes (xlsxwriter,
                                           constant_memory); above 1,000,000 rows the rows are
                                           split over several workbooks, because a sheet holds
                                           at most 1,048,576 rows
  airport_cargo_<N>.csv                    运单号, 报关单号, 运抵时间, 提离时间 for every import
  manifest.json                            what was written, with the generator's parameters

Every value passes sanhu's checks (schemas/customs_declaration.toml, src/normalise/codes.rs):
18-digit entry ids (office 4 + year 4 + 1 import / 0 export + sequence 9), USCCs with the
GB 32100-2015 check character, 4-digit trade modes, 进口/出口, 是/否, and the time order
declared <= accepted <= released, arrived <= gate-out. Deterministic: the same --rows and --seed
give byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time

import numpy as np

HEADERS = ["报关单号", "进出口", "申报地海关", "监管方式", "收发货人", "申报单位",
           "申报时间", "接单时间", "放行时间", "是否查验", "货值(元)"]
AIR_HEADERS = ["运单号", "报关单号", "运抵时间", "提离时间"]
TS_COLS = ["申报时间", "接单时间", "放行时间"]

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

# Customs offices under Hohhot customs (Ordos and neighbours) and common trade modes.
OFFICES = np.array(["0701", "0711", "0712", "0713", "0714", "0715"])
OFFICE_P = np.array([0.10, 0.15, 0.45, 0.15, 0.10, 0.05])
TRADE_MODES = np.array(["0110", "9610", "1210", "0615", "2225", "0214", "1039", "9710"])
TRADE_P = np.array([0.55, 0.15, 0.08, 0.06, 0.05, 0.04, 0.04, 0.03])
# Ordos administrative divisions (150600 city, districts and banners).
REGIONS = ["150602", "150603", "150621", "150622", "150623", "150624", "150625", "150626", "150627", "150600"]

PERIOD_START = np.datetime64("2024-01-01T00:00:00", "s")
PERIOD_DAYS = 731  # 2024-01-01 .. 2025-12-31, all in the past
XLSX_ROWS_PER_BOOK = 1_000_000


def uscc_check(first17: str) -> str:
    s = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_CHARS[(31 - s % 31) % 31]


def make_usccs(rng: np.random.Generator, n: int) -> list[str]:
    out, seen = [], set()
    while len(out) < n:
        kind = "91" if rng.random() < 0.9 else "92"  # enterprise / individual business
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        org = "".join(USCC_CHARS[int(i)] for i in rng.integers(0, 31, 9))
        first = kind + region + org
        code = first + uscc_check(first)
        if code not in seen:
            seen.add(code)
            out.append(code)
    return out


def awb(prefix: str, serial: int) -> str:
    """IATA air waybill: 3-digit airline prefix, 7-digit serial, mod-7 check digit."""
    return f"{prefix}-{serial:07d}{serial % 7}"


def generate(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    idx = np.arange(n, dtype=np.int64)
    imp = rng.random(n) < 0.55
    office = rng.choice(OFFICES, n, p=OFFICE_P)
    trade = rng.choice(TRADE_MODES, n, p=TRADE_P)
    ents = np.array(make_usccs(rng, max(200, min(50_000, n // 20))))
    declarants = np.array(make_usccs(rng, max(20, min(2_000, n // 500))))
    consignee = ents[rng.integers(0, len(ents), n)]
    declarant = declarants[rng.integers(0, len(declarants), n)]

    # Declared: working hours of a day in the period (seconds resolution).
    day = rng.integers(0, PERIOD_DAYS, n)
    sec = (rng.normal(13.5, 3.0, n).clip(0, 23.99) * 3600).astype(np.int64)
    declared = PERIOD_START + (day * 86400 + sec).astype("timedelta64[s]")
    accepted = declared + (rng.exponential(0.4, n) * 3600).astype(np.int64).astype("timedelta64[s]")
    inspected = rng.random(n) < 0.08
    hours = rng.lognormal(np.log(5.0), 1.0, n) + np.where(inspected, rng.uniform(12, 60, n), 0.0)
    hours = np.where(rng.random(n) < 0.002, hours + rng.uniform(750, 1500, n), hours)  # > 30-day outliers
    released = accepted + (hours * 3600).astype(np.int64).astype("timedelta64[s]")
    released_null = rng.random(n) < 0.01  # still pending
    accepted_null = rng.random(n) < 0.005
    value = np.round(rng.lognormal(np.log(200_000), 1.5, n), 2).clip(1, 9_999_999_999)

    years = declared.astype("datetime64[Y]").astype(np.int64) + 1970
    flag = np.where(imp, "1", "0")
    entry = np.char.add(np.char.add(np.char.add(office, years.astype(str)), flag),
                        np.char.zfill((idx + 1).astype(str), 9))

    # Airport rows for the imports: arrival before declaration, gate-out after release.
    ii = np.nonzero(imp)[0]
    m = len(ii)
    arrived = declared[ii] - (rng.lognormal(np.log(10.0), 0.8, m) * 3600).astype(np.int64).astype("timedelta64[s]")
    gate_out = released[ii] + (rng.lognormal(np.log(3.0), 0.7, m) * 3600).astype(np.int64).astype("timedelta64[s]")
    gate_null = released_null[ii] | (rng.random(m) < 0.01)
    prefixes = np.array(["880", "999", "781", "784", "112"])
    pfx = prefixes[np.arange(m) % len(prefixes)]
    serial = np.arange(m) // len(prefixes) + 1000000
    waybill = np.array([awb(p, int(s)) for p, s in zip(pfx, serial)]) if m else np.array([], dtype=str)
    return dict(n=n, entry=entry, imp=imp, office=office, trade=trade, consignee=consignee, declarant=declarant,
                declared=declared, accepted=accepted, accepted_null=accepted_null, released=released,
                released_null=released_null, inspected=inspected, value=value,
                air_idx=ii, waybill=waybill, arrived=arrived, gate_out=gate_out, gate_null=gate_null)


def write_csvs(d: dict, out: str) -> tuple[str, str]:
    import polars as pl

    def ts_text(a: np.ndarray, null: np.ndarray | None) -> pl.Series:
        s = pl.Series(np.datetime_as_string(a, unit="s")).str.replace("T", " ", literal=True)
        if null is not None:
            s = pl.select(pl.when(pl.Series(null)).then(None).otherwise(s)).to_series()
        return s

    df = pl.DataFrame({
        "报关单号": d["entry"],
        "进出口": np.where(d["imp"], "进口", "出口"),
        "申报地海关": d["office"],
        "监管方式": d["trade"],
        "收发货人": d["consignee"],
        "申报单位": d["declarant"],
        "申报时间": ts_text(d["declared"], None),
        "接单时间": ts_text(d["accepted"], d["accepted_null"]),
        "放行时间": ts_text(d["released"], d["released_null"]),
        "是否查验": np.where(d["inspected"], "是", "否"),
        "货值(元)": pl.Series(d["value"]).round(2).cast(pl.Decimal(18, 2)).cast(pl.String),
    })
    path = os.path.join(out, f"customs_declaration_{d['n']}.csv")
    df.write_csv(path, null_value="")
    ii = d["air_idx"]
    air = pl.DataFrame({
        "运单号": d["waybill"],
        "报关单号": d["entry"][ii],
        "运抵时间": ts_text(d["arrived"], None),
        "提离时间": ts_text(d["gate_out"], d["gate_null"]),
    })
    apath = os.path.join(out, f"airport_cargo_{d['n']}.csv")
    air.write_csv(apath, null_value="")
    return path, apath


def write_xlsx(d: dict, out: str) -> list[str]:
    import xlsxwriter

    n = d["n"]
    epoch = np.datetime64("1899-12-30T00:00:00", "s")
    ie = np.where(d["imp"], "进口", "出口")
    insp_all = np.where(d["inspected"], "是", "否")
    parts = max(1, -(-n // XLSX_ROWS_PER_BOOK))
    paths = []
    for p in range(parts):
        lo, hi = p * XLSX_ROWS_PER_BOOK, min(n, (p + 1) * XLSX_ROWS_PER_BOOK)
        sl = slice(lo, hi)
        # Python lists per workbook only, so memory stays bounded at 10M rows.
        dec, acc, rel = ((d[k][sl] - epoch).astype(np.int64) / 86400.0 for k in ("declared", "accepted", "released"))
        dec, acc, rel = dec.tolist(), acc.tolist(), rel.tolist()
        accn, reln = d["accepted_null"][sl].tolist(), d["released_null"][sl].tolist()
        c0, c1, c2, c3, c4, c5 = (a[sl].tolist() for a in (d["entry"], ie, d["office"], d["trade"], d["consignee"], d["declarant"]))
        insp, value = insp_all[sl].tolist(), d["value"][sl].tolist()
        name = f"customs_declaration_{n}.xlsx" if parts == 1 else f"customs_declaration_{n}_p{p + 1:02d}.xlsx"
        path = os.path.join(out, name)
        # A fixed document time keeps the file byte-identical from run to run.
        wb = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
        wb.set_properties({"created": dt.datetime(2026, 1, 1)})
        ws = wb.add_worksheet("报关单")
        fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        money = wb.add_format({"num_format": "#,##0.00"})
        ws.set_column(0, 0, 21)
        ws.set_column(4, 5, 21)
        ws.set_column(6, 8, 19)
        ws.write_row(0, 0, HEADERS)
        ws_s, ws_n = ws.write_string, ws.write_number
        r = 1
        for i in range(hi - lo):
            ws_s(r, 0, c0[i])
            ws_s(r, 1, c1[i])
            ws_s(r, 2, c2[i])
            ws_s(r, 3, c3[i])
            ws_s(r, 4, c4[i])
            ws_s(r, 5, c5[i])
            ws_n(r, 6, dec[i], fmt)
            if not accn[i]:
                ws_n(r, 7, acc[i], fmt)
            if not reln[i]:
                ws_n(r, 8, rel[i], fmt)
            ws_s(r, 9, insp[i])
            ws_n(r, 10, value[i], money)
            r += 1
        wb.close()
        paths.append(path)
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, required=True, help="number of declarations")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=20160520)
    ap.add_argument("--formats", default="csv,xlsx", help="comma list: csv,xlsx")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    formats = set(a.formats.split(","))
    t0 = time.perf_counter()
    d = generate(a.rows, a.seed)
    files = {}
    if "csv" in formats:
        files["csv"], files["airport_csv"] = write_csvs(d, a.out)
    if "xlsx" in formats:
        files["xlsx"] = write_xlsx(d, a.out)
    manifest = dict(rows=a.rows, seed=a.seed, imports=int(d["imp"].sum()), airport_rows=int(len(d["air_idx"])),
                    files={k: ([os.path.basename(x) for x in v] if isinstance(v, list) else os.path.basename(v))
                           for k, v in files.items()},
                    seconds=round(time.perf_counter() - t0, 1))
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    print(f"gen: {a.rows} declarations, {manifest['airport_rows']} airport rows -> {a.out} in {manifest['seconds']}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
