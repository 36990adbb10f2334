#!/usr/bin/env python3
"""Runs the benchmark jobs for sanhu and its peers and writes RESULTS.md. Called by bench/run,
which sets up the virtual environment and the sanhu binary first; see bench/README.md.

Every measured run is one process under `/usr/bin/time -v`: the wall time is taken around it,
the peak RSS from time's "Maximum resident set size". Setup (a fresh project folder, copying the
input into its inbox, removing old outputs) happens before the clock starts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT_ITEMS = ["sanhu.toml", "schemas", "pipelines", "queries", "reports", "seed", "credit_rules.toml", "sharing.toml"]
# Five years (261 ISO weeks) of history ending on a Sunday, then the new week 2024-W01, so that
# the new week's declarations start the year's entry-id sequences afresh.
HISTORY_TO = dt.date(2023, 12, 31)
NEW_WEEK = ("2024-01-01", "2024-01-07", "2024-W01")
LAST_HISTORY_WEEK = "2023-W52"
# A sheet holds at most 1,048,576 rows: the bench project's intake limits are raised so the
# largest scales are not refused for size (validation itself is unchanged).
INTAKE_LIMITS = {"max_file_bytes": 16 << 30, "max_uncompressed_bytes": 64 << 30, "max_rows": 50_000_000}

TOOLS_FOR = {"xlsx": ["sanhu", "polars", "pandas", "duckdb"], "csv": ["sanhu", "polars", "pandas", "duckdb"],
             "metrics": ["sanhu", "duckdb", "polars"], "weekly": ["sanhu"]}
JOB_TITLES = {
    "xlsx": "(a) xlsx → typed Parquet (customs declarations)",
    "csv": "(b) csv → typed Parquet (customs declarations)",
    "metrics": "(c) clearance metrics over the same Parquet (clearance_times + clearance_metrics)",
    "weekly": "(d) sanhu weekly cycle: one new week onto the history (`sanhu run --week`)",
}


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, stack, seen = 0, [pid], set()
    while stack:
        q = stack.pop()
        if q in seen:
            continue
        seen.add(q)
        try:
            with open(f"/proc/{q}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
                total += int(m.group(1)) if m else 0
            for tid in os.listdir(f"/proc/{q}/task"):
                with open(f"/proc/{q}/task/{tid}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def parquet_bytes(path: str) -> int:
    """Size of a Parquet file, or of every Parquet file in a folder (a lake table)."""
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".parquet"))
    return os.path.getsize(path) if os.path.exists(path) else 0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Result:
    job: str
    scale: int
    tool: str
    label: str = ""
    walls: list = field(default_factory=list)
    rss_kib: list = field(default_factory=list)
    error: str | None = None
    command: str = ""
    setup: str = ""
    note: str = ""

    @property
    def median(self):
        return statistics.median(self.walls) if self.walls else None

    @property
    def peak_mib(self):
        return max(self.rss_kib) / 1024 if self.rss_kib else None


class Bench:
    def __init__(self, a):
        self.a = a
        self.sanhu = a.sanhu
        self.py = a.python
        self.work = a.work
        self.results: list[Result] = []
        self.pending: list[dict] = []  # queued runs (queue, run_queue)
        self.notes: list[str] = []
        self.agree: list[str] = []
        self.same: list[str] = []
        self.waited = 0.0
        self.excel_pythonpath: str | None = None
        self.excel_how = ""
        self.template = os.path.join(self.work, "project-template")
        self.t0 = time.time()
        self.load_start = os.getloadavg()

    # ------------------------------------------------------------------ running and measuring

    def measure(self, argv: list[str], env_extra: dict | None = None, cwd: str | None = None):
        """One run under /usr/bin/time -v. Returns (wall seconds, peak RSS KiB, rc, stdout, stderr).
        A watchdog ends the run (its own process group) if the tree's RSS passes --mem-limit-gib,
        so a runaway job cannot take the machine down."""
        tfile = os.path.join(self.work, ".time-v.txt")
        ofile, efile = os.path.join(self.work, ".stdout.txt"), os.path.join(self.work, ".stderr.txt")
        env = dict(os.environ)
        env.update(env_extra or {})
        limit_kib = int(self.a.mem_limit_gib * 2**20)
        killed = None
        t = time.perf_counter()
        with open(ofile, "w") as fo, open(efile, "w") as fe:
            p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile] + argv, stdout=fo, stderr=fe, env=env, cwd=cwd,
                                 start_new_session=True)
            while True:
                try:
                    p.wait(timeout=0.2)  # returns as soon as the process ends
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.perf_counter() - t > self.a.timeout:
                    killed = f"timed out after {self.a.timeout:.0f} s"
                elif tree_rss_kib(p.pid) > limit_kib:
                    killed = f"stopped by the benchmark at {self.a.mem_limit_gib:g} GiB RSS (--mem-limit-gib)"
                if killed:
                    try:
                        os.killpg(p.pid, 9)
                    except ProcessLookupError:
                        pass
                    p.wait()
                    break
        wall = time.perf_counter() - t
        with open(ofile, encoding="utf-8", errors="replace") as f:
            out = f.read()
        with open(efile, encoding="utf-8", errors="replace") as f:
            err = f.read()
        if killed:
            return wall, None, -9, out, killed
        rss = None
        try:
            with open(tfile, encoding="utf-8", errors="replace") as f:
                tv = f.read()
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv)
            rss = int(m.group(1)) if m else None
            # time's own wall clock of the child (0.01 s resolution) is the measurement.
            m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", tv)
            if m:
                wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        except OSError:
            pass
        return wall, rss, p.returncode, out, err

    def wait_quiet(self):
        """On a shared 2-core machine a cargo build next door doubles every number: before each
        measured run, wait (up to --wait-quiet seconds) until no compiler is running."""
        if self.a.wait_quiet <= 0:
            return
        names = {"rustc", "cargo", "cc1", "cc1plus", "ld", "lld", "mold"}
        t = time.perf_counter()
        logged = False
        while time.perf_counter() - t < self.a.wait_quiet:
            busy = []
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/comm") as f:
                            name = f.read().strip()
                    except OSError:
                        continue
                    if name in names:
                        busy.append(name)
            if not busy:
                break
            if not logged:
                log(f"  waiting for {', '.join(sorted(set(busy)))} to finish before measuring")
                logged = True
            time.sleep(5)
        waited = time.perf_counter() - t
        if waited > 1:
            self.waited += waited
            if waited >= self.a.wait_quiet:
                self.notes.append(f"a compiler was still running after {self.a.wait_quiet:.0f} s of waiting; a run went ahead beside it")

    @staticmethod
    def reason(rc, out, err) -> str:
        lines = [l.strip() for l in (err or out or "").splitlines() if l.strip() and not l.startswith("Command ")]
        last = [l for l in lines if "Error" in l or "error" in l] or lines
        text = last[-1] if last else "no output"
        return f"exit {rc}: {text[:300]}"

    def runs_for(self, scale: int) -> int:
        return 1 if self.a.quick else (self.a.runs_10m if scale >= 10_000_000 else self.a.runs)

    def repeat(self, res: Result, setup, argv, env_extra=None, check=None) -> Result:
        """One tool's runs on their own (see queue)."""
        self.queue(res, setup, argv, env_extra, check)
        self.run_queue()
        return res

    def queue(self, res: Result, setup, argv, env_extra=None, check=None) -> Result:
        """A tool's runs of one job, to be run by run_queue: setup() then argv, up to
        runs_for(scale) times."""
        env_s = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env_extra or {}).items())
        res.command = ((env_s + " " if env_s else "") + shlex.join(argv)).replace(self.a.repo + "/", "")
        self.pending.append({"res": res, "setup": setup, "argv": argv, "env": env_extra, "check": check, "done": False})
        return res

    def run_queue(self):
        """The queued tools' runs in rounds — run 1 of every tool, then run 2 of every tool, ... —
        so a stretch when the machine is slower (other virtual machines on the host) falls on
        every tool alike, not on whichever happened to be running. A run slower than
        --max-repeat seconds is not repeated (the note says so); a failed one ends that tool's runs."""
        entries, self.pending = self.pending, []
        n = max((self.runs_for(e["res"].scale) for e in entries), default=0)
        for i in range(n):
            for e in entries:
                res = e["res"]
                if e["done"] or i >= self.runs_for(res.scale):
                    continue
                try:
                    e["setup"]()
                except Exception as ex:  # noqa: BLE001 - recorded, not fatal
                    res.error = f"setup failed: {ex}"
                    e["done"] = True
                    continue
                # Setup's writes (a 1.5 GB input copied into sanhu's inbox at 10M) go to disk
                # now, not in the background during the measured run, whichever tool it is.
                os.sync()
                self.wait_quiet()
                wall, rss, rc, out, err = self.measure(e["argv"], e["env"])
                if rc != 0:
                    res.error = self.reason(rc, out, err)
                    log(f"  {res.job} {res.scale} {res.tool}: FAILED {res.error}")
                    e["done"] = True
                    continue
                problem = e["check"](out, err) if e["check"] else None
                if problem:
                    res.error = problem
                    log(f"  {res.job} {res.scale} {res.tool}: FAILED {problem}")
                    e["done"] = True
                    continue
                res.walls.append(wall)
                if rss:
                    res.rss_kib.append(rss)
                nr = self.runs_for(res.scale)
                log(f"  {res.job} {res.scale} {res.tool}{' ' + res.label if res.label else ''}: run {i + 1}/{nr} "
                    f"{wall:.2f} s, {rss / 1024 if rss else float('nan'):.0f} MiB")
                if wall > self.a.max_repeat and i + 1 < nr:
                    res.note = (res.note + "; " if res.note else "") + f"1 run only (a run took > {self.a.max_repeat:.0f} s)"
                    e["done"] = True
        self.results.extend(e["res"] for e in entries)

    # ------------------------------------------------------------------ setup helpers

    def make_template(self):
        if os.path.exists(self.template):
            shutil.rmtree(self.template)
        os.makedirs(self.template)
        for item in PROJECT_ITEMS:
            src = os.path.join(self.a.repo, item)
            if not os.path.exists(src):
                raise SystemExit(f"bench: {src} is missing; is --repo the sanhu repository?")
            (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(self.template, item))
        path = os.path.join(self.template, "sanhu.toml")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for k, v in INTAKE_LIMITS.items():
            text, n = re.subn(rf"(?m)^{k}\s*=\s*\d+.*$", f"{k} = {v}", text)
            if n == 0:
                text = text.replace("[intake]\n", f"[intake]\n{k} = {v}\n", 1)
        if self.a.codec:
            # Every tool writes the same codec: sanhu through its project's [lake] settings.
            text, n = re.subn(r'(?m)^compression\s*=\s*"[a-z0-9]+"', f'compression = "{self.a.codec}"', text)
            if n != 1:
                raise SystemExit(f"bench: {path}: no [lake] compression line to set to {self.a.codec}")
            text = re.sub(r"(?m)^zstd_level\s*=\s*\d+", "zstd_level = 1", text)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def fresh_project(self, path: str, inbox_files: dict | None = None):
        if os.path.exists(path):
            shutil.rmtree(path)
        shutil.copytree(self.template, path)
        for unit, files in (inbox_files or {}).items():
            d = os.path.join(path, "data", "inbox", unit)
            os.makedirs(d, exist_ok=True)
            for f in files:
                shutil.copy2(f, d)

    def inputs(self, scale: int, formats: list[str]) -> dict:
        d = os.path.join(self.work, "inputs", str(scale))
        mf = os.path.join(d, "manifest.json")
        gen = os.path.join(HERE, "gen.py")
        ok = False
        if os.path.exists(mf):
            with open(mf, encoding="utf-8") as f:
                m = json.load(f)
            ok = m.get("rows") == scale and m.get("gen_mtime") == int(os.path.getmtime(gen)) and \
                all(f in m["files"] for f in formats) and \
                all(os.path.exists(os.path.join(d, x)) for v in m["files"].values() for x in (v if isinstance(v, list) else [v]))
        if not ok:
            if os.path.exists(d):
                shutil.rmtree(d)
            log(f"generating {scale:,} declarations into {d}")
            t = time.perf_counter()
            subprocess.run([self.py, gen, "--rows", str(scale), "--out", d, "--formats", ",".join(formats)], check=True)
            with open(mf, encoding="utf-8") as f:
                m = json.load(f)
            m["gen_mtime"] = int(os.path.getmtime(gen))
            with open(mf, "w", encoding="utf-8") as f:
                json.dump(m, f, ensure_ascii=False, indent=1)
            log(f"generated in {time.perf_counter() - t:.0f} s")
        else:
            log(f"reusing inputs in {d}")
        files = m["files"]
        return {"dir": d, "csv": os.path.join(d, files["csv"]), "airport_csv": os.path.join(d, files["airport_csv"]),
                "xlsx": [os.path.join(d, x) for x in files.get("xlsx", [])], "manifest": m}

    def probe_excel(self):
        probe = [self.py, os.path.join(HERE, "peers.py"), "duckdb", "probe-excel"]
        reasons = []
        for pp in [None, self.a.duckdb_excel_path]:
            if pp is None or os.path.isdir(pp):
                env = dict(os.environ)
                if pp:
                    env["PYTHONPATH"] = pp
                p = subprocess.run(probe, capture_output=True, text=True, env=env)
                if p.returncode == 0:
                    self.excel_pythonpath = pp
                    self.excel_how = p.stdout.strip()
                    return
                reasons.append((p.stdout.strip() or p.stderr.strip().splitlines()[-1:] or ["?"][0]))
            elif pp:
                reasons.append(f"{pp} missing (pip install --target of duckdb-ext-excel failed)")
        self.excel_how = "not available here: " + " | ".join(str(r) for r in reasons)

    # ------------------------------------------------------------------ jobs

    def ingest_check(self, rows: int):
        def check(out, err):
            m = re.search(r"(\d+) rows accepted, (\d+) rows rejected; (\d+) file\(s\) quarantined", out)
            if not m:
                return f"unexpected ingest output: {out.strip()[:200]}"
            acc, rej, q = map(int, m.groups())
            # The project's seed (task registry) lands too; it is tiny.
            if acc < rows or rej or q:
                return f"ingest accepted {acc}, rejected {rej}, quarantined {q} file(s) (expected {rows} declarations)"
            return None
        return check

    def job_ingest(self, kind: str, scale: int, inp: dict, tools: list[str]) -> str | None:
        runs = os.path.join(self.work, "runs", str(scale))
        os.makedirs(runs, exist_ok=True)
        files = inp["xlsx"] if kind == "xlsx" else [inp["csv"]]
        project = os.path.join(runs, f"sanhu-{kind}")
        if "sanhu" in tools:
            r = Result(kind, scale, "sanhu")
            r.setup = f"fresh copy of the project ({self.template}) with {', '.join(os.path.basename(f) for f in files)} in data/inbox/customs/"
            self.queue(r, lambda: self.fresh_project(project, {"customs": files}),
                       [self.sanhu, "--project", project, "--quiet", "ingest"], check=self.ingest_check(scale))
        peers = []
        for tool in [t for t in tools if t != "sanhu"]:
            out = os.path.join(runs, f"{tool}-{kind}.parquet")
            r = Result(kind, scale, tool)
            env = {}
            if tool == "duckdb" and kind == "xlsx":
                if self.excel_how.startswith("not available"):
                    r.error = self.excel_how
                    self.results.append(r)
                    continue
                if self.excel_pythonpath:
                    env["PYTHONPATH"] = self.excel_pythonpath
                r.note = "DuckDB " + ("from duckdb-ext-excel's pin" if self.excel_pythonpath else "main")
            argv = [self.py, os.path.join(HERE, "peers.py"), tool, kind] + sum((["--in", f] for f in files), []) + ["--out", out]
            if self.a.codec:
                argv += ["--codec", self.a.codec]
            self.queue(r, lambda out=out: os.path.exists(out) and os.remove(out), argv, env)
            peers.append((tool, r, out))
        self.run_queue()
        written = {t: out for t, _, out in peers}
        if "sanhu" in tools:
            written["sanhu"] = os.path.join(project, "data", "lake", "customs_declaration")
        for r in self.results:
            if r.job == kind and r.scale == scale and r.tool in written and not r.error:
                size = parquet_bytes(written[r.tool])
                if size:
                    r.note = (r.note + "; " if r.note else "") + f"Parquet {size / 1e6:.1f} MB"
        for tool, r, out in peers:
            if "sanhu" in tools and not r.error and os.path.exists(out):
                self.compare_output(kind, scale, project, tool, out)
        return project if "sanhu" in tools else None

    def compare_output(self, kind: str, scale: int, project: str, tool: str, out: str):
        """The peer's Parquet against sanhu's lake table, row for row (sorted by entry_id)."""
        import polars as pl

        label = f"{kind} {scale:,}: {tool}'s Parquet vs sanhu's lake customs_declaration"
        try:
            theirs = pl.read_parquet(out)
            ours = pl.read_parquet(os.path.join(project, "data", "lake", "customs_declaration", "*.parquet"))
            ours = ours.select(theirs.columns).sort("entry_id")
            theirs = theirs.sort("entry_id")
            if ours.schema != theirs.schema:
                diff = [f"{c}: {ours.schema[c]} vs {theirs.schema[c]}" for c in theirs.columns if ours.schema[c] != theirs.schema[c]]
                self.same.append(f"outputs agree: no — {label}: types differ ({'; '.join(diff)})")
            elif ours.height != theirs.height:
                self.same.append(f"outputs agree: no — {label}: {ours.height} vs {theirs.height} rows")
            else:
                bad = [c for c in theirs.columns if not ours[c].equals(theirs[c])]
                self.same.append(f"outputs agree: {'no' if bad else 'yes'} — {label}: {ours.height:,} rows × {len(theirs.columns)} columns"
                                 + (f", columns differ: {', '.join(bad)}" if bad else ", every value equal"))
        except Exception as e:  # noqa: BLE001 - recorded
            self.same.append(f"outputs agree: not checked — {label}: {str(e).splitlines()[0][:200]}")
        log("  " + self.same[-1])

    def job_metrics(self, scale: int, project: str, inp: dict, tools: list[str]):
        runs = os.path.join(self.work, "runs", str(scale))
        # The csv project holds the declarations; the airport rows join them (untimed).
        air = os.path.join(project, "data", "inbox", "airport")
        os.makedirs(air, exist_ok=True)
        shutil.copy2(inp["airport_csv"], air)
        p = subprocess.run([self.sanhu, "--project", project, "--quiet", "ingest"], capture_output=True, text=True)
        if p.returncode != 0:
            for t in tools:
                self.results.append(Result("metrics", scale, t, error="airport ingest failed: " + self.reason(p.returncode, p.stdout, p.stderr)))
            return
        log(f"  airport rows: {p.stdout.strip()}")
        lake = os.path.join(project, "data", "lake")
        outlier = self.outlier_hours()
        outs = {}
        if "sanhu" in tools:
            r = Result("metrics", scale, "sanhu")
            r.setup = (f"the project of job (b) at this scale ({project}), airport_cargo CSV ingested too; "
                       "the credit library built first (untimed: the peers read it ready-made)")
            # The peers get sanhu's credit library as a table; so does sanhu: it is built before
            # the runs, and each run builds just the two models the peers compute.
            p = subprocess.run([self.sanhu, "--project", project, "--quiet", "build", "--select", "credit_library"],
                               capture_output=True, text=True)
            if p.returncode != 0:
                r.error = "credit library build failed: " + self.reason(p.returncode, p.stdout, p.stderr)
                self.results.append(r)
            else:
                self.queue(r, lambda: None, [self.sanhu, "--project", project, "--quiet", "build", "--only",
                                             "--select", "clearance_times,clearance_metrics"])
        for tool in [t for t in tools if t != "sanhu"]:
            out = os.path.join(runs, f"{tool}-metrics")
            outs[tool] = out
            r = Result("metrics", scale, tool)
            argv = [self.py, os.path.join(HERE, "peers.py"), tool, "metrics", "--lake", lake,
                    "--queries", os.path.join(project, "queries"), "--out", out, "--outlier-hours", str(outlier)]
            self.queue(r, lambda out=out: os.path.exists(out) and shutil.rmtree(out), argv)
        self.run_queue()
        if "sanhu" in tools:
            for tool, out in outs.items():
                self.cross_check(scale, project, tool, os.path.join(out, "clearance_metrics.parquet"))

    def outlier_hours(self) -> float:
        with open(os.path.join(self.template, "sanhu.toml"), encoding="utf-8") as f:
            m = re.search(r"(?m)^outlier_hours\s*=\s*([\d.]+)", f.read())
        return float(m.group(1)) if m else 720.0

    def cross_check(self, scale: int, project: str, tool: str, parquet: str):
        sql = ("SELECT period, slice_value, n, median_h, p90_h FROM clearance_metrics WHERE period_kind = 'week' "
               "AND slice_kind = 'ie_flag' AND segment = 'declared_to_released' ORDER BY period, slice_value")
        label = f"{tool} vs sanhu, declared_to_released median/p90 by ISO week × ie_flag, {scale:,} declarations"
        if not os.path.exists(parquet):
            self.agree.append(f"metrics agree: no — {label}: {tool} produced no output")
            return
        p = subprocess.run([self.sanhu, "--project", project, "--quiet", "query", sql, "--format", "csv"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.agree.append(f"metrics agree: no — {label}: sanhu query failed ({self.reason(p.returncode, p.stdout, p.stderr)})")
            return
        import csv
        import io

        import polars as pl

        ours = {(r["period"], r["slice_value"]): r for r in csv.DictReader(io.StringIO(p.stdout))}
        theirs = (pl.read_parquet(parquet)
                  .filter((pl.col("period_kind") == "week") & (pl.col("slice_kind") == "ie_flag")
                          & (pl.col("segment") == "declared_to_released")))
        theirs = {(r["period"], r["slice_value"]): r for r in theirs.iter_rows(named=True)}

        def num(x):
            return None if x in (None, "") else float(x)

        bad, maxdiff, ties = [], 0.0, 0
        for k in sorted(set(ours) | set(theirs)):
            if k not in ours or k not in theirs:
                bad.append(f"{k} only in {'sanhu' if k in ours else tool}")
                continue
            a, b = ours[k], theirs[k]
            if int(a["n"]) != int(b["n"]):
                bad.append(f"{k} n {a['n']} vs {b['n']}")
            for c in ("median_h", "p90_h"):
                x, y = num(a[c]), num(b[c])
                if (x is None) != (y is None):
                    bad.append(f"{k} {c} {x} vs {y}")
                elif x is not None:
                    d = abs(x - y)
                    maxdiff = max(maxdiff, d)
                    ties += 1 if 1e-9 < d <= 1.0001e-4 else 0
                    if d > 1.0001e-4:
                        bad.append(f"{k} {c} {x} vs {y}")
        groups = len(set(ours) | set(theirs))
        if bad or groups == 0:
            self.agree.append(f"metrics agree: no — {label}: {len(bad)} of {groups} groups differ, e.g. {'; '.join(bad[:3])}")
        else:
            self.agree.append(f"metrics agree: yes — {label}: {groups} groups, n equal; median/p90 identical except "
                              f"{ties} of {2 * groups} values one unit apart in the 4th decimal (rounding ties); max |difference| {maxdiff:.4g} h")
        log("  " + self.agree[-1])

    def job_weekly(self, scale: int, tools: list[str]):
        if "sanhu" not in tools:
            return
        runs = os.path.join(self.work, "runs", str(scale))
        os.makedirs(runs, exist_ok=True)
        weeks = self.a.history_weeks
        frm = HISTORY_TO - dt.timedelta(days=7 * weeks - 1)
        hist_scale = max(1, round(scale / 1000))
        week_scale = max(1, round(scale / 1000 / weeks))
        base = os.path.join(runs, "weekly-base")
        work = os.path.join(runs, "weekly")
        label = f"{weeks} weeks of history ({frm}..{HISTORY_TO}), demo --scale {hist_scale}; new week {NEW_WEEK[2]} --scale {week_scale}"
        log(f"weekly cycle: {label}")
        self.fresh_project(base)
        demo = [self.sanhu, "--project", base, "--quiet", "demo", "--from", frm.isoformat(), "--to", HISTORY_TO.isoformat(),
                "--scale", str(hist_scale), "--no-run"]
        t = time.perf_counter()
        p = subprocess.run(demo, capture_output=True, text=True)
        if p.returncode != 0:
            self.results.append(Result("weekly", scale, "sanhu", error="history demo failed: " + self.reason(p.returncode, p.stdout, p.stderr)))
            return
        self.notes.append(f"weekly {scale:,}: history demo ({shlex.join(demo[3:])}): {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''} "
                          f"[{time.perf_counter() - t:.0f} s]")
        init = Result("weekly", scale, "sanhu", label="initial load")
        init.setup = f"project {base} after `{shlex.join(demo[3:])}`"
        init.note = "not repeated; history ingest, build, report"
        saved = self.a.runs
        self.a.runs = 1
        self.repeat(init, lambda: None, [self.sanhu, "--project", base, "--quiet", "run", "--week", LAST_HISTORY_WEEK])
        self.a.runs = saved
        self.write()
        if init.error:
            self.results.append(Result("weekly", scale, "sanhu", label="new week", error="initial load failed"))
            return
        demo2 = [self.sanhu, "--project", base, "--quiet", "demo", "--from", NEW_WEEK[0], "--to", NEW_WEEK[1],
                 "--scale", str(week_scale), "--no-run"]
        p = subprocess.run(demo2, capture_output=True, text=True)
        if p.returncode != 0:
            self.results.append(Result("weekly", scale, "sanhu", label="new week", error="new-week demo failed: " + self.reason(p.returncode, p.stdout, p.stderr)))
            return
        self.notes.append(f"weekly {scale:,}: new week demo ({shlex.join(demo2[3:])}): {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''}")
        lake_mib = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(base, "data", "lake")) for f in fs) / 2**20
        r = Result("weekly", scale, "sanhu", label="new week")
        r.note = f"history {weeks} weeks × demo scale {hist_scale}, new week scale {week_scale}"
        r.setup = f"a copy of {base} (history ingested and built, lake {lake_mib:.0f} MiB; the new week's drops in its inbox)"

        def setup():
            if os.path.exists(work):
                shutil.rmtree(work)
            shutil.copytree(base, work, symlinks=True)

        self.repeat(r, setup, [self.sanhu, "--project", work, "--quiet", "run", "--week", NEW_WEEK[2]])

    # ------------------------------------------------------------------ the whole run

    def run(self):
        os.makedirs(self.work, exist_ok=True)
        self.make_template()
        jobs = self.a.jobs
        tools = self.a.tools
        if "xlsx" in jobs and "duckdb" in tools:
            self.probe_excel()
            log(f"DuckDB excel: {self.excel_how}")
        for scale in self.a.scales:
            log(f"=== scale {scale:,} declarations ===")
            # The xlsx inputs take long to write at 10M: only when the xlsx job runs.
            formats = ["csv"] + (["xlsx"] if "xlsx" in jobs else [])
            inp = self.inputs(scale, formats) if {"xlsx", "csv", "metrics"} & set(jobs) else None
            if "xlsx" in jobs:
                self.job_ingest("xlsx", scale, inp, [t for t in TOOLS_FOR["xlsx"] if t in tools])
                self.write()
            project = None
            if "csv" in jobs or "metrics" in jobs:
                project = self.job_ingest("csv", scale, inp, [t for t in TOOLS_FOR["csv"] if t in tools and ("csv" in jobs or t == "sanhu")])
                if "csv" not in jobs:  # the csv project was only needed for metrics
                    self.results = [r for r in self.results if r.job != "csv"]
                self.write()
            if "metrics" in jobs:
                if project and os.path.exists(project):
                    self.job_metrics(scale, project, inp, [t for t in TOOLS_FOR["metrics"] if t in tools])
                else:
                    log("metrics skipped: needs sanhu's csv project")
                self.write()
            if "weekly" in jobs:
                self.job_weekly(scale, tools)
            self.write()  # after every scale, so a later failure keeps what was measured
        self.write()
        log(f"done in {time.time() - self.t0:.0f} s: {self.a.results}")

    # ------------------------------------------------------------------ RESULTS.md

    def machine(self) -> list[str]:
        cpu = "?"
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
        except OSError:
            pass
        mem = "?"
        try:
            with open("/proc/meminfo", encoding="utf-8") as f:
                kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
                mem = f"{kib / 2**20:.1f} GiB"
        except (OSError, AttributeError):
            pass
        la, lb = self.load_start, os.getloadavg()
        return [
            f"- CPU: {cpu}; `nproc` = {os.cpu_count()}",
            f"- memory: {mem}",
            f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
            f"- load average (1/5/15 min) at start {la[0]:.2f}/{la[1]:.2f}/{la[2]:.2f}, at end {lb[0]:.2f}/{lb[1]:.2f}/{lb[2]:.2f}",
            f"- waited {self.waited:.0f} s in all for compilers (cargo, rustc, ld) running beside the benchmark to finish before runs",
        ]

    def versions(self) -> list[str]:
        out = []
        p = subprocess.run([self.sanhu, "--version"], capture_output=True, text=True)
        ver = (p.stdout.strip() or p.stderr.strip() or "?").splitlines()[0]
        out.append(f"- sanhu: `{ver}` ({self.a.sanhu_origin})")
        out.append(f"- Python {platform.python_version()}")
        from importlib import metadata

        pk = []
        for name in ["pandas", "openpyxl", "pyarrow", "polars", "fastexcel", "duckdb", "xlsxwriter", "numpy"]:
            try:
                pk.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                pk.append(f"{name} (not installed)")
        out.append("- packages: " + ", ".join(pk))
        if self.a.duckdb_excel_path and os.path.isdir(self.a.duckdb_excel_path):
            dists = sorted(d[:-len(".dist-info")].replace("-", " ", 1) for d in os.listdir(self.a.duckdb_excel_path) if d.endswith(".dist-info"))
            out.append(f"- for DuckDB's xlsx job only (`PYTHONPATH={os.path.relpath(self.a.duckdb_excel_path, os.path.dirname(HERE))}`): " + ", ".join(dists))
        if self.excel_how:
            out.append(f"- DuckDB excel extension: {self.excel_how}")
        return out

    def write(self):
        a = self.a
        L = ["# sanhu benchmark results", ""]
        L.append(f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} with `{a.invocation}` "
                 f"({'quick mode' if a.quick else f'median of {a.runs} runs, {a.runs_10m} at 10M'}; total {time.time() - self.t0:.0f} s). "
                 "See bench/README.md for what each job does.")
        L += ["", "## Machine", ""] + self.machine() + ["", "## Versions", ""] + self.versions()
        L += ["", "## Results", "",
              "Wall time is the median over the runs of the whole process (start-up and imports included); "
              "peer/sanhu > 1 means sanhu is faster. Peak RSS is the largest `Maximum resident set size` of the runs.",
              "",
              (f"Parquet codec of the xlsx and csv jobs: **{a.codec}{' level 1' if a.codec == 'zstd' else ''} for every tool** "
               f"(`--codec {a.codec}`: the peers' writer option, and sanhu's `[lake] compression` in the bench project, so its metrics and weekly jobs write it too)." if a.codec else
               "Parquet codec of the xlsx and csv jobs: each tool's own default — sanhu zstd level 1 (sanhu.toml `[lake]`), "
               "polars zstd, DuckDB and pandas/pyarrow snappy; `--codec zstd` or `--codec snappy` makes every tool write the same."),
              ""]
        cmds = []
        for job in ["xlsx", "csv", "metrics", "weekly"]:
            rows = [r for r in self.results if r.job == job]
            if not rows:
                continue
            L += [f"### {JOB_TITLES[job]}", "", "| scale | tool | median wall s | runs | peer/sanhu | peak RSS MiB | notes |",
                  "|---:|---|---:|---:|---:|---:|---|"]
            for r in rows:
                ref = next((x for x in rows if x.scale == r.scale and x.tool == "sanhu" and x.label == r.label), None)
                ratio = "—"
                if r.tool != "sanhu" and ref and ref.median and r.median:
                    ratio = f"{r.median / ref.median:.2f}"
                tool = r.tool + (f" ({r.label})" if r.label else "")
                if r.error:
                    L.append(f"| {r.scale:,} | {tool} | failed: {r.error.replace('|', '/')} | {len(r.walls)} | — | — | {r.note} |")
                else:
                    L.append(f"| {r.scale:,} | {tool} | {r.median:.2f} | {len(r.walls)} | {ratio} | "
                             f"{r.peak_mib:.0f} | {r.note} |" if r.median is not None else f"| {r.scale:,} | {tool} | — | 0 | — | — | {r.note} |")
                cmds.append((r, job))
            L.append("")
            same = [x for x in self.same if x.split(" — ", 1)[1].startswith(job + " ")]
            if same:
                L += [f"- {x}" for x in same] + [""]
            if job == "metrics":
                L += [f"- {x}" for x in self.agree] or ["- metrics agree: not checked (sanhu or the peers did not run)"]
                L.append("")
        L += ["## Targets (issue 9)", ""] + self.targets() + [""]
        if self.notes:
            L += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        L += ["## Commands", "",
              f"Everything above: `{a.invocation}` (work folder `{self.work}`). Each measured command, run from the repository root "
              "after that folder exists:", ""]
        for r, job in cmds:
            if r.command:
                pre = f" — setup: {r.setup}" if r.setup else ""
                L.append(f"- {job} {r.scale:,} {r.tool}{' (' + r.label + ')' if r.label else ''}{pre}:  ")
                L.append(f"  `{r.command}`")
        L.append("")
        with open(a.results, "w", encoding="utf-8") as f:
            f.write("\n".join(L))

    def targets(self) -> list[str]:
        def med(job, tool, scale, label=""):
            r = next((x for x in self.results if x.job == job and x.tool == tool and x.scale == scale and x.label == label), None)
            return r.median if r and not r.error else None

        out = []
        if self.a.quick:
            out.append("- quick mode: 10k rows, one run each; process start-up dominates, so these say nothing about the targets")
        for scale in self.a.scales:
            for job, peer, what in (("xlsx", "polars", "xlsx ingest at least as fast as polars+calamine"),
                                    ("csv", "duckdb", "csv ingest at least as fast as DuckDB"),
                                    ("metrics", "duckdb", "metrics at least as fast as DuckDB")):
                s, p = med(job, "sanhu", scale), med(job, peer, scale)
                if s and p:
                    out.append(f"- {scale:,}: {what}: {'met' if s <= p else 'missed'} (sanhu {s:.2f} s, {peer} {p:.2f} s)")
            w = med("weekly", "sanhu", scale, "new week")
            if w and self.a.history_weeks >= 260:
                out.append(f"- {scale:,}: weekly cycle on five years of history under 10 s: {'met' if w < 10 else 'missed'} ({w:.2f} s)")
            elif w:
                out.append(f"- {scale:,}: weekly cycle: {w:.2f} s on {self.a.history_weeks} week(s) of history, not the target's five years")
            if scale >= 10_000_000:
                peaks = [r.peak_mib for r in self.results if r.tool == "sanhu" and r.scale == scale and r.peak_mib]
                if peaks:
                    out.append(f"- {scale:,}: sanhu peak RSS under 1 GiB: {'met' if max(peaks) < 1024 else 'missed'} ({max(peaks):.0f} MiB)")
        if not any(s >= 10_000_000 for s in self.a.scales):
            out.append("- peak RSS under 1 GiB at 10M declarations: not measured in this run (`--scales 10000000`)")
        return out or ["- nothing measured"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sanhu", required=True)
    ap.add_argument("--sanhu-origin", default="")
    ap.add_argument("--repo", required=True, help="sanhu repository (project files are copied from it)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--duckdb-excel-path", default="")
    ap.add_argument("--scales", default="100000,1000000")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--runs-10m", type=int, default=1, help="runs per tool at 10M and above (default 1)")
    ap.add_argument("--max-repeat", type=float, default=300.0, help="a run slower than this is not repeated")
    ap.add_argument("--timeout", type=float, default=7200.0)
    ap.add_argument("--wait-quiet", type=float, default=1800.0, help="before each run, wait up to this long while a compiler runs (0: never)")
    ap.add_argument("--mem-limit-gib", type=float, default=16.0, help="a run whose processes pass this RSS is stopped")
    ap.add_argument("--history-weeks", type=int, default=261)
    ap.add_argument("--jobs", default="xlsx,csv,metrics,weekly")
    ap.add_argument("--tools", default="sanhu,polars,pandas,duckdb")
    ap.add_argument("--results", required=True)
    ap.add_argument("--invocation", default="bench/run")
    ap.add_argument("--codec", choices=["zstd", "snappy"], help="every tool writes this Parquet codec (default: each its own)")
    a = ap.parse_args()
    a.scales = [int(s.replace("_", "")) for s in a.scales.split(",") if s.strip()]
    a.jobs = [j.strip() for j in a.jobs.split(",") if j.strip()]
    a.tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for j in a.jobs:
        if j not in TOOLS_FOR:
            ap.error(f"unknown job {j}; jobs: {', '.join(TOOLS_FOR)}")
    Bench(a).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
