"""The fleet dataset: built from generated captures, corpus lspci dumps, a raw config file and bad
inputs; its answers checked against lspci's own text of the same config bytes (LnkSta "(downgraded)",
MSI-X "Masked+"), against the capture files' MSI-X table bytes read here by hand, and against decoding
each input directly; rebuilt identically; read by a local Dask cluster with the same answers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")


from conftest import CORPUS  # noqa: E402

import pciexplore  # noqa: E402
from pciexplore import cli  # noqa: E402
from pciexplore import fleet as fleet_mod  # noqa: E402
from pciexplore.fleet import generate  # noqa: E402
from pciexplore.fleet.tables import TABLES  # noqa: E402
from pciexplore.render.json import function_to_json  # noqa: E402

HOSTS = 24
RATES = {f: 0.25 for f in generate.FAULTS}  # enough hosts with each fault in a small fleet
DUMPS = ["qemu/q35-e1000e-nvme-virtio.lspci", "vm/virtio-msix-only-vm.lspci",
         "pciutils-tests/cap-exp-dev2.lspci", "pciutils-tests/cap-phy32.lspci"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("fleet")
    caps = root / "captures"
    faults = generate.fleet(caps, HOSTS, seed=7, rates=RATES)
    other = root / "other"
    other.mkdir()
    dumps = []
    for rel in DUMPS:
        if (CORPUS / rel).exists():
            dumps.append(Path(shutil.copy(CORPUS / rel, other / Path(rel).name)))
    raw = other / "nic-host.bin"
    raw.write_bytes(pciexplore.open(str(caps / "host-00000.json")).functions()[0].config[:256])
    bad = root / "bad"
    bad.mkdir()
    (bad / "notes.txt").write_text("these are not the config bytes you are looking for\n")
    (bad / "empty.json").write_text("")
    good = json.loads((caps / "host-00001.json").read_text())
    (bad / "cut.json").write_text(json.dumps(good)[:5000])
    good["functions"][0]["config"] = "zz" + good["functions"][0]["config"][2:]
    (bad / "badhex.json").write_text(json.dumps(good))
    (bad / ".hidden.json").write_text("{")  # hidden names are not walked
    return {"root": root, "caps": caps, "other": other, "bad": bad, "faults": faults, "dumps": dumps, "raw": raw,
            "bad_files": sorted(str(p) for p in bad.iterdir() if not p.name.startswith("."))}


@pytest.fixture(scope="module")
def dataset(inputs) -> tuple[Path, fleet_mod.BuildReport]:
    out = inputs["root"] / "ds"
    report = fleet_mod.build(out, [inputs["caps"], inputs["other"], inputs["bad"]], jobs=1, chunk=10)
    return out, report


@pytest.fixture(scope="module")
def fl(dataset):
    with fleet_mod.open(dataset[0]) as f:
        yield f


def all_inputs(inputs) -> list[Path]:
    return sorted(inputs["caps"].glob("*.json")) + inputs["dumps"] + [inputs["raw"]]


def host_of(path: Path) -> str:
    return path.stem  # generated captures are named after their host; dumps and raw files are their host


# -- the build -----------------------------------------------------------------------------------------
def test_bad_inputs_are_skipped_counted_and_named(inputs, dataset, capsys):
    _, report = dataset
    assert sorted(p for p, _ in report.skipped) == inputs["bad_files"]
    reasons = dict(report.skipped)
    assert "broken JSON" in reasons[str(inputs["bad"] / "cut.json")]
    assert "not hex" in reasons[str(inputs["bad"] / "badhex.json")]
    assert "empty" in reasons[str(inputs["bad"] / "empty.json")]
    assert report.written == len(all_inputs(inputs))
    # the command line: one line per bad input on stderr, naming it; the others are built
    out = inputs["root"] / "ds-cli"
    assert cli.main(["fleet", "build", "-o", str(out), "-j", "1", str(inputs["bad"]), str(inputs["raw"])]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == len(inputs["bad_files"])
    for line, path in zip(sorted(lines), inputs["bad_files"], strict=True):
        assert line.startswith(f"pciexplore: skipped {path}: ") and "Traceback" not in line
    assert "1 capture," in captured.out and f"{len(inputs['bad_files'])} skipped" in captured.out
    # nothing but bad inputs: nothing built, exit status 1
    assert cli.main(["fleet", "build", "-o", str(inputs["root"] / "ds-bad"), str(inputs["bad"])]) == 1


def test_every_input_and_function_is_there(inputs, fl):
    expected = {}
    for path in all_inputs(inputs):
        with pciexplore.open(str(path)) as src:
            expected[host_of(path)] = sorted({str(fn.address) for fn in src.functions()})
    got = fl.sql("SELECT host, list(address ORDER BY address) AS a FROM functions GROUP BY host")
    assert {r.host: list(r.a) for r in got.itertuples()} == expected
    captures = fl.captures.set_index("host")
    assert captures.loc["host-00003", "input_kind"] == "capture" and captures.loc["nic-host", "input_kind"] == "raw"
    assert all(captures.loc[p.stem, "input_kind"] == "dump" for p in inputs["dumps"])


def test_fields_are_the_decoded_fields(inputs, fl):
    """Every field of two captures and a dump, as decoding the file directly gives them."""
    for path in [inputs["caps"] / "host-00002.json", inputs["caps"] / "host-00005.json", *inputs["dumps"][:1]]:
        want = {}
        with pciexplore.open(str(path)) as src:
            for fn in src.functions():
                j = function_to_json(fn)
                blocks = [(j["header"], None)] + [(c["registers"], c) for c in j["capabilities"]]
                for regs, cap in blocks:
                    key = fn.header.layout.key if cap is None else cap["key"]
                    offset = 0 if cap is None else cap["offset"]
                    for name, r in regs.items():
                        for field, value in (r.get("fields") or {"": r["value"]}).items():
                            want[(j["address"], key, offset, name, field)] = value
        rows = fl.sql("SELECT address, capability, cap_offset, register, coalesce(field, '') AS field, value "
                      "FROM fields WHERE host = $h", {"h": host_of(path)})
        got = {(r.address, r.capability, r.cap_offset, r.register, r.field): (None if r.value is None or
               r.value != r.value else int(r.value)) for r in rows.itertuples()}
        assert len(rows) == len(got) == len(want), path
        assert got == want, path
    types = fl.con.execute("SELECT typeof(value), typeof(reg_offset) FROM fields LIMIT 1").fetchone()
    assert types == ("UBIGINT", "BIGINT")  # numbers are integers, not strings


def _lspci_vv(inputs) -> dict[tuple[str, str], str]:
    """lspci -D -vv of every input's config bytes, per (host, address): written here as lspci -x text
    straight from the capture files' hex (not through our decoder)."""
    out = {}
    for path in all_inputs(inputs):
        if path.suffix == ".json":
            doc = json.loads(path.read_text())
            cfgs = [(f["address"], bytes.fromhex(f["config"])) for f in doc["functions"]]
            text = "".join(a + " x\n" + "".join(f"{i:02x}: {c[i:i + 16].hex(' ')}\n" for i in range(0, len(c), 16))
                           + "\n" for a, c in cfgs)
            dump = inputs["root"] / f"{path.stem}.lspci-for-test"
            dump.write_text(text)
        elif path.suffix == ".bin":
            continue  # a raw file has no address for lspci; its one function is an e1000e of host-00000
        else:
            dump = path
        text = subprocess.run(["lspci", "-D", "-vv", "-F", str(dump)], capture_output=True, text=True,
                              check=True).stdout
        for block in text.split("\n\n"):
            if block.strip():
                out[(host_of(path), block.split()[0])] = block
    return out


@pytest.mark.lspci
def test_degraded_links_are_what_lspci_calls_downgraded(inputs, fl):
    lspci = _lspci_vv(inputs)
    want = {key for key, block in lspci.items() if re.search(r"LnkSta:.*\(downgraded\)", block)}
    got = {(r.host, r.address) for r in fl.ask("degraded-links").itertuples()}
    assert got == want
    injected = {(h, a) for h, fs in inputs["faults"].items() for f, a in fs if f == "degraded-link"}
    assert injected and injected <= got


@pytest.mark.lspci
def test_function_mask_set_is_what_lspci_shows(inputs, fl):
    lspci = _lspci_vv(inputs)
    want = {key for key, block in lspci.items() if re.search(r"MSI-X: Enable\+ Count=\d+ Masked\+", block)}
    got = {(r.host, r.address) for r in fl.ask("function-mask-set").itertuples()}
    assert got == want and got


@pytest.mark.lspci
def test_masked_vectors_from_the_table_bytes(inputs, fl):
    """MSI-X enabled and not function-masked (lspci), vectors whose Vector Control bit 0 is set in the
    captured table window (the capture file's bytes, read here)."""
    lspci = _lspci_vv(inputs)
    want = {}
    for path in sorted(inputs["caps"].glob("*.json")):
        for f in json.loads(path.read_text())["functions"]:
            block = lspci[(path.stem, f["address"])]
            if not re.search(r"MSI-X: Enable\+ Count=\d+ Masked-", block):
                continue
            table = bytes.fromhex(next(w["data"] for w in f["windows"] if w["what"] == "msix-table"))
            masked = [v for v in range(len(table) // 16) if table[16 * v + 12] & 1]
            if masked:
                want[(path.stem, f["address"])] = masked
    got = {(r.host, r.address): list(r.masked_vectors) for r in fl.ask("masked-vectors").itertuples()}
    assert got == want and got


def test_differs_from_golden(inputs, fl):
    """Against a golden host with no fault: every other host differs in the fields its faults changed
    (DEVCTL payload sizes, the Function Mask, link speed/width) and in the IRQ lines every host has of
    its own, and nowhere else; a masked vector lives in the BAR, not in config space."""
    changes = {"config-differs": {"PCI_EXP_DEVCTL_PAYLOAD", "PCI_EXP_DEVCTL_READRQ"},
               "function-mask": {"PCI_MSIX_FLAGS_MASKALL"},
               "degraded-link": {"PCI_EXP_LNKSTA_CLS", "PCI_EXP_LNKSTA_NLW"}, "masked-vectors": set()}
    hosts = [f"host-{i:05d}" for i in range(HOSTS)]
    golden = next(h for h in hosts if h not in inputs["faults"])
    _, rows = fl.rows(fleet_mod.question_sql("differs-from"), {"golden": golden})
    seen: dict[str, set] = {h: set() for h in hosts if h != golden}
    for host, address, _cap, register, field, _golden, _value in rows:
        if host in seen and register != "PCI_INTERRUPT_LINE":
            seen[host].add((address, field))
    for host, got in seen.items():
        faults = inputs["faults"].get(host, [])
        allowed = {(a, f) for fault, a in faults for f in changes[fault]}
        assert got <= allowed, host
        assert {a for a, _ in got} == {a for fault, a in faults if changes[fault]}, host
    assert any(seen.values())
    # a dump's functions are not the golden host's: whole functions on either side (dumps come from the corpus)
    if inputs["dumps"]:
        dump_host = inputs["dumps"][0].stem
        assert any(h == dump_host and reg is None for h, _, _, reg, *_ in rows)
    with pytest.raises(pciexplore.InputError, match="no capture of host 'nope'"):
        fl.ask("differs-from", golden="nope")


def test_findings_are_the_doctors(inputs, fl):
    from pciexplore.doctor import diagnose

    want = set()
    for path in all_inputs(inputs):
        with pciexplore.open(str(path)) as src:
            want |= {(host_of(path), f.device, f.check, f.vector) for f in diagnose(src)}
    got = set(fl.rows("SELECT host, address, check_id, vector FROM findings")[1])
    assert got == want
    assert {"msix_function_masked", "vector_masked"} <= {c for _, _, c, _ in got}


def test_annotations_and_vectors(inputs, fl):
    notes = fl.annotations
    noted = {(r.host, r.address) for r in notes.itertuples()}
    assert noted and all(h in inputs["faults"] for h, _ in noted)
    n_vectors = fl.sql("SELECT count(*) AS n FROM msix_vectors").n[0]
    assert n_vectors == HOSTS * (4 * 5 + 5 * 9)  # every generated function's table: 5 per NIC, 9 per NVMe


# -- rebuilding and adding --------------------------------------------------------------------------
def _parts(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*.parquet"))}


def test_rebuild_gives_the_same_files_and_rows(inputs, dataset):
    again = inputs["root"] / "ds-again"
    report = fleet_mod.build(again, [inputs["caps"], inputs["other"], inputs["bad"]], jobs=2, chunk=10)
    assert report.written == dataset[1].written and len(report.skipped) == len(dataset[1].skipped)
    assert _parts(again) == _parts(dataset[0])  # two worker processes or one: byte for byte the same
    # building over the same inputs into the same dataset adds nothing
    before = _parts(again)
    report = fleet_mod.build(again, [inputs["caps"], inputs["other"]], jobs=1)
    assert (report.written, report.present) == (0, dataset[1].written)
    assert _parts(again) == before


def test_adding_hosts_adds_files(inputs, tmp_path):
    first = sorted(inputs["caps"].glob("*.json"))[:10]
    out = tmp_path / "grow"
    fleet_mod.build(out, first, jobs=1, chunk=4)
    before = _parts(out)
    report = fleet_mod.build(out, [inputs["caps"]], jobs=1, chunk=4)
    assert report.present == 10 and report.written == HOSTS - 10
    after = _parts(out)
    assert {k: v for k, v in after.items() if k in before} == before  # no part rewritten
    assert len(after) > len(before)
    with fleet_mod.open(out) as f:
        assert f.sql("SELECT count(DISTINCT host) AS n FROM captures").n[0] == HOSTS


def test_refuses_to_write_into_a_folder_that_is_not_a_dataset(tmp_path, inputs):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(pciexplore.InputError, match="not a fleet dataset"):
        fleet_mod.build(tmp_path, [inputs["raw"]])
    with pytest.raises(pciexplore.InputError, match="not a fleet dataset"):
        fleet_mod.open(tmp_path)


# -- the query command -------------------------------------------------------------------------------
def test_query_command_outputs(dataset, capsys):
    ds = str(dataset[0])
    assert cli.main(["fleet", "query", ds, "--ask", "function-mask-set", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(isinstance(r["vendor_id"], int) and isinstance(r["vectors"], int) for r in rows)
    assert cli.main(["fleet", "query", ds, "SELECT host, vendor_id FROM functions ORDER BY host LIMIT 2", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "host,vendor_id"
    assert cli.main(["fleet", "query", ds, "--ask", "degraded-links", "--sql"]) == 0
    assert "PCI_EXP_LNKSTA_CLS" in capsys.readouterr().out
    assert cli.main(["fleet", "query", ds, "--ask", "differs-from"]) == 1
    assert "takes GOLDEN" in capsys.readouterr().err
    assert cli.main(["fleet", "query", ds, "SELECT nope FROM fields"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pciexplore: {ds}: query failed: ") and len(err.splitlines()) == 1
    assert cli.main(["fleet", "query", ds, "SELECT count(*) AS n FROM captures"]) == 0
    assert "(1 row)" in capsys.readouterr().out


def test_questions_are_shipped_sql():
    assert fleet_mod.question_names() == ["degraded-links", "differs-from", "function-mask-set", "masked-vectors"]
    assert all(fleet_mod.question_sql(n).lstrip().startswith("--") for n in fleet_mod.question_names())


# -- the same questions answered by Dask on a local cluster ------------------------------------------
def test_a_slot_is_one_place(fl):
    """differs-from matches rows by slot: one slot for each (address, capability, reg_offset, register,
    field) and one such place for each slot, over every host."""
    places, slots, pairs = fl.con.execute(
        "SELECT count(DISTINCT (address, capability, reg_offset, register, coalesce(field, ''))), "
        "count(DISTINCT slot), count(DISTINCT (slot, address, capability, reg_offset, register, "
        "coalesce(field, ''))) FROM fields").fetchone()
    assert places == slots == pairs > 1000


def test_dask_gives_the_same_answers(dataset, fl):
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    path = dataset[0]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        functions = dd.read_parquet(str(path / "functions"))
        fields = dd.read_parquet(str(path / "fields"))
        vectors = dd.read_parquet(str(path / "msix_vectors"))
        # function-mask-set
        fm = functions[functions.msix_enabled.fillna(False) & functions.msix_function_masked.fillna(False)]
        got = set(map(tuple, fm[["host", "address"]].compute().values.tolist()))
        assert got == {(r.host, r.address) for r in fl.ask("function-mask-set").itertuples()}
        # degraded-links: the five link fields per function, compared
        names = ["PCI_EXP_FLAGS_TYPE", "PCI_EXP_LNKCAP_SLS", "PCI_EXP_LNKSTA_CLS", "PCI_EXP_LNKCAP_MLW",
                 "PCI_EXP_LNKSTA_NLW"]
        link = fields[(fields.capability == "exp") & fields.field.isin(names)]
        link = link.groupby(["host", "address", "field"]).value.max().compute().unstack()
        bad = link[((link.PCI_EXP_LNKSTA_CLS < link.PCI_EXP_LNKCAP_SLS) |
                    (link.PCI_EXP_LNKSTA_NLW < link.PCI_EXP_LNKCAP_MLW)) & ~link.PCI_EXP_FLAGS_TYPE.isin([4, 6, 8])]
        assert set(bad.index) == {(r.host, r.address) for r in fl.ask("degraded-links").itertuples()}
        # masked-vectors
        on = functions[functions.msix_enabled.fillna(False) & ~functions.msix_function_masked.fillna(True)]
        mv = vectors[vectors.entry_masked].merge(on[["capture", "host", "address"]], on=["capture", "host", "address"])
        counts = mv.groupby(["host", "address"]).vector.count().compute().to_dict()
        assert counts == {(r.host, r.address): r.masked for r in fl.ask("masked-vectors").itertuples()}
        # differs-from: fields differing from the golden host's at the same place
        key = ["address", "capability", "reg_offset", "register", "field"]
        f = fields.assign(field=fields.field.fillna(""))
        golden = f[f.host == "host-00000"][key + ["value"]].rename(columns={"value": "golden"})
        m = f[f.host != "host-00000"].merge(golden, on=key)
        changed = m[m.value != m.golden].groupby("host").value.count().compute().to_dict()
        want = fl.ask("differs-from", golden="host-00000")
        want = want[want.register.notna()].groupby("host").size().to_dict()
        assert changed == want


def test_open_gives_dataframes_with_integers(fl):
    functions = fl.functions
    assert str(functions.vendor_id.dtype).lower().startswith("int")
    assert functions.vendor_id.isin([0x8086, 0x1B36, 0x1AF4]).any()
    assert "host" in repr(fl) or "captures" in repr(fl)
    assert fl.con.execute("SELECT count(*) FROM latest").fetchone()[0] == fl.captures.shape[0]


def test_virtio_queues_of_a_running_linux_guest(tmp_path):
    """The bundled capture of a Linux guest: each queue's vector is the queue_msix_vector bytes the capture
    holds (virtio 1.2 §4.1.4.3: le16 at 0x1a of the common configuration, behind queue_select), and its
    message is that vector's MSI-X table entry (PCIe: 16 bytes per entry, address then data)."""
    data = Path(__file__).resolve().parents[1] / "data" / "default.json"
    fleet_mod.build(tmp_path / "ds", [data], jobs=1)
    with fleet_mod.open(tmp_path / "ds") as f:
        rows = f.sql("select address, queue, msix_vector, bound, message_address, message_data from virtio_queues "
                     "order by address, queue")
    want = []
    for fn in json.loads(data.read_text())["functions"]:
        windows = {w["what"]: (w["offset"], bytes.fromhex(w["data"])) for w in fn["windows"]}
        table = windows.get("msix-table", (0, b""))[1]
        for what, (at, raw) in sorted(windows.items()):
            if what.startswith("virtio-queue:"):
                vector = int.from_bytes(raw[0x1A - at:0x1C - at], "little")
                entry = table[16 * vector:16 * vector + 12] if vector != 0xFFFF else b""
                want.append((fn["address"], int(what.split(":")[1]), vector, bool(entry),
                             int.from_bytes(entry[:8], "little") if entry else None,
                             int.from_bytes(entry[8:12], "little") if entry else None))
    import pandas as pd

    def num(v):
        return None if pd.isna(v) else int(v)

    got = [(r.address, r.queue, r.msix_vector, bool(r.bound), num(r.message_address), num(r.message_data))
           for r in rows.itertuples()]
    assert got == want and len(want) >= 4  # virtio-net's three queues, virtio-blk's one


# -- the fast build's rows are the plain model's -------------------------------------------------------
def _plain_rows(paths: list[Path]) -> dict[str, list[tuple]]:
    """Every table's rows for `paths`, the plain way: each input opened and asked through the public
    model one function at a time (fn.header, fn.capabilities, fn.msix.entries, fn.virtio, diagnose),
    no caches, no columns, no workers.  Bad inputs have no rows."""
    import hashlib

    from pciexplore.doctor import diagnose
    from pciexplore.fleet.tables import slot
    from pciexplore.msi import x86
    from pciexplore.render.json import function_names

    out: dict[str, list[tuple]] = {t: [] for t in TABLES}
    for path in paths:
        data = path.read_bytes()
        try:
            src = pciexplore.open(str(path))
            src.functions()
        except pciexplore.PciError:
            continue
        with src:
            meta = dict(getattr(src, "metadata", {}) or {})
            is_capture = data.lstrip()[:1] == b"{"
            host = meta.get("host") if is_capture else path.stem
            prefix = b"" if is_capture else host.encode() + b"\0"
            cap_id = hashlib.sha256(prefix + data).hexdigest()[:16]
            fns = list({str(fn.address): fn for fn in reversed(src.functions())}.values())[::-1]
            notes = list(getattr(src, "annotations", ()) or ())
            out["captures"].append((cap_id, host, meta.get("title"), meta.get("time"), meta.get("kernel"),
                                    meta.get("tool"), meta.get("source_kind", src.kind),
                                    meta.get("source", src.name), src.kind, str(path), len(data), len(fns),
                                    len(notes)))
            for fn in fns:
                a = str(fn.address)
                row = (cap_id, host, a)
                blocks = ([(fn.header.layout.key, 0, fn.header)] if fn.header.layout else []) + [
                    (c.key, c.offset, c) for c in fn.capabilities]
                for key, offset, block in blocks:
                    for rv in block.registers():
                        for f in rv.decl.fields or [None]:
                            value = rv.value if f is None or rv.value is None else f.extract(rv.value)
                            name = f and f.name
                            out["fields"].append(row + (key, offset, rv.name, rv.offset, name, value,
                                                        slot(a, key, rv.offset, rv.name, name)))
                msix = {"size": None, "enabled": None, "masked": None, "captured": None}
                if fn.msix is not None:
                    try:
                        r = fn.msix.regs()
                        msix = {"size": r.size, "enabled": r.enabled, "masked": r.function_masked, "captured": False}
                        entries = fn.msix.entries
                        msix["captured"] = True
                    except pciexplore.PciError:
                        entries = []
                    out["msix_vectors"] += [row + (e.vector, e.address, e.data, e.ctrl, e.entry_masked, e.masked,
                                                   e.pending, x86.describe(e.address, e.data)) for e in entries]
                type0 = fn.header.layout is not None and fn.header.layout.key == "header0"
                names = function_names(fn)
                out["functions"].append(row + (
                    fn.address.domain, fn.address.bus, fn.address.device, fn.address.function, fn.vendor_id,
                    fn.device_id, fn.class_code, fn.revision, fn.header_type,
                    fn.header.get("PCI_SUBSYSTEM_VENDOR_ID") if type0 else None,
                    fn.header.get("PCI_SUBSYSTEM_ID") if type0 else None, len(fn.config),
                    tuple(c.key for c in fn.capabilities), len(fn.problems), fn.kernel.driver if fn.kernel else None,
                    names["vendor"], names["device"], names["class"], msix["size"], msix["enabled"], msix["masked"],
                    msix["captured"]))
                try:
                    info = fn.virtio.to_dict() if fn.virtio is not None else {}
                except pciexplore.PciError:
                    info = {}
                for q in info.get("queues") or ():
                    out["virtio_queues"].append(row + (
                        info["device_type_name"], info["device_status"], q["index"], q["size"], q["enable"],
                        q["msix_vector"], q.get("bound"), q.get("address"), q.get("data"), q.get("masked"),
                        q.get("pending"), q.get("meaning")))
            out["findings"] += [(cap_id, host, f.device, f.check, f.severity, f.where, f.message, f.rule, f.fix,
                                 f.offset, f.vector) for f in diagnose(src)]
            out["annotations"] += [(cap_id, host, str(n.function), n.bar, n.offset, n.length, n.field, n.text,
                                    n.author, n.time, tuple(n.tags)) for n in notes]
    return out


def _dataset_rows(path: Path) -> dict[str, list[tuple]]:
    import pyarrow.parquet as pq

    out = {}
    for table in TABLES:
        rows = []
        for part in sorted((path / table).glob("*.parquet")):
            for r in pq.read_table(part).to_pylist():
                rows.append(tuple(tuple(v) if isinstance(v, list) else v for v in r.values()))
        out[table] = rows
    return out


def test_fast_build_has_the_plain_models_rows(inputs, tmp_path):
    """Two workers, chunks, decodes shared between functions with the same bytes: every table holds
    exactly the rows (as many times each) that asking the model plainly, input by input, gives; over
    generated captures, the corpus dumps, a raw file, a capture with virtio queues and bad inputs."""
    from collections import Counter

    extra = [Path(__file__).resolve().parents[1] / "data" / n for n in ("default.json", "q35-e1000e-nvme.json")]
    corpus = sorted((CORPUS / "realworld").glob("*.lspci"))[:6] + sorted((CORPUS / "pciutils-tests").glob("*.lspci"))[:6]
    folder = tmp_path / "mixed"
    folder.mkdir()
    paths = [Path(shutil.copy(p, folder / p.name)) for p in extra + corpus]
    paths += all_inputs(inputs) + [Path(p) for p in inputs["bad_files"]]
    fleet_mod.build(tmp_path / "ds", paths, jobs=2, chunk=7)
    got, want = _dataset_rows(tmp_path / "ds"), _plain_rows(paths)
    assert want["virtio_queues"] and want["annotations"] and want["msix_vectors"] and len(want["captures"]) > 40
    for table in TABLES:
        assert Counter(got[table]) == Counter(want[table]), table
