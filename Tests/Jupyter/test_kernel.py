"""The bsn kernel through Jupyter's own client (jupyter_client): start time,
completion, help, errors, interrupt, restart. Run by Tests/EndToEnd/JupyterTests.swift:

    BSN=.build/release/bsn python3 Tests/Jupyter/test_kernel.py
"""

import json
import os
import subprocess
import time
import unittest

import support

SCRATCH = support.set_up()

from jupyter_client.manager import KernelManager  # noqa: E402 (after the kernel spec is set up)


class Kernel:
    """A started bsn kernel in a working folder, and its client."""

    def __init__(self, folder):
        self.manager = KernelManager(kernel_name="bsn")
        self.manager.start_kernel(cwd=folder)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code, timeout=300):
        """Executes a cell: its reply's content and its iopub messages (type, content)."""
        msg_id = self.client.execute(code)
        messages = []
        deadline = time.time() + timeout
        while True:
            message = self.client.get_iopub_msg(timeout=max(1, deadline - time.time()))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
            messages.append((message["msg_type"], message["content"]))
        reply = self.client.get_shell_msg(timeout=timeout)
        return reply["content"], messages

    def text(self, code):
        """A cell's stdout."""
        reply, messages = self.run(code)
        assert reply["status"] == "ok", reply
        return "".join(c["text"] for t, c in messages if t == "stream")

    def json(self, command):
        return json.loads(self.text(command + " --json"))

    def stop(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


def comparable(value):
    """A state without what a save does not keep: timings, and the last batch's sampled cost (a cost of that batch, not of the session)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in ("seconds", "sampledMean")}
    if isinstance(value, (list, tuple)):
        return [comparable(v) for v in value]
    return value


def folder(name):
    path = os.path.join(SCRATCH, name)
    os.makedirs(path, exist_ok=True)
    return path


class KernelTests(unittest.TestCase):
    def test_first_result_comes_within_3_seconds_of_the_start(self):
        start = time.time()
        kernel = Kernel(folder("start"))
        try:
            reply, messages = kernel.run("help")
            seconds = time.time() - start
            print(f"kernel start to first result: {seconds:.2f} s")
            self.assertEqual(reply["status"], "ok")
            self.assertIn("train", "".join(c.get("text", "") for _, c in messages))
            self.assertLess(seconds, 3.0)
        finally:
            kernel.stop()

    def test_completion_help_and_errors(self):
        kernel = Kernel(folder("protocol"))
        try:
            reply = kernel.client.complete("bui", 3, reply=True)["content"]
            self.assertEqual(reply["status"], "ok")
            self.assertIn("build", reply["matches"])
            self.assertEqual((reply["cursor_start"], reply["cursor_end"]), (0, 3))
            # A command's words after its name, on the cell's second line.
            code = "load shapes\ntrain 3 ep"
            reply = kernel.client.complete(code, len(code), reply=True)["content"]
            self.assertEqual(reply["matches"], ["epochs"])
            self.assertEqual(reply["cursor_start"], len(code) - 2)

            help_reply = kernel.client.inspect("train 5 epochs", 2, reply=True)["content"]
            self.assertTrue(help_reply["found"])
            self.assertIn("train <n> epochs|steps", help_reply["data"]["text/plain"])
            self.assertFalse(kernel.client.inspect("nonsense", 2, reply=True)["content"]["found"])

            # A failing line ends the cell with an error; the lines after it do not run.
            reply, messages = kernel.run("set lr 0.07\ntrian 3 epochs\nset lr 0.09")
            self.assertEqual(reply["status"], "error")
            self.assertIn("unknown command 'trian'", reply["evalue"])
            self.assertIn("did you mean 'train'", reply["evalue"])
            errors = [c for t, c in messages if t == "error"]
            self.assertEqual(len(errors), 1)
            self.assertEqual(len(errors[0]["traceback"]), 1, "the message alone, no traceback")
            self.assertIn("lr 0.07", kernel.text("set"))
        finally:
            kernel.stop()

    def test_interrupt_stops_training_within_5_seconds_and_the_session_reopens(self):
        work = folder("interrupt")
        kernel = Kernel(work)
        try:
            self.assertEqual(kernel.run("%session interrupted\nload shapes train=2000 val=200 test=200\nbuild cnf W=4 S=4 C=16")[0]["status"], "ok")
            msg_id = kernel.client.execute("train 50 epochs")
            # Training runs: wait for its live display, then a little more.
            while True:
                message = kernel.client.get_iopub_msg(timeout=60)
                if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] in ("display_data", "update_display_data"):
                    break
            time.sleep(1.5)
            start = time.time()
            kernel.manager.interrupt_kernel()
            reply = kernel.client.get_shell_msg(timeout=30)["content"]
            seconds = time.time() - start
            print(f"interrupt to reply: {seconds:.2f} s")
            self.assertLess(seconds, 5.0)
            self.assertEqual(reply["status"], "error")
            self.assertEqual(reply["ename"], "KeyboardInterrupt")
            listing = kernel.json("sessions")
            steps = {s["name"]: s["steps"] for s in listing["sessions"]}
            self.assertGreater(steps["interrupted"], 0)
            self.assertLess(steps["interrupted"], 50 * 32)
        finally:
            kernel.stop()
        # A new kernel reopens the saved session at the step where training stopped.
        kernel = Kernel(work)
        try:
            self.assertIn("opened 'interrupted'", kernel.text("%session interrupted"))
            self.assertEqual(kernel.json("sessions")["sessions"][0]["steps"], steps["interrupted"])
            self.assertEqual(kernel.run("eval val")[0]["status"], "ok")
        finally:
            kernel.stop()

    def test_bsn_ending_mid_cell_is_an_error_and_the_next_cell_reopens_the_last_save(self):
        kernel = Kernel(folder("crash"))
        try:
            kernel.text("%session crashy\nload shapes train=256 val=64 test=64\nset batch 32\nbuild cnf W=2 S=3 C=8\ntrain 1 epochs")
            msg_id = kernel.client.execute("train 500 epochs")
            while True:
                message = kernel.client.get_iopub_msg(timeout=60)
                if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] in ("display_data", "update_display_data"):
                    break
            subprocess.run(["pkill", "-KILL", "-f", "kernel-server --session crashy"], check=True)
            reply = kernel.client.get_shell_msg(timeout=30)["content"]
            self.assertEqual(reply["status"], "error")
            self.assertIn("bsn exited", reply["evalue"])
            # The next cell starts bsn again on the session: its last save (after the first epoch).
            self.assertEqual(kernel.json("sessions")["sessions"][0]["steps"], 8)
            self.assertIn("session 'crashy'", kernel.text("%session"))
        finally:
            kernel.stop()

    def test_a_restart_then_open_gives_the_same_state(self):
        kernel = Kernel(folder("restart"))
        try:
            kernel.text("%session kept\nload shapes train=512 val=128 test=128\nbuild cnf W=2 S=3 C=8\nbudget flops 1M lambda=1e-6\nwarmup 1 epochs\ntrain 3 epochs")
            before = (kernel.json("inspect"), kernel.json("eval val"), kernel.json("costs"))
            kernel.manager.restart_kernel(now=False)
            kernel.client.wait_for_ready(timeout=60)
            self.assertIn("opened 'kept'", kernel.text("open kept"))
            after = (kernel.json("inspect"), kernel.json("eval val"), kernel.json("costs"))
            self.assertEqual(comparable(before), comparable(after))
        finally:
            kernel.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
