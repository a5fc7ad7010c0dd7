"""The bsn kernel: a Jupyter wrapper kernel around one `bsn kernel-server`.

bsn speaks a line-framed JSON protocol (docs/architecture.md, "The kernel
protocol"): a request per line on its stdin, events per line on its stdout.
This kernel turns Jupyter's messages into requests and the events into
Jupyter's outputs:

- output   -> stream text, or display_data (text/html with text/plain) for
              tables, and one image/png display_data per picture written;
- said     -> stream text (a sweep's notes);
- live     -> display_data with a display_id the first time, then
              update_display_data (training's table, status and curves);
- error    -> an `error` message and an error reply, the message only.

Jupyter's interrupt (SIGINT to this process) is passed on to bsn, which stops
training at the next batch and saves the session, as Ctrl-C does in its REPL.
"""

import base64
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import uuid

from ipykernel.kernelbase import Kernel

from . import __version__

MAGICS = ["%session"]


def png_size(data):
    """Width and height of a PNG (from its IHDR chunk), or None."""
    if len(data) >= 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


class BsnExited(Exception):
    pass


class BsnKernel(Kernel):
    implementation = "bsn"
    implementation_version = __version__
    language = "bsn"
    language_version = "0.1"
    language_info = {
        "name": "bsn",
        "mimetype": "text/x-bsn",
        "file_extension": ".bsn",
        "codemirror_mode": "shell",
        "pygments_lexer": "bash",
    }
    banner = "bsn: Budgeted Super Networks. `help` lists the commands; `%session NAME` opens a saved session."

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._proc = None
        self._buffer = b""
        self._request = 0
        self._displays = {}
        self._run = uuid.uuid4().hex[:8]
        self._session = None
        self._running = False
        try:
            self._start(None)
        except (BsnExited, RuntimeError) as e:
            # Said at the first cell, as an error: a kernel that dies at start says nothing.
            self._proc = None
            self._problem = str(e)

    # The bsn process

    def _executable(self):
        exe = os.environ.get("BSN_EXECUTABLE") or shutil.which("bsn")
        if not exe or not os.access(exe, os.X_OK):
            raise RuntimeError("bsn kernel: no bsn executable (set BSN_EXECUTABLE, or reinstall with python3 -m bsn_kernel install --bsn PATH)")
        return exe

    def _start(self, session):
        """Starts bsn (opening or creating `session`, or a new notebook session) and returns what it said at start."""
        args = [self._executable(), "kernel-server"] + (["--session", session] if session else [])
        # Its own process group: an interrupt reaches bsn only through this kernel, once.
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, bufsize=0)
        self._buffer = b""
        ready = self._next_event(timeout=600)
        if ready is None or ready.get("event") != "ready":
            self._stop()
            raise BsnExited(f"bsn did not start: {ready}")
        self._session = ready.get("session")
        return ready.get("text", "")

    def _stop(self, timeout=60):
        """Closes bsn's input (it saves a session that changed, then exits) and waits for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _alive(self):
        return self._proc is not None and self._proc.poll() is None

    def _send(self, message):
        self._request += 1
        message["id"] = self._request
        try:
            self._proc.stdin.write((json.dumps(message) + "\n").encode())
        except (BrokenPipeError, OSError) as e:
            raise BsnExited(f"bsn exited ({e})")
        return self._request

    def _next_event(self, timeout=None):
        """The next event from bsn, or None after `timeout` seconds; BsnExited when it ended."""
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                status = self._proc.wait()
                raise BsnExited(f"bsn exited with status {status}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _interrupt_bsn(self, *_):
        if self._running and self._alive():
            os.kill(self._proc.pid, signal.SIGINT)

    # Jupyter's interrupt arrives as SIGINT while a request is handled: bsn gets it.

    def pre_handler_hook(self):
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._interrupt_bsn)

    def post_handler_hook(self):
        signal.signal(signal.SIGINT, self.saved_sigint_handler)

    # Outputs

    def _stream(self, text, name="stdout"):
        if text:
            self.send_response(self.iopub_socket, "stream", {"name": name, "text": text if text.endswith("\n") else text + "\n"})

    def _picture(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self._stream(f"cannot show {path}: {e.strerror}", "stderr")
            return
        size = png_size(data)
        metadata = {"image/png": {"width": size[0], "height": size[1]}} if size else {}
        self.send_response(self.iopub_socket, "display_data",
                           {"data": {"image/png": base64.b64encode(data).decode(), "text/plain": path}, "metadata": metadata})

    def _show(self, event):
        kind = event.get("event")
        if kind == "output":
            if event.get("html"):
                self.send_response(self.iopub_socket, "display_data",
                                   {"data": {"text/html": event["html"], "text/plain": event.get("text", "")}, "metadata": {}})
            else:
                self._stream(event.get("text", ""))
            for path in event.get("pictures", []):
                self._picture(path)
        elif kind == "said":
            self._stream(event.get("text", ""))
        elif kind == "live":
            data = {"text/html": event.get("html", ""), "text/plain": event.get("text", "")}
            key = event.get("key", "")
            known = key in self._displays
            display_id = self._displays.setdefault(key, f"bsn-{self._run}-{key}-{self._request}")
            self.send_response(self.iopub_socket, "update_display_data" if known else "display_data",
                               {"data": data, "metadata": {}, "transient": {"display_id": display_id}})

    def _error(self, ename, evalue):
        content = {"ename": ename, "evalue": evalue, "traceback": [f"\x1b[0;31m{evalue}\x1b[0m"]}
        self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    # Requests

    def _magic(self, line, silent):
        """`%session NAME`: save this session if it changed, and open (or create) NAME. `%session`: the current one."""
        words = line.split()
        if words[0] != "%session":
            return f"unknown magic {words[0]} (the bsn kernel knows %session NAME)"
        if len(words) == 1:
            if not silent:
                self._stream(f"session '{self._session}'")
            return None
        if len(words) != 2:
            return "%session takes one session name"
        self._stop()
        try:
            said = self._start(words[1])
        except BsnExited as e:
            return str(e)
        if not silent:
            self._stream(said)
        return None

    def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kwargs):
        lines = code.split("\n")
        # Magics first (a first-cell `%session NAME`), then the cell's bsn commands.
        while lines and lines[0].strip().startswith("%"):
            problem = self._magic(lines.pop(0).strip(), silent)
            if problem:
                return self._error("bsn", problem)
        code = "\n".join(lines)
        if not code.strip():
            return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}
        try:
            if not self._alive():
                # bsn quit (quit, or it ended): a new process continues the last session.
                self._start(self._session)
            request = self._send({"execute": code})
        except (BsnExited, RuntimeError) as e:
            return self._error("bsn", str(e))
        error, done = None, None
        self._running = True
        try:
            while done is None:
                try:
                    event = self._next_event()
                except KeyboardInterrupt:
                    # The handler was not ours (a thread other than the main one): pass the interrupt on.
                    self._running = True
                    self._interrupt_bsn()
                    continue
                if event.get("id") != request:
                    continue
                if event.get("event") == "done":
                    done = event
                elif event.get("event") == "error":
                    line = event.get("line")
                    error = (f"line {line}: " if line and len(code.strip().split("\n")) > 1 else "") + event.get("message", "")
                elif not silent:
                    self._show(event)
        except BsnExited as e:
            return self._error("bsn", str(e))
        finally:
            self._running = False
        self._session = done.get("session", self._session)
        if error:
            return self._error("bsn", error)
        if done.get("interrupted"):
            return self._error("KeyboardInterrupt", "interrupted: stopped at the next batch; the session is saved")
        if done.get("quit"):
            self._stop()
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}

    def _line_at(self, code, cursor_pos):
        start = code.rfind("\n", 0, cursor_pos) + 1
        end = code.find("\n", cursor_pos)
        return start, code[start: len(code) if end < 0 else end]

    def _ask(self, message):
        """A request answered by one event (completion, help); None when bsn is not there."""
        try:
            if not self._alive():
                self._start(self._session)
            request = self._send(message)
            while True:
                event = self._next_event(timeout=30)
                if event is None or event.get("id") == request:
                    return event
        except (BsnExited, RuntimeError):
            return None

    def do_complete(self, code, cursor_pos):
        start, line = self._line_at(code, cursor_pos)
        column = cursor_pos - start
        if line.lstrip().startswith("%") and " " not in line[:column].strip():
            word = line[:column].strip()
            matches, word_start = [m for m in MAGICS if m.startswith(word)], cursor_pos - len(word)
        else:
            answer = self._ask({"complete": line, "cursor": column}) or {}
            matches, word_start = answer.get("matches", []), start + answer.get("start", column)
        return {"status": "ok", "matches": matches, "cursor_start": word_start, "cursor_end": cursor_pos, "metadata": {}}

    def do_inspect(self, code, cursor_pos, detail_level=0, omit_sections=()):
        _, line = self._line_at(code, cursor_pos)
        answer = self._ask({"inspect": line, "cursor": cursor_pos}) or {}
        found = bool(answer.get("found"))
        return {"status": "ok", "found": found, "data": {"text/plain": answer.get("text", "")} if found else {}, "metadata": {}}

    def do_is_complete(self, code):
        return {"status": "complete"}

    def do_shutdown(self, restart):
        self._stop()
        return {"status": "ok", "restart": restart}
