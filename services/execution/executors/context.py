"""What an executor gets: the node, its resolved inputs, and the services it may call.

Executors see the outside world only through the small protocols here, so the engine runs the
same against the real provider registry, media directory and database as against test fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from services.execution.graph import Node
from services.execution.providers.base import ImageProvider, TextProvider

if TYPE_CHECKING:
    from services.execution.catalog import ComponentSpec
    from services.execution.validation import PlannedNode

JSONObject = dict[str, Any]


class NodeError(Exception):
    """A node cannot produce its output; the message is shown to the user as is."""


class ProviderLookup(Protocol):
    """The provider registry: raises `ProviderUnavailable` naming the missing setting."""

    def text(self, provider_id: str) -> TextProvider: ...

    def image(self, provider_id: str) -> ImageProvider: ...


class MediaStore(Protocol):
    async def save(self, data: bytes, content_type: str) -> str:
        """Keep the bytes and return the URL they are served at."""
        ...


class CharacterLookup(Protocol):
    async def lookup(self, character_id: str) -> Mapping[str, Any] | None:
        """The saved character's fields (name, description, ...), or None if the run's user
        has no such character."""
        ...


@dataclass(frozen=True, slots=True)
class EngineServices:
    providers: ProviderLookup
    media: MediaStore | None = None
    characters: CharacterLookup | None = None


@dataclass(frozen=True, slots=True)
class NodeInputs:
    # Each tuple is in merge order: by the source node's position (x, then y), then id.
    texts: tuple[str, ...] = ()
    personas: tuple[Mapping[str, Any], ...] = ()
    scenes: tuple[Mapping[str, Any], ...] = ()  # sceneBuilder outputs: {"scene", "blocks"}
    images: tuple[Mapping[str, Any], ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(text for text in self.texts if text.strip())

    def to_json(self) -> JSONObject:
        return {
            "texts": list(self.texts),
            "personas": list(self.personas),
            "scenes": list(self.scenes),
            "images": list(self.images),
        }


@dataclass(frozen=True, slots=True)
class NodeContext:
    node: Node
    spec: ComponentSpec
    inputs: NodeInputs
    services: EngineServices
    flow_provider_id: str | None
    emit_delta: Callable[[str], None]

    def value(self, key: str) -> Any:
        """The node's value for a field, or the field's default when it is left blank."""
        value = self.node.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            field = self.spec.field(key)
            return field.default if field else None
        return value

    def text(self, key: str) -> str:
        value = self.value(key)
        return value.strip() if isinstance(value, str) else ""

    def require_input_text(self) -> str:
        if not self.inputs.texts:
            raise NodeError("no input text: connect a text output to this node's 'text' input")
        text = self.inputs.text
        if not text:
            raise NodeError("the input text is empty")
        return text


def collect_inputs(planned: PlannedNode, outputs: Mapping[str, Mapping[str, Any]]) -> NodeInputs:
    """Gather a node's inputs from its upstream nodes' outputs, in merge order."""
    texts: list[str] = []
    personas: list[Mapping[str, Any]] = []
    scenes: list[Mapping[str, Any]] = []
    images: list[Mapping[str, Any]] = []
    for edges in planned.inputs.values():
        for edge in edges:
            output = outputs[edge.source]
            if edge.kind == "text":
                texts.append(_member(output, "text", str, edge.source))
            elif edge.kind == "persona":
                personas.append(_member(output, "persona", dict, edge.source))
            elif edge.kind == "scene":
                _member(output, "scene", str, edge.source)
                scenes.append(output)
            else:
                images.extend(_member(output, "images", list, edge.source))
    return NodeInputs(
        texts=tuple(texts), personas=tuple(personas), scenes=tuple(scenes), images=tuple(images)
    )


def _member(output: Mapping[str, Any], key: str, kind: type, source: str) -> Any:
    # Outputs given by the client (cachedOutputs) may not have the shape a node produces.
    value = output.get(key)
    if not isinstance(value, kind):
        raise NodeError(f"the output of node {source!r} has no {key!r} ({kind.__name__})")
    return value
