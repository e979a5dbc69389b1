"""A lean HTTP/1.1 load client: K kept-alive connections POST prepared bodies as fast as the
server answers, each body once. It runs as a process of its own (`python -m
tests.bench.http_load`), so its CPU never shares the server's interpreter lock, and costs
far less per request than httpx, which matters on a 2-core machine.

Input (JSON on stdin): host, port, path, headers, connections, and a file of bodies, one per
line. Output (JSON on stdout): seconds from the first request to the last answer, HTTP
status counts, the `status` field of each JSON answer counted, and the answers that failed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


async def _connection(host: str, port: int, head: bytes, bodies: list[bytes],
                      next_index: list[int], statuses: Counter[str],
                      answers: Counter[str], failures: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while next_index[0] < len(bodies):
            body = bodies[next_index[0]]
            next_index[0] += 1
            writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            code = status_line.split(b" ", 2)[1].decode()
            statuses[code] += 1
            try:
                answers[str(json.loads(answer).get("status"))] += 1
            except ValueError:
                answers["unreadable"] += 1
            if code != "200" and len(failures) < 10:
                failures.append(f"{code} {answer[:200]!r}")
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    bodies = Path(spec["bodies"]).read_bytes().splitlines()
    head = (f"POST {spec['path']} HTTP/1.1\r\nHost: {spec['host']}\r\n"
            "Content-Type: application/json\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in spec["headers"].items())).encode()
    statuses: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    failures: list[str] = []
    next_index = [0]
    started = time.perf_counter()
    await asyncio.gather(*(
        _connection(spec["host"], spec["port"], head, bodies, next_index, statuses, answers,
                    failures)
        for _ in range(spec["connections"])))
    return {"seconds": time.perf_counter() - started, "sent": next_index[0],
            "statuses": dict(statuses), "answers": dict(answers), "failures": failures}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.load(sys.stdin)))))
