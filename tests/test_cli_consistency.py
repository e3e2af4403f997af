"""One consistent command line: the same short flag means the same thing in every command, nothing is
reported on nothing, JSON where text is, standard output where "-" is asked for, and never an
all-clear for what could not be read."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus_file
from lspcicmp import lspci_text

import pciexplore
from pciexplore import cli

REPO = Path(__file__).resolve().parents[1]
Q35 = "qemu/q35-e1000e-nvme-virtio.lspci"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(list(argv))
        except SystemExit as e:  # argparse's --version and errors
            status = int(e.code or 0)
    return status, out.getvalue(), err.getvalue()


def test_each_short_flag_means_one_thing() -> None:
    meanings: dict[str, set[str]] = {}
    for name in cli.command_names():
        parser = cli.build_parser(name)
        sub = next(a for a in parser._actions if a.dest == "command").choices[name]
        for action in sub._actions:
            for flag in action.option_strings:
                if re.fullmatch(r"-[A-Za-z]", flag) and flag != "-h":
                    meanings.setdefault(flag, set()).add(action.dest)
    assert {flag: dests for flag, dests in meanings.items() if len(dests) > 1} == {}
    assert meanings["-s"] == {"selector"}


def test_version_is_the_packages() -> None:
    version = re.search(r'(?m)^version = "([^"]+)"', (REPO / "pyproject.toml").read_text())[1]
    assert run("--version")[:2] == (0, f"pciexplore {version}\n")


@pytest.mark.parametrize("command", ["show", "ls", "tree", "msix", "doctor", "irqs", "export --html x.html"])
def test_a_directory_without_functions_is_a_one_line_error(command: str, tmp_path: Path) -> None:
    words = command.split()
    status, out, err = run(*words, str(tmp_path))
    assert status == 1 and out == ""
    assert err == f"pciexplore: {tmp_path}: this directory holds no PCI functions (want one laid out like " \
                  "/sys/bus/pci/devices)\n"


@pytest.mark.parametrize("command", ["show", "ls", "tree", "msix", "doctor", "export --lspci -"])
def test_a_selector_matching_nothing_is_a_one_line_error(command: str) -> None:
    status, out, err = run(*command.split(), "-s", "7f:1f.7", str(corpus_file(Q35)))
    assert (status, out) == (1, "")
    assert err == f"pciexplore: {corpus_file(Q35)}: no function matches the selection (-s/-d)\n"
    assert run("show", "-d", "dead:", str(corpus_file(Q35)))[0] == 1


@pytest.mark.parametrize("text", ["[1, 2", "not json {", '{"format": "pciexplore-capture", "version": 1, "funct'])
def test_broken_json_says_so(text: str, tmp_path: Path) -> None:
    path = tmp_path / "bug.json"
    path.write_text(text)
    status, _, err = run("show", str(path))
    assert status == 1 and "broken JSON" in err and len(err.splitlines()) == 1


def test_export_to_standard_output(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("export", "--html", "report.html", str(corpus_file(Q35)))[0] == 0
    proc = subprocess.run([sys.executable, "-m", "pciexplore", "export", "--html", "-", str(corpus_file(Q35))], capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (tmp_path / "report.html").read_bytes()
    assert not (tmp_path / "-").exists()
    status, out, _ = run("export", "--lspci", "-", str(corpus_file(Q35)))
    assert status == 0
    lspci = subprocess.run(["lspci", "-F", "/dev/stdin"], input=out.encode(), capture_output=True, check=True)
    assert lspci.stdout.decode() == lspci_text(str(corpus_file(Q35)), [])  # what lspci reads back is what it reads from the dump


def test_did_you_mean_ranks_names_of_the_same_capability() -> None:
    status, _, err = run("annotate", str(REPO / "data" / "default.json"), "-s", "00:03.0", "--field",
                         "PCI_MSIX_FLAGS_MASKAL", "--text", "x")
    assert status == 1
    suggested = re.search(r"did you mean (.*)\?\)", err)[1].split(", ")
    assert suggested[0] == "PCI_MSIX_FLAGS_MASKALL"
    assert all(s.startswith("PCI_MSIX_") for s in suggested)
    _, _, err = run("annotate", str(REPO / "data" / "default.json"), "-s", "00:03.0", "--field", "PCI_NOPE",
                    "--text", "x")
    assert "PCI_DSN" not in err  # not a name from a capability the typo says nothing about


def test_one_function_is_singular(tmp_path: Path) -> None:
    status, out, _ = run("doctor", "sim:nic,driver")
    assert status == 0 and out == "no findings: the interrupt set-up of 1 function looks sound\n"
    status, out, _ = run("capture", "sim:nic,driver", "-o", str(tmp_path / "c.json"))
    assert status == 0 and out.startswith(f"{tmp_path / 'c.json'}: 1 function, ")


def test_ls_json_has_the_ids_lspci_shows() -> None:
    status, out, _ = run("ls", "--json", str(corpus_file(Q35)))
    assert status == 0
    import json

    rows = json.loads(out)
    theirs = [line.split() for line in lspci_text(str(corpus_file(Q35)), ["-n"]).splitlines()]
    assert [(r["address"][5:], f"{r['class']:04x}:", f"{r['vendor_id']:04x}:{r['device_id']:04x}") for r in rows] \
        == [(t[0], t[1], t[2]) for t in theirs]


def test_tree_json_has_lspci_t_bridges_and_functions() -> None:
    import json

    status, out, _ = run("tree", "--json", str(corpus_file(Q35)))
    assert status == 0

    def walk(buses):
        for bus in buses:
            for d in bus["devices"]:
                yield d
                yield from walk(d.get("buses", []))

    devices = list(walk(json.loads(out)))
    assert sorted(d["address"] for d in devices) == sorted(str(fn.address) for fn in pciexplore.open(str(corpus_file(Q35))))
    drawn = lspci_text(str(corpus_file(Q35)), ["-t"])
    for d in devices:
        if "secondary" in d:  # lspci -t draws a bridge as DEV.FN-[SEC] or DEV.FN-[SEC-SUB]
            sec, sub = d["secondary"], d["subordinate"]
            label = f"[{sec:02x}]" if sec == sub else f"[{sec:02x}-{sub:02x}]"
            assert f"{d['address'][8:]}-{label}" in drawn


def test_irqs_takes_a_source_and_refuses_one_without_a_kernel_view() -> None:
    status, _, err = run("irqs", str(REPO / "data" / "default.json"))
    assert status == 1 and "kernel view" in err and len(err.splitlines()) == 1


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists() or not Path("/usr/sbin/runuser").exists(),
                    reason="needs root (to become nobody), runuser and a system python3 that nobody may run")
@pytest.mark.parametrize("command", ["doctor", "msix"])
def test_unprivileged_never_an_all_clear(command: str) -> None:
    """As nobody the kernel gives 64 bytes of each config file: the capabilities where MSI and MSI-X live
    are not read, so neither doctor nor msix may say all is well or that there is no MSI-X."""
    devices = [d for d in Path("/sys/bus/pci/devices").iterdir() if (d / "config").stat().st_size > 64]
    if not devices:
        pytest.skip("no function with more than 64 bytes of config space")
    proc = subprocess.run(["/usr/sbin/runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-m", "pciexplore", command],
                          capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
                          timeout=120)
    assert proc.returncode == 1, proc.stderr  # nothing could be checked
    assert "looks sound" not in proc.stdout and "no function has" not in proc.stdout
    [note] = proc.stderr.splitlines()
    assert "64 bytes" in note and "run as root" in note and f"for {len(devices)} function" in note


@pytest.mark.skipif(os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists() or not Path("/usr/sbin/runuser").exists(),
                    reason="needs root (to become nobody), runuser and a system python3 that nobody may run")
def test_unprivileged_ls_says_capabilities_are_unknown_not_absent() -> None:
    devices = {d.name for d in Path("/sys/bus/pci/devices").iterdir() if (d / "config").stat().st_size > 64}
    if not devices:
        pytest.skip("no function with more than 64 bytes of config space")
    proc = subprocess.run(["/usr/sbin/runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-m", "pciexplore", "ls"],
                          capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        address, _, _, _, _health, caps = line.split()[:6]  # address ids class driver health caps
        if address in devices:
            assert caps == "?", line
    assert "run as root" in proc.stderr and len(proc.stderr.splitlines()) == 1
