"""nbclient executes the sample notebooks (samples/*.ipynb) against the
installed bsn kernel, as `jupyter nbconvert --execute` would, and checks what
the cells show: pictures that decode as PNG of the sizes written, the
test-accuracy line, HTML tables, and a training display updated in place.
Run by Tests/EndToEnd/JupyterTests.swift:

    BSN=.build/release/bsn python3 Tests/Jupyter/test_notebooks.py
"""

import os
import re
import shutil
import unittest

import support

SCRATCH = support.set_up()

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402


class CountingClient(NotebookClient):
    """A client that counts the updates of displays in place (update_display_data), which a notebook does not keep."""

    updates = 0

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] == "update_display_data":
            self.updates += 1
        return super().process_message(msg, cell, cell_index)


def execute(name):
    """Runs samples/<name> in a folder of its own; the executed notebook and its client."""
    folder = os.path.join(SCRATCH, name.replace(".ipynb", ""))
    os.makedirs(folder)
    shutil.copy(os.path.join(support.REPOSITORY, "samples", name), folder)
    notebook = nbformat.read(os.path.join(folder, name), as_version=4)
    for cell in notebook.cells:
        assert not cell.get("outputs"), f"{name} is committed with outputs"
    client = CountingClient(notebook, kernel_name="bsn", timeout=900, resources={"metadata": {"path": folder}})
    client.execute()
    nbformat.write(notebook, os.path.join(folder, "executed-" + name))
    return notebook, client, folder


def outputs(notebook, kind=None):
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if kind is None or o.output_type == kind]


def stream_text(notebook):
    return "".join(o.text for o in outputs(notebook, "stream"))


def pictures(notebook):
    """(path shown, width, height) of every image/png output."""
    return [(o.data.get("text/plain", ""), *support.png_size(o.data["image/png"])) for o in outputs(notebook, "display_data") if "image/png" in o.data]


def html(notebook):
    return [o.data["text/html"] for o in outputs(notebook, "display_data") if "text/html" in o.data]


def check_sizes(test, notebook, shown):
    """Each picture shown decodes at the size its render line says ("wrote x.png (1200x426)"), the file's."""
    said = dict(re.findall(r"wrote (\S+\.png) \((\d+x\d+)\)", stream_text(notebook)))
    for path, width, height in shown:
        test.assertEqual(said.get(os.path.basename(path)), f"{width}x{height}", path)
        test.assertEqual(support.png_size_of_file(path), (width, height))
    test.assertTrue(any(w == 1200 for _, w, _ in shown), "render's default width")


class NotebookTests(unittest.TestCase):
    def test_the_quick_start_notebook(self):
        notebook, client, folder = execute("quickstart.ipynb")
        shown = pictures(notebook)
        print("quickstart pictures:", shown, "display updates:", client.updates)
        names = [os.path.basename(p) for p, _, _ in shown]
        self.assertEqual(names, ["quickstart-graph.png", "quickstart-arch.png", "quickstart-history.png"])
        check_sizes(self, notebook, shown)
        text = stream_text(notebook)
        self.assertRegex(text, r"test \(1000 images, deterministic architecture\): loss [0-9.]+, accuracy 0\.[0-9]+")
        tables = html(notebook)
        self.assertTrue(any("<table>" in t and "<th" in t for t in tables), "an HTML table")
        self.assertTrue(any("p(keep)" in t and "<table>" in t for t in tables), "inspect's table")
        # Training's display: created once, then updated in place (each epoch at least), with the curves after the first epoch.
        self.assertGreater(client.updates, 10)
        train = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("train"))
        live = [o for o in train.outputs if o.output_type == "display_data" and "<img src=\"data:image/png;base64," in o.data.get("text/html", "")]
        self.assertEqual(len(live), 1, "one live display, updated in place")
        self.assertIn("<table>", live[0].data["text/html"])
        self.assertTrue(os.path.isdir(os.path.join(folder, "sessions", "quickstart")))

    def test_the_faces_segmentation_notebook(self):
        notebook, client, folder = execute("faces-segmentation.ipynb")
        shown = pictures(notebook)
        print("faces pictures:", shown, "display updates:", client.updates)
        self.assertEqual([os.path.basename(p) for p, _, _ in shown], ["faces-masks.png", "faces-graph.png"])
        check_sizes(self, notebook, shown)
        self.assertRegex(stream_text(notebook), r"test \(200 images, deterministic architecture\)")
        self.assertTrue(any("val IoU" in t for t in html(notebook)), "the epoch table with the mean IoU")
        self.assertGreater(client.updates, 8)


if __name__ == "__main__":
    unittest.main(verbosity=2)
