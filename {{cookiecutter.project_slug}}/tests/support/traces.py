"""Reading the spans an ``OtlpReceiver`` got: a task's run, a trace, what is SQL."""

from .otlp_receiver import OtlpReceiver, ReceivedSpan

# OTLP's SpanKind values.
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5


def run_span(receiver: OtlpReceiver, task_id: str) -> ReceivedSpan | None:
    """The worker's span for running ``task_id``, once it has arrived."""
    return next(
        (
            span
            for span in receiver.received()
            if span.kind == CONSUMER and span.attributes.get("messaging.message.id") == task_id
        ),
        None,
    )


def children(receiver: OtlpReceiver, parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [span for span in receiver.received() if span.parent_id == parent.span_id]


def is_sql(span: ReceivedSpan) -> bool:
    """A statement's span: a connect's has no statement."""
    statement = span.attributes.get("db.statement") or span.attributes.get("db.query.text")
    return span.kind == CLIENT and bool(statement)


def spans_of(receiver: OtlpReceiver, trace_id: str) -> list[ReceivedSpan]:
    return [span for span in receiver.received() if span.trace_id == trace_id]
