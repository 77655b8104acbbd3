"""The Arrow Flight front end: decode each RPC, check its permission, call the store, encode
the reply (spec §5-§7). Every handler and streamed reply runs inside ``server/status.py``,
the one place where errors become Flight statuses."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from mosaico.protocol import actions as act
from mosaico.protocol.commands import ResourceCommand, Ticket, UploadCommand
from mosaico.protocol.envelope import encode_envelope
from mosaico.protocol.errors import InvalidArgument, Unimplemented
from mosaico.protocol.listing import wants_totals
from mosaico.protocol.notifications import notifications_payload
from mosaico.protocol.permissions import ACTION_PERMISSION
from mosaico.server.access import MIDDLEWARE_KEY, ApiKeyMiddlewareFactory, ApiKeys, require
from mosaico.server.logs import kv
from mosaico.server.query.service import QueryService
from mosaico.server.status import translated, translated_stream
from mosaico.server.store import Store, TopicView

log = logging.getLogger("mosaico.server.flight")

_PAGE_BLOCK = 4096  # paged reply envelopes encoded at once


def _envelopes(action: str, pages: Iterable[Any]) -> Iterator[bytes]:
    """One newline-terminated envelope per page (spec §5.2), encoded a block at a time:
    pyarrow sends one page per call into Python, and making each page between two such
    calls is ~3x slower than handing over pages made ahead (bench/bench_query_scale.py)."""
    pages = iter(pages)
    while block := list(itertools.islice(pages, _PAGE_BLOCK)):
        yield from [encode_envelope(action, page) + b"\n" for page in block]


def _command(descriptor: flight.FlightDescriptor, what: str) -> bytes:
    if descriptor.descriptor_type != flight.DescriptorType.CMD:
        raise InvalidArgument(f"{what} needs a command descriptor, not a path descriptor")
    return bytes(descriptor.command)


def _endpoint(view: TopicView) -> flight.FlightEndpoint:
    return flight.FlightEndpoint(view.ticket.to_bytes(), [], app_metadata=view.metadata.to_bytes())


class MosaicoFlightServer(flight.FlightServerBase):
    """A Flight server serving one ``Store``. Listens as soon as it is constructed.

    With ``api_keys`` every call needs a key granting its permission; with ``tls`` (a
    certificate chain and private key, PEM bytes) it serves ``grpc+tls`` locations.
    """

    def __init__(
        self,
        store: Store,
        location: str,
        api_keys: ApiKeys | None = None,
        tls: tuple[bytes, bytes] | None = None,
        **kwargs: Any,
    ) -> None:
        if api_keys is not None:
            kwargs["middleware"] = {MIDDLEWARE_KEY: ApiKeyMiddlewareFactory(api_keys)}
        if tls is not None:
            kwargs["tls_certificates"] = [tls]
        super().__init__(location, **kwargs)
        self.store = store
        self._max_body = store.config.limits.grpc_max_decode_message_size

    # -- control plane -------------------------------------------------------------------

    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        """``ListActions``: every action name of spec §5.3, with empty descriptions."""
        return [(name.value, "") for name in act.ActionName]

    @translated("do_exchange")
    def do_exchange(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader, writer: flight.MetadataRecordBatchWriter,
    ) -> None:  # fmt: skip
        """``DoExchange`` is not part of the protocol (spec §5-§7).

        Raises:
            flight.FlightError: ``UNIMPLEMENTED``, saying so.
        """
        raise Unimplemented("DoExchange is not part of the Mosaico protocol")

    @translated("do_action")
    def do_action(
        self, context: flight.ServerCallContext, action: flight.Action
    ) -> Iterable[bytes]:
        """``DoAction`` (spec §5): check the permission of the action's name, validate the
        body into its typed request, run it and return the reply envelopes: one, or one per
        item (newline-terminated) for the paged ``topic_filter_*`` actions, streamed as they
        are made (an error met while streaming ends the stream with its status).

        Raises:
            flight.FlightError: the status of the refusal (spec §12): ``PERMISSION_DENIED``
                for a key without the action's permission, ``UNIMPLEMENTED`` for an unknown
                action, ``INVALID_ARGUMENT`` for a malformed or oversized body, or the
                status of whatever the store raised.
        """
        started = time.perf_counter()
        # The permission comes from the action's name alone: an unprivileged caller learns
        # nothing about the body it sent.
        require(context, ACTION_PERMISSION[act.action_name(action.type)])
        request = act.parse_request(action.type, action.body.to_pybytes(), self._max_body)
        name = request.action.value
        results: Iterable[bytes]
        if isinstance(request, act.PagedRequest):  # one envelope per item (spec §5.2)
            pages = QueryService(self.store).pages(request)  # checked now, made lazily
            results = translated_stream("do_action", _envelopes(name, pages))
        else:
            results = [encode_envelope(name, self._dispatch(request))]
        log.debug(
            kv("action", name=action.type, ms=round((time.perf_counter() - started) * 1e3, 2))
        )
        return results

    def _dispatch(self, request: act.SingleRequest) -> Any:
        store = self.store
        if isinstance(request, act.QueryRequest):
            return QueryService(store).query(request)
        if isinstance(request, act.InfoRequest):
            return store.info().to_json()
        if isinstance(request, act.SequenceCreate):
            return store.create_sequence(request)
        if isinstance(request, act.SessionCreate):
            return store.create_session(request).to_json()
        if isinstance(request, act.TopicCreate):
            return store.create_topic(request).to_json()
        if isinstance(request, act.SessionFinalize):
            return store.finalize_session(request)
        if isinstance(request, act.SessionDelete):
            return store.delete_session(request)
        if isinstance(request, act.NotificationCreate):
            return store.add_notification(request)
        if isinstance(request, act.SequenceTarget):
            if request.action is act.ActionName.SEQUENCE_DELETE:
                return store.delete_sequence(request.sequence)
            if request.action is act.ActionName.SEQUENCE_NOTIFICATION_LIST:
                return notifications_payload(store.list_notifications(request.sequence, None))
            return store.purge_notifications(request.sequence, None)
        topic = request.topic
        if request.action is act.ActionName.TOPIC_DELETE:
            return store.delete_topic(topic)
        if request.action is act.ActionName.TOPIC_NOTIFICATION_LIST:
            return notifications_payload(store.list_notifications(topic.sequence, topic.path))
        return store.purge_notifications(topic.sequence, topic.path)

    # -- catalogue -----------------------------------------------------------------------

    @translated("get_flight_info")
    def get_flight_info(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """``GetFlightInfo`` (spec §7.1-§7.4). For a topic command, one endpoint; for a
        sequence command, one endpoint per topic and the sequence metadata in the info's
        ``app_metadata``. Each endpoint's ticket carries the command's window and, for a
        projected topic, its ``fields`` (a projected topic command's schema is the projected
        one); the totals are the rows and stored bytes of the topics, whatever the window.

        Raises:
            flight.FlightError: ``INVALID_ARGUMENT`` for a path descriptor, a malformed
                command or a field a topic lacks, ``NOT_FOUND`` for an unknown sequence or
                topic.
        """
        cmd = ResourceCommand.parse(_command(descriptor, "GetFlightInfo"))
        if cmd.topic is not None:
            view = self.store.describe_topic(cmd.topic, cmd.window, cmd.fields_of(cmd.topic.path))
            return flight.FlightInfo(
                view.schema, descriptor, [_endpoint(view)],
                view.metadata.data_info.total_row_count, view.metadata.data_info.total_bytes,
            )  # fmt: skip
        seq = self.store.describe_sequence(cmd)
        return flight.FlightInfo(
            pa.schema([]), descriptor, [_endpoint(v) for v in seq.topics],
            sum(v.metadata.data_info.total_row_count for v in seq.topics),
            sum(v.metadata.data_info.total_bytes for v in seq.topics),
            app_metadata=seq.metadata.to_bytes(),
        )  # fmt: skip

    @translated("get_schema")
    def get_schema(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.SchemaResult:
        """``GetSchema`` (spec §7.6): a topic's stored upload schema (empty before its upload).

        Raises:
            flight.FlightError: ``INVALID_ARGUMENT`` for a sequence locator or a path
                descriptor, ``NOT_FOUND`` for an unknown topic.
        """
        cmd = ResourceCommand.parse(_command(descriptor, "GetSchema"))
        if cmd.topic is None:
            raise InvalidArgument(f"GetSchema needs a topic locator, got sequence {cmd.sequence!r}")
        return flight.SchemaResult(self.store.topic_schema(cmd.topic))

    @translated("list_flights")
    def list_flights(
        self, context: flight.ServerCallContext, criteria: bytes
    ) -> Iterator[flight.FlightInfo]:
        """``ListFlights`` (spec §7.9): one info per sequence, in creation order, whose path
        descriptor is the sequence name; with the criteria ``{"totals": true}`` (our
        extension, `mosaico.protocol.listing`) each info's ``total_records`` and
        ``total_bytes`` are the sequence's, from one catalog query. Other criteria than
        those and ``b""``/``b"/"`` are refused with ``INVALID_ARGUMENT``."""
        totals = self.store.sequence_totals() if wants_totals(criteria) else None
        infos = []
        for name in self.store.sequence_names():
            descriptor = flight.FlightDescriptor.for_path(name)
            endpoint = flight.FlightEndpoint(name.encode(), [])
            rows, size = (-1, -1) if totals is None else totals.get(name, (0, 0))
            infos.append(flight.FlightInfo(pa.schema([]), descriptor, [endpoint], rows, size))
        return iter(infos)

    # -- data plane ----------------------------------------------------------------------

    @translated("do_get")
    def do_get(
        self, context: flight.ServerCallContext, ticket: flight.Ticket
    ) -> flight.FlightDataStream:
        """``DoGet`` (spec §7.8): the ticket's topic rows inside its window, sorted by
        ``timestamp_ns``, in the stored schema (projected to the ticket's ``fields``, if
        any), in batches near the target message size.
        An error met while streaming (the topic deleted meanwhile, a storage fault) ends the
        stream with its status."""
        parsed = Ticket.parse(ticket.ticket)
        schema, batches = self.store.read(parsed)
        log.info(kv("doget", topic=str(parsed.topic), start=parsed.window.start_ns,
                    end=parsed.window.end_ns))  # fmt: skip
        return flight.GeneratorStream(schema, translated_stream("do_get", batches))

    @translated("do_put")
    def do_put(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        """``DoPut`` (spec §6): the one upload of a topic. The command names the topic and
        carries its UUID; rows are buffered and committed in chunks as they arrive. At the
        end of the stream the upload is finished; on any error it is aborted, keeping the
        rows already accepted, and the topic is marked failed.

        Raises:
            flight.FlightError: the preconditions of spec §6.1 (``NOT_FOUND``,
                ``INVALID_ARGUMENT``, ``FAILED_PRECONDITION``, see ``claim_topic``), or
                ``INVALID_ARGUMENT`` for a path descriptor, a malformed command, a malformed
                or interrupted stream, a batch above the decode limit or a null
                ``timestamp_ns``.
        """
        cmd = UploadCommand.parse(_command(descriptor, "DoPut"))
        upload = self.store.begin_upload(cmd, reader.schema)
        ok = False
        try:
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as exc:
                    # e.g. a second schema message, or the client vanished mid-stream.
                    raise InvalidArgument(f"malformed or interrupted upload stream: {exc}") from exc
                if chunk.data is not None:
                    upload.add(chunk.data)
            ok = True
        finally:
            self.store.end_upload(upload, ok)
