"""What AnnotationRunner changes in datatrove's InferenceRunner so one task can keep a GPU fed.

Measured with bench/annotate_ceiling.py (an instant server; see docs/scale-out.md for the figures),
the CPU that datatrove 0.10.1's runner spends per request went mostly to four things, each
replaced here by what brd needs of it:
- a new TCP connection per request (`Connection: close`, connect + close system calls):
  `KeepAlive` posts over keep-alive connections (`HttpPool`, a small HTTP/1.1 client on
  asyncio's transports: aiohttp's client costs four times its CPU per request here), with the
  same errors (400: bad request, 500: ServerError, other: InferenceError; connection errors are
  retried by datatrove);
- its CheckpointManager copies every document to a JSONL file (an aiofiles open, write and close,
  three thread hand-offs) and every answer to SQLite (a commit per request): `PartChunks` only
  numbers documents into chunks and closes a chunk's Parquet part when its last document is in.
  The parts are brd's checkpoints: a task run again within its run (a Ray resubmission, a Slurm
  requeue) skips the chunks whose parts are closed; a new run skips what the store holds;
- one thread hand-off per input document (`_async_data_gen`): `read_ahead` reads them in batches.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
from datatrove.data import Document
from datatrove.pipeline.inference.servers import CustomServer, EndpointServer
from datatrove.pipeline.inference.types import InferenceError, ServerError

READ_AHEAD = 256  # input documents per thread hand-off


class _Response(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a request, parses the response (Content-Length, chunked,
    or until the server closes), and says whether the connection can carry the next request."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.used = False  # has carried a request before (a stale keep-alive is retried once)

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._deliver(eof=False)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._deliver(eof=True)

    def send(self, request: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _deliver(self, eof: bool) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            parsed = self._parse(eof)
        except ValueError as exc:
            waiter.set_exception(ConnectionError(f"bad HTTP response: {exc}"))
            return
        if parsed is not None:
            self.waiter = None
            waiter.set_result(parsed)
        elif eof:
            waiter.set_exception(ConnectionError("the server closed the connection" + (" (reused)" * self.used)))

    def _parse(self, eof: bool) -> tuple[int, bytes, bool] | None:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(buf[:end]).split(b"\r\n")
        version, status = lines[0][:8], int(lines[0][9:12])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip().lower()
        keep = headers.get(b"connection") != b"close" and (
            version == b"HTTP/1.1" or headers.get(b"connection") == b"keep-alive"
        )
        start = end + 4
        if b"content-length" in headers:
            stop = start + int(headers[b"content-length"])
            if len(buf) < stop:
                return None
            body = bytes(buf[start:stop])
        elif b"chunked" in headers.get(b"transfer-encoding", b""):
            parts, stop = [], start
            while True:
                eol = buf.find(b"\r\n", stop)
                if eol < 0:
                    return None
                size = int(bytes(buf[stop:eol]).split(b";")[0], 16)
                if size == 0:
                    trailer = buf.find(b"\r\n\r\n", eol)
                    if trailer < 0:
                        return None
                    stop = trailer + 4
                    break
                if len(buf) < eol + 2 + size + 2:
                    return None
                parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
                stop = eol + 2 + size + 2
            body = b"".join(parts)
        else:  # no length: the body ends with the connection
            if not eof:
                return None
            stop, body, keep = len(buf), bytes(buf[start:]), False
        del buf[:stop]
        return status, body, keep


class HttpPool:
    """Keep-alive HTTP/1.1 connections to one host, one request at a time on each (datatrove's
    semaphore bounds the requests in flight, so the pool needs no bound of its own)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self._idle: list[_Response] = []
        self._head = f"Host: {host}:{port}\r\nContent-Type: application/json\r\n".encode()

    async def _connect(self) -> _Response:
        _transport, conn = await asyncio.get_running_loop().create_connection(_Response, self.host, self.port)
        return conn

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (path.encode(), self._head, len(body), body)
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            try:
                return await self._exchange(conn, request)
            except ConnectionError:
                if conn.buffer:  # it had started answering: not a stale connection
                    raise
                # the server closed an idle connection as we reused it: once more on a new one
        return await self._exchange(await self._connect(), request)

    async def _exchange(self, conn: _Response, request: bytes) -> tuple[int, bytes]:
        try:
            status, body, keep = await conn.send(request)
        except BaseException:  # cancelled (a timeout) or broken: its response can never be read
            conn.close()
            raise
        conn.used = True
        if keep and not conn.closed:
            self._idle.append(conn)
        else:
            conn.close()
        return status, body

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class KeepAlive:
    """Mixin for a datatrove InferenceServer: requests over keep-alive connections (HttpPool),
    with datatrove's errors (400: bad request, 500: ServerError, other: InferenceError;
    connection errors are retried by its runner)."""

    _pool: HttpPool | None = None

    def _completions_path(self) -> str:
        return "/v1/chat/completions" if self.config.use_chat else "/v1/completions"

    async def _make_request(self, payload: dict) -> dict:
        if self._pool is None:
            from urllib.parse import urlparse

            url = urlparse(self.get_base_url())
            self._pool = HttpPool(url.hostname, url.port or 80)
        status, body = await self._pool.post(self._completions_path(), orjson.dumps(payload))
        if status == 400:
            raise InferenceError(None, f"Got BadRequestError from server: {body.decode()}", payload=payload)
        if status == 500:
            raise ServerError(f"Got InternalServerError from server: {body.decode()}")
        if status != 200:
            raise InferenceError(None, f"Error http status {status}", payload=payload)
        return orjson.loads(body)

    async def server_cleanup(self) -> None:
        await super().server_cleanup()
        if self._pool is not None:
            self._pool.close()
            self._pool = None


class LocalEndpoint(KeepAlive, EndpointServer):
    """--endpoint on this host (datatrove posts to it itself, without the OpenAI client)."""


class ManagedServer(KeepAlive, CustomServer):
    """The vLLM server brd starts (serve.py), on this node."""


class PartChunks:
    """The part of datatrove's CheckpointManager that brd uses (see the module docstring)."""

    def __init__(self, records_per_chunk: int, closed_part: Callable[[int, int], Path]):
        if records_per_chunk <= 0:
            raise ValueError("records_per_chunk must be positive")
        self.records_per_chunk = records_per_chunk
        self.closed_part = closed_part  # (rank, chunk) -> the path of that chunk's closed part
        self.per_chunk_counts: Counter[int] = Counter()

    def chunk_index_gen(self):
        for chunk in itertools.count():
            for _ in range(self.records_per_chunk):
                yield chunk

    async def parse_existing_checkpoints(self, rank: int, output_writer_context) -> tuple[int, set[str]]:
        """Documents to skip: those of the first chunks whose parts this task closed before."""
        done = 0
        while self.closed_part(rank, done).is_file():
            done += 1
        return done * self.records_per_chunk, set()

    async def write_document(self, document: Document, rank: int, chunk_index: int, output_writer_context) -> None:
        if "__no_rollouts_remove" not in document.metadata:
            output_writer_context.write(document, rank=rank, chunk_index=chunk_index)
        self.per_chunk_counts[chunk_index] += 1
        if self.per_chunk_counts[chunk_index] == self.records_per_chunk:
            del self.per_chunk_counts[chunk_index]
            output_writer_context.close_file(
                output_writer_context._get_output_filename(document, rank, chunk_index=chunk_index)
            )

    async def cleanup_last_chunk(self, rank: int, chunk_index: int) -> None:
        return None  # the writer closes the last, partial chunk when the runner ends


async def read_ahead(documents: Iterable[Document], batch: int = READ_AHEAD) -> AsyncIterator[Document]:
    """The input documents, read `batch` at a time in one thread (the reader blocks on I/O)."""
    pool = ThreadPoolExecutor(max_workers=1)
    iterator = iter(documents)
    loop = asyncio.get_running_loop()
    try:
        while True:
            chunk = await loop.run_in_executor(pool, lambda: list(itertools.islice(iterator, batch)))
            if not chunk:
                return
            for document in chunk:
                yield document
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
