"""Shared set-up of the Jupyter tests: the kernel spec of this checkout's
kernel (jupyter/bsn_kernel) and bsn binary, installed in a temporary prefix.

Environment: BSN, the bsn executable to test; the tests find the repository
from this file's place."""

import base64
import io
import os
import subprocess
import sys
import tempfile

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def set_up():
    """Installs the kernel spec "bsn" under a temporary prefix and points Jupyter at it; returns a scratch folder."""
    bsn = os.environ.get("BSN")
    if not bsn or not os.access(bsn, os.X_OK):
        sys.exit("set BSN to the bsn executable (swift build -c release: .build/release/bsn)")
    scratch = tempfile.mkdtemp(prefix="bsn-jupyter-")
    # The kernel is this checkout's package, not an installed copy.
    os.environ["PYTHONPATH"] = os.path.join(REPOSITORY, "jupyter") + os.pathsep + os.environ.get("PYTHONPATH", "")
    prefix = os.path.join(scratch, "prefix")
    subprocess.run([sys.executable, "-m", "bsn_kernel", "install", "--prefix", prefix, "--bsn", bsn], check=True, env=os.environ)
    os.environ["JUPYTER_PATH"] = os.path.join(prefix, "share", "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(scratch, "runtime")
    os.environ["JUPYTER_DATA_DIR"] = os.path.join(scratch, "data")
    # One thread per kernel leaves the other core to the test's own work.
    return scratch


def png_size(b64):
    """Width and height of a base64 PNG, decoded whole by Pillow (a damaged PNG raises)."""
    from PIL import Image

    data = base64.b64decode(b64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.size


def png_size_of_file(path):
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.size
