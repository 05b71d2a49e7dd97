"""Output nodes: they collect what reaches them, so the run's outputs name the results."""

from __future__ import annotations

from services.execution.executors.context import JSONObject, NodeContext, NodeError


async def text_output(context: NodeContext) -> JSONObject:
    return {"text": context.require_input_text()}


async def image_output(context: NodeContext) -> JSONObject:
    if not context.inputs.images:
        raise NodeError("no input images: connect an image generator to this node")
    return {"images": [dict(image) for image in context.inputs.images]}
