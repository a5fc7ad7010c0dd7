"""Installs the kernel spec "bsn" so that Jupyter lists the kernel."""

import argparse
import json
import os
import shutil
import sys
import tempfile

from jupyter_client.kernelspec import KernelSpecManager


def find_bsn(given):
    """The bsn executable: the one given, else `bsn` on PATH, else none (the kernel looks again at start)."""
    if given:
        path = os.path.abspath(os.path.expanduser(given))
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SystemExit(f"bsn_kernel install: {given} is not an executable file (build bsn first: swift build -c release)")
        return path
    return shutil.which("bsn")


def main(argv):
    parser = argparse.ArgumentParser(prog="python3 -m bsn_kernel install", description="Install the bsn Jupyter kernel spec.")
    parser.add_argument("--user", action="store_true", help="install for this user only")
    parser.add_argument("--prefix", help="install under this prefix (a virtualenv's, or a test's folder)")
    parser.add_argument("--sys-prefix", action="store_true", help="install under sys.prefix (the current environment)")
    parser.add_argument("--bsn", help="the bsn executable (default: bsn on PATH when the kernel starts)")
    args = parser.parse_args(argv)
    bsn = find_bsn(args.bsn)
    spec = {
        "argv": [sys.executable, "-m", "bsn_kernel", "-f", "{connection_file}"],
        "display_name": "bsn",
        "language": "bsn",
        "interrupt_mode": "signal",
        "env": {"BSN_EXECUTABLE": bsn} if bsn else {},
    }
    prefix = sys.prefix if args.sys_prefix else args.prefix
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "kernel.json"), "w") as f:
            json.dump(spec, f, indent=2)
        where = KernelSpecManager().install_kernel_spec(folder, "bsn", user=args.user, prefix=prefix, replace=True)
    print(f"installed the bsn kernel spec in {where}" + (f" (bsn: {bsn})" if bsn else " (bsn: found on PATH when the kernel starts)"))
    return 0
