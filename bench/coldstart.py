#!/usr/bin/env python3
"""Cold start of one Lambda bootstrap on this machine, the way Lambda starts it.

A Lambda Runtime API (the three endpoints a custom runtime uses) listens on loopback. Each run starts the binary
with the environment Lambda sets, answers its first `GET /runtime/invocation/next` with the event, and records:

  init_ms   process start -> the first poll for an event (what Lambda reports as "Init Duration")
  first_ms  process start -> the answer to that event (what a user waits for on a cold start)
  rss_mb    the process's peak resident memory (VmHWM) once it has answered
  aws_calls the AWS requests the process made up to its answer (counted on the warm-up run, see below)

The second poll is held open until the process is killed, as Lambda freezes it. The first run warms the page
cache and is not timed; when `measure` is given the endpoint variables, that run reaches the AWS endpoint through a
counting proxy on loopback (so the timed runs pay no proxy hop), which records each call (DynamoDB/SQS/SES operation
from `X-Amz-Target`, or method and path for S3). The figures are the median of the timed runs.

  bench/coldstart.py [-n RUNS] [--event FILE] [--env K=V]... [--env-file FILE] [--count-calls VAR]... [--json] \
      -- COMMAND [ARG...]

`bench/run` imports `measure_side_by_side` to compare every function with the yardstick Lambda.
"""
import argparse
import http.client
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid


class _State:
    def __init__(self, event):
        self.event = event
        self.first_poll = None
        self.answered_at = None
        self.answer = None
        self.failed = False
        self.handed_out = False
        self.answered = threading.Event()
        self.release = threading.Event()


class _RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.server.state
        if not self.path.endswith("/runtime/invocation/next"):
            return self._reply(404)
        if state.first_poll is None:
            state.first_poll = time.perf_counter()
        if state.handed_out:
            # Lambda freezes the process here; hold the poll until the run ends.
            state.release.wait(60)
            return self._reply(410)
        state.handed_out = True
        deadline = int(time.time() * 1000) + 30_000
        self._reply(200, state.event, [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4())),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:bench"),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
        ])

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if "/response" in self.path or "/error" in self.path:
            state.answered_at = time.perf_counter()
            state.answer = body
            state.failed = "/error" in self.path
            self._reply(202, b"{}", [("Content-Type", "application/json")])
            state.answered.set()
        else:
            self._reply(404)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The held poll breaks when the process is killed: expected, not worth a traceback.
        pass


class _CountingProxy(http.server.BaseHTTPRequestHandler):
    """Forwards every request to the upstream endpoint unchanged and records what it was."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, if any, end with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self):
        body = self._body()
        target = self.headers.get("X-Amz-Target")
        self.server.calls.append(target.split(".")[-1] if target else f"{self.command} {self.path.split('?')[0]}")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            # A HEAD answer announces the object's length but carries no body.
            length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(payload))
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward


def _counting_proxy(upstream_url):
    """A proxy to `upstream_url` on a free loopback port; its `calls` list fills as requests pass."""
    parsed = urllib.parse.urlsplit(upstream_url)
    proxy = _Server(("127.0.0.1", 0), _CountingProxy)
    proxy.upstream = (parsed.hostname, parsed.port or 80)
    proxy.calls = []
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy


def _peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def one_run(cmd, event, env):
    """Starts `cmd` once under a fresh Runtime API and returns its figures and answer."""
    state = _State(event)
    server = _Server(("127.0.0.1", 0), _RuntimeApi)
    server.state = state
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full_env = dict(env)
    full_env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": full_env.get("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": full_env.get("AWS_REGION", "us-east-1"),
        "AWS_DEFAULT_REGION": full_env.get("AWS_REGION", "us-east-1"),
    })
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Drain the pipes meanwhile, so a chatty process never blocks on a full pipe while being timed.
    output = {"stdout": b"", "stderr": b""}

    def drain(name, pipe):
        output[name] = pipe.read()

    readers = [threading.Thread(target=drain, args=(n, p), daemon=True)
               for n, p in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for reader in readers:
        reader.start()
    answered = state.answered.wait(60)
    rss = _peak_rss_mb(proc.pid)
    state.release.set()
    proc.kill()
    proc.wait()
    for reader in readers:
        reader.join(5)
    server.shutdown()
    server.server_close()
    if not answered:
        tail = output["stderr"].decode(errors="replace")[-1500:]
        raise RuntimeError(f"{cmd[0]}: no answer within 60 s; stderr:\n{tail}")
    return {
        "init_ms": (state.first_poll - started) * 1000,
        "first_ms": (state.answered_at - started) * 1000,
        "rss_mb": rss,
        "failed": state.failed,
        "answer": state.answer.decode(errors="replace"),
        "stdout": output["stdout"].decode(errors="replace"),
        "stderr": output["stderr"].decode(errors="replace"),
    }


def measure(cmd, event, env, runs=7, endpoint_vars=()):
    """One warm-up run, then `runs` timed ones: medians (and min/max) of each figure, and the last answer.

    `endpoint_vars` names the variables of `env` that hold the AWS endpoint (all the same URL): the warm-up run gets
    a counting proxy's URL in them instead, and `aws_calls` lists the calls it made.
    """
    return measure_side_by_side({"only": (cmd, event, env, endpoint_vars)}, runs)["only"]


def measure_side_by_side(subjects, runs=7):
    """`measure` for several binaries at once ({name: (cmd, event, env, endpoint_vars)}), their timed runs taken in
    turns (one of each, `runs` times), so a machine that gets busier or quieter meanwhile shifts them all alike and
    their ratios hold."""
    warm = {name: _warm_up(*subject) for name, subject in subjects.items()}
    timed = {name: [] for name in subjects}
    for _ in range(runs):
        for name, (cmd, event, env, _) in subjects.items():
            timed[name].append(one_run(cmd, event, env))
    return {name: _summary(timed[name], warm[name]) for name in subjects}


def _warm_up(cmd, event, env, endpoint_vars):
    """The untimed first run (through the counting proxy when `endpoint_vars` is given): the calls it made, or None."""
    if not endpoint_vars:
        one_run(cmd, event, env)
        return None
    proxy = _counting_proxy(env[endpoint_vars[0]])
    warm_env = dict(env)
    warm_env.update({name: f"http://127.0.0.1:{proxy.server_address[1]}" for name in endpoint_vars})
    try:
        one_run(cmd, event, warm_env)
        return list(proxy.calls)
    finally:
        proxy.shutdown()
        proxy.server_close()


def _summary(results, calls):
    summary = {}
    for figure in ("init_ms", "first_ms", "rss_mb"):
        values = [r[figure] for r in results if r[figure] is not None]
        if values:
            summary[figure] = {
                "median": round(statistics.median(values), 2),
                "min": round(min(values), 2),
                "max": round(max(values), 2),
            }
    if calls is not None:
        summary["aws_calls"] = calls
    summary["failed_runs"] = sum(r["failed"] for r in results)
    summary["answer"] = results[-1]["answer"]
    summary["stdout"] = results[-1]["stdout"]
    summary["stderr"] = results[-1]["stderr"]
    return summary


def read_env_file(path):
    """KEY=VALUE lines (the format `lectern aws-setup --write-env` writes); quotes around values are removed."""
    values = {}
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1].replace('\\"', '"')
            values[key.strip()] = value
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=7)
    parser.add_argument("--event", help="the event (JSON file); default {}")
    parser.add_argument("--env", action="append", default=[], help="K=V for the function")
    parser.add_argument("--env-file", help="KEY=VALUE lines for the function")
    parser.add_argument("--count-calls", action="append", default=[], metavar="VAR",
                        help="a variable holding the AWS endpoint: count the calls made through it (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("give the bootstrap command after --")
    env = dict(os.environ)
    if args.env_file:
        env.update(read_env_file(args.env_file))
    env.update(kv.split("=", 1) for kv in args.env)
    event = open(args.event, "rb").read() if args.event else b"{}"
    summary = measure(cmd, event, env, args.runs, tuple(args.count_calls))
    if args.json:
        print(json.dumps(summary))
    else:
        for figure in ("init_ms", "first_ms", "rss_mb"):
            print(f"{figure:9} {summary.get(figure)}")
        if "aws_calls" in summary:
            print(f"aws_calls {len(summary['aws_calls'])}: {', '.join(summary['aws_calls'])}")
        print(f"failed    {summary['failed_runs']}")
        print(f"answer    {summary['answer'][:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
