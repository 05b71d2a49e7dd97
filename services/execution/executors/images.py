"""imageGenerator: Flux through the image provider; the bytes go to the media store."""

from __future__ import annotations

from services.execution.executors.context import JSONObject, MediaStore, NodeContext, NodeError
from services.execution.models import resolve_model
from services.execution.providers.base import ImageRequest

# Aspect ratio -> (width, height): about one megapixel, sides multiples of 16 as Flux expects.
ASPECT_RATIO_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "9:16": (768, 1344),
    "4:3": (1152, 896),
    "3:4": (896, 1152),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
}
DEFAULT_SIDE = 1024


async def image_generator(context: NodeContext) -> JSONObject:
    prompt = context.require_input_text()
    width, height = image_size(context)
    media = _media(context)
    choice = resolve_model(
        data=context.node.data, spec=context.spec, flow_provider_id=context.flow_provider_id
    )
    provider = context.services.providers.image(choice.provider_id)
    image = await provider.generate_image(
        ImageRequest(
            model=choice.model,
            prompt=prompt,
            width=width,
            height=height,
            steps=_optional_int(context.value("steps")),
            seed=_optional_int(context.value("seed")),
        )
    )
    url = await media.save(image.data, image.content_type)
    return {
        "images": [{"url": url, "width": image.width, "height": image.height, "seed": image.seed}]
    }


def image_size(context: NodeContext) -> tuple[int, int]:
    """An aspect ratio, when chosen, wins over width and height."""
    ratio = context.text("aspectRatio")
    if ratio:
        size = ASPECT_RATIO_SIZES.get(ratio)
        if size is None:
            raise NodeError(f"unknown aspect ratio {ratio!r}")
        return size
    width = _optional_int(context.value("width")) or DEFAULT_SIDE
    height = _optional_int(context.value("height")) or DEFAULT_SIDE
    return width, height


def _media(context: NodeContext) -> MediaStore:
    # Checked before the provider call: a generated image with nowhere to go is money wasted.
    if context.services.media is None:
        raise NodeError("images cannot be saved in this run: no media store is configured")
    return context.services.media


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
